package analyzer

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// TestHostileObjectsAreErrors feeds every path that hands untrusted files
// to debug/elf, debug/dwarf, a decompressor or the BTF parser (each under
// elfdump.Guard) damaged input: each must give an error, not a panic and
// not a result.
func TestHostileObjectsAreErrors(t *testing.T) {
	self, err := exec.LookPath("true") // a small real ELF
	if err != nil {
		if self, err = os.Executable(); err != nil {
			t.Skip(err)
		}
	}
	elfBytes, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte("\x7fELF\x02\x01\x01\x00garbage!"), 64)
	xzOf := func(b []byte) []byte {
		var buf bytes.Buffer
		w, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	zstdOf := func(b []byte) []byte {
		w, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		return w.EncodeAll(b, nil)
	}
	corrupt := func(b []byte) []byte {
		out := bytes.Clone(b)
		for i := len(out) / 2; i < len(out)/2+32 && i < len(out); i++ {
			out[i] ^= 0xa5
		}
		return out
	}
	// An ELF whose section header table is cut off.
	truncated := elfBytes[:min(len(elfBytes), 1024)]
	files := []struct {
		name string
		b    []byte
	}{
		{"garbage.ko", garbage},
		{"truncated.ko", truncated},
		{"corrupt.ko.xz", corrupt(xzOf(elfBytes))},
		{"garbage.ko.xz", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, garbage...)},
		{"corrupt.ko.zst", corrupt(zstdOf(elfBytes))},
		{"not-a-module.ko", elfBytes}, // ET_EXEC or ET_DYN, not ET_REL
	}
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Run("module "+f.name, func(t *testing.T) {
			if m, err := loadModuleDebug(p); err == nil {
				t.Errorf("loadModuleDebug = %v, want an error", m)
			}
		})
		if f.name == "not-a-module.ko" {
			continue // a good ELF is a good vmlinux to open
		}
		vp := filepath.Join(dir, "vmlinux-"+f.name)
		os.WriteFile(vp, f.b, 0o644)
		t.Run("vmlinux "+f.name, func(t *testing.T) {
			v, err := OpenVmlinux(vp, t.TempDir())
			if err != nil {
				return
			}
			defer v.Close()
			// debug/elf opened it: its contents must then fail as errors.
			if _, err := v.types(); err == nil {
				t.Errorf("types of a damaged vmlinux: no error")
			}
		})
	}
	for _, raw := range [][]byte{nil, garbage, {0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}} {
		if ty, err := NewBTFTypes(raw); err == nil {
			t.Errorf("NewBTFTypes(%q) = %v, want an error", raw, ty)
		}
	}
}
