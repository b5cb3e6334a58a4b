package vmcore_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/vmcore/vmcore/elfdump"
	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

// TestPageWalkLevels builds kernel page tables by hand: 4- and 5-level
// paging, 4 KiB, 2 MiB and 1 GiB mappings, a missing entry, SME's mask bit.
func TestPageWalkLevels(t *testing.T) {
	const (
		pgdPA   = 0x100000 // tables at 1 MiB, one page each
		smeBit  = uint64(1) << 47
		present = 1
		huge    = 0x80
	)
	for _, levels := range []int{4, 5} {
		t.Run(fmt.Sprintf("%d-level", levels), func(t *testing.T) {
			mem := make([]byte, 0x200000)
			next := uint64(pgdPA)
			alloc := func() uint64 { next += 0x1000; return next }
			le := binary.LittleEndian
			entry := func(table uint64, idx uint64, v uint64) { le.PutUint64(mem[table+idx*8:], v|smeBit) }
			index := func(va uint64, level int) uint64 { return va >> (12 + 9*uint(level-1)) & 511 }
			// map4k maps va -> pa with 4 KiB pages, creating tables.
			tables := map[string]uint64{}
			walkTo := func(va uint64, stop int) uint64 {
				table := uint64(pgdPA)
				for level := levels; level > stop; level-- {
					key := fmt.Sprintf("%d-%x", level, va>>(12+9*uint(level-1)))
					sub, ok := tables[key]
					if !ok {
						sub = alloc()
						tables[key] = sub
						entry(table, index(va, level), sub|present)
					}
					table = sub
				}
				return table
			}
			va4k := uint64(0xffffc90000123000)
			entry(walkTo(va4k, 1), index(va4k, 1), 0x1ff000|present)
			va2m := uint64(0xffff888040000000)
			entry(walkTo(va2m, 2), index(va2m, 2), 0x1600000|present|huge)
			va1g := uint64(0xffff8880c0000000)
			entry(walkTo(va1g, 3), index(va1g, 3), 0x40000000|present|huge)
			missing := uint64(0xffffc90000200000)

			vi := fmt.Sprintf("OSRELEASE=6.99\nPAGESIZE=4096\nNUMBER(phys_base)=0\nSYMBOL(init_top_pgt)=%x\nNUMBER(pgtable_l5_enabled)=%d\nNUMBER(sme_mask)=%d\n",
				uint64(0xffffffff80000000+pgdPA), map[bool]int{true: 1}[levels == 5], smeBit)
			img := dumpwrite.ELF([]dumpwrite.Note{{Name: elfdump.NoteVMCOREINFO, Desc: []byte(vi)}},
				[]dumpwrite.Segment{{Paddr: 0, Data: mem}, {Paddr: 0x1600000, Memsz: 0x200000}, {Paddr: 0x40000000, Memsz: 0x40000000}}, dumpwrite.ELFOptions{})
			d := openBytes(t, img)
			for _, c := range []struct{ va, pa uint64 }{
				{va4k + 0x10, 0x1ff010},
				{va2m + 0x12345, 0x1612345},
				{va1g + 0x3456789, 0x43456789},
				{0xffffffff80000000 + 0x5000, 0x5000}, // kernel image, no walk
			} {
				pa, err := d.VirtToPhys(c.va)
				if err != nil || pa != c.pa {
					t.Errorf("VirtToPhys(%#x) = %#x, %v; want %#x", c.va, pa, err, c.pa)
				}
			}
			if _, err := d.VirtToPhys(missing); !errors.Is(err, vmcore.ErrNoTranslation) {
				t.Errorf("unmapped address: err = %v", err)
			}
			if _, err := d.VirtToPhys(0x0000900000000000); levels == 4 && !errors.Is(err, vmcore.ErrNoTranslation) {
				t.Errorf("non-canonical address: err = %v", err)
			}
		})
	}
}
