package analyzer

import (
	"bytes"
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

// ErrNoKallsyms means the dump has no VMCOREINFO to locate the kallsyms
// tables or the kernel image to search for them.
var ErrNoKallsyms = errors.New("analyzer: the dump has no VMCOREINFO to locate the kallsyms tables")

// kallsymsTables locates the kernel's kallsyms tables in its image.
type kallsymsTables struct {
	names, numSyms, tokenTable, tokenIndex uint64
	// offsets and relativeBase (CONFIG_KALLSYMS_BASE_RELATIVE, 4.6+), or
	// addresses: absolute addresses.
	offsets, relativeBase, addresses uint64
}

// vmcoreinfoKallsyms locates the tables by VMCOREINFO (6.0+).
func vmcoreinfoKallsyms(vi *vmcore.VMCoreInfo) (kallsymsTables, bool) {
	var t kallsymsTables
	if vi == nil {
		return t, false
	}
	var ok [4]bool
	t.names, ok[0] = vi.Symbol("kallsyms_names")
	t.numSyms, ok[1] = vi.Symbol("kallsyms_num_syms")
	t.tokenTable, ok[2] = vi.Symbol("kallsyms_token_table")
	t.tokenIndex, ok[3] = vi.Symbol("kallsyms_token_index")
	t.addresses, _ = vi.Symbol("kallsyms_addresses")
	t.offsets, _ = vi.Symbol("kallsyms_offsets")
	t.relativeBase, _ = vi.Symbol("kallsyms_relative_base")
	return t, ok[0] && ok[1] && ok[2] && ok[3] && (t.addresses != 0 || t.offsets != 0)
}

// findKallsyms reads the kernel's symbol table: at the addresses
// VMCOREINFO gives (6.0+), or where a search of the kernel image finds
// the tables (scanKallsyms); it says which.
func findKallsyms(m kmem) (*Kallsyms, string, error) {
	if t, ok := vmcoreinfoKallsyms(m.d.Info); ok {
		ks, err := decodeKallsyms(m, t)
		return ks, SourceBTF, err
	}
	t, err := scanKallsyms(m)
	if err != nil {
		return nil, "", err
	}
	ks, err := decodeKallsyms(m, t)
	if err != nil {
		// Without CONFIG_KALLSYMS_BASE_RELATIVE the symbol count follows
		// absolute kallsyms_addresses (8 bytes a symbol).
		abs := t
		if num, err := m.u32(t.numSyms); err == nil && num <= maxKallsyms {
			abs.offsets, abs.relativeBase, abs.addresses = 0, 0, t.numSyms-8*uint64(num)
		}
		var err2 error
		if ks, err2 = decodeKallsyms(m, abs); err2 != nil {
			return nil, "", fmt.Errorf("analyzer: the kallsyms tables found at %#x: %w", t.tokenTable, err)
		}
	}
	return ks, SourceKallsymsScan, nil
}

// decodeKallsyms decodes the kernel's compressed symbol table from the
// dump: kallsyms_names (token-compressed, with 2-byte lengths since 6.1),
// kallsyms_token_table/index, and the addresses (kallsyms_offsets relative
// to kallsyms_relative_base, in whichever of the kernel's encodings
// reproduces VMCOREINFO's _stext, or absolute kallsyms_addresses).
func decodeKallsyms(m kmem, t kallsymsTables) (*Kallsyms, error) {
	vi := m.d.Info
	num, err := m.u32(t.numSyms)
	if err != nil {
		return nil, fmt.Errorf("analyzer: reading kallsyms_num_syms: %w", err)
	}
	if num == 0 || num > maxKallsyms {
		return nil, fmt.Errorf("analyzer: kallsyms_num_syms is %d", num)
	}
	tokens, err := readKallsymsTokens(m, t.tokenTable, t.tokenIndex)
	if err != nil {
		return nil, err
	}
	addrs, err := kallsymsAddresses(m, t, int(num))
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
		names, err := decodeKallsymsNames(m, t.names, int(num), tokens, big)
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

// readKallsymsTokens reads the 256 tokens of kallsyms_token_table, where
// kallsyms_token_index says each starts.
func readKallsymsTokens(m kmem, tableVA, indexVA uint64) ([]string, error) {
	idx := make([]byte, 512)
	if err := m.read(idx, indexVA); err != nil {
		return nil, fmt.Errorf("analyzer: reading kallsyms_token_index: %w", err)
	}
	var maxOff uint64
	offs := make([]uint64, 256)
	for i := range offs {
		offs[i] = uint64(m.d.ByteOrder.Uint16(idx[2*i:]))
		maxOff = max(maxOff, offs[i])
	}
	tab := make([]byte, maxOff+256)
	if err := m.read(tab, tableVA); err != nil {
		return nil, fmt.Errorf("analyzer: reading kallsyms_token_table: %w", err)
	}
	tokens := make([]string, 256)
	for i, o := range offs {
		end := bytes.IndexByte(tab[o:], 0)
		if end < 0 {
			return nil, fmt.Errorf("analyzer: kallsyms token %d is not terminated", i)
		}
		tokens[i] = string(tab[o : o+uint64(end)])
	}
	return tokens, nil
}

// kallsymsAddresses returns the candidate address arrays, one per encoding the kernel may use.
func kallsymsAddresses(m kmem, t kallsymsTables, num int) ([][]uint64, error) {
	if t.addresses != 0 {
		b := make([]byte, 8*num)
		if err := m.read(b, t.addresses); err != nil {
			return nil, fmt.Errorf("analyzer: reading kallsyms_addresses: %w", err)
		}
		a := make([]uint64, num)
		for i := range a {
			a[i] = m.d.ByteOrder.Uint64(b[8*i:])
		}
		return [][]uint64{a}, nil
	}
	offVA := t.offsets
	b := make([]byte, 4*num)
	if err := m.read(b, offVA); err != nil {
		return nil, fmt.Errorf("analyzer: reading kallsyms_offsets: %w", err)
	}
	var base uint64
	if t.relativeBase != 0 {
		var err error
		if base, err = m.u64(t.relativeBase); err != nil {
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
