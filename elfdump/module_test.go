package elfdump

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// moduleObject is the crashmod.ko the committed module-null-deref fixture
// crashed in (built by testdata/corpus/make.sh, with its DWARF).
func moduleObject(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "dumps", "6.1.0-56-amd64", "module-null-deref", "ref", "crashmod.ko")
}

// TestModuleLines compares file:line of every function of a real module
// object, in .text and .text.unlikely alike (both start at address 0 in
// the object), with binutils' addr2line on the same section offsets.
func TestModuleLines(t *testing.T) {
	ko := moduleObject(t)
	f, err := elf.Open(ko)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := NewModule(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.BuildID != "0aa5bb96df02ed722c7dbce79dddfef2b3d14f67" {
		t.Errorf("build-id %q", m.BuildID)
	}
	addr2line, err := exec.LookPath("addr2line")
	if err != nil {
		t.Skip("binutils' addr2line is the reference; not installed")
	}
	checked := 0
	for _, name := range []string{"crashmod_null_deref", "crashmod_softlockup", "crashmod_bug", "crashmod_warn", "crashmod_run"} {
		sym, ok := m.Symbols[name]
		if !ok {
			t.Fatalf("no symbol %s", name)
		}
		sec := f.Section(sym.Section)
		var secBase uint64
		// The symbol's offset in its section is its layout address minus
		// the section's layout base: find it from the ELF symbol table.
		syms, _ := f.Symbols()
		for _, s := range syms {
			if s.Name == name {
				secBase = sym.Addr - s.Value
				out, err := exec.Command(addr2line, "-e", ko, "-j", sec.Name, strconv.FormatUint(s.Value+4, 16)).Output()
				if err != nil {
					t.Fatal(err)
				}
				want := strings.TrimSpace(string(out))
				locs, err := Locations(m.DWARF, secBase+s.Value+4)
				if err != nil || len(locs) == 0 {
					t.Fatalf("%s+4: %v", name, err)
				}
				got := locs[0].File + ":" + strconv.Itoa(locs[0].Line) // addr2line without -i: the innermost
				// addr2line may print a discriminator suffix.
				if i := strings.Index(want, " ("); i > 0 {
					want = want[:i]
				}
				if got != want {
					t.Errorf("%s+4 in %s: got %s, addr2line says %s", name, sec.Name, got, want)
				}
				checked++
			}
		}
	}
	if checked != 5 {
		t.Fatalf("checked %d functions", checked)
	}
}

// FuzzNewModule feeds damaged module objects, seeded with the real one.
func FuzzNewModule(f *testing.F) {
	if b, err := os.ReadFile(moduleObject(f)); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ef, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			return
		}
		NewModule(ef)
	})
}
