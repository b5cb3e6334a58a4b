package elfdump

import (
	"debug/dwarf"
	"fmt"
)

// Location is a source position of one (possibly inlined) function at a pc.
type Location struct {
	Function string
	File     string
	Line     int
	Inline   bool // an inlined call, shown before the function it was inlined into
}

// Locations returns the functions at pc (an address as dw has it), as
// addr2line -f -i gives them, innermost first: every inlined function with
// its own line, then the function it was inlined into with the call site's
// line. It reads only the compile unit holding pc. Damaged DWARF is an
// error (debug/dwarf can panic on it).
func Locations(dw *dwarf.Data, pc uint64) (locs []Location, err error) {
	err = Guard(fmt.Sprintf("elfdump: DWARF at %#x", pc), func() (err error) {
		locs, err = locations(dw, pc)
		return err
	})
	return locs, err
}

func locations(dw *dwarf.Data, pc uint64) ([]Location, error) {
	r := dw.Reader()
	cu, err := r.SeekPC(pc)
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
						if pc >= rg[0] && pc < rg[1] {
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
		return nil, fmt.Errorf("no function DIE covers %#x", pc)
	}
	file, line := lineAt(dw, cu, pc)
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
