package blob

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FS is a Store in a local directory: objects under objects/, the parts of
// unfinished uploads under uploads/<id>/. Every file appears by rename and
// is synced with its directory before a call returns, so a crash or a power
// loss never leaves a half-written object under its final name nor loses
// one the caller was told is stored. Files are the owner's alone (0600,
// directories 0700). One process uses a directory at a time.
type FS struct {
	dir string
}

// NewFS opens (creating it if needed) a filesystem store under dir.
func NewFS(dir string) (*FS, error) {
	for _, d := range []string{"", "objects", "uploads", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("blob: %w", err)
		}
	}
	return &FS{dir: dir}, nil
}

// Dir is the directory the store keeps its files in.
func (s *FS) Dir() string { return s.dir }

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

// syncDir makes a directory's entries durable: a file renamed into it
// survives a power loss once its directory is synced too. A variable, so
// that a test can see which directories were synced.
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

// mkdirSynced makes dir (and its missing parents, up to the store's
// root) and syncs each parent whose entries changed.
func (s *FS) mkdirSynced(dir string) error {
	var made []string
	for d := dir; d != s.dir && strings.HasPrefix(d, s.dir); d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		made = append(made, d)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("blob: %w", fsErr(err))
	}
	for _, d := range made {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("blob: %w", fsErr(err))
		}
	}
	return nil
}

// renameSynced renames a synced file to dst and syncs dst's directory.
func (s *FS) renameSynced(src, dst string) error {
	if err := s.mkdirSynced(filepath.Dir(dst)); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("blob: %w", fsErr(err))
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("blob: %w", fsErr(err))
	}
	return nil
}

// writeFile streams r (exactly size bytes, or any length when size < 0)
// into a temporary file, syncs it and renames it to dst. It returns the
// MD5 of what was written.
func (s *FS) writeFile(ctx context.Context, dst string, r io.Reader, size int64) ([]byte, int64, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-*")
	if err != nil {
		return nil, 0, fmt.Errorf("blob: %w", fsErr(err))
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := md5.New()
	src := r
	if size >= 0 {
		src = io.LimitReader(r, size+1)
	}
	n, err := copyBody(ctx, io.MultiWriter(f, h), src)
	if err != nil {
		return nil, n, err
	}
	if size >= 0 && n != size {
		return nil, n, fmt.Errorf("blob: got %d bytes, want %d: %w", n, size, ErrBadContent)
	}
	if err := f.Sync(); err != nil {
		return nil, n, fmt.Errorf("blob: %w", fsErr(err))
	}
	if err := s.renameSynced(f.Name(), dst); err != nil {
		return nil, n, err
	}
	return h.Sum(nil), n, nil
}

// copyBody copies a body into a store's file, telling the reader's
// failures (the client's: ErrBadContent) from the writer's (the store's:
// ErrNoSpace and the rest), and stops when ctx is cancelled.
func copyBody(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	var rerr error
	n, err := io.Copy(dst, readErrs{ContextReader(ctx, src), &rerr})
	switch {
	case rerr != nil && ctx.Err() != nil:
		return n, fmt.Errorf("blob: after %d bytes: %w", n, ctx.Err())
	case rerr != nil:
		return n, fmt.Errorf("blob: reading the body after %d bytes: %w", n, errors.Join(ErrBadContent, rerr))
	case err != nil:
		return n, fmt.Errorf("blob: writing after %d bytes: %w", n, fsErr(err))
	}
	return n, nil
}

// readErrs records the error its reader returned, other than EOF.
type readErrs struct {
	r   io.Reader
	err *error
}

func (r readErrs) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		*r.err = err
	}
	return n, err
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

// Stream implements Store.
func (s *FS) Stream(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return o.(fsObject).File, nil
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
	// Empty directories a dump's objects lived in go too; one still in
	// use stays (Remove refuses a directory that is not empty).
	root := filepath.Join(s.dir, "objects")
	for d := filepath.Dir(p); d != root && strings.HasPrefix(d, root); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
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
	if err := s.mkdirSynced(filepath.Join(s.dir, "uploads", id)); err != nil {
		return "", err
	}
	return id, nil
}

// PartURL implements Store: the filesystem store has no URLs of its own.
func (s *FS) PartURL(context.Context, string, string, int, time.Duration) (string, error) {
	return "", nil
}

// An upload being joined keeps the list of its parts in this file, written
// before the first part is consumed: the parts already appended to the
// joined file are then still listed, and a join cut short resumes.
const (
	sealName  = "parts.json"
	joinName  = "joined"
	inPrefix  = "incoming-"
	tmpPrefix = "put-"
)

func readSeal(dir string) ([]Part, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, sealName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("blob: %w", err)
	}
	var parts []Part
	if err := json.Unmarshal(b, &parts); err != nil {
		return nil, false, fmt.Errorf("blob: the part list of upload %s: %w", filepath.Base(dir), err)
	}
	return parts, true, nil
}

// PutPart implements Store. A part sent again while its upload is being
// joined is already held: it is answered as stored and not written.
func (s *FS) PutPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64, contentMD5 []byte) (Part, error) {
	dir, err := s.uploadDir(uploadID)
	if err != nil {
		return Part{}, err
	}
	if n < 1 || n > MaxParts {
		return Part{}, fmt.Errorf("blob: part number %d out of 1..%d: %w", n, MaxParts, ErrBadContent)
	}
	if _, err := os.Stat(dir); err != nil {
		return Part{}, fmt.Errorf("blob: upload %s: %w", uploadID, ErrNotFound)
	}
	if sealed, ok, err := readSeal(dir); err != nil {
		return Part{}, err
	} else if ok {
		for _, p := range sealed {
			if p.Number == n && p.Size == size {
				return p, nil
			}
		}
		return Part{}, fmt.Errorf("blob: upload %s is being joined: %w", uploadID, ErrBadContent)
	}
	// The part is checked before it takes its final name: a part that
	// does not match its checksum never replaces a good one.
	tmp := filepath.Join(dir, inPrefix+strconv.Itoa(n))
	sum, got, err := s.writeFile(ctx, tmp, r, size)
	if err != nil {
		return Part{}, err
	}
	if contentMD5 != nil && !bytes.Equal(sum, contentMD5) {
		os.Remove(tmp)
		return Part{}, fmt.Errorf("blob: part %d: content MD5 mismatch: %w", n, ErrBadContent)
	}
	if err := s.renameSynced(tmp, filepath.Join(dir, strconv.Itoa(n))); err != nil {
		return Part{}, err
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
	if sealed, ok, err := readSeal(dir); err != nil || ok {
		return sealed, err
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

// Complete implements Store. The parts are appended, in order, to the
// first one, and each is removed once its appended bytes are synced, so
// joining needs room for one part more than the parts hold, not twice the
// dump. A join cut short (a killed process, a full disk) resumes where it
// stopped when Complete is called again; once the object exists and the
// upload is gone, Complete does nothing.
func (s *FS) Complete(ctx context.Context, key, uploadID string, parts []Part) error {
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	dir, err := s.uploadDir(uploadID)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(dst); err == nil {
			return nil // joined before
		}
		return fmt.Errorf("blob: upload %s: %w", uploadID, ErrNotFound)
	}
	sealed, ok, err := readSeal(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, joinName)); ok && errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(dst); err == nil {
			// Joined and renamed; the upload's removal was cut short.
			if err := syncDir(filepath.Dir(dst)); err != nil {
				return fmt.Errorf("blob: %w", fsErr(err))
			}
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("blob: %w", err)
			}
			return syncDir(filepath.Dir(dir))
		}
	}
	if !ok {
		for i, p := range parts {
			if p.Number != i+1 {
				return fmt.Errorf("blob: part %d missing: %w", i+1, ErrBadContent)
			}
		}
		b, _ := json.Marshal(parts)
		if _, _, err := s.writeFile(ctx, filepath.Join(dir, sealName), bytes.NewReader(b), int64(len(b))); err != nil {
			return err
		}
		sealed = parts
	}
	if err := s.join(ctx, dir, sealed); err != nil {
		return err
	}
	if err := s.renameSynced(filepath.Join(dir, joinName), dst); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	return syncDir(filepath.Dir(dir))
}

// join appends the sealed parts to dir/joined, skipping those it holds
// already.
func (s *FS) join(ctx context.Context, dir string, parts []Part) error {
	joined := filepath.Join(dir, joinName)
	if _, err := os.Stat(joined); errors.Is(err, fs.ErrNotExist) && len(parts) > 0 {
		// The first part becomes the joined file as it is.
		if err := os.Rename(filepath.Join(dir, strconv.Itoa(parts[0].Number)), joined); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("blob: %w", err)
		}
	}
	f, err := os.OpenFile(joined, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("blob: %w", fsErr(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	have := st.Size()
	var off int64
	for _, p := range parts {
		end := off + p.Size
		name := filepath.Join(dir, strconv.Itoa(p.Number))
		if have >= end {
			// Appended before; its file may be left if the process died
			// between the sync and the removal.
			if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("blob: %w", err)
			}
			off = end
			continue
		}
		if have != off {
			// Half appended when the last join stopped: again.
			if err := f.Truncate(off); err != nil {
				return fmt.Errorf("blob: %w", fsErr(err))
			}
		}
		if err := appendPart(ctx, f, off, name, p); err != nil {
			return err
		}
		if err := os.Remove(name); err != nil {
			return fmt.Errorf("blob: %w", err)
		}
		off, have = end, end
	}
	if have != off {
		return fmt.Errorf("blob: upload %s: joined %d bytes, the parts hold %d: %w", filepath.Base(dir), have, off, ErrBadContent)
	}
	return syncDir(dir)
}

// appendPart writes part p from file name at off of f and syncs f.
func appendPart(ctx context.Context, f *os.File, off int64, name string, p Part) error {
	in, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: part %d: %w", p.Number, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	defer in.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	n, err := io.Copy(f, ContextReader(ctx, io.LimitReader(in, p.Size)))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("blob: joining part %d: %w", p.Number, ctx.Err())
		}
		return fmt.Errorf("blob: joining part %d: %w", p.Number, fsErr(err))
	}
	if n != p.Size {
		return fmt.Errorf("blob: part %d has %d bytes, not %d: %w", p.Number, n, p.Size, ErrBadContent)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("blob: %w", fsErr(err))
	}
	return nil
}

// Abort implements Store.
func (s *FS) Abort(_ context.Context, _, uploadID string) error {
	dir, err := s.uploadDir(uploadID)
	if err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// Sweep removes what a killed process left: temporary files of writes
// in progress and parts that were still arriving. It must run before the
// store is used (a write in progress has such a file too).
func (s *FS) Sweep() (files int, bytes int64, err error) {
	rm := func(path string) {
		if st, serr := os.Lstat(path); serr == nil && os.Remove(path) == nil {
			files++
			bytes += st.Size()
		}
	}
	tmp, err := os.ReadDir(filepath.Join(s.dir, "tmp"))
	if err != nil {
		return 0, 0, fmt.Errorf("blob: sweeping: %w", err)
	}
	for _, e := range tmp {
		rm(filepath.Join(s.dir, "tmp", e.Name()))
	}
	ups, err := os.ReadDir(filepath.Join(s.dir, "uploads"))
	if err != nil {
		return files, bytes, fmt.Errorf("blob: sweeping: %w", err)
	}
	for _, u := range ups {
		ents, _ := os.ReadDir(filepath.Join(s.dir, "uploads", u.Name()))
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), inPrefix) {
				rm(filepath.Join(s.dir, "uploads", u.Name(), e.Name()))
			}
		}
	}
	return files, bytes, nil
}

// ContextReader stops a long read of r when ctx is cancelled: its next
// Read returns ctx's error.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

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
