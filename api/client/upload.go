package client

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/vmcore/vmcore/api/wire"
)

// UploadFile is one dump to upload.
type UploadFile struct {
	// Path is the dump file.
	Path string
	// Dmesg is the vmcore-dmesg.txt saved beside it, or "". It goes
	// first: it is small and often all an engineer needs.
	Dmesg string
	// Index is the chunk index of a flattened dump (vmcore.FlatIndex
	// binary), or nil.
	Index []byte
	// Facts are read from the dump's header; Size is filled in.
	Facts wire.UploadRequest
	// State is the file that lets a killed upload resume; "" means
	// Path + ".upload-state".
	State string
	// RateLimit caps the bytes sent per second (0: no limit), so an upload
	// from a host back in service does not fill its link.
	RateLimit int64
	// Progress, when set, hears of every byte sent (and of the bytes
	// already stored when an upload resumes).
	Progress func(done, total int64)
}

// uploadState is what a resumed upload needs to find its upload again.
type uploadState struct {
	Server string `json:"server"`
	DumpID string `json:"dump_id"`
	Size   int64  `json:"size"`
	MTime  int64  `json:"mtime_ns"`
}

// Upload sends a dump and its side files in parts, resuming an upload that
// was cut off, and returns the dump to follow. Memory use does not depend
// on the dump's size: parts are read from the file twice (once to hash,
// once to send) and never held whole.
func (c *Client) Upload(ctx context.Context, f UploadFile) (wire.CompleteResponse, error) {
	file, err := os.Open(f.Path)
	if err != nil {
		return wire.CompleteResponse{}, err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return wire.CompleteResponse{}, err
	}
	statePath := f.State
	if statePath == "" {
		statePath = f.Path + ".upload-state"
	}
	want := uploadState{Server: c.server.String(), Size: st.Size(), MTime: st.ModTime().UnixNano()}
	f.Facts.Size = st.Size()

	var up wire.Upload
	if old, ok := readState(statePath); ok && old.Server == want.Server && old.Size == want.Size && old.MTime == want.MTime {
		err := c.call(ctx, http.MethodGet, "/api/v1/uploads/"+old.DumpID, nil, &up)
		switch {
		case err == nil && up.Status != "uploading":
			os.Remove(statePath)
			return wire.CompleteResponse{DumpID: up.DumpID}, nil
		case IsNotFound(err):
			up = wire.Upload{} // the server forgot it: start over
		case err != nil:
			return wire.CompleteResponse{}, err
		}
	}
	fresh := up.DumpID == ""
	if fresh {
		if err := c.call(ctx, http.MethodPost, "/api/v1/uploads", f.Facts, &up); err != nil {
			return wire.CompleteResponse{}, err
		}
		if up.Existing {
			return wire.CompleteResponse{DumpID: up.DumpID, Duplicate: true}, nil
		}
		want.DumpID = up.DumpID
		if err := writeState(statePath, want); err != nil {
			return wire.CompleteResponse{}, err
		}
		if f.Dmesg != "" {
			if err := c.putFile(ctx, "/api/v1/uploads/"+up.DumpID+"/dmesg", f.Dmesg); err != nil {
				return wire.CompleteResponse{}, fmt.Errorf("sending %s: %w", f.Dmesg, err)
			}
		}
		if f.Index != nil {
			if err := c.putBytes(ctx, "/api/v1/uploads/"+up.DumpID+"/index", f.Index); err != nil {
				return wire.CompleteResponse{}, fmt.Errorf("sending the flattened index: %w", err)
			}
		}
	}
	var src io.ReaderAt = file
	if f.RateLimit > 0 {
		src = &rateLimited{r: file, rate: f.RateLimit, start: time.Now()}
	}
	sum, err := c.sendParts(ctx, src, &up, f.Progress)
	if err != nil {
		return wire.CompleteResponse{}, err
	}
	var res wire.CompleteResponse
	err = c.call(ctx, http.MethodPost, "/api/v1/uploads/"+up.DumpID+"/complete", wire.CompleteRequest{SHA256: sum}, &res)
	if IsNotFound(err) {
		// A completion whose answer was lost can have found the bytes
		// stored already and dropped this upload: ask for them.
		facts := f.Facts
		facts.SHA256 = sum
		var again wire.Upload
		if cerr := c.call(ctx, http.MethodPost, "/api/v1/uploads", facts, &again); cerr == nil && again.Existing {
			os.Remove(statePath)
			return wire.CompleteResponse{DumpID: again.DumpID, Duplicate: true}, nil
		}
	}
	if err != nil {
		return res, err
	}
	os.Remove(statePath)
	return res, nil
}

func readState(path string) (uploadState, bool) {
	var s uploadState
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &s) != nil || s.DumpID == "" {
		return s, false
	}
	return s, true
}

func writeState(path string, s uploadState) error {
	b, _ := json.Marshal(s)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("client: upload state: %w", err)
	}
	return os.Rename(tmp, path)
}

// sendParts sends the parts the server does not hold, in order, hashing the
// whole file as it goes, and returns the file's SHA-256.
func (c *Client) sendParts(ctx context.Context, file io.ReaderAt, up *wire.Upload, progress func(int64, int64)) (string, error) {
	done := map[int]bool{}
	var sent int64
	for _, p := range up.Done {
		done[p.Number] = true
		sent += p.Size
	}
	if progress != nil {
		progress(sent, up.Size)
	}
	// Once the server has given presigned URLs, parts go to the store
	// directly, and a part without a URL needs a fresh batch.
	presigned := len(up.URLs) > 0
	whole := sha256.New()
	for n := 1; n <= up.Parts; n++ {
		off := int64(n-1) * up.PartSize
		size := min(up.PartSize, up.Size-off)
		sec := io.NewSectionReader(file, off, size)
		if done[n] {
			if _, err := io.Copy(whole, sec); err != nil {
				return "", err
			}
			continue
		}
		partMD5 := md5.New()
		if _, err := io.Copy(io.MultiWriter(whole, partMD5), sec); err != nil {
			return "", err
		}
		if err := c.sendPart(ctx, file, up, presigned, n, off, size, partMD5, func(k int64) {
			if progress != nil {
				progress(sent+k, up.Size)
			}
		}); err != nil {
			return "", fmt.Errorf("part %d of %d: %w", n, up.Parts, err)
		}
		sent += size
	}
	return hex.EncodeToString(whole.Sum(nil)), nil
}

// sendPart PUTs one part, to its presigned URL or to the API, with
// retries; an expired or missing URL is fetched again.
func (c *Client) sendPart(ctx context.Context, file io.ReaderAt, up *wire.Upload, presigned bool, n int, off, size int64, partMD5 hash.Hash, progress func(int64)) error {
	sum := base64.StdEncoding.EncodeToString(partMD5.Sum(nil))
	var err error
	for attempt := 0; attempt <= c.retries; attempt++ {
		if attempt > 0 {
			if werr := backoff(ctx, attempt); werr != nil {
				return errors.Join(err, werr)
			}
		}
		target := up.URLs[n]
		if target == "" && presigned {
			// The presigned URLs given so far are used up: ask for more.
			if err = c.call(ctx, http.MethodGet, "/api/v1/uploads/"+up.DumpID+"?urls=64", nil, up); err != nil {
				continue
			}
			target = up.URLs[n]
		}
		if target == "" {
			target = c.url("/api/v1/uploads/"+up.DumpID+"/parts/"+strconv.Itoa(n), nil)
		}
		err = c.once(ctx, func() (*http.Request, error) {
			body := &countingReader{r: io.NewSectionReader(file, off, size), fn: progress}
			req, err := http.NewRequest(http.MethodPut, target, body)
			if err != nil {
				return nil, err
			}
			req.ContentLength = size
			req.Header.Set("Content-MD5", sum)
			req.Header.Set("Content-Type", "application/octet-stream")
			return req, nil
		}, nil, io.Discard)
		if err == nil {
			return nil
		}
		var se *StatusError
		if errors.As(err, &se) && se.Code == http.StatusForbidden && up.URLs[n] != "" {
			delete(up.URLs, n) // expired presigned URL: get a fresh one
			continue
		}
		if !retryable(err) {
			return err
		}
	}
	return err
}

// rateLimited paces reads to rate bytes per second on average.
type rateLimited struct {
	r     io.ReaderAt
	rate  int64
	start time.Time
	mu    sync.Mutex
	n     int64
}

func (l *rateLimited) ReadAt(p []byte, off int64) (int, error) {
	n, err := l.r.ReadAt(p, off)
	l.mu.Lock()
	l.n += int64(n)
	due := l.start.Add(time.Duration(float64(l.n) / float64(l.rate) * float64(time.Second)))
	l.mu.Unlock()
	time.Sleep(time.Until(due))
	return n, err
}

type countingReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.fn != nil {
		c.fn(c.n)
	}
	return n, err
}

func (c *Client) putFile(ctx context.Context, path, name string) error {
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	if st.Size() > 64<<20 {
		return fmt.Errorf("%s has %d bytes, more than a kernel log can", name, st.Size())
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	return c.putBytes(ctx, path, b)
}

// Put sends b to an API path with PUT (a KB article, debuginfo).
func (c *Client) Put(ctx context.Context, path string, b []byte) error {
	return c.putBytes(ctx, path, b)
}

func (c *Client) putBytes(ctx context.Context, path string, b []byte) error {
	return c.do(ctx, func() (*http.Request, error) {
		return http.NewRequest(http.MethodPut, c.url(path, nil), bytes.NewReader(b))
	}, nil, io.Discard)
}
