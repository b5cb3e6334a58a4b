package vmcore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// x86KernelMapStart is __START_KERNEL_map: the kernel image is mapped
	// there, at phys_base.
	x86KernelMapStart = 0xffffffff80000000
	// x86DefaultImageSize is KERNEL_IMAGE_SIZE with KASLR (1 GiB) when
	// VMCOREINFO does not say.
	x86DefaultImageSize = 1 << 30

	x86PagePresent = 1 << 0
	x86PageHuge    = 1 << 7 // PSE at PUD (1 GiB) and PMD (2 MiB) level
	x86AddrMask    = 0x000ffffffffff000
)

// x86_64 translates kernel addresses of an x86_64 dump: the kernel image by
// its fixed offset (phys_base), everything else by walking the kernel page
// tables from init_top_pgt with 4- or 5-level paging, 1 GiB and 2 MiB pages.
type x86_64 struct {
	d         *Dump
	physBase  uint64
	imageSize uint64
	pgd       uint64 // physical address of the top-level table
	levels    int
	smeMask   uint64
	tlb       *tlb
}

func newX86_64(d *Dump) (*x86_64, error) {
	x := &x86_64{d: d, imageSize: x86DefaultImageSize, levels: 4, tlb: newTLB(4096)}
	vi := d.Info
	switch pb, ok := numberOf(vi, "phys_base"); {
	case ok:
		x.physBase = uint64(pb)
	case d.hasPhysBase:
		x.physBase = d.physBase
	default:
		return nil, errors.New("phys_base is unknown (no VMCOREINFO NUMBER(phys_base), kdump sub-header or kernel-text segment)")
	}
	if vi == nil {
		return nil, errors.New("the dump has no VMCOREINFO, so the kernel page tables cannot be found")
	}
	if n, ok := vi.Number("KERNEL_IMAGE_SIZE"); ok && n > 0 {
		x.imageSize = uint64(n)
	}
	if n, ok := vi.Number("pgtable_l5_enabled"); ok && n != 0 {
		x.levels = 5
	}
	if n, ok := vi.Number("sme_mask"); ok {
		x.smeMask = uint64(n)
	}
	root, ok := vi.Symbol("init_top_pgt")
	if !ok {
		if root, ok = vi.Symbol("swapper_pg_dir"); !ok {
			return nil, errors.New("VMCOREINFO has neither SYMBOL(init_top_pgt) nor SYMBOL(swapper_pg_dir)")
		}
	}
	pgd, ok := x.image(root)
	if !ok {
		return nil, fmt.Errorf("page-table root %#x is not in the kernel image mapping", root)
	}
	x.pgd = pgd
	return x, nil
}

func numberOf(vi *VMCoreInfo, name string) (int64, bool) {
	if vi == nil {
		return 0, false
	}
	return vi.Number(name)
}

// image translates an address of the kernel-image mapping without page tables.
func (x *x86_64) image(va uint64) (uint64, bool) {
	if va >= x86KernelMapStart && va-x86KernelMapStart < x.imageSize {
		return va - x86KernelMapStart + x.physBase, true
	}
	return 0, false
}

func (x *x86_64) translate(va uint64) (uint64, error) {
	if pa, ok := x.image(va); ok {
		return pa, nil
	}
	return x.tlb.cached(va, x.walk)
}

func (x *x86_64) walk(va uint64) (uint64, error) {
	// Canonical check: bits 63..47 (or 56) must all equal bit 47 (or 56).
	top := uint(47)
	if x.levels == 5 {
		top = 56
	}
	if s := int64(va) >> top; s != 0 && s != -1 {
		return 0, fmt.Errorf("vmcore: %#x is not a canonical address: %w", va, ErrNoTranslation)
	}
	table := x.pgd
	mask := x86AddrMask &^ x.smeMask
	var e [8]byte
	for level := x.levels; level >= 1; level-- {
		shift := 12 + 9*uint(level-1)
		idx := (va >> shift) & 511
		if err := x.d.ReadPhys(e[:], table+idx*8); err != nil {
			return 0, fmt.Errorf("vmcore: reading level-%d page table entry for %#x at physical %#x: %w", level, va, table+idx*8, err)
		}
		ent := binary.LittleEndian.Uint64(e[:])
		if ent&x86PagePresent == 0 {
			return 0, fmt.Errorf("vmcore: %#x: level-%d entry %#x not present: %w", va, level, ent, ErrNoTranslation)
		}
		if (level == 2 || level == 3) && ent&x86PageHuge != 0 {
			size := uint64(1) << shift
			return (ent&mask)&^(size-1) | va&(size-1), nil
		}
		table = ent & mask
	}
	return table | va&0xfff, nil
}
