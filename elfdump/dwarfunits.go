package elfdump

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
)

// ErrNoUnit is returned by DWARFUnits.Unit when no .debug_aranges range
// covers the pc: code without DWARF (hand-written assembly, linker stubs) or
// an address outside the object.
var ErrNoUnit = errors.New("elfdump: no DWARF compile unit covers the address")

// maxCachedUnits bounds DWARFUnits' cache of decoded units. A stack trace
// touches a handful of units and a worker resolves a few traces per kernel;
// each cached dwarf.Data holds its unit's abbreviation table and whatever
// types were decoded through it, so the cache must not grow to all of the
// kernel's thousands of units.
const maxCachedUnits = 256

// maxReadSection bounds a debug section read through Section.Data rather
// than mapped. For a compressed section the size is what its header
// claims, and zstd's run-length blocks let a few bytes claim gigabytes; a
// distribution kernel's largest, .debug_info, is under 200 MiB.
const maxReadSection = 1 << 30

// dwarf5Sections are the sections a DWARF 5 unit points into that
// dwarf.New does not take; they are given to AddSection. Like
// .debug_abbrev, .debug_line, .debug_ranges and .debug_str, each is passed
// whole, because the offsets inside a unit are offsets into the whole
// section.
var dwarf5Sections = []string{".debug_addr", ".debug_line_str", ".debug_str_offsets", ".debug_rnglists"}

// unitSections are all the sections besides .debug_info that a unit's
// entries and line table point into.
var unitSections = append([]string{".debug_abbrev", ".debug_line", ".debug_ranges", ".debug_str"}, dwarf5Sections...)

// DWARFUnits reads the DWARF of a linked ELF object (a vmlinux) one compile
// unit at a time. (*elf.File).DWARF reads every debug section into memory,
// 1–2 s and hundreds of MB for a distribution kernel, to answer questions
// about a few stack frames; DWARFUnits finds the one unit covering a pc
// through .debug_aranges and decodes only that unit, over section bytes
// that are, for an *os.File, slices of a read-only mapping, so only the
// pages touched are read from disk.
type DWARFUnits struct {
	f       *elf.File
	mapping []byte // the whole file, nil when reading through Section.Data
	secs    map[string]*dwarfSection

	// ranges are .debug_aranges' address ranges sorted by lo; maxHi[i] is
	// the largest hi of ranges[:i+1], which bounds the backward search
	// for a pc among overlapping ranges.
	ranges []unitRange
	maxHi  []uint64
	// damaged counts the .debug_aranges sets skipped as malformed;
	// damage is the first one's error. Reported with ErrNoUnit, since a
	// skipped set is a likely reason for a pc not to be found.
	damaged int
	damage  error

	// mu guards closed and the mapping. Unit holds it for reading while
	// it decodes, so that Close cannot unmap bytes being decoded.
	mu     sync.RWMutex
	closed bool
	// noAranges: the object has no .debug_aranges; Unit answers with Whole.
	noAranges bool
	whole     unitSlot   // Whole's Data, decoded once
	cache     sync.Mutex // guards units
	units     map[uint64]*unitSlot
}

// unitRange is one (address, length) tuple of .debug_aranges.
type unitRange struct {
	lo, hi  uint64 // [lo, hi)
	unitOff uint64 // offset of the unit in .debug_info
}

// unitSlot is a cache entry: the unit is decoded once, by the first
// caller; concurrent callers for the same unit wait for it.
type unitSlot struct {
	once sync.Once
	d    *dwarf.Data
	err  error
}

// dwarfSection is one debug section's bytes: a slice of the mapping, or
// Section.Data read on first use and kept.
type dwarfSection struct {
	s    *elf.Section
	once sync.Once
	b    []byte
	err  error
}

// data returns the section's bytes, reading them on the first call.
func (s *dwarfSection) data() ([]byte, error) {
	s.once.Do(func() {
		if s.s.Size > maxReadSection {
			s.err = fmt.Errorf("elfdump: reading %s: %d bytes, more than the %d allowed", s.s.Name, s.s.Size, maxReadSection)
			return
		}
		b, err := s.s.Data()
		if err != nil {
			s.err = fmt.Errorf("elfdump: reading %s: %w", s.s.Name, err)
			return
		}
		s.b = b
	})
	return s.b, s.err
}

// NewDWARFUnits prepares per-unit DWARF reading of f, whose bytes are r.
// When r is an *os.File of a regular file, the file is mmapped read-only
// (syscall.Mmap, whole file, PROT_READ, MAP_SHARED) and uncompressed
// sections are slices of the mapping. Compressed sections (SHF_COMPRESSED,
// .zdebug_*) and other readers fall back to Section.Data, read lazily,
// once per section, on the first Unit call that needs them (at most
// 1 GiB each); for such readers the first Unit call therefore reads all
// of .debug_info. .debug_aranges is read and indexed here. f and r must
// stay open until Close.
//
// Section bytes are used as they are: relocation sections (a vmlinux
// built with --emit-relocs has .rela.debug_*) are ignored, as
// (*elf.File).DWARF does for ET_EXEC, and for ET_DYN too. Relocatable
// objects (ET_REL, a .ko) are refused, since their .debug_aranges
// addresses are unrelocated; read them with NewModule.
//
// It fails with an error naming the section when there is no .debug_info
// or no .debug_aranges, when a mapped section lies outside the file, and
// when .debug_aranges holds no usable set but some malformed ones.
// Malformed sets among good ones are skipped; Unit reports them along
// with ErrNoUnit. A file truncated while mapped faults (SIGBUS) on access;
// vmlinux images are not expected to change under a reader.
func NewDWARFUnits(f *elf.File, r io.ReaderAt) (*DWARFUnits, error) {
	switch f.Type {
	case elf.ET_EXEC, elf.ET_DYN:
	case elf.ET_REL:
		return nil, errors.New("elfdump: DWARF units: the object is relocatable (ET_REL): its .debug_aranges addresses are unrelocated; use NewModule")
	default:
		return nil, fmt.Errorf("elfdump: DWARF units: object type %v has no linked DWARF", f.Type)
	}
	u := &DWARFUnits{f: f, secs: map[string]*dwarfSection{}, units: map[uint64]*unitSlot{}}
	if file, ok := r.(*os.File); ok {
		m, err := mapFile(file, math.MaxInt64)
		if err != nil {
			return nil, fmt.Errorf("elfdump: DWARF units: %w", err)
		}
		u.mapping = m
	}
	// From here on a failure must unmap.
	if err := u.init(); err != nil {
		return nil, errors.Join(err, u.Close())
	}
	return u, nil
}

// init finds the sections and indexes .debug_aranges.
func (u *DWARFUnits) init() error {
	for _, name := range append([]string{".debug_info", ".debug_aranges"}, unitSections...) {
		s := u.f.Section(name)
		if s == nil {
			// Old GNU-style compressed sections: ".zdebug_info".
			s = u.f.Section(".z" + name[1:])
		}
		if s == nil {
			continue
		}
		if s.Type == elf.SHT_NOBITS {
			// A stripped object keeps the header but not the
			// bytes; treat it as absent.
			continue
		}
		ds := &dwarfSection{s: s}
		if u.mapping != nil && s.Flags&elf.SHF_COMPRESSED == 0 && !strings.HasPrefix(s.Name, ".zdebug") {
			if s.Offset > uint64(len(u.mapping)) || s.FileSize > uint64(len(u.mapping))-s.Offset {
				return &FormatError{Struct: "section " + s.Name, Off: int64(min(s.Offset, math.MaxInt64)),
					Msg: fmt.Sprintf("%#x bytes run past the end of the %#x-byte file", s.FileSize, len(u.mapping))}
			}
			ds.b = u.mapping[s.Offset : s.Offset+s.FileSize : s.Offset+s.FileSize]
			ds.once.Do(func() {}) // the bytes are there; data must not read them again
		}
		u.secs[name] = ds
	}
	info, ok := u.secs[".debug_info"]
	if !ok {
		return errors.New("elfdump: DWARF units: the object has no .debug_info section")
	}
	ar, ok := u.secs[".debug_aranges"]
	if !ok {
		// Clang emits no .debug_aranges unless asked (-gdwarf-aranges):
		// Unit then serves every pc from Whole.
		u.noAranges = true
		return nil
	}
	b, err := ar.data()
	if err != nil {
		return err
	}
	// For a compressed .debug_info, Size is the uncompressed size its
	// header claims, unchecked until the bytes are read; unitBytes checks
	// each unit against the real bytes again.
	u.ranges, u.damaged, u.damage = parseAranges(b, u.f.ByteOrder, info.s.Size, int64(ar.s.Offset))
	if len(u.ranges) == 0 && u.damage != nil {
		return fmt.Errorf("elfdump: DWARF units: no usable .debug_aranges set: %w", u.damage)
	}
	sort.Slice(u.ranges, func(i, j int) bool {
		a, b := u.ranges[i], u.ranges[j]
		if a.lo != b.lo {
			return a.lo < b.lo
		}
		return a.hi < b.hi
	})
	u.maxHi = make([]uint64, len(u.ranges))
	var hi uint64
	for i, r := range u.ranges {
		hi = max(hi, r.hi)
		u.maxHi[i] = hi
	}
	return nil
}

// mapFile maps the whole of file read-only, or returns nil when it is not
// a regular file (such as a pipe), is empty, or the system maps nothing;
// a file of more than limit bytes is an error.
func mapFile(file *os.File, limit int64) ([]byte, error) {
	fi, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 {
		return nil, nil
	}
	if fi.Size() > limit || fi.Size() > math.MaxInt {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d that may be mapped", file.Name(), fi.Size(), min(limit, math.MaxInt))
	}
	m, err := mmapReadOnly(file, int(fi.Size()))
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", file.Name(), err)
	}
	return m, nil
}

// parseAranges reads every set of a .debug_aranges section b: a header
// (unit_length, 32-bit or 64-bit DWARF; version 2; debug_info_offset;
// address_size; segment_selector_size), padding so that the tuples start
// at a multiple of twice the address size from the set's start, then
// (address, length) tuples up to a (0, 0) terminator. A set whose header is
// malformed or whose unit is not inside .debug_info (infoSize bytes) is
// skipped and counted; a set whose length runs past the section ends the
// walk, since the next set cannot be found. secOff, the section's file
// offset, is only for error messages.
func parseAranges(b []byte, order binary.ByteOrder, infoSize uint64, secOff int64) (ranges []unitRange, damaged int, first error) {
	fail := func(setOff uint64, format string, args ...any) {
		damaged++
		if first == nil {
			first = &FormatError{Struct: fmt.Sprintf(".debug_aranges set (section offset %#x)", setOff),
				Off: secOff + int64(setOff), Msg: fmt.Sprintf(format, args...)}
		}
	}
	size := uint64(len(b))
	for off := uint64(0); off < size; {
		setOff := off
		if size-off < 4 {
			fail(setOff, "%d bytes left, too few for a set header", size-off)
			break
		}
		length := uint64(order.Uint32(b[off:]))
		hdr := uint64(4) // bytes of unit_length
		offSize := uint64(4)
		switch {
		case length == 0xffffffff: // 64-bit DWARF
			if size-off < 12 {
				fail(setOff, "%d bytes left, too few for a 64-bit set header", size-off)
				return ranges, damaged, first
			}
			length = order.Uint64(b[off+4:])
			hdr, offSize = 12, 8
		case length >= 0xfffffff0:
			fail(setOff, "reserved unit_length %#x", length)
			return ranges, damaged, first
		}
		if length > size-off-hdr {
			fail(setOff, "unit_length %#x runs past the section's end", length)
			break
		}
		next := off + hdr + length
		set := b[off:next] // the whole set, from unit_length on
		// version (2), debug_info_offset, address_size, segment_selector_size.
		fixed := hdr + 2 + offSize + 2
		if uint64(len(set)) < fixed {
			fail(setOff, "unit_length %#x is too short for the header", length)
			off = next
			continue
		}
		version := order.Uint16(set[hdr:])
		var infoOff uint64
		if offSize == 4 {
			infoOff = uint64(order.Uint32(set[hdr+2:]))
		} else {
			infoOff = order.Uint64(set[hdr+2:])
		}
		addrSize := uint64(set[hdr+2+offSize])
		segSize := set[hdr+2+offSize+1]
		switch {
		case version != 2:
			fail(setOff, "version %d, want 2", version)
		case addrSize != 4 && addrSize != 8:
			fail(setOff, "address size %d", addrSize)
		case segSize != 0:
			fail(setOff, "segment selector size %d: segmented addresses are not supported", segSize)
		case infoOff >= infoSize:
			fail(setOff, "debug_info_offset %#x is outside the %#x-byte .debug_info", infoOff, infoSize)
		default:
			ranges = appendTuples(ranges, set, fixed, addrSize, infoOff, order)
		}
		off = next
	}
	return ranges, damaged, first
}

// appendTuples appends the (address, length) tuples of one .debug_aranges
// set, which start after the fixed header at the next multiple of the
// tuple size. A set that ends without the (0, 0) terminator keeps the
// tuples it has: binutils accepts such sets too. Empty ranges are dropped;
// a range that wraps past the top of the address space is cut there.
func appendTuples(ranges []unitRange, set []byte, fixed, addrSize, infoOff uint64, order binary.ByteOrder) []unitRange {
	tuple := 2 * addrSize
	start := (fixed + tuple - 1) / tuple * tuple
	for t := start; t <= uint64(len(set)) && tuple <= uint64(len(set))-t; t += tuple {
		var addr, length uint64
		if addrSize == 8 {
			addr, length = order.Uint64(set[t:]), order.Uint64(set[t+8:])
		} else {
			addr, length = uint64(order.Uint32(set[t:])), uint64(order.Uint32(set[t+4:]))
		}
		if addr == 0 && length == 0 {
			break
		}
		if length == 0 {
			continue
		}
		hi := addr + length
		if hi < addr {
			hi = math.MaxUint64
		}
		ranges = append(ranges, unitRange{lo: addr, hi: hi, unitOff: infoOff})
	}
	return ranges
}

// lookup returns the .debug_info offset of a unit whose range covers pc.
// Where ranges overlap, the one starting closest below pc wins.
func (u *DWARFUnits) lookup(pc uint64) (uint64, bool) {
	i := sort.Search(len(u.ranges), func(i int) bool { return u.ranges[i].lo > pc }) - 1
	for ; i >= 0 && u.maxHi[i] > pc; i-- {
		if pc < u.ranges[i].hi {
			return u.ranges[i].unitOff, true
		}
	}
	return 0, false
}

// Unit returns a dwarf.Data over only the compile unit whose .debug_aranges
// ranges contain pc, a link-time address (subtract the KASLR offset from a
// runtime one). It returns ErrNoUnit, wrapped with the reason when
// .debug_aranges had malformed sets, when no range covers pc, and an error
// naming the unit's offset when the unit is malformed.
//
// The unit is decoded once and cached by its offset (a bounded cache), so
// frames in the same unit share one dwarf.Data; Unit is safe for
// concurrent use, and so are the returned Data's Reader and LineReader
// (its Type method is not, as for any dwarf.Data). The Data holds just
// this unit, so its DIE offsets (dwarf.Offset) are relative to the unit's
// start, not to .debug_info's: DW_FORM_ref4 and the other unit-relative
// references work, but a DW_FORM_ref_addr into another unit (LTO, dwz)
// does not resolve. The Data reads the mapping: do not use it after Close.
func (u *DWARFUnits) Unit(pc uint64) (*dwarf.Data, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.closed {
		return nil, fmt.Errorf("elfdump: DWARF units: %w", os.ErrClosed)
	}
	if u.noAranges {
		return u.wholeLocked()
	}
	off, ok := u.lookup(pc)
	if !ok {
		if u.damage != nil {
			return nil, fmt.Errorf("%w: pc %#x; %d malformed .debug_aranges sets were skipped, the first: %w",
				ErrNoUnit, pc, u.damaged, u.damage)
		}
		return nil, fmt.Errorf("%w: pc %#x", ErrNoUnit, pc)
	}
	u.cache.Lock()
	slot, ok := u.units[off]
	if !ok {
		if len(u.units) >= maxCachedUnits {
			for k := range u.units { // evict an arbitrary unit
				delete(u.units, k)
				break
			}
		}
		slot = &unitSlot{}
		u.units[off] = slot
	}
	u.cache.Unlock()
	slot.once.Do(func() { slot.d, slot.err = u.decode(off) })
	return slot.d, slot.err
}

// Whole returns a dwarf.Data over all of the object's DWARF, over the same
// mapped (or read) sections as Unit, built once: for questions that are
// not about one pc (finding a type by name), and Unit's answer for every
// pc when the object has no .debug_aranges. Building it parses every unit
// header and abbreviation table (0.3 s for a distribution vmlinux, against
// 1.2 s for (*elf.File).DWARF, which copies the sections first). Its DIE
// offsets are .debug_info's. Like Unit's, it must not be used after Close.
func (u *DWARFUnits) Whole() (*dwarf.Data, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.closed {
		return nil, fmt.Errorf("elfdump: DWARF units: %w", os.ErrClosed)
	}
	return u.wholeLocked()
}

func (u *DWARFUnits) wholeLocked() (*dwarf.Data, error) {
	u.whole.once.Do(func() {
		info, err := u.secs[".debug_info"].data()
		if err != nil {
			u.whole.err = fmt.Errorf("elfdump: DWARF: %w", err)
			return
		}
		u.whole.d, u.whole.err = u.newData(info, "of the whole object")
	})
	return u.whole.d, u.whole.err
}

// newData builds a dwarf.Data over info (a unit, or all of .debug_info)
// and the whole sections it points into; what names it in errors.
func (u *DWARFUnits) newData(info []byte, what string) (d *dwarf.Data, err error) {
	sec := map[string][]byte{}
	for _, name := range unitSections {
		if s, ok := u.secs[name]; ok {
			if sec[name], err = s.data(); err != nil {
				return nil, fmt.Errorf("elfdump: DWARF %s: %w", what, err)
			}
		}
	}
	// debug/dwarf indexes slices with offsets from the input.
	err = Guard("elfdump: DWARF "+what, func() error {
		var err error
		if d, err = dwarf.New(sec[".debug_abbrev"], nil, nil, info, sec[".debug_line"], nil, sec[".debug_ranges"], sec[".debug_str"]); err != nil {
			return fmt.Errorf("elfdump: DWARF %s: %w", what, err)
		}
		for _, name := range dwarf5Sections {
			if b, ok := sec[name]; ok {
				if err := d.AddSection(name, b); err != nil {
					return fmt.Errorf("elfdump: DWARF %s: %s: %w", what, name, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// decode builds a dwarf.Data over the unit at off in .debug_info.
func (u *DWARFUnits) decode(off uint64) (d *dwarf.Data, err error) {
	info, err := u.secs[".debug_info"].data()
	if err != nil {
		return nil, fmt.Errorf("elfdump: DWARF unit at .debug_info offset %#x: %w", off, err)
	}
	unit, err := unitBytes(info, off, u.f.ByteOrder)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("unit at .debug_info offset %#x", off)
	if d, err = u.newData(unit, what); err != nil {
		return nil, err
	}
	// Decode the unit's first entry now, under Guard, so that a bad
	// abbreviation table or a misdirected .debug_aranges offset is an
	// error here rather than a surprise for the caller.
	err = Guard("elfdump: DWARF "+what, func() error {
		e, err := d.Reader().Next()
		switch {
		case err != nil:
			return fmt.Errorf("elfdump: DWARF %s: %w", what, err)
		case e == nil:
			return fmt.Errorf("elfdump: DWARF %s: no entries", what)
		case e.Tag != dwarf.TagCompileUnit && e.Tag != dwarf.TagPartialUnit:
			return fmt.Errorf("elfdump: DWARF %s: first entry is %v, not a compile unit", what, e.Tag)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// unitBytes returns the unit at off in .debug_info, from its unit_length
// through its last byte, after checking that all of it is in info.
func unitBytes(info []byte, off uint64, order binary.ByteOrder) ([]byte, error) {
	size := uint64(len(info))
	if off >= size || size-off < 4 {
		return nil, fmt.Errorf("elfdump: DWARF unit at .debug_info offset %#x: outside the %#x-byte section", off, size)
	}
	length := uint64(order.Uint32(info[off:]))
	hdr := uint64(4)
	switch {
	case length == 0xffffffff: // 64-bit DWARF
		if size-off < 12 {
			return nil, fmt.Errorf("elfdump: DWARF unit at .debug_info offset %#x: truncated 64-bit unit_length", off)
		}
		length, hdr = order.Uint64(info[off+4:]), 12
	case length >= 0xfffffff0:
		return nil, fmt.Errorf("elfdump: DWARF unit at .debug_info offset %#x: reserved unit_length %#x", off, length)
	}
	if length > size-off-hdr {
		return nil, fmt.Errorf("elfdump: DWARF unit at .debug_info offset %#x: unit_length %#x runs past the %#x-byte section", off, length, size)
	}
	end := off + hdr + length
	return info[off:end:end], nil
}

// Close unmaps the file and drops the cached units. Every dwarf.Data that
// Unit returned reads the mapping: using one after Close faults. Close
// waits for Unit calls in progress; later calls return an error wrapping
// os.ErrClosed. Closing twice is harmless.
func (u *DWARFUnits) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil
	}
	u.closed = true
	u.units = nil
	u.secs = nil
	m := u.mapping
	u.mapping = nil
	if m != nil {
		if err := munmap(m); err != nil {
			return fmt.Errorf("elfdump: DWARF units: unmapping: %w", err)
		}
	}
	return nil
}
