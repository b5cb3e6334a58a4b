package vmcore_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/elfdump"
	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

// arm64Tables builds arm64 kernel page tables the way the MMU reads them:
// from the table TTBR1_EL1 points at, indexing hwBits of virtual address,
// with descriptors in the granule's output-address format.
type arm64Tables struct {
	shift  uint // page shift of the granule
	hwBits uint // virtual address bits the MMU translates (64 - T1SZ)
	lpa2   bool
	base   uint64 // physical address of mem
	mem    []byte
	ttbr   uint64 // the table the MMU starts from
	tables map[string]uint64
}

func (a *arm64Tables) levels() int {
	per := a.shift - 3
	return int((a.hwBits - a.shift + per - 1) / per)
}

func (a *arm64Tables) alloc() uint64 {
	pa := a.base + uint64(len(a.mem))
	a.mem = append(a.mem, make([]byte, 1<<a.shift)...)
	return pa
}

// desc encodes a descriptor of output address oa: bits [1:0] typ, the
// access flag, and for pages and blocks without LPA2 the shareability
// bits [9:8] the kernel sets (which LPA2 reuses for OA[51:50]).
func (a *arm64Tables) desc(oa uint64, typ uint64, leaf bool) uint64 {
	d := typ | 1<<10
	switch {
	case a.shift == 16:
		d |= oa&(1<<48-1) | (oa>>48&0xf)<<12
	case a.lpa2:
		d |= oa&(1<<50-1) | (oa>>50&3)<<8
	default:
		d |= oa
		if leaf {
			d |= 3 << 8
		}
	}
	return d
}

// mapAt maps va to pa with a descriptor at level leaf above the last (0: a
// page, 1: a block of the level above, ...).
func (a *arm64Tables) mapAt(va, pa uint64, leaf int) {
	per := a.shift - 3
	table := a.ttbr
	for lvl := a.levels() - 1; ; lvl-- {
		shift := a.shift + per*uint(lvl)
		bits := per
		if lvl == a.levels()-1 {
			bits = a.hwBits - shift
		}
		slot := table - a.base + (va>>shift)&(1<<bits-1)*8
		if lvl == leaf {
			typ := uint64(3)
			if leaf > 0 {
				typ = 1
			}
			binary.LittleEndian.PutUint64(a.mem[slot:], a.desc(pa, typ, true))
			return
		}
		key := fmt.Sprintf("%d-%x", lvl, va>>shift)
		next, ok := a.tables[key]
		if !ok {
			next = a.alloc()
			a.tables[key] = next
			binary.LittleEndian.PutUint64(a.mem[slot:], a.desc(next, 3, false))
		}
		table = next
	}
}

// TestARM64Walk translates through hand-built tables of each granule and
// address size: 4 KiB pages with 48 bits (4 levels) and with LPA2's 52
// bits (5 levels, OA[51:50] in the descriptor), the same kernel folded to
// 4 levels on a 48-bit CPU, 16 KiB pages with 48 (a 2-entry top level)
// and 52 bits, 64 KiB pages with FEAT_LPA's OA[51:48], and a 52-bit 64 KiB
// kernel on a 48-bit CPU, whose TTBR1 points into swapper_pg_dir.
func TestARM64Walk(t *testing.T) {
	for _, c := range []struct {
		name           string
		shift          uint
		vaBits, hwBits uint
		lpa2           bool
		farPA          uint64 // an output address above 48 bits, if the format has one
	}{
		{"4k-48", 12, 48, 48, false, 0},
		{"4k-52-lpa2", 12, 52, 52, true, 1<<51 | 1<<50},
		{"4k-52-lpa2-folded-on-48", 12, 52, 48, false, 0},
		{"16k-48", 14, 48, 48, false, 0},
		{"16k-47", 14, 47, 47, false, 0},
		{"16k-52-lpa2", 14, 52, 52, true, 1 << 50},
		{"64k-48-lpa", 16, 48, 48, false, 1<<51 | 1<<48},
		{"64k-52", 16, 52, 52, false, 1 << 49},
		{"64k-52-on-48", 16, 52, 48, false, 0},
		{"64k-42", 16, 42, 42, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			page := uint64(1) << c.shift
			tb := &arm64Tables{shift: c.shift, hwBits: c.hwBits, lpa2: c.lpa2, base: 0x40000000, tables: map[string]uint64{}}
			swapper := tb.alloc()
			tb.ttbr = swapper
			per := c.shift - 3
			if c.vaBits == 52 && c.hwBits == 48 && c.shift == 16 {
				// offset_ttbr1: TTBR1_BADDR_4852_OFFSET into a 52-bit table.
				pgdirShift := c.shift + per*uint(tb.levels()-1)
				tb.ttbr += (1<<(52-pgdirShift) - 1<<(48-pgdirShift)) * 8
			}
			pageEnd := -(uint64(1) << (min(c.vaBits, 48) - 1))
			if c.shift == 14 && c.vaBits > 48 {
				pageEnd = 0xffffc00000000000
			}
			type mapping struct {
				va, pa uint64
				leaf   int
			}
			maps := []mapping{
				{pageEnd + 0x1234*page, 0x48000000 + 5*page, 0},
				{pageEnd + 0x10000*page, 0x50000000 + 7*page, 0},
				{pageEnd + 1<<(c.shift+per), 3 << (c.shift + per), 1}, // a block one level up
			}
			if tb.levels() > 2 {
				maps = append(maps, mapping{pageEnd + 2<<(c.shift+2*per), 3 << (c.shift + 2*per), 2})
			}
			if c.farPA != 0 {
				maps = append(maps, mapping{pageEnd + 0x20000*page, c.farPA + 3*page, 0})
			}
			for _, m := range maps {
				tb.mapAt(m.va, m.pa, m.leaf)
			}
			// The kernel image lies above the linear map: KIMAGE_VADDR is
			// past PAGE_END (and the modules' range); kimage_voffset takes
			// its addresses to physical ones.
			voffset := pageEnd + 1<<(min(c.vaBits, 48)-3) - tb.base
			vi := fmt.Sprintf("OSRELEASE=6.99\nPAGESIZE=%d\nNUMBER(VA_BITS)=%d\nNUMBER(TCR_EL1_T1SZ)=%d\nNUMBER(kimage_voffset)=%#x\nNUMBER(PHYS_OFFSET)=0x40000000\nSYMBOL(swapper_pg_dir)=%x\n",
				page, c.vaBits, 64-c.hwBits, voffset, voffset+swapper)
			img := dumpwrite.ELF([]dumpwrite.Note{{Name: elfdump.NoteVMCOREINFO, Desc: []byte(vi)}},
				[]dumpwrite.Segment{{Paddr: tb.base, Data: tb.mem}}, dumpwrite.ELFOptions{Machine: elf.EM_AARCH64})
			d := openBytes(t, img)
			if d.Arch != vmcore.ArchAArch64 || d.PageSize != int(page) {
				t.Fatalf("arch %s page size %d", d.Arch, d.PageSize)
			}
			for _, m := range maps {
				for _, off := range []uint64{0, 8, page - 8} {
					if pa, err := d.VirtToPhys(m.va + off); err != nil || pa != m.pa+off {
						t.Errorf("VirtToPhys(%#x) = %#x, %v; want %#x", m.va+off, pa, err, m.pa+off)
					}
				}
			}
			if pa, err := d.VirtToPhys(-(uint64(1) << c.vaBits) + 0x1000); err != nil || pa != 0x40001000 {
				t.Errorf("linear map: %#x, %v", pa, err)
			}
			if pa, err := d.VirtToPhys(pageEnd + 0x4321*page); !errors.Is(err, vmcore.ErrNoTranslation) {
				t.Errorf("unmapped address: %#x, %v", pa, err)
			}
			if pa, err := d.VirtToPhys(0x0000ffff12340000); !errors.Is(err, vmcore.ErrNoTranslation) {
				t.Errorf("user address: %#x, %v", pa, err)
			}
		})
	}
}

// TestARM64BadVMCOREINFO: VMCOREINFO that cannot describe an arm64 kernel
// leaves the dump open with translation refused, saying why.
func TestARM64BadVMCOREINFO(t *testing.T) {
	good := map[string]string{"PAGESIZE": "4096", "NUMBER(VA_BITS)": "48", "NUMBER(TCR_EL1_T1SZ)": "16",
		"NUMBER(kimage_voffset)": "0xffffb00000000000", "NUMBER(PHYS_OFFSET)": "0x40000000", "SYMBOL(swapper_pg_dir)": "ffffb00040000000"}
	for _, c := range []struct{ key, value, want string }{
		{"PAGESIZE", "8192", "granule"},
		{"NUMBER(VA_BITS)", "64", "VA_BITS"},
		{"NUMBER(VA_BITS)", "", "VA_BITS"},
		{"NUMBER(TCR_EL1_T1SZ)", "0", "T1SZ"},
		{"NUMBER(TCR_EL1_T1SZ)", "4", "T1SZ"},
		{"NUMBER(TCR_EL1_T1SZ)", "12", "more than"},
		{"NUMBER(kimage_voffset)", "", "kimage_voffset"},
		{"NUMBER(PHYS_OFFSET)", "", "PHYS_OFFSET"},
		{"SYMBOL(swapper_pg_dir)", "", "swapper_pg_dir"},
		{"SYMBOL(swapper_pg_dir)", "ffffb00040000008", "aligned"},
	} {
		t.Run(c.key+"="+c.value, func(t *testing.T) {
			vi := "OSRELEASE=6.99\n"
			for k, v := range good {
				if k == c.key {
					v = c.value
				}
				if v != "" {
					vi += k + "=" + v + "\n"
				}
			}
			img := dumpwrite.ELF([]dumpwrite.Note{{Name: elfdump.NoteVMCOREINFO, Desc: []byte(vi)}},
				[]dumpwrite.Segment{{Paddr: 0x40000000, Data: make([]byte, 4096)}}, dumpwrite.ELFOptions{Machine: elf.EM_AARCH64})
			d, err := vmcore.NewReader(bytes.NewReader(img), int64(len(img)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.VirtToPhys(0xffff800000001000)
			if !errors.Is(err, vmcore.ErrNoTranslation) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want ErrNoTranslation saying %q", err, c.want)
			}
		})
	}
}

// TestUnknownArchRefused: a dump of an architecture without translation is
// refused when opened, with an error naming it.
func TestUnknownArchRefused(t *testing.T) {
	img := dumpwrite.ELF([]dumpwrite.Note{{Name: elfdump.NoteVMCOREINFO, Desc: []byte("OSRELEASE=6.99\nPAGESIZE=65536\n")}},
		[]dumpwrite.Segment{{Paddr: 0, Data: make([]byte, 4096)}}, dumpwrite.ELFOptions{Machine: elf.EM_PPC64})
	_, err := vmcore.NewReader(bytes.NewReader(img), int64(len(img)))
	if !errors.Is(err, vmcore.ErrUnknownArch) || !strings.Contains(err.Error(), "EM_PPC64") {
		t.Errorf("err = %v", err)
	}
	kd := synthKdump(t, dumpwrite.Zlib, dumpwrite.KdumpOptions{})
	copy(kd[12+65*4:], "s390x\x00")
	_, err = vmcore.NewReader(bytes.NewReader(kd), int64(len(kd)))
	if !errors.Is(err, vmcore.ErrUnknownArch) || !strings.Contains(err.Error(), "s390x") {
		t.Errorf("kdump: err = %v", err)
	}
}
