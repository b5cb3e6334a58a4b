package vmcore

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"iter"
	"sort"

	"github.com/vmcore/vmcore/elfdump"
)

// elfMem is the physical memory of an ELF core: PT_LOAD segments indexed by
// physical address. Bytes between p_filesz and p_memsz read as zeros: that is
// how makedumpfile -E writes zero pages and excluded tails.
type elfMem struct {
	r        io.ReaderAt
	size     int64
	segs     []elf.ProgHeader // PT_LOAD with Memsz > 0, sorted by Paddr
	pageSize uint64
	maxAddr  uint64
	cache    *pageCache
}

func (d *Dump) openELF(r io.ReaderAt, size int64) error {
	core, err := elfdump.NewCore(r, size)
	if err != nil {
		var fe *elfdump.FormatError
		if errors.As(err, &fe) && core != nil {
			// Notes were damaged: keep what was parsed, say so.
			d.Warnings = append(d.Warnings, err.Error())
		} else {
			return fmt.Errorf("vmcore: %w", err)
		}
	}
	d.Format = FormatELF
	d.ByteOrder = core.ByteOrder
	d.Notes = core.Notes
	d.Header.DumpLevel = -1
	d.Header.Incomplete = core.Incomplete()
	d.Header.Compression = "none"
	d.Arch = archOfMachine(core.Machine)
	d.Header.Utsname.Machine = string(d.Arch)
	m := &elfMem{r: r, size: size}
	var maxAddr uint64
	for _, s := range core.Segments {
		if s.Type != elf.PT_LOAD || s.Memsz == 0 {
			continue
		}
		if s.Paddr+s.Memsz < s.Paddr {
			return &FormatError{"ELF PT_LOAD", 0, fmt.Sprintf("segment at physical %#x with size %#x wraps around", s.Paddr, s.Memsz)}
		}
		// The kernel-text segment repeats part of RAM at its link address;
		// it gives phys_base when VMCOREINFO does not.
		if d.Arch == ArchX86_64 && s.Vaddr >= x86KernelMapStart && !d.hasPhysBase {
			d.physBase, d.hasPhysBase = s.Paddr-(s.Vaddr-x86KernelMapStart), true
		}
		m.segs = append(m.segs, s)
		maxAddr = max(maxAddr, s.Paddr+s.Memsz)
	}
	if len(m.segs) == 0 {
		return &FormatError{"ELF program headers", 0, "core file has no PT_LOAD segment: it holds no memory"}
	}
	sort.SliceStable(m.segs, func(i, j int) bool { return m.segs[i].Paddr < m.segs[j].Paddr })
	m.maxAddr = maxAddr
	d.mem = m
	return nil
}

// setPageSize completes the index once the page size is known from VMCOREINFO.
func (m *elfMem) setPageSize(ps uint64) uint64 {
	m.pageSize, m.cache = ps, newPageCache(int(ps))
	return (m.maxAddr + ps - 1) / ps
}

// find returns the index of the segment holding pa, or -1.
func (m *elfMem) find(pa uint64) int {
	i := sort.Search(len(m.segs), func(i int) bool { return m.segs[i].Paddr > pa }) - 1
	// Segments can overlap (the kernel-text copy); walk back over those
	// that start at or before pa until one covers it.
	for ; i >= 0; i-- {
		s := m.segs[i]
		if pa-s.Paddr < s.Memsz {
			return i
		}
		if i > 0 && m.segs[i-1].Paddr+m.segs[i-1].Memsz <= s.Paddr {
			break // earlier segments end before this one starts: no overlap chain
		}
	}
	return -1
}

// read serves whole pages through the cache, so many small reads of one
// page (walking page tables, log records) cost one read of the file; a
// page only partly in the dump is read piecewise, uncached.
func (m *elfMem) read(buf []byte, pa uint64) error {
	if ps := m.pageSize; ps > 0 {
		pfn, off := pa/ps, pa%ps
		if m.cache.copyOut(buf, pfn, off) {
			return nil
		}
		page := m.cache.buffer()
		if err := m.readRange(page, pfn*ps); err == nil {
			copy(buf, page[off:])
			m.cache.put(pfn, page)
			return nil
		}
		m.cache.release(page)
	}
	return m.readRange(buf, pa)
}

func (m *elfMem) readRange(buf []byte, pa uint64) error {
	for len(buf) > 0 {
		i := m.find(pa)
		if i < 0 {
			return &PageError{PFN: pa / max(m.pageSize, 1), Err: ErrHole}
		}
		s := m.segs[i]
		off := pa - s.Paddr
		n := min(uint64(len(buf)), s.Memsz-off)
		chunk := buf[:n]
		if off < s.Filesz {
			k := min(n, s.Filesz-off)
			if fo := s.Off + off; fo+k > uint64(m.size) {
				return &PageError{PFN: pa / max(m.pageSize, 1), Err: fmt.Errorf("%w (its data at file offset %#x is past the end of the %d-byte file)", ErrIncomplete, fo, m.size)}
			}
			if _, err := m.r.ReadAt(chunk[:k], int64(s.Off+off)); err != nil {
				return fmt.Errorf("vmcore: reading physical %#x from ELF segment at file offset %#x: %w", pa, s.Off+off, err)
			}
			clear(chunk[k:])
		} else {
			clear(chunk)
		}
		buf = buf[n:]
		pa += n
	}
	return nil
}

func (m *elfMem) pageCounts() (PageCounts, error) {
	var c PageCounts
	ps := max(m.pageSize, 1)
	var last uint64
	for _, s := range m.segs {
		// Skip the kernel-text duplicate of RAM already counted.
		start := max(s.Paddr, last)
		end := s.Paddr + s.Memsz
		if end <= start {
			continue
		}
		fileEnd := min(s.Paddr+s.Filesz, end)
		c.RAM += (end - start + ps - 1) / ps
		if fileEnd > start {
			c.Dumped += (fileEnd - start + ps - 1) / ps
		}
		last = end
	}
	c.Excluded = c.RAM - c.Dumped
	return c, nil
}

func (m *elfMem) absent() iter.Seq2[Range, error] {
	return func(yield func(Range, error) bool) {
		ps := max(m.pageSize, 1)
		var next uint64 // first address not yet accounted for
		for _, s := range m.segs {
			end := s.Paddr + s.Memsz
			if end <= next {
				continue
			}
			if s.Paddr > next && s.Paddr/ps > next/ps {
				if !yield(Range{next / ps, s.Paddr / ps, AbsentHole}, nil) {
					return
				}
			}
			if s.Filesz < s.Memsz {
				from := (s.Paddr + s.Filesz + ps - 1) / ps
				if to := end / ps; to > from {
					if !yield(Range{from, to, AbsentExcluded}, nil) {
						return
					}
				}
			}
			next = end
		}
	}
}
