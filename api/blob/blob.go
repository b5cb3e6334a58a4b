// Package blob stores dump bytes, kernel logs, analysis documents and
// debuginfo as objects: on the local filesystem (the embedded default) or in
// any S3-compatible object store through minio-go (a fleet). Large objects
// arrive in numbered parts so that a broken upload resumes from the last
// part the store confirmed; objects are read back by ranges, never whole.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Errors a store's calls wrap; match them with errors.Is.
var (
	// ErrNotFound is returned for an object or upload the store does not hold.
	ErrNotFound = errors.New("blob: not found")
	// ErrNoSpace means the store is full (or over its quota): nothing was
	// stored, and the same call may succeed once room is made.
	ErrNoSpace = errors.New("blob: the store is out of space")
	// ErrBadContent means the caller's bytes were refused: a body shorter
	// or longer than announced, a checksum that does not match, a body
	// that broke off. Its message names no file of the store.
	ErrBadContent = errors.New("blob: the content was refused")
)

// Part is one confirmed part of a multipart upload.
type Part struct {
	Number int    `json:"number"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag"`
}

// Object is an open object read by ranges.
type Object interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Store is an object store. Keys are slash-separated paths of letters,
// digits, '-', '_' and '.' (see CheckKey).
type Store interface {
	// Put stores a whole object of known size.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Open opens an object for ranged reads.
	Open(ctx context.Context, key string) (Object, error)
	// Stream reads an object from start to end in one request: the way
	// to read it whole (to hash it), where Open's ranged reads would each
	// be a request.
	Stream(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat returns an object's size, or ErrNotFound.
	Stat(ctx context.Context, key string) (int64, error)
	// Delete removes an object; a missing object is not an error.
	Delete(ctx context.Context, key string) error

	// NewUpload starts a multipart upload of key.
	NewUpload(ctx context.Context, key string) (uploadID string, err error)
	// PartURL returns a URL the client may PUT part n to directly, valid
	// for expiry, or "" when the store has no such URLs and parts go
	// through PutPart.
	PartURL(ctx context.Context, key, uploadID string, n int, expiry time.Duration) (string, error)
	// PutPart stores part n (1-based). contentMD5, when not nil, is
	// checked by the store: a corrupted part is refused, not stored.
	PutPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64, contentMD5 []byte) (Part, error)
	// ListParts lists the parts the store holds for an upload, by number.
	ListParts(ctx context.Context, key, uploadID string) ([]Part, error)
	// Complete joins the parts, in order, into the object key.
	Complete(ctx context.Context, key, uploadID string, parts []Part) error
	// Abort drops an upload and its parts.
	Abort(ctx context.Context, key, uploadID string) error
}

// CheckKey refuses keys that could escape a store's namespace.
func CheckKey(key string) error {
	if key == "" || len(key) > 512 || strings.HasPrefix(key, "/") {
		return fmt.Errorf("blob: bad key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("blob: bad key %q", key)
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return fmt.Errorf("blob: bad key %q: character %q", key, c)
			}
		}
	}
	return nil
}

// MaxParts is the most parts an upload may have (S3's limit).
const MaxParts = 10000

// MinPartSize is the smallest part S3 accepts but for the last one.
const MinPartSize = 5 << 20

// PartSize chooses the part size for an object of size bytes: at least
// want (and MinPartSize), large enough to stay within MaxParts.
func PartSize(size, want int64) int64 {
	ps := max(want, MinPartSize)
	if need := (size + MaxParts - 1) / MaxParts; need > ps {
		ps = (need + (1<<20 - 1)) &^ (1<<20 - 1)
	}
	return ps
}
