package analyzer

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"runtime"
	"slices"
	"sort"

	"github.com/vmcore/vmcore/elfdump"
	"github.com/vmcore/vmcore/vmcore"
)

// symbolTable is a kernel symbol table sorted by address, kept in
// little-endian columns of bytes, the layout a profile stores them in. A
// distribution kernel has about 100,000 symbols: as Symbol values they
// are 100,000 strings for the garbage collector to scan and for a profile
// load to build, and even decoded into typed columns a profile's 4 MB are
// copied twice before the first lookup. A table read from a profile is a
// view of the mapped file instead: a lookup touches the few pages its
// binary search visits. Every accessor copies what it returns, so nothing
// refers into the columns once the table is gone.
//
// Columns read from a file are not trusted to be ordered: a damaged one
// gives wrong answers, never an out-of-range access.
type symbolTable struct {
	n     int
	slide kaslr  // moves a stored address to the dump's (zero: stored as they are)
	addrs []byte // [n]u64, sorted
	sizes []byte // [n]u32, 0: unknown
	types []byte // [n]u8
	ends  []byte // [n]u32: name i is names[end(i-1):end(i)]
	names []byte
	order []byte // [n]u32: indexes sorted by name; among equal names text first, then by address

	mapping *elfdump.Mapping // the profile the columns are in, if they are
}

var le = binary.LittleEndian

// newSymbolTable sorts syms by address into a table. With guessSizes
// (kallsyms, which records no sizes) each symbol's size is the distance to
// the next one, capped as drgn does.
func newSymbolTable(syms []Symbol, guessSizes bool) *symbolTable {
	slices.SortStableFunc(syms, func(a, b Symbol) int { return cmp.Compare(a.Addr, b.Addr) })
	n := len(syms)
	nameBytes := 0
	for _, s := range syms {
		nameBytes += len(s.Name)
	}
	t := &symbolTable{n: n, addrs: make([]byte, 0, 8*n), sizes: make([]byte, 0, 4*n), types: make([]byte, 0, n),
		ends: make([]byte, 0, 4*n), names: make([]byte, 0, nameBytes)}
	for i, s := range syms {
		size := s.Size
		if guessSizes {
			size = 0
			if i+1 < len(syms) {
				size = min(syms[i+1].Addr-s.Addr, maxSymbolSize)
			}
		}
		t.addrs = le.AppendUint64(t.addrs, s.Addr)
		t.sizes = le.AppendUint32(t.sizes, uint32(min(size, 0xffffffff)))
		t.types = append(t.types, s.Type)
		t.names = append(t.names, s.Name...)
		t.ends = le.AppendUint32(t.ends, uint32(len(t.names)))
	}
	t.order = t.nameOrder()
	return t
}

func isText(typ byte) bool { return typ == 't' || typ == 'T' }

// nameOrder sorts the indexes by name; among equal names (static
// functions of several files) text symbols first, then the lowest address,
// so a lookup finds the function rather than a data symbol of its name.
func (t *symbolTable) nameOrder() []byte {
	o := make([]int32, t.n)
	for i := range o {
		o[i] = int32(i)
	}
	slices.SortFunc(o, func(a, b int32) int {
		if c := bytes.Compare(t.nameAt(int(a)), t.nameAt(int(b))); c != 0 {
			return c
		}
		if ta, tb := isText(t.types[a]), isText(t.types[b]); ta != tb {
			if ta {
				return -1
			}
			return 1
		}
		return cmp.Compare(a, b)
	})
	b := make([]byte, 0, 4*t.n)
	for _, i := range o {
		b = le.AppendUint32(b, uint32(i))
	}
	return b
}

// addr is symbol i's address in the dump.
func (t *symbolTable) addr(i int) uint64 { return t.slide.apply(le.Uint64(t.addrs[8*i:])) }

func (t *symbolTable) size(i int) uint32 { return le.Uint32(t.sizes[4*i:]) }

// nameAt is symbol i's name in the columns (empty where the name ends
// are damaged).
func (t *symbolTable) nameAt(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = le.Uint32(t.ends[4*(i-1):])
	}
	end := le.Uint32(t.ends[4*i:])
	if start > end || uint64(end) > uint64(len(t.names)) {
		return nil
	}
	return t.names[start:end]
}

// byName is the index of the j-th symbol in name order (-1 if damaged).
func (t *symbolTable) byName(j int) int {
	if i := le.Uint32(t.order[4*j:]); uint64(i) < uint64(t.n) {
		return int(i)
	}
	return -1
}

func (t *symbolTable) at(i int) Symbol {
	s := Symbol{Name: string(t.nameAt(i)), Addr: t.addr(i), Size: uint64(t.size(i)), Type: t.types[i]}
	runtime.KeepAlive(t) // the mapping stays until the name is copied
	return s
}

// Len is the number of symbols.
func (t *symbolTable) Len() int { return t.n }

// Lookup returns the address of the named symbol.
func (t *symbolTable) Lookup(name string) (uint64, bool) {
	j := sort.Search(t.n, func(j int) bool {
		i := t.byName(j)
		return i < 0 || string(t.nameAt(i)) >= name
	})
	if j < t.n {
		if i := t.byName(j); i >= 0 && string(t.nameAt(i)) == name {
			a := t.addr(i)
			runtime.KeepAlive(t)
			return a, true
		}
	}
	return 0, false
}

// above is the index of the first symbol above addr.
func (t *symbolTable) above(addr uint64) int {
	return sort.Search(t.n, func(i int) bool { return t.addr(i) > addr })
}

// Symbolize returns the symbol containing addr: the nearest sized symbol
// that covers it (a function, over asm labels inside it such as
// entry_SYSCALL_64_after_hwframe), else the nearest unsized symbol before
// it within 64 KiB.
func (t *symbolTable) Symbolize(addr uint64) (Symbol, bool) {
	i := t.above(addr) - 1
	if i < 0 {
		return Symbol{}, false
	}
	for j := i; j >= 0 && j > i-64 && addr-t.addr(j) < maxSymbolSize; j-- {
		if s := t.size(j); s > 0 && addr-t.addr(j) < uint64(s) {
			return t.at(j), true
		}
	}
	if t.size(i) == 0 && addr-t.addr(i) < maxSymbolSize {
		return t.at(i), true
	}
	runtime.KeepAlive(t)
	return Symbol{}, false
}

// nearest returns the symbol at or below addr, sized or not, within 64
// KiB: what the kernel's own kallsyms lookup names an address by (an asm
// label such as entry_SYSCALL_64_after_hwframe, inside entry_SYSCALL_64).
func (t *symbolTable) nearest(addr uint64) (Symbol, bool) {
	i := t.above(addr) - 1
	if i < 0 || addr-t.addr(i) >= maxSymbolSize {
		return Symbol{}, false
	}
	return t.at(i), true
}

// kaslr is a kernel's KASLR slide: the offset (KERNELOFFSET) added to
// every symbol at or above from, the architecture's lowest relocated
// address (x86_64's zero-based per-CPU symbols are not moved).
type kaslr struct{ offset, from uint64 }

// kaslrOf is the dump's slide.
func kaslrOf(d *vmcore.Dump) kaslr {
	return kaslr{d.Info.KernelOffset(), archs[d.Arch].relocated}
}

// apply moves a link-time address to where the running kernel had it.
func (s kaslr) apply(a uint64) uint64 {
	if a >= s.from {
		return a + s.offset
	}
	return a
}

// undo moves a runtime address back to its link-time address.
func (s kaslr) undo(a uint64) uint64 {
	if a >= s.from {
		return a - s.offset
	}
	return a
}
