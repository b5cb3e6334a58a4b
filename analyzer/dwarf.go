package analyzer

import (
	"debug/dwarf"
	"fmt"
	"strings"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"

	"github.com/vmcore/vmcore/elfdump"
)

// dwarfTypes is Types over DWARF, read with delve's godwarf type reader. It
// is the fallback for a vmlinux without a .BTF section: finding a struct by
// name scans the DIEs once (seconds on a distribution kernel), so the name
// index is built lazily and kept.
type dwarfTypes struct {
	dw *dwarf.Data

	once  sync.Once
	index map[string]dwarf.Offset // struct/union name -> defining DIE
	enums map[string]int64

	mu    sync.Mutex
	cache map[dwarf.Offset]godwarf.Type

	enumOnce  sync.Once
	enumTypes map[string]map[string]int64 // enum name -> enumerator -> value (layout.go)
}

func newDWARFTypes(dw *dwarf.Data) *dwarfTypes {
	return &dwarfTypes{dw: dw, cache: map[dwarf.Offset]godwarf.Type{}}
}

func (t *dwarfTypes) buildIndex() {
	t.index, t.enums = map[string]dwarf.Offset{}, map[string]int64{}
	r := t.dw.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			return
		}
		switch e.Tag {
		case dwarf.TagStructType, dwarf.TagUnionType:
			name, _ := e.Val(dwarf.AttrName).(string)
			if decl, _ := e.Val(dwarf.AttrDeclaration).(bool); name != "" && !decl {
				if _, ok := t.index[name]; !ok {
					t.index[name] = e.Offset
				}
			}
		case dwarf.TagEnumerator:
			name, _ := e.Val(dwarf.AttrName).(string)
			if v, ok := e.Val(dwarf.AttrConstValue).(int64); ok && name != "" {
				t.enums[name] = v
			}
		}
		if e.Tag == dwarf.TagSubprogram && e.Children {
			r.SkipChildren() // no struct definitions of interest inside functions
		}
	}
}

func (t *dwarfTypes) structType(name string) (*godwarf.StructType, error) {
	t.once.Do(t.buildIndex)
	off, ok := t.index[name]
	if !ok {
		return nil, fmt.Errorf("%w: struct %s", ErrNoType, name)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	typ, err := godwarf.ReadType(t.dw, 0, off, t.cache)
	if err != nil {
		return nil, fmt.Errorf("analyzer: reading DWARF type %s: %w", name, err)
	}
	st, ok := typ.(*godwarf.StructType)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a struct", ErrNoType, name)
	}
	return st, nil
}

func (t *dwarfTypes) Size(typ string) (uint64, error) {
	st, err := t.structType(typ)
	if err != nil {
		return 0, err
	}
	return uint64(st.ByteSize), nil
}

func (t *dwarfTypes) Offset(typ, path string) (uint64, error) {
	st, err := t.structType(typ)
	if err != nil {
		return 0, err
	}
	var off uint64
	var cur godwarf.Type = st
	names := strings.Split(path, ".")
	for i, name := range names {
		f, foff, ok := dwarfMember(cur, name)
		if !ok {
			return 0, fmt.Errorf("%w: %s has no member %s", ErrNoType, typ, path)
		}
		if f.BitSize > 0 {
			// A bit field's byte, as BTF gives it: placed by
			// DW_AT_data_bit_offset (DWARF 4+ compilers), which godwarf
			// does not read, or by DW_AT_bit_offset, counted from the most
			// significant bit of a storage unit of DW_AT_byte_size bytes
			// (GCC 10 and before; little-endian machines).
			pos := f.ByteSize*8 - f.BitOffset - f.BitSize
			switch bits, ok := t.dataBitOffsetOf(typ, name, f.ByteOffset == 0 && i == 0); {
			case ok:
				foff = bits / 8
			case f.ByteSize > 0 && pos >= 0:
				foff += uint64(pos / 8)
			}
		}
		off += foff
		cur = f.Type
	}
	return off, nil
}

// dataBitOffsetOf is dataBitOffset when direct says the member is one of
// typ's own, placed without DW_AT_data_member_location.
func (t *dwarfTypes) dataBitOffsetOf(typ, member string, direct bool) (uint64, bool) {
	if !direct {
		return 0, false
	}
	return t.dataBitOffset(typ, member)
}

// dataBitOffset reads a direct member's DW_AT_data_bit_offset.
func (t *dwarfTypes) dataBitOffset(typ, member string) (uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.dw.Reader()
	r.Seek(t.index[typ])
	if e, err := r.Next(); err != nil || e == nil || !e.Children {
		return 0, false
	}
	for {
		e, err := r.Next()
		if err != nil || e == nil || e.Tag == 0 {
			return 0, false
		}
		if name, _ := e.Val(dwarf.AttrName).(string); e.Tag == dwarf.TagMember && name == member {
			v, ok := e.Val(dwarf.AttrDataBitOffset).(int64)
			return uint64(v), ok && v >= 0
		}
		if e.Children {
			r.SkipChildren()
		}
	}
}

func dwarfMember(t godwarf.Type, name string) (*godwarf.StructField, uint64, bool) {
	for {
		td, ok := t.(*godwarf.TypedefType)
		if !ok {
			break
		}
		t = td.Type
	}
	st, ok := t.(*godwarf.StructType)
	if !ok {
		return nil, 0, false
	}
	for _, f := range st.Field {
		if f.Name == name {
			return f, uint64(f.ByteOffset), true
		}
	}
	for _, f := range st.Field {
		if f.Name == "" {
			if inner, off, ok := dwarfMember(f.Type, name); ok {
				return inner, uint64(f.ByteOffset) + off, true
			}
		}
	}
	return nil, 0, false
}

func (t *dwarfTypes) Enum(name string) (int64, error) {
	t.once.Do(t.buildIndex)
	if v, ok := t.enums[name]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("%w: enumerator %s", ErrNoType, name)
}

// Location is a source position of one (possibly inlined) function at a pc.
type Location = elfdump.Location

// lineTable answers pc -> function, file:line and the chain of inlined calls.
type lineTable struct {
	// unit returns DWARF holding the compile unit of a link-time address:
	// a module object's whole DWARF, or for vmlinux that one unit alone.
	unit  func(lpc uint64) (*dwarf.Data, error)
	kaslr uint64
	mu    sync.Mutex
	// known holds the answers by link-time pc, from the profile and this
	// run: the next dump of the build with the same frames (a crash that
	// recurs) reads no DWARF at all. learnt says it has new answers.
	known  map[uint64][]Location
	learnt bool
}

// maxKnownLines bounds the frames' locations a profile keeps: a worker
// analysing thousands of dumps of one build must not grow the profile (and
// every later load of it) without end. Recurring crashes are learnt first.
const maxKnownLines = 4096

// wholeDWARF is a lineTable source over one dwarf.Data.
func wholeDWARF(dw *dwarf.Data) func(uint64) (*dwarf.Data, error) {
	return func(uint64) (*dwarf.Data, error) { return dw, nil }
}

// locate returns the locations at pc (a runtime address), innermost first:
// every inlined function, then the function it was inlined into. It reads
// only the compilation unit that holds pc.
func (lt *lineTable) locate(pc uint64) ([]Location, error) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	lpc := pc - lt.kaslr // link-time address, as DWARF has it
	if locs, ok := lt.known[lpc]; ok {
		return locs, nil
	}
	locs, err := lt.read(lpc)
	if err == nil && lt.known != nil && len(lt.known) < maxKnownLines {
		lt.known[lpc], lt.learnt = locs, true
	}
	return locs, err
}

// read answers locate from the DWARF.
func (lt *lineTable) read(lpc uint64) ([]Location, error) {
	dw, err := lt.unit(lpc)
	if err != nil {
		return nil, err
	}
	return elfdump.Locations(dw, lpc)
}
