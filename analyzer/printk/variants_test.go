package printk_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

// TestLogVariants derives from a real kdump-compressed dump the variants no
// Debian tool writes (zstd and snappy pages, transcoded page by page) and the
// whole-file containers kdump-tools can wrap a dump in (gzip, xz, zstd, lz4,
// bzip2), and checks each prints the same log as makedumpfile printed for
// the original crash.
func TestLogVariants(t *testing.T) {
	base := corpus.Fixture(t)
	want, ok := base.ReadRef("dmesg.makedumpfile.txt")
	if !ok {
		t.Fatal("fixture has no dmesg reference")
	}
	raw, err := os.ReadFile(base.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	variants := map[string]func(io.Writer) (io.WriteCloser, error){
		"gz":  func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil },
		"xz":  func(w io.Writer) (io.WriteCloser, error) { return xz.NewWriter(w) },
		"zst": func(w io.Writer) (io.WriteCloser, error) { return zstd.NewWriter(w) },
		"lz4": func(w io.Writer) (io.WriteCloser, error) { return lz4.NewWriter(w), nil },
	}
	files := map[string]string{}
	for ext, mk := range variants {
		var b bytes.Buffer
		zw, err := mk(&b)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(raw)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "vmcore."+ext)
		os.WriteFile(p, b.Bytes(), 0o644)
		files["container-"+ext] = p
	}
	if bz, err := exec.LookPath("bzip2"); err == nil {
		p := filepath.Join(dir, "vmcore.bz2")
		out, err := exec.Command(bz, "-c", base.Files[0]).Output()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, out, 0o644)
		files["container-bz2"] = p
	} else {
		t.Log("no bzip2 command: the bzip2 container is not tested")
	}
	for name, code := range map[string]uint32{"pages-zstd": dumpwrite.Zstd, "pages-snappy": dumpwrite.Snappy, "pages-raw": dumpwrite.None} {
		d, err := vmcore.Open(base.Files...)
		if err != nil {
			t.Fatal(err)
		}
		src, opt, err := dumpwrite.FromDump(d)
		if err != nil {
			t.Fatal(err)
		}
		opt.Compression = code
		p := filepath.Join(dir, "vmcore."+name)
		f, _ := os.Create(p)
		if err := dumpwrite.Kdump(f, src, opt); err != nil {
			t.Fatal(err)
		}
		f.Close()
		d.Close()
		files[name] = p
	}
	for name, p := range files {
		t.Run(name, func(t *testing.T) {
			if got := logText(readFileLog(t, p), analysis.Makedumpfile174); !bytes.Equal(got, want) {
				t.Errorf("log differs:\n%s", firstDiff(got, want))
			}
		})
	}
}
