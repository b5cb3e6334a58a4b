package vmcore

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/vmcore/vmcore/elfdump"
)

// containers are whole-file compressions Debian's kdump-tools (KDUMP_COMPRESSION)
// and users apply to a finished dump.
var containers = []struct {
	name  string
	magic []byte
	open  func(io.Reader) (io.Reader, error)
}{
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, func(r io.Reader) (io.Reader, error) { return xz.NewReader(r) }},
	{"gzip", []byte{0x1f, 0x8b}, func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}, func(r io.Reader) (io.Reader, error) {
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}},
	{"lz4", []byte{0x04, 0x22, 0x4d, 0x18}, func(r io.Reader) (io.Reader, error) { return lz4.NewReader(r), nil }},
	{"bzip2", []byte{'B', 'Z', 'h'}, func(r io.Reader) (io.Reader, error) { return bzip2.NewReader(r), nil }},
}

// Container names the whole-file compression r is wrapped in ("xz",
// "gzip", "zstd", "lz4", "bzip2"), or "" for a plain dump. An uploader uses
// it to skip reading facts from a dump it would have to decompress.
func Container(r io.ReaderAt) string {
	if i := containerIndex(r); i >= 0 {
		return containers[i].name
	}
	return ""
}

func containerIndex(r io.ReaderAt) int {
	var magic [8]byte
	n, _ := r.ReadAt(magic[:], 0)
	for i, c := range containers {
		if n < len(c.magic) || !bytes.Equal(magic[:len(c.magic)], c.magic) {
			continue
		}
		if c.name == "bzip2" && (n < 4 || magic[3] < '1' || magic[3] > '9') {
			continue
		}
		return i
	}
	return -1
}

// OpenOptions configure how a dump is opened: where and how far a
// compressed container may be expanded. The zero value is what Open and
// NewReader use. Its methods take a context that stops an expansion.
type OpenOptions struct {
	// TempDir is where a dump in a compressed container is expanded; ""
	// means os.TempDir().
	TempDir string
	// MaxExpandedSize is the most bytes a container may expand to: beyond
	// it the open fails with ErrTooLarge (a 10 MB gzip of zeros expands
	// to 10 GiB). 0 means DefaultMaxExpandedSize.
	MaxExpandedSize int64
	// CheckSpace, when set, is called before each ExpandChunk bytes of an
	// expansion with the directory of the temporary file and the bytes
	// written so far; an error it returns stops the expansion (a free
	// space guard of the caller's).
	CheckSpace func(dir string, written int64) error
}

// DefaultMaxExpandedSize bounds an expansion when OpenOptions do not.
const DefaultMaxExpandedSize = 64 << 30

// ExpandChunk is how many bytes an expansion writes between two checks
// of its context, limit and CheckSpace.
const ExpandChunk = 64 << 20

// unwrap returns p's contents, decompressing a container into a temporary
// file first. The temporary file is removed by d.Close.
func (d *Dump) unwrap(ctx context.Context, o OpenOptions, p Part) (io.ReaderAt, int64, error) {
	if i := containerIndex(p.R); i >= 0 {
		c := containers[i]
		f, size, err := o.decompressToTemp(ctx, io.NewSectionReader(p.R, 0, p.Size), c.open)
		if err != nil {
			return nil, 0, fmt.Errorf("vmcore: decompressing %s container: %w", c.name, err)
		}
		d.closers = append(d.closers, f)
		d.Header.Container = c.name
		return f, size, nil
	}
	return p.R, p.Size, nil
}

// decompressToTemp expands r into a temporary file. On unix the file has
// no name from the start (it is removed once open), so nothing is left
// behind whatever happens to the process; elsewhere Close removes it. The
// decompressor runs under elfdump.Guard: a panic on a hostile stream is an
// error wrapping elfdump.ErrDecoderPanic.
func (o OpenOptions) decompressToTemp(ctx context.Context, r io.Reader, open func(io.Reader) (io.Reader, error)) (*tempFile, int64, error) {
	dir := o.TempDir
	if dir == "" {
		dir = os.TempDir()
	}
	tf, err := os.CreateTemp(dir, "vmcore-*.dump")
	if err != nil {
		return nil, 0, err
	}
	f := &tempFile{File: tf, named: os.Remove(tf.Name()) != nil}
	var size int64
	err = elfdump.Guard("decompressor", func() (err error) {
		size, err = o.expand(ctx, f, dir, r, open)
		return err
	})
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, size, nil
}

// expand writes what open makes of r to f, whose directory is dir, within
// o's limits.
func (o OpenOptions) expand(ctx context.Context, f io.Writer, dir string, r io.Reader, open func(io.Reader) (io.Reader, error)) (size int64, err error) {
	limit := o.MaxExpandedSize
	if limit <= 0 {
		limit = DefaultMaxExpandedSize
	}
	zr, err := open(r)
	if err != nil {
		return 0, err
	}
	if c, ok := zr.(io.Closer); ok {
		defer c.Close()
	}
	buf := make([]byte, 1<<20)
	for {
		if size%ExpandChunk == 0 {
			if err := ctx.Err(); err != nil {
				return 0, fmt.Errorf("after %d bytes: %w", size, err)
			}
			if o.CheckSpace != nil {
				if err := o.CheckSpace(dir, size); err != nil {
					return 0, fmt.Errorf("after %d bytes: %w", size, err)
				}
			}
		}
		n, rerr := fill(zr, buf)
		if int64(n) > limit-size {
			return 0, fmt.Errorf("more than %d bytes: %w", limit, ErrTooLarge)
		}
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return 0, fmt.Errorf("after %d bytes: %w", size, err)
			}
			size += int64(n)
		}
		if rerr == io.EOF {
			return size, nil
		} else if rerr != nil {
			return 0, fmt.Errorf("after %d bytes: %w", size, rerr)
		}
	}
}

// fill reads into buf until it is full or r fails; unlike io.ReadFull it
// passes a decompressor's own io.ErrUnexpectedEOF (a cut stream) on.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// tempFile is an expanded container, removed when closed if it still has
// a name.
type tempFile struct {
	*os.File
	named bool
}

func (t *tempFile) Close() error {
	err := t.File.Close()
	if t.named {
		if rerr := os.Remove(t.Name()); err == nil {
			err = rerr
		}
	}
	return err
}
