package blob

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// FS is a Store in a local directory: objects under objects/, the parts of
// unfinished uploads under uploads/<id>/. Every file appears by rename, so
// a crash never leaves a half-written object under its final name.
type FS struct {
	dir string
}

// NewFS opens (creating it if needed) a filesystem store under dir.
func NewFS(dir string) (*FS, error) {
	for _, d := range []string{"objects", "uploads", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			return nil, fmt.Errorf("blob: %w", err)
		}
	}
	return &FS{dir: dir}, nil
}

func (s *FS) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, "objects", filepath.FromSlash(key)), nil
}

func (s *FS) uploadDir(uploadID string) (string, error) {
	if len(uploadID) != 32 {
		return "", fmt.Errorf("blob: bad upload id %q: %w", uploadID, ErrNotFound)
	}
	if _, err := hex.DecodeString(uploadID); err != nil {
		return "", fmt.Errorf("blob: bad upload id %q: %w", uploadID, ErrNotFound)
	}
	return filepath.Join(s.dir, "uploads", uploadID), nil
}

// writeFile streams r (exactly size bytes, or any length when size < 0)
// into a temporary file and renames it to dst. It returns the MD5 of what
// was written.
func (s *FS) writeFile(ctx context.Context, dst string, r io.Reader, size int64) ([]byte, int64, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-*")
	if err != nil {
		return nil, 0, fmt.Errorf("blob: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := md5.New()
	src := r
	if size >= 0 {
		src = io.LimitReader(r, size+1)
	}
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, src})
	if err != nil {
		return nil, n, fmt.Errorf("blob: writing %s: %w", filepath.Base(dst), err)
	}
	if size >= 0 && n != size {
		return nil, n, fmt.Errorf("blob: got %d bytes, want %d", n, size)
	}
	if err := f.Sync(); err != nil {
		return nil, n, fmt.Errorf("blob: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return nil, n, fmt.Errorf("blob: %w", err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return nil, n, fmt.Errorf("blob: %w", err)
	}
	return h.Sum(nil), n, nil
}

// Put implements Store.
func (s *FS) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	_, _, err = s.writeFile(ctx, p, r, size)
	return err
}

type fsObject struct {
	*os.File
	size int64
}

func (o fsObject) Size() int64 { return o.size }

// Open implements Store.
func (s *FS) Open(_ context.Context, key string) (Object, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob: %s: %w", key, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob: %w", err)
	}
	return fsObject{f, st.Size()}, nil
}

// Stat implements Store.
func (s *FS) Stat(_ context.Context, key string) (int64, error) {
	p, err := s.path(key)
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("blob: %s: %w", key, ErrNotFound)
	} else if err != nil {
		return 0, fmt.Errorf("blob: %w", err)
	}
	return st.Size(), nil
}

// Delete implements Store.
func (s *FS) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}

// NewUpload implements Store.
func (s *FS) NewUpload(_ context.Context, key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	if err := os.MkdirAll(filepath.Join(s.dir, "uploads", id), 0o750); err != nil {
		return "", fmt.Errorf("blob: %w", err)
	}
	return id, nil
}

// PartURL implements Store: the filesystem store has no URLs of its own.
func (s *FS) PartURL(context.Context, string, string, int, time.Duration) (string, error) {
	return "", nil
}

// PutPart implements Store.
func (s *FS) PutPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64, contentMD5 []byte) (Part, error) {
	dir, err := s.uploadDir(uploadID)
	if err != nil {
		return Part{}, err
	}
	if n < 1 || n > MaxParts {
		return Part{}, fmt.Errorf("blob: part number %d out of 1..%d", n, MaxParts)
	}
	if _, err := os.Stat(dir); err != nil {
		return Part{}, fmt.Errorf("blob: upload %s: %w", uploadID, ErrNotFound)
	}
	// The part is checked before it takes its final name: a part that
	// does not match its checksum never replaces a good one.
	tmp := filepath.Join(dir, "incoming-"+strconv.Itoa(n))
	sum, got, err := s.writeFile(ctx, tmp, r, size)
	if err != nil {
		return Part{}, err
	}
	if contentMD5 != nil && !bytes.Equal(sum, contentMD5) {
		os.Remove(tmp)
		return Part{}, fmt.Errorf("blob: part %d: content MD5 mismatch", n)
	}
	if err := os.Rename(tmp, filepath.Join(dir, strconv.Itoa(n))); err != nil {
		return Part{}, fmt.Errorf("blob: %w", err)
	}
	return Part{Number: n, Size: got, ETag: hex.EncodeToString(sum)}, nil
}

// ListParts implements Store.
func (s *FS) ListParts(_ context.Context, _, uploadID string) ([]Part, error) {
	dir, err := s.uploadDir(uploadID)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob: upload %s: %w", uploadID, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	var parts []Part
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < 1 {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		parts = append(parts, Part{Number: n, Size: info.Size()})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

// Complete implements Store.
func (s *FS) Complete(ctx context.Context, key, uploadID string, parts []Part) error {
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	dir, err := s.uploadDir(uploadID)
	if err != nil {
		return err
	}
	files := make([]io.Reader, 0, len(parts))
	var total int64
	for i, p := range parts {
		if p.Number != i+1 {
			return fmt.Errorf("blob: part %d missing", i+1)
		}
		f, err := os.Open(filepath.Join(dir, strconv.Itoa(p.Number)))
		if err != nil {
			return fmt.Errorf("blob: part %d: %w", p.Number, ErrNotFound)
		}
		defer f.Close()
		files = append(files, f)
		total += p.Size
	}
	if _, _, err := s.writeFile(ctx, dst, io.MultiReader(files...), total); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// Abort implements Store.
func (s *FS) Abort(_ context.Context, _, uploadID string) error {
	dir, err := s.uploadDir(uploadID)
	if err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// ctxReader stops a long copy when its context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
