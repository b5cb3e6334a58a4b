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

// TestSegmentsTranslate checks address translation on real dumps of every
// architecture: an ELF vmcore states, in each PT_LOAD's p_vaddr, where the
// kernel maps that physical range (its direct or linear map, and its
// kernel image), so translating p_vaddr must give p_paddr, both through
// the translation's fixed mappings and by walking the page tables alone.
func TestSegmentsTranslate(t *testing.T) {
	n := 0
	for _, dc := range corpus.Find(corpus.Roots()...) {
		if !strings.HasPrefix(dc.Format, "elf-") {
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
