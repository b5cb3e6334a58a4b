package vmcore_test

import (
	"debug/elf"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/elfdump"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// imagePhys is where the kernel's own VMCOREINFO puts the physical
// address of a kernel-image address, per architecture.
var imagePhys = map[vmcore.Arch]func(vi *vmcore.VMCoreInfo, va uint64) uint64{
	vmcore.ArchX86_64: func(vi *vmcore.VMCoreInfo, va uint64) uint64 {
		pb, _ := vi.Number("phys_base")
		return va - 0xffffffff80000000 + uint64(pb)
	},
	vmcore.ArchAArch64: func(vi *vmcore.VMCoreInfo, va uint64) uint64 {
		voff, _ := vi.Number("kimage_voffset")
		return va - uint64(voff)
	},
}

// TestSegmentsTranslate checks address translation on real dumps of every
// architecture: an ELF vmcore states, in each PT_LOAD's p_vaddr, where the
// kernel maps that physical range (its direct or linear map, and its
// kernel image), so translating p_vaddr must give p_paddr, both through
// the translation's fixed mappings and by walking the page tables alone.
// kexec-tools computes those p_vaddr itself, and older releases get them
// wrong for newer kernels (bullseye's 2.0.20 on arm64 5.10, whose linear
// map KASLR moves): a dump whose kernel-image segment disagrees with
// VMCOREINFO about _stext is not used.
func TestSegmentsTranslate(t *testing.T) {
	n := 0
	for _, dc := range corpus.Find(corpus.Roots()...) {
		if dc.Format != "elf" && !strings.HasPrefix(dc.Format, "elf-") {
			continue // QEMU's ELF maps physical addresses 1:1, not the kernel's direct map
		}
		t.Run(dc.Label(), func(t *testing.T) {
			f, err := os.Open(dc.Files[0])
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			core, err := elfdump.NewCore(f, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			d, err := vmcore.Open(dc.Files...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			stext, _ := d.Info.Symbol("_stext")
			for _, s := range core.Segments {
				if s.Type == elf.PT_LOAD && stext-s.Vaddr < s.Memsz {
					if got, want := s.Paddr+stext-s.Vaddr, imagePhys[d.Arch](d.Info, stext); got != want {
						t.Skipf("the ELF headers put _stext at physical %#x, VMCOREINFO at %#x: they were written for another layout", got, want)
					}
				}
			}
			// The direct (linear) map is the offset most segments share;
			// it maps all RAM. The kernel-image segments also map RAM
			// the image no longer maps (arm64 unmaps its init sections).
			offsets := map[uint64]int{}
			for _, s := range core.Segments {
				if s.Type == elf.PT_LOAD && s.Vaddr >= 0xffff000000000000 {
					offsets[s.Vaddr-s.Paddr]++
				}
			}
			var direct uint64
			for o, n := range offsets {
				if n > offsets[direct] {
					direct = o
				}
			}
			checked, walked := 0, 0
			for _, s := range core.Segments {
				if s.Type != elf.PT_LOAD || s.Vaddr < 0xffff000000000000 || s.Memsz < 8 {
					continue
				}
				for _, off := range []uint64{0, s.Memsz / 2 &^ 7, s.Memsz - 8} {
					va, want := s.Vaddr+off, s.Paddr+off
					pa, err := d.VirtToPhys(va)
					if errors.Is(err, vmcore.ErrNoTranslation) && s.Vaddr-s.Paddr != direct {
						continue
					}
					if err != nil || pa != want {
						t.Fatalf("VirtToPhys(%#x) = %#x, %v; want %#x", va, pa, err, want)
					}
					checked++
					// The fixed mappings are in the page tables too.
					if pa, err = vmcore.WalkPageTables(d, va); err != nil || pa != want {
						t.Fatalf("page-table walk of %#x = %#x, %v; want %#x", va, pa, err, want)
					}
					walked++
				}
			}
			if checked == 0 || walked == 0 {
				t.Fatalf("%d addresses translated, %d walked", checked, walked)
			}
			n++
		})
	}
	if n == 0 {
		t.Skip("no ELF dump in the corpus (run testdata/corpus/make.sh)")
	}
}

// TestFixedMappingsAgreeWithPageTables: on every real dump, the addresses
// VMCOREINFO states (kernel-image symbols, and mem_section, a pointer into
// the linear or direct map) translate through the fixed mappings as the
// kernel's own page tables map them. It covers dumps whose ELF headers
// TestSegmentsTranslate cannot trust.
func TestFixedMappingsAgreeWithPageTables(t *testing.T) {
	for _, dc := range corpus.OnePerCrash(corpus.Find(corpus.Roots()...)) {
		t.Run(dc.Label(), func(t *testing.T) {
			d, err := vmcore.Open(dc.Files...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			checked := 0
			for _, key := range d.Info.Keys() {
				name, ok := strings.CutPrefix(key, "SYMBOL(")
				name = strings.TrimSuffix(name, ")")
				if !ok || name == "vmemmap" { // the struct page of pfn 0, where arm64 has no RAM
					continue
				}
				va, _ := d.Info.Symbol(name)
				fixed, err1 := d.VirtToPhys(va)
				walked, err2 := vmcore.WalkPageTables(d, va)
				if err1 != nil || err2 != nil || fixed != walked {
					t.Errorf("%s %#x: translated to %#x (%v), walked to %#x (%v)", name, va, fixed, err1, walked, err2)
				}
				checked++
			}
			if checked < 5 {
				t.Errorf("only %d addresses checked", checked)
			}
		})
	}
}
