package analyzer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// TestUnitLinesEqualWholeDWARF: file:line and inlined calls read from the
// one compile unit of each pc (through .debug_aranges, in the mapped
// vmlinux) are those read from the whole DWARF, for every frame of every
// CPU and blocked task of each corpus dump with its real DWARF vmlinux.
func TestUnitLinesEqualWholeDWARF(t *testing.T) {
	seen := map[string]bool{}
	for _, dc := range corpus.OnePerCrash(corpus.All(t)) {
		if seen[dc.Kernel] {
			continue
		}
		seen[dc.Kernel] = true
		path := filepath.Join(corpus.RepoRoot(), ".cache", "kernels", dc.Kernel, "usr", "lib", "debug", "boot", "vmlinux-"+dc.Kernel)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		t.Run(dc.Label(), func(t *testing.T) {
			d, err := vmcore.Open(dc.Files...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			v, err := OpenVmlinux(path, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			k, err := OpenKernelWithVmlinux(d, v, "")
			if err != nil {
				t.Fatal(err)
			}
			unit, err := v.unitSource()
			if err != nil {
				t.Fatal(err)
			}
			dw, err := v.dwarf()
			if err != nil {
				t.Fatal(err)
			}
			kaslr := d.Info.KernelOffset()
			byUnit := &lineTable{unit: unit, kaslr: kaslr}
			whole := &lineTable{unit: wholeDWARF(dw), kaslr: kaslr}
			traces, _, err := k.CPUBacktraces()
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, bt := range traces {
				for _, f := range bt.Frames {
					if f.Module != "" || f.User || f.Inline {
						continue
					}
					got, err1 := byUnit.locate(f.PC)
					want, err2 := whole.locate(f.PC)
					if (err1 == nil) != (err2 == nil) || len(got) != len(want) {
						t.Errorf("pc %#x (%s): by unit %v %v, whole %v %v", f.PC, f.Function, got, err1, want, err2)
						continue
					}
					for i := range got {
						if got[i] != want[i] {
							t.Errorf("pc %#x location %d: by unit %+v, whole %+v", f.PC, i, got[i], want[i])
						}
					}
					n++
				}
			}
			if n == 0 { // a hung-task panic on one CPU has 6 frames of vmlinux code
				t.Errorf("no frame compared")
			}
			t.Logf("%d frames: locations by unit equal the whole DWARF's", n)
		})
	}
	if len(seen) == 0 {
		t.Skip("no corpus dumps")
	}
}

// TestDWARFTypesEqualBTF: for a vmlinux without .BTF (kernels before 5.2,
// or built without it) types come from DWARF. Every type question a whole
// analysis asks — recorded the way a profile records them, from the BTF of
// the dump — gets the same answer from the real vmlinux's DWARF.
func TestDWARFTypesEqualBTF(t *testing.T) {
	profiles := t.TempDir()
	dc := corpus.Fixture(t)
	path := filepath.Join(corpus.RepoRoot(), ".cache", "kernels", dc.Kernel, "usr", "lib", "debug", "boot", "vmlinux-"+dc.Kernel)
	if _, err := os.Stat(path); err != nil {
		t.Skip("no DWARF vmlinux (testdata/corpus/make.sh unpacks it)")
	}
	d, err := vmcore.Open(dc.Files...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	Analyze(context.Background(), d, Options{ProfileDir: profiles}) // from the dump's BTF and kallsyms; saves the build's profile
	k, ok := loadProfile(kmem{d: d}, profiles, SourceBTF, func(*Kernel) (Types, error) { return nil, ErrNoType })
	if !ok {
		t.Fatal("no profile after the analysis")
	}
	asked := k.rec.p
	if len(asked.Offsets) < 20 {
		t.Fatalf("only %d offsets asked", len(asked.Offsets))
	}
	v, err := OpenVmlinux(path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	dw, err := v.dwarf()
	if err != nil {
		t.Fatal(err)
	}
	types := newDWARFTypes(dw)
	for typ, want := range asked.Sizes {
		if got, err := types.Size(typ); err != nil || got != want {
			t.Errorf("size of %s: DWARF %d %v, BTF %d", typ, got, err, want)
		}
	}
	for key, want := range asked.Offsets {
		typ, member, _ := strings.Cut(key, ".")
		if got, err := types.Offset(typ, member); err != nil || got != want {
			t.Errorf("offset of %s: DWARF %d %v, BTF %d", key, got, err, want)
		}
	}
	for name, want := range asked.Enums {
		if got, err := types.Enum(name); err != nil || got != want {
			t.Errorf("enumerator %s: DWARF %d %v, BTF %d", name, got, err, want)
		}
	}
	for key, want := range asked.Lens {
		typ, member, _ := strings.Cut(key, ".")
		if got, err := types.ArrayLen(typ, member); err != nil || got != want {
			t.Errorf("length of %s: DWARF %d %v, BTF %d", key, got, err, want)
		}
	}
	for key, want := range asked.EnumsIn {
		typ, name, _ := strings.Cut(key, ":")
		if got, err := types.EnumIn(typ, name); err != nil || got != want {
			t.Errorf("enumerator %s: DWARF %d %v, BTF %d", key, got, err, want)
		}
	}
	t.Logf("%d sizes, %d offsets, %d enumerators, %d array lengths, %d enumerators by enum agree",
		len(asked.Sizes), len(asked.Offsets), len(asked.Enums), len(asked.Lens), len(asked.EnumsIn))
}
