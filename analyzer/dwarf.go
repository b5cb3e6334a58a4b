package analyzer

import (
	"debug/dwarf"
	"fmt"
	"strings"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
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
	for _, name := range strings.Split(path, ".") {
		f, foff, ok := dwarfMember(cur, name)
		if !ok {
			return 0, fmt.Errorf("%w: %s has no member %s", ErrNoType, typ, path)
		}
		off += foff
		cur = f.Type
	}
	return off, nil
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
type Location struct {
	Function string
	File     string
	Line     int
	Inline   bool // an inlined call, shown before the function it was inlined into
}

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
	if err == nil && lt.known != nil {
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
	r := dw.Reader()
	cu, err := r.SeekPC(lpc)
	if err != nil {
		return nil, err
	}
	// The chain of DIEs containing pc: subprogram, inlined subroutines,
	// with lexical blocks in between skipped.
	var chain []*dwarf.Entry
	var walk func(depth int) error
	walk = func(depth int) error {
		for {
			e, err := r.Next()
			if err != nil {
				return err
			}
			if e == nil || e.Tag == 0 {
				return nil
			}
			contains := false
			if e.Tag == dwarf.TagSubprogram || e.Tag == dwarf.TagInlinedSubroutine || e.Tag == dwarf.TagLexDwarfBlock {
				if rs, err := dw.Ranges(e); err == nil {
					for _, rg := range rs {
						if lpc >= rg[0] && lpc < rg[1] {
							contains = true
						}
					}
				}
			}
			if contains {
				if e.Tag != dwarf.TagLexDwarfBlock {
					chain = append(chain, e)
				}
				if e.Children {
					return walk(depth + 1) // pc lies in this DIE: look only inside it
				}
				return nil
			}
			if e.Children {
				r.SkipChildren()
			}
		}
	}
	if err := walk(0); err != nil {
		return nil, err
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("no function DIE covers %#x", lpc)
	}
	file, line := lineAt(dw, cu, lpc)
	locs := make([]Location, len(chain))
	// Innermost first: each inlined call's location is its own line; the
	// caller's location is the call site recorded on the inlined DIE.
	for i := len(chain) - 1; i >= 0; i-- {
		e := chain[i]
		locs[len(chain)-1-i] = Location{Function: dieName(dw, e), File: file, Line: line, Inline: e.Tag == dwarf.TagInlinedSubroutine}
		if e.Tag == dwarf.TagInlinedSubroutine {
			file, line = callSite(dw, cu, e)
		}
	}
	return locs, nil
}

// lineAt finds the row of cu's line table covering lpc. It scans the whole
// program: the kernel's line tables hold several sequences (.text,
// .text.unlikely, .noinstr.text) out of address order, which
// dwarf.LineReader.SeekPC assumes sorted.
func lineAt(dw *dwarf.Data, cu *dwarf.Entry, lpc uint64) (string, int) {
	lr, err := dw.LineReader(cu)
	if err != nil || lr == nil {
		return "", 0
	}
	var prev, cur dwarf.LineEntry
	havePrev := false
	for lr.Next(&cur) == nil {
		if havePrev && !prev.EndSequence && prev.Address <= lpc && lpc < cur.Address && prev.File != nil {
			return prev.File.Name, prev.Line
		}
		prev, havePrev = cur, true
	}
	return "", 0
}

func callSite(dw *dwarf.Data, cu *dwarf.Entry, e *dwarf.Entry) (string, int) {
	line, _ := e.Val(dwarf.AttrCallLine).(int64)
	idx, ok := e.Val(dwarf.AttrCallFile).(int64)
	if !ok {
		return "", int(line)
	}
	lr, err := dw.LineReader(cu)
	if err != nil || lr == nil {
		return "", int(line)
	}
	files := lr.Files()
	if idx < 0 || int(idx) >= len(files) || files[idx] == nil {
		return "", int(line)
	}
	return files[idx].Name, int(line)
}

// dieName follows abstract_origin and specification links to a DIE's name.
func dieName(dw *dwarf.Data, e *dwarf.Entry) string {
	for i := 0; i < 8 && e != nil; i++ {
		if n, ok := e.Val(dwarf.AttrName).(string); ok {
			return n
		}
		off, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		if !ok {
			if off, ok = e.Val(dwarf.AttrSpecification).(dwarf.Offset); !ok {
				return ""
			}
		}
		r := dw.Reader()
		r.Seek(off)
		e, _ = r.Next()
	}
	return ""
}
