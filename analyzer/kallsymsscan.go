package analyzer

import (
	"bytes"
	"errors"
	"fmt"
)

// Before 6.0 VMCOREINFO does not say where the kallsyms tables are, but
// they are in the kernel image, laid out by scripts/kallsyms in one order
// since 4.6 (each table 8-byte aligned): kallsyms_offsets (or
// kallsyms_addresses), kallsyms_relative_base, kallsyms_num_syms,
// kallsyms_names, kallsyms_markers, kallsyms_token_table,
// kallsyms_token_index. The token table is recognisable: every byte value
// that is not a compression token stands for itself, so it holds the
// digits as one-character tokens in a row ("0\0" "1\0" ... "9\0"), at
// their own indexes 0x30-0x39. From there each table is found and checked
// against the next: the token index against the tokens, the markers
// against the names they point into, the symbol count against the
// markers. decodeKallsyms then checks the result against VMCOREINFO's
// _stext.

// kallsymsDigits is the run of one-character digit tokens.
var kallsymsDigits = []byte("0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00")

// Bounds of the search.
const (
	maxImageScan  = 256 << 20 // bytes of kernel image searched
	scanChunk     = 1 << 20
	maxTokenBytes = 256 * 64 // the token table (tokens are short)
	maxNameEntry  = 1 + 2 + 255
)

// scanKallsyms finds the kallsyms tables by searching the kernel image
// between _stext and init_uts_ns (text and read-only data; the tables
// are near the end of the latter, so the search goes down from there).
func scanKallsyms(m kmem) (kallsymsTables, error) {
	vi := m.d.Info
	if vi == nil {
		return kallsymsTables{}, ErrNoKallsyms
	}
	lo, ok1 := vi.Symbol("_stext")
	hi, ok2 := vi.Symbol("init_uts_ns")
	if !ok1 || !ok2 || hi <= lo {
		return kallsymsTables{}, errors.New("analyzer: VMCOREINFO locates neither kallsyms nor the kernel image (_stext, init_uts_ns) to search for it")
	}
	lo = max(lo, hi-min(hi, maxImageScan))
	overlap := uint64(len(kallsymsDigits))
	chunk := make([]byte, scanChunk+overlap)
	var lastErr error
	for end := hi; end > lo; {
		start := max(lo, end-min(end, scanChunk))
		b := chunk[:min(end+overlap, hi)-start]
		if err := readPresent(m, b, start); err != nil {
			return kallsymsTables{}, err
		}
		// Candidates from the top of the chunk down.
		for i := len(b); i > 0; {
			j := bytes.LastIndex(b[:i], kallsymsDigits)
			if j < 0 {
				break
			}
			// The digits are tokens 0x30-0x39: the byte before '0'
			// ends token 0x2f.
			if j > 0 && b[j-1] == 0 {
				t, err := kallsymsAround(m, start+uint64(j))
				if err == nil {
					return t, nil
				}
				lastErr = err
			}
			i = j + len(kallsymsDigits) - 1 // the next candidate down, overlapping or not
		}
		end = start
	}
	if lastErr != nil {
		return kallsymsTables{}, fmt.Errorf("analyzer: no kallsyms tables in the kernel image (the last candidate: %w)", lastErr)
	}
	return kallsymsTables{}, errors.New("analyzer: no kallsyms tables in the kernel image (VMCOREINFO does not locate them before Linux 6.0)")
}

// readPresent fills b from va, leaving zeros where the dump holds no page
// (the freed init sections, pages the dump level excluded). It fails only
// when the analysis is cancelled.
func readPresent(m kmem, b []byte, va uint64) error {
	if err := m.read(b, va); err == nil {
		return nil
	} else if err := m.check(); err != nil {
		return err
	}
	const page = 4096
	for off := 0; off < len(b); {
		n := min(len(b)-off, page-int((va+uint64(off))%page))
		if err := m.read(b[off:off+n], va+uint64(off)); err != nil {
			if err := m.check(); err != nil {
				return err
			}
			clear(b[off : off+n])
		}
		off += n
	}
	return nil
}

// kallsymsAround checks that digits is token 0x30 of a kallsyms token
// table and finds the tables around it.
func kallsymsAround(m kmem, digits uint64) (kallsymsTables, error) {
	var t kallsymsTables
	bo := m.d.ByteOrder
	// Tokens 0x30-0xff from digits on, then kallsyms_token_index.
	after := make([]byte, maxTokenBytes)
	if err := readPresent(m, after, digits); err != nil {
		return t, err
	}
	pos := make([]uint64, 256) // token i starts at digits + pos[i] (i >= 0x30)
	p := 0
	for i := 0x30; i < 256; i++ {
		end := bytes.IndexByte(after[p:], 0)
		if end < 0 {
			return t, errors.New("tokens run past the token table's bound")
		}
		pos[i] = uint64(p)
		p += end + 1
	}
	var idx []byte
	for a := align(digits+uint64(p), 2); a <= align(digits+uint64(p), 8); a += 2 {
		off := a - digits
		if off+512 > uint64(len(after)) {
			break
		}
		cand := after[off : off+512]
		base := uint64(bo.Uint16(cand[2*0x30:]))
		ok := bo.Uint16(cand) == 0
		for i := 0x30; i < 256 && ok; i++ {
			ok = uint64(bo.Uint16(cand[2*i:])) == base+pos[i]
		}
		if ok {
			t.tokenIndex, idx = a, cand
			break
		}
	}
	if idx == nil {
		return t, errors.New("no kallsyms_token_index follows the tokens")
	}
	t.tokenTable = digits - uint64(bo.Uint16(idx[2*0x30:]))
	// Tokens 0-0x2f must fill the table up to the digits exactly.
	before := make([]byte, digits-t.tokenTable)
	if err := m.read(before, t.tokenTable); err != nil {
		return t, fmt.Errorf("reading the token table: %w", err)
	}
	if bytes.Count(before, []byte{0}) != 0x30 || len(before) == 0 || before[len(before)-1] != 0 {
		return t, errors.New("the first 48 tokens do not end where the digits start")
	}
	for i := 0; i < 0x30; i++ {
		if uint64(bo.Uint16(idx[2*i:])) >= uint64(len(before)) {
			return t, fmt.Errorf("token %d is outside the table", i)
		}
	}
	// kallsyms_markers: the offset in kallsyms_names of every 256th
	// symbol, increasing from 0, then padding up to the token table.
	markers, at, err := readMarkers(m, t.tokenTable)
	if err != nil {
		return t, err
	}
	last := markers[len(markers)-1]
	// kallsyms_names ends before the markers; it starts 8 bytes after
	// kallsyms_num_syms, which counts between len(markers)-1 and
	// len(markers) blocks of 256 names.
	lowest := at - min(at, last+256*maxNameEntry+8)
	for names := (at - min(at, last)) &^ 7; names >= lowest && names >= 8; names -= 8 {
		num, err := m.u32(names - 8)
		if err != nil {
			return t, err
		}
		if num == 0 || uint64(num) <= 256*uint64(len(markers)-1) || uint64(num) > 256*uint64(len(markers)) {
			continue
		}
		if !namesFitMarkers(m, names, at, markers, int(num)) {
			continue
		}
		t.names, t.numSyms = names, names-8
		t.relativeBase = t.numSyms - 8
		// kallsyms_offsets (4 bytes a symbol) end 8-aligned at the
		// relative base.
		t.offsets = t.relativeBase - 4*uint64(num)
		if num%2 == 1 {
			t.offsets -= 4
		}
		return t, nil
	}
	return t, errors.New("no kallsyms_num_syms and kallsyms_names fit the markers")
}

// readMarkers finds kallsyms_markers below the token table: offsets
// into kallsyms_names of every 256th name, rising from 0 by the length of
// 256 names each, ending 8-aligned either at the token table or (6.2, and
// stable kernels that took it) at kallsyms_seqs_of_names, three bytes a
// symbol, before it. It returns the markers and their address.
func readMarkers(m kmem, tokenTable uint64) ([]uint64, uint64, error) {
	const maxMarkers = maxKallsyms / 256
	limit := uint64(4*maxMarkers + 3*maxKallsyms + 16)
	// The window below the table grows until it holds the markers (and
	// the seqs_of_names between): a few hundred KiB on a distribution
	// kernel, where the bound is 12 MiB.
	for window := uint64(64 << 10); ; window *= 4 {
		window = min(window, limit, tokenTable)
		from := tokenTable - window
		b := make([]byte, window)
		if err := readPresent(m, b, from); err != nil {
			return nil, 0, err
		}
		if markers, at, ok := findMarkers(m, b, from); ok {
			return markers, at, nil
		}
		if window == limit || window == tokenTable {
			return nil, 0, errors.New("no kallsyms_markers before the token table")
		}
	}
}

// findMarkers looks for the markers in b, the bytes from address from up
// to the token table.
func findMarkers(m kmem, b []byte, from uint64) ([]uint64, uint64, bool) {
	bo := m.d.ByteOrder
	word := func(off int) uint64 { return uint64(bo.Uint32(b[off:])) }
	plausible := func(step uint64) bool { return step >= 256*2 && step <= 256*maxNameEntry }
	// The markers' end (the last 8-aligned word before the gap) is
	// tried from the table down: a run of rising words that starts at 0.
	for end := len(b) - 4; end >= 8; end -= 4 {
		gap := uint64(len(b) - end - 4) // bytes between the last marker and the table
		k := end
		for k >= 4 && word(k) != 0 && plausible(word(k)-word(k-4)) && word(k) > word(k-4) {
			k -= 4
		}
		if word(k) != 0 || k == end {
			continue
		}
		n := uint64((end-k)/4 + 1)
		// Directly before the table (8-aligned), or seqs_of_names of
		// between n-1 and n blocks of 256 symbols.
		if gap >= 8 && (gap < 3*(n-1)*256 || gap > 3*n*256+8) {
			continue
		}
		markers := make([]uint64, n)
		for i := range markers {
			markers[i] = word(k + 4*i)
		}
		return markers, from + uint64(k), true
	}
	return nil, 0, false
}

// namesFitMarkers walks num entries of kallsyms_names from names (a length
// byte, two when its top bit is set since 6.1, then the tokens) and checks
// that every 256th starts where its marker says and that the last ends
// within 8 bytes before the markers.
func namesFitMarkers(m kmem, names, markersAt uint64, markers []uint64, num int) bool {
	if markersAt <= names {
		return false
	}
	b := make([]byte, markersAt-names)
	if err := m.read(b, names); err != nil {
		return false
	}
	for _, big := range []bool{false, true} {
		off, ok := 0, true
		for i := 0; i < num && ok; i++ {
			if i%256 == 0 && uint64(off) != markers[i/256] {
				ok = false
				break
			}
			if off >= len(b) {
				ok = false
				break
			}
			l := int(b[off])
			off++
			if big && l&0x80 != 0 {
				if off >= len(b) {
					ok = false
					break
				}
				l = l&0x7f | int(b[off])<<7
				off++
			}
			off += l
		}
		if ok && off <= len(b) && len(b)-off < 8 {
			return true
		}
	}
	return false
}

// align rounds a up to a multiple of n (a power of two).
func align(a, n uint64) uint64 { return (a + n - 1) &^ (n - 1) }
