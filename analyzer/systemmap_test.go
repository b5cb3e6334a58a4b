package analyzer_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// TestSystemMapRefusals: Debian's placeholder System.map, a binary file, a
// map of another release and a map of another build of the same release
// are refused, each saying why; the analysis then says it too and falls
// back to the dump's own symbols.
func TestSystemMapRefusals(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	placeholder := write("System.map-6.1.0-56-amd64", "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n")
	if _, err := analyzer.OpenSystemMap(placeholder); !errors.Is(err, analyzer.ErrNotSystemMap) || !strings.Contains(err.Error(), "-dbg") {
		t.Errorf("placeholder: %v", err)
	}
	self, _ := os.Executable()
	if _, err := analyzer.OpenSystemMap(self); !errors.Is(err, analyzer.ErrNotSystemMap) {
		t.Errorf("an ELF file: %v", err)
	}

	dc := corpus.Fixture(t)
	d, err := vmcore.Open(dc.Files...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	stext, _ := d.Info.Symbol("_stext")
	uts, _ := d.Info.Symbol("init_uts_ns")
	kaslr := d.Info.KernelOffset()
	line := func(addr uint64, typ, name string) string {
		return hex(addr) + " " + typ + " " + name + "\n"
	}
	good := line(stext-kaslr, "T", "_stext") + line(uts-kaslr, "D", "init_uts_ns")
	other := write("System.map-0.0.1-other", good)
	if _, err := analyzer.OpenKernelWithSystemMap(d, mustMap(t, other), ""); err == nil || !strings.Contains(err.Error(), "release") {
		t.Errorf("another release: %v", err)
	}
	moved := write("System.map-"+d.Info.OSRelease(), line(stext-kaslr, "T", "_stext")+line(uts-kaslr+64, "D", "init_uts_ns"))
	if _, err := analyzer.OpenKernelWithSystemMap(d, mustMap(t, moved), ""); err == nil || !strings.Contains(err.Error(), "init_uts_ns") {
		t.Errorf("another build: %v", err)
	}
}

func hex(v uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b[:])
}

func mustMap(t *testing.T, p string) *analyzer.SystemMap {
	sm, err := analyzer.OpenSystemMap(p)
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

// FuzzParseSystemMap: any bytes give a map of well-formed symbols or an
// error, never a panic, and never more symbols than lines.
func FuzzParseSystemMap(f *testing.F) {
	f.Add([]byte("ffffffff81000000 T _text\nffffffff81000000 T startup_64\n0000000000000000 D __per_cpu_start\n                 U undefined\n"))
	f.Add([]byte("ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n"))
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sm, err := analyzer.ParseSystemMap(bytes.NewReader(b))
		if err != nil {
			return
		}
		if sm.Len() > bytes.Count(b, []byte("\n"))+1 {
			t.Fatalf("%d symbols from %d lines", sm.Len(), bytes.Count(b, []byte("\n"))+1)
		}
	})
}
