package analyzer_test

import (
	"debug/elf"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// TestKallsyms decodes the symbol table from each real dump's memory and
// checks it against the addresses VMCOREINFO states for the same symbols
// and, when the kernel package is unpacked in .cache/kernels, against every
// line of its System.map shifted by KERNELOFFSET.
func TestKallsyms(t *testing.T) {
	seen := map[string]bool{}
	for _, dc := range corpus.OnePerCrash(corpus.All(t)) {
		if seen[dc.Kernel+dc.Scenario] {
			continue
		}
		seen[dc.Kernel+dc.Scenario] = true
		t.Run(dc.Label(), func(t *testing.T) {
			d, err := vmcore.Open(dc.Files...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			ks, err := analyzer.ReadKallsyms(d)
			if err != nil {
				t.Fatal(err)
			}
			// Without CONFIG_KALLSYMS_ALL (Debian's arm64 before 6.12)
			// kallsyms lists functions only.
			_, allSyms := ks.Lookup("init_task")
			checked := 0
			for _, k := range d.Info.Keys() {
				name, ok := strings.CutPrefix(k, "SYMBOL(")
				if !ok {
					continue
				}
				name = strings.TrimSuffix(name, ")")
				switch name {
				case "mem_section", "vmemmap": // the pointer's value, not the variable's address
					continue
				case "swapper_pg_dir", "node_online_map": // macros, not symbols
					continue
				}
				if strings.HasPrefix(name, "kallsyms_") { // the tables do not list themselves
					continue
				}
				want, _ := d.Info.Symbol(name)
				if !allSyms && name != "_stext" {
					continue
				}
				if got, ok := ks.Lookup(name); !ok || got != want {
					t.Errorf("%s: kallsyms %#x (found %v), VMCOREINFO %#x", name, got, ok, want)
				}
				checked++
			}
			if checked < 5 && allSyms || checked < 1 {
				t.Errorf("only %d VMCOREINFO symbols to check", checked)
			}
			rel := d.Info.OSRelease()
			vmlinux := filepath.Join(corpus.RepoRoot(), ".cache", "kernels", rel, "usr", "lib", "debug", "boot", "vmlinux-"+rel)
			ef, err := elf.Open(vmlinux)
			if err != nil {
				t.Logf("no vmlinux to compare with (%v)", err)
				return
			}
			defer ef.Close()
			syms, err := ef.Symbols()
			if err != nil {
				t.Fatal(err)
			}
			kaslr := d.Info.KernelOffset()
			n, bad := 0, 0
			for _, s := range syms {
				if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Value < 0xffff000000000000 {
					continue
				}
				if got, ok := ks.Lookup(s.Name); ok {
					if k, _ := ks.Symbolize(s.Value + kaslr); got != s.Value+kaslr && k.Name != s.Name {
						if bad++; bad < 5 {
							t.Errorf("%s: kallsyms %#x, vmlinux %#x + KASLR %#x", s.Name, got, s.Value, kaslr)
						}
					}
					n++
				}
			}
			if n < 10000 {
				t.Errorf("only %d vmlinux functions matched", n)
			}
			t.Logf("%d symbols; %d functions compared with vmlinux, %d wrong", ks.Len(), n, bad)
		})
	}
}
