package vmcore

import (
	"errors"
	"fmt"
)

// arm64 translates kernel addresses of an arm64 dump, from what VMCOREINFO
// states (arch/arm64/kernel/crash_core.c): the linear map by its fixed
// offset (PHYS_OFFSET), everything else (kernel image, vmalloc, modules,
// per-CPU stacks) by walking the kernel page tables from swapper_pg_dir,
// located through kimage_voffset, as the MMU walks them from TTBR1_EL1.
//
// Granules of 4, 16 and 64 KiB; 39- to 52-bit virtual addresses; 52-bit
// output addresses of FEAT_LPA (64 KiB) and FEAT_LPA2 (4 and 16 KiB, where
// the descriptor keeps OA[51:50] in bits [9:8]); block mappings at any
// level above the last.
type arm64 struct {
	d          *Dump
	pageShift  uint
	walkBits   uint   // virtual address bits the walk indexes (see newARM64)
	levels     int    // translation levels of the walk
	lpa2       bool   // descriptors in the FEAT_LPA2 format
	pgd        uint64 // physical address of swapper_pg_dir
	linStart   uint64 // the linear map is [linStart, linEnd)
	linEnd     uint64
	physOffset uint64 // PHYS_OFFSET: the physical address of linStart
	tlb        *tlb
}

// Limits of the virtual address size the arm64 kernel can be configured
// with (ARM64_VA_BITS_36 to _52).
const (
	arm64MinVABits = 36
	arm64MaxVABits = 52
)

// arm64Granules are the translation granules by PAGESIZE.
var arm64Granules = map[int]uint{4096: 12, 16384: 14, 65536: 16}

func newARM64(d *Dump) (*arm64, error) {
	vi := d.Info
	if vi == nil {
		return nil, errors.New("the dump has no VMCOREINFO, so the arm64 kernel page tables cannot be found")
	}
	shift, ok := arm64Granules[d.PageSize]
	if !ok {
		return nil, fmt.Errorf("arm64 page size %d is not a translation granule (4, 16 or 64 KiB)", d.PageSize)
	}
	need := func(name string) (uint64, error) {
		n, ok := vi.Number(name)
		if !ok {
			return 0, fmt.Errorf("VMCOREINFO lacks NUMBER(%s), which arm64 address translation needs", name)
		}
		return uint64(n), nil
	}
	vaBits, err := need("VA_BITS")
	if err != nil {
		return nil, err
	}
	voffset, err := need("kimage_voffset")
	if err != nil {
		return nil, err
	}
	physOffset, err := need("PHYS_OFFSET")
	if err != nil {
		return nil, err
	}
	if vaBits < arm64MinVABits || vaBits > arm64MaxVABits {
		return nil, fmt.Errorf("NUMBER(VA_BITS)=%d is not an arm64 virtual address size (%d-%d)", vaBits, arm64MinVABits, arm64MaxVABits)
	}
	// The hardware's size is 64 - TCR_EL1.T1SZ (5.9+ say it): a kernel
	// built for 52 bits runs with 48 (47 with 16 KiB pages) on a CPU
	// without FEAT_LVA/LPA2.
	actual := vaBits
	if t1sz, ok := vi.Number("TCR_EL1_T1SZ"); ok {
		if t1sz < 64-arm64MaxVABits || t1sz > 64-arm64MinVABits {
			return nil, fmt.Errorf("NUMBER(TCR_EL1_T1SZ)=%d gives no arm64 virtual address size", t1sz)
		}
		actual = 64 - uint64(t1sz)
	}
	if actual > vaBits {
		return nil, fmt.Errorf("TCR_EL1.T1SZ gives %d-bit addresses, more than the kernel's VA_BITS=%d", actual, vaBits)
	}
	root, ok := vi.Symbol("swapper_pg_dir")
	if !ok {
		return nil, errors.New("VMCOREINFO lacks SYMBOL(swapper_pg_dir)")
	}
	a := &arm64{d: d, pageShift: shift, physOffset: physOffset, tlb: newTLB(uint64(d.PageSize))}
	a.pgd = root - voffset // swapper_pg_dir is in the kernel image: __kimg_to_phys
	if a.pgd&(1<<shift-1) != 0 {
		return nil, fmt.Errorf("swapper_pg_dir %#x less kimage_voffset %#x is %#x, not page aligned", root, voffset, a.pgd)
	}
	// A kernel built for 52 bits on a 48-bit CPU walks its 52-bit tables
	// from an offset into swapper_pg_dir (offset_ttbr1, 64 KiB pages): the
	// same entries the 52-bit index of a kernel address (top bits all ones)
	// selects. With FEAT_LPA2 the kernel instead folds its top level at run
	// time and the MMU walks swapper_pg_dir as a table of one level fewer.
	a.walkBits = uint(vaBits)
	if a.levelsFor(uint(actual)) != a.levelsFor(uint(vaBits)) {
		a.walkBits = uint(actual)
	}
	a.levels = a.levelsFor(a.walkBits)
	a.lpa2 = shift != 16 && actual > 48
	// The linear map is [PAGE_OFFSET, PAGE_END) since 5.4 (52-bit VA
	// flipped the layout), the kernel image and vmalloc above it; before,
	// the linear map was the upper half and the image below it.
	vaMin := vaBits
	if vaBits > 48 {
		vaMin = 48
		if shift == 14 {
			vaMin = 47
		}
	}
	pageEnd := -(uint64(1) << (vaMin - 1))
	if root >= pageEnd {
		a.linStart, a.linEnd = -(uint64(1) << vaBits), pageEnd
	} else {
		a.linStart, a.linEnd = -(uint64(1) << (vaBits - 1)), 0
	}
	return a, nil
}

// levelsFor is the number of translation levels for a virtual address
// size: each level resolves pageShift-3 bits above the page offset.
func (a *arm64) levelsFor(vaBits uint) int {
	per := a.pageShift - 3
	return int((vaBits - a.pageShift + per - 1) / per)
}

// linear reports whether va is in the linear map.
func (a *arm64) linear(va uint64) bool {
	return va >= a.linStart && (a.linEnd == 0 || va < a.linEnd)
}

func (a *arm64) translate(va uint64) (uint64, error) {
	if a.linear(va) {
		return va - a.linStart + a.physOffset, nil
	}
	return a.tlb.cached(va, a.walk)
}

// outputAddress extracts the address a table, block or page descriptor
// points to.
func (a *arm64) outputAddress(desc uint64) uint64 {
	low := ^uint64(0) << a.pageShift
	switch {
	case a.pageShift == 16: // FEAT_LPA: OA[51:48] in bits [15:12]
		return desc&(1<<48-1)&low | (desc>>12&0xf)<<48
	case a.lpa2: // FEAT_LPA2: OA[51:50] in bits [9:8]
		return desc&(1<<50-1)&low | (desc>>8&3)<<50
	}
	return desc & (1<<48 - 1) & low
}

// walk translates va through the kernel page tables as the MMU does.
func (a *arm64) walk(va uint64) (uint64, error) {
	if va>>a.walkBits != ^uint64(0)>>a.walkBits {
		return 0, fmt.Errorf("vmcore: %#x is not a kernel (TTBR1) address of %d bits: %w", va, a.walkBits, ErrNoTranslation)
	}
	per := a.pageShift - 3
	table := a.pgd
	var e [8]byte
	for lvl := a.levels - 1; lvl >= 0; lvl-- {
		shift := a.pageShift + per*uint(lvl)
		bits := per
		if lvl == a.levels-1 {
			bits = a.walkBits - shift
		}
		at := table + (va>>shift)&(1<<bits-1)*8
		if err := a.d.ReadPhys(e[:], at); err != nil {
			return 0, fmt.Errorf("vmcore: reading the level-%d descriptor for %#x at physical %#x: %w", a.levels-1-lvl, va, at, err)
		}
		desc := a.d.ByteOrder.Uint64(e[:])
		switch {
		case desc&1 == 0:
			return 0, fmt.Errorf("vmcore: %#x: level-%d descriptor %#x is invalid: %w", va, a.levels-1-lvl, desc, ErrNoTranslation)
		case desc&2 == 0 && lvl > 0: // a block
			size := uint64(1) << shift
			return a.outputAddress(desc)&^(size-1) | va&(size-1), nil
		case desc&2 == 0:
			return 0, fmt.Errorf("vmcore: %#x: last-level descriptor %#x is reserved: %w", va, desc, ErrNoTranslation)
		}
		table = a.outputAddress(desc)
	}
	return table | va&(1<<a.pageShift-1), nil
}
