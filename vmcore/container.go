package vmcore

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
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

// unwrap returns p's contents, decompressing a container into a temporary
// file first. The temporary file is removed by d.Close.
func (d *Dump) unwrap(p Part) (io.ReaderAt, int64, error) {
	if i := containerIndex(p.R); i >= 0 {
		c := containers[i]
		f, size, err := decompressToTemp(io.NewSectionReader(p.R, 0, p.Size), c.open)
		if err != nil {
			return nil, 0, fmt.Errorf("vmcore: decompressing %s container: %w", c.name, err)
		}
		d.closers = append(d.closers, tempFile{f})
		d.Header.Container = c.name
		return f, size, nil
	}
	return p.R, p.Size, nil
}

func decompressToTemp(r io.Reader, open func(io.Reader) (io.Reader, error)) (f *os.File, size int64, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("decompressor panicked: %v", rec)
		}
		if err != nil && f != nil {
			tempFile{f}.Close()
			f = nil
		}
	}()
	zr, err := open(r)
	if err != nil {
		return nil, 0, err
	}
	dir := os.Getenv("VMCORE_TMPDIR")
	f, err = os.CreateTemp(dir, "vmcore-*.dump")
	if err != nil {
		return nil, 0, err
	}
	size, err = io.Copy(f, zr)
	if c, ok := zr.(io.Closer); ok {
		c.Close()
	}
	if err != nil {
		return f, 0, fmt.Errorf("after %d bytes: %w", size, err)
	}
	return f, size, nil
}

// tempFile removes the file when closed.
type tempFile struct{ *os.File }

func (t tempFile) Close() error {
	err := t.File.Close()
	if rerr := os.Remove(t.Name()); err == nil {
		err = rerr
	}
	return err
}
