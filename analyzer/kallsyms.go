package analyzer

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vmcore/vmcore/vmcore"
)

// Symbol is one kernel symbol.
type Symbol struct {
	Name string
	Addr uint64
	Size uint64 // distance to the next symbol, capped (kallsyms has no sizes)
	Type byte   // nm type: 't'/'T' text, 'd'/'D' data, 'b'/'B' bss, 'r'/'R' read-only ...
}

// Kallsyms is the kernel's own symbol table (CONFIG_KALLSYMS), read from the
// dump's memory at the addresses VMCOREINFO gives since Linux 6.0. With
// CONFIG_KALLSYMS_ALL, as distributions build, it has data symbols too.
type Kallsyms struct {
	symbolTable
}

// Limits on the tables kallsyms may claim.
const (
	maxKallsyms      = 1 << 22
	maxKallsymsNames = 64 << 20
	maxSymbolSize    = 1 << 16 // drgn's cap for sizes guessed from the next symbol
)

// ErrNoKallsyms means VMCOREINFO does not locate the kallsyms tables (kernels
// before 6.0 without the backport, or CONFIG_KALLSYMS=n).
var ErrNoKallsyms = errors.New("analyzer: VMCOREINFO does not locate kallsyms (needs Linux 6.0+)")

// ReadKallsyms decodes the kernel's compressed symbol table from the dump:
// kallsyms_names (token-compressed, with 2-byte lengths since 6.1),
// kallsyms_token_table/index, and the addresses (kallsyms_offsets relative
// to kallsyms_relative_base, in whichever of the kernel's encodings
// reproduces VMCOREINFO's _stext, or absolute kallsyms_addresses).
func readKallsyms(m kmem) (*Kallsyms, error) {
	d := m.d
	vi := d.Info
	if vi == nil {
		return nil, ErrNoKallsyms
	}
	sym := func(n string) (uint64, bool) { return vi.Symbol(n) }
	namesVA, ok1 := sym("kallsyms_names")
	numVA, ok2 := sym("kallsyms_num_syms")
	tokTabVA, ok3 := sym("kallsyms_token_table")
	tokIdxVA, ok4 := sym("kallsyms_token_index")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, ErrNoKallsyms
	}
	num, err := m.u32(numVA)
	if err != nil {
		return nil, fmt.Errorf("analyzer: reading kallsyms_num_syms: %w", err)
	}
	if num == 0 || num > maxKallsyms {
		return nil, fmt.Errorf("analyzer: kallsyms_num_syms is %d", num)
	}
	idx := make([]byte, 512)
	if err := m.read(idx, tokIdxVA); err != nil {
		return nil, fmt.Errorf("analyzer: reading kallsyms_token_index: %w", err)
	}
	var maxOff uint64
	offs := make([]uint64, 256)
	for i := range offs {
		offs[i] = uint64(m.d.ByteOrder.Uint16(idx[2*i:]))
		maxOff = max(maxOff, offs[i])
	}
	tab := make([]byte, maxOff+256)
	if err := m.read(tab, tokTabVA); err != nil {
		return nil, fmt.Errorf("analyzer: reading kallsyms_token_table: %w", err)
	}
	tokens := make([]string, 256)
	for i, o := range offs {
		end := strings.IndexByte(string(tab[o:]), 0)
		if end < 0 {
			return nil, fmt.Errorf("analyzer: kallsyms token %d is not terminated", i)
		}
		tokens[i] = string(tab[o : o+uint64(end)])
	}
	addrs, err := kallsymsAddresses(d, m, int(num))
	if err != nil {
		return nil, err
	}
	stext, _ := vi.Symbol("_stext")
	// The length encoding changed in 6.1 and cannot be told from the data
	// alone: try the kernel version's, then the other, and keep the one
	// whose _stext lands where VMCOREINFO says.
	bigFirst := kernelAtLeast(vi.OSRelease(), 6, 1)
	var lastErr error
	for _, big := range []bool{bigFirst, !bigFirst} {
		names, err := decodeKallsymsNames(m, namesVA, int(num), tokens, big)
		if err != nil {
			lastErr = err
			continue
		}
		at := slices.IndexFunc(names, func(n string) bool { return len(n) > 1 && n[1:] == "_stext" })
		for _, enc := range addrs {
			if at >= 0 && (stext == 0 || enc[at] == stext) {
				return newKallsyms(names, enc), nil
			}
		}
		lastErr = errors.New("no address encoding puts _stext where VMCOREINFO does")
	}
	return nil, fmt.Errorf("analyzer: decoding kallsyms: %w", lastErr)
}

// kallsymsAddresses returns the candidate address arrays, one per encoding the kernel may use.
func kallsymsAddresses(d *vmcore.Dump, m kmem, num int) ([][]uint64, error) {
	vi := d.Info
	if va, ok := vi.Symbol("kallsyms_addresses"); ok {
		b := make([]byte, 8*num)
		if err := m.read(b, va); err != nil {
			return nil, fmt.Errorf("analyzer: reading kallsyms_addresses: %w", err)
		}
		a := make([]uint64, num)
		for i := range a {
			a[i] = m.d.ByteOrder.Uint64(b[8*i:])
		}
		return [][]uint64{a}, nil
	}
	offVA, ok := vi.Symbol("kallsyms_offsets")
	if !ok {
		return nil, ErrNoKallsyms
	}
	b := make([]byte, 4*num)
	if err := m.read(b, offVA); err != nil {
		return nil, fmt.Errorf("analyzer: reading kallsyms_offsets: %w", err)
	}
	var base uint64
	if va, ok := vi.Symbol("kallsyms_relative_base"); ok {
		var err error
		if base, err = m.u64(va); err != nil {
			return nil, fmt.Errorf("analyzer: reading kallsyms_relative_base: %w", err)
		}
	}
	rel := make([]uint64, num)     // relative_base + (u32)off
	abspcpu := make([]uint64, num) // off >= 0 ? off : relative_base - 1 - off
	place := make([]uint64, num)   // &off[i] + (s32)off[i] (7.0+)
	for i := range rel {
		off := int32(m.d.ByteOrder.Uint32(b[4*i:]))
		rel[i] = base + uint64(uint32(off))
		if off >= 0 {
			abspcpu[i] = uint64(off)
		} else {
			abspcpu[i] = base - 1 - uint64(int64(off))
		}
		place[i] = offVA + uint64(4*i) + uint64(int64(off))
	}
	return [][]uint64{abspcpu, rel, place}, nil
}

func decodeKallsymsNames(m kmem, va uint64, num int, tokens []string, big bool) ([]string, error) {
	r := &virtReader{m: m, va: va, limit: maxKallsymsNames}
	names := make([]string, num)
	var sb strings.Builder
	for i := range names {
		n, err := r.byte()
		if err != nil {
			return nil, err
		}
		l := int(n)
		if big && n&0x80 != 0 {
			n2, err := r.byte()
			if err != nil {
				return nil, err
			}
			l = int(n&0x7f) | int(n2)<<7
		}
		if l == 0 {
			return nil, fmt.Errorf("symbol %d has an empty name", i)
		}
		sb.Reset()
		for k := 0; k < l; k++ {
			t, err := r.byte()
			if err != nil {
				return nil, err
			}
			sb.WriteString(tokens[t])
		}
		names[i] = sb.String()
	}
	return names, nil
}

func newKallsyms(names []string, addrs []uint64) *Kallsyms {
	syms := make([]Symbol, 0, len(names))
	for i, n := range names {
		if n != "" {
			syms = append(syms, Symbol{Name: n[1:], Type: n[0], Addr: addrs[i]})
		}
	}
	return &Kallsyms{*newSymbolTable(syms, true)}
}

// kernelAtLeast reports whether a release like "6.1.0-56-amd64" is at least major.minor.
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return true
	}
	ma, _ := strconv.Atoi(parts[0])
	mi, _ := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return ma > major || ma == major && mi >= minor
}

// virtReader reads kernel virtual memory sequentially in 64 KiB chunks.
type virtReader struct {
	m     kmem
	va    uint64
	buf   []byte
	pos   int
	read  int
	limit int
}

func (r *virtReader) byte() (byte, error) {
	if r.pos >= len(r.buf) {
		if r.read >= r.limit {
			return 0, fmt.Errorf("table exceeds %d bytes", r.limit)
		}
		n := 64 << 10
		// Stop at a page boundary so a missing page past the table's end
		// does not fail a read of the table itself.
		if r.buf == nil {
			r.buf = make([]byte, n)
		}
		r.buf = r.buf[:n-int(r.va%4096)]
		if err := r.m.read(r.buf, r.va); err != nil {
			r.buf = r.buf[:4096-int(r.va%4096)]
			if err := r.m.read(r.buf, r.va); err != nil {
				return 0, err
			}
		}
		r.va += uint64(len(r.buf))
		r.read += len(r.buf)
		r.pos = 0
	}
	b := r.buf[r.pos]
	r.pos++
	return b, nil
}
