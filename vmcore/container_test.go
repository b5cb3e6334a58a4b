package vmcore_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

// TestContainers wraps a real dump in each container kdump-tools and
// users write and checks that it opens as the plain dump does, with its
// temporary file gone once the dump is closed.
func TestContainers(t *testing.T) {
	fx := corpus.Fixture(t)
	raw, err := os.ReadFile(fx.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	plain, err := vmcore.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, c := range []struct {
		name string
		wrap func(io.Writer) (io.WriteCloser, error)
	}{
		{"gzip", func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriterLevel(w, gzip.BestSpeed) }},
		{"zstd", func(w io.Writer) (io.WriteCloser, error) {
			return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest))
		}},
		{"lz4", func(w io.Writer) (io.WriteCloser, error) { return lz4.NewWriter(w), nil }},
		{"xz", nil}, // as kdump-tools writes it: the xz command
		{"bzip2", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if c.wrap != nil {
				w, err := c.wrap(&buf)
				if err != nil {
					t.Fatal(err)
				}
				w.Write(raw)
				w.Close()
			} else {
				cmd := exec.Command(c.name, "-1", "-c")
				cmd.Stdin, cmd.Stdout = bytes.NewReader(raw), &buf
				if err := cmd.Run(); err != nil {
					t.Skipf("no %s command: %v", c.name, err)
				}
			}
			tmp := t.TempDir()
			o := vmcore.OpenOptions{TempDir: tmp}
			d, err := o.NewReader(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			if d.Header.Container != c.name {
				t.Errorf("container %q", d.Header.Container)
			}
			h := d.Header
			h.Container = ""
			if h != plain.Header || !bytes.Equal(d.Info.Raw(), plain.Info.Raw()) {
				t.Errorf("header differs from the plain dump's:\n%+v\n%+v", h, plain.Header)
			}
			if runtime.GOOS == "linux" {
				// The expanded file has no name while the dump is open:
				// a killed process leaves nothing behind.
				if left, _ := os.ReadDir(tmp); len(left) != 0 {
					t.Errorf("the expanded file is visible while open: %v", left)
				}
			}
			d.Close()
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("the expanded file outlived Close: %v", left)
			}
		})
	}
}

// TestContainerBomb expands a gzip bomb with a limit, a cancelled context
// and a free-space guard that says no: each stops the expansion with its
// own error and leaves no temporary file.
func TestContainerBomb(t *testing.T) {
	bomb := dumpwrite.GzipZeros(256 << 20)
	errFull := errors.New("the temporary directory is nearly full")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		o    vmcore.OpenOptions
		want error
	}{
		{"limit", context.Background(), vmcore.OpenOptions{MaxExpandedSize: 100 << 20}, vmcore.ErrTooLarge},
		{"cancelled", ctx, vmcore.OpenOptions{CheckSpace: func(_ string, n int64) error {
			if n > 0 {
				cancel() // the next check sees it
			}
			return nil
		}}, context.Canceled},
		{"full", context.Background(), vmcore.OpenOptions{CheckSpace: func(_ string, n int64) error {
			if n >= vmcore.ExpandChunk {
				return errFull
			}
			return nil
		}}, errFull},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.TempDir = t.TempDir()
			d, err := c.o.NewReader(c.ctx, bytes.NewReader(bomb), int64(len(bomb)))
			if err == nil {
				d.Close()
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if left, _ := os.ReadDir(c.o.TempDir); len(left) != 0 {
				t.Errorf("a stopped expansion left %v", left)
			}
		})
	}
}

// TestContainerTruncated cuts a gzip container short: the open fails, it
// does not pass the cut stream off as a shorter dump.
func TestContainerTruncated(t *testing.T) {
	fx := corpus.Fixture(t)
	raw, err := os.ReadFile(fx.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(raw)
	w.Close()
	cut := buf.Bytes()[:buf.Len()/2]
	o := vmcore.OpenOptions{TempDir: t.TempDir()}
	if d, err := o.NewReader(context.Background(), bytes.NewReader(cut), int64(len(cut))); err == nil {
		d.Close()
		t.Fatal("a cut gzip container opened")
	}
}
