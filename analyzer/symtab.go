package analyzer

import (
	"cmp"
	"slices"
	"sort"
	"strings"

	"github.com/vmcore/vmcore/vmcore"
)

// symbolTable is a kernel symbol table sorted by address, kept in columns
// without pointers. A distribution kernel has about 150,000 symbols: as
// Symbol values they are 150,000 strings for the garbage collector to scan
// and for a profile load to build, which made loading a cached profile
// cost more than the analysis itself. Names are substrings of one string.
type symbolTable struct {
	addrs []uint64
	sizes []uint32 // 0: unknown
	types []byte
	ends  []uint32 // name i is names[ends[i-1]:ends[i]]
	names string
	order []int32 // indexes sorted by name; among equal names text first, then by address
}

// newSymbolTable sorts syms by address into a table. With guessSizes
// (kallsyms, which records no sizes) each symbol's size is the distance to
// the next one, capped as drgn does.
func newSymbolTable(syms []Symbol, guessSizes bool) *symbolTable {
	slices.SortStableFunc(syms, func(a, b Symbol) int { return cmp.Compare(a.Addr, b.Addr) })
	t := &symbolTable{
		addrs: make([]uint64, len(syms)),
		sizes: make([]uint32, len(syms)),
		types: make([]byte, len(syms)),
		ends:  make([]uint32, len(syms)),
	}
	var sb strings.Builder
	n := 0
	for _, s := range syms {
		n += len(s.Name)
	}
	sb.Grow(n)
	for i, s := range syms {
		size := s.Size
		if guessSizes {
			size = 0
			if i+1 < len(syms) {
				size = min(syms[i+1].Addr-s.Addr, maxSymbolSize)
			}
		}
		t.addrs[i], t.sizes[i], t.types[i] = s.Addr, uint32(min(size, 0xffffffff)), s.Type
		sb.WriteString(s.Name)
		t.ends[i] = uint32(sb.Len())
	}
	t.names = sb.String()
	t.order = t.nameOrder()
	return t
}

func isText(typ byte) bool { return typ == 't' || typ == 'T' }

// nameOrder sorts the indexes by name; among equal names (static
// functions of several files) text symbols first, then the lowest address,
// so a lookup finds the function rather than a data symbol of its name.
func (t *symbolTable) nameOrder() []int32 {
	o := make([]int32, len(t.addrs))
	for i := range o {
		o[i] = int32(i)
	}
	slices.SortFunc(o, func(a, b int32) int {
		if c := strings.Compare(t.name(int(a)), t.name(int(b))); c != 0 {
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
	return o
}

func (t *symbolTable) name(i int) string {
	start := uint32(0)
	if i > 0 {
		start = t.ends[i-1]
	}
	return t.names[start:t.ends[i]]
}

func (t *symbolTable) at(i int) Symbol {
	return Symbol{Name: t.name(i), Addr: t.addrs[i], Size: uint64(t.sizes[i]), Type: t.types[i]}
}

// Len is the number of symbols.
func (t *symbolTable) Len() int { return len(t.addrs) }

// Lookup returns the address of the named symbol.
func (t *symbolTable) Lookup(name string) (uint64, bool) {
	o := t.order
	j := sort.Search(len(o), func(j int) bool { return t.name(int(o[j])) >= name })
	if j < len(o) && t.name(int(o[j])) == name {
		return t.addrs[o[j]], true
	}
	return 0, false
}

// Symbolize returns the symbol containing addr: the nearest sized symbol
// that covers it (a function, over asm labels inside it such as
// entry_SYSCALL_64_after_hwframe), else the nearest unsized symbol before
// it within 64 KiB.
func (t *symbolTable) Symbolize(addr uint64) (Symbol, bool) {
	i := sort.Search(len(t.addrs), func(i int) bool { return t.addrs[i] > addr }) - 1
	if i < 0 {
		return Symbol{}, false
	}
	for j := i; j >= 0 && j > i-64 && addr-t.addrs[j] < maxSymbolSize; j-- {
		if s := t.sizes[j]; s > 0 && addr-t.addrs[j] < uint64(s) {
			return t.at(j), true
		}
	}
	if t.sizes[i] == 0 && addr-t.addrs[i] < maxSymbolSize {
		return t.at(i), true
	}
	return Symbol{}, false
}

// nearest returns the symbol at or below addr, sized or not, within 64
// KiB: what the kernel's own kallsyms lookup names an address by (an asm
// label such as entry_SYSCALL_64_after_hwframe, inside entry_SYSCALL_64).
func (t *symbolTable) nearest(addr uint64) (Symbol, bool) {
	i := sort.Search(len(t.addrs), func(i int) bool { return t.addrs[i] > addr }) - 1
	if i < 0 || addr-t.addrs[i] >= maxSymbolSize {
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

// shifted returns a copy of the table with the addresses of relocated
// symbols moved by move (KASLR applied or undone). The order is unchanged:
// the slide is the same for every relocated symbol, and per-CPU symbols
// (small offsets, not relocated) sort below all of them either way.
func (t *symbolTable) shifted(move func(uint64) uint64) *symbolTable {
	c := *t
	c.addrs = make([]uint64, len(t.addrs))
	for i, a := range t.addrs {
		c.addrs[i] = move(a)
	}
	return &c
}
