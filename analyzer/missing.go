package analyzer

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// layoutNeeds resolves the symbols, members and enumerators one section
// reads, and remembers in kernel terms each it could not find, so that the
// section can say exactly what it lacks ("struct kmem_cache_node has no
// member total_objects") instead of failing whole. A member may have
// several names across kernel versions: the first that exists is used.
type layoutNeeds struct {
	k       *Kernel
	missing []string
}

func (k *Kernel) needs() *layoutNeeds { return &layoutNeeds{k: k} }

// miss records a gap once.
func (n *layoutNeeds) miss(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if !slices.Contains(n.missing, s) {
		n.missing = append(n.missing, s)
	}
}

// Missing is the gaps recorded, never nil (the document's lists are
// always present).
func (n *layoutNeeds) Missing() []string {
	if n.missing == nil {
		return []string{}
	}
	return n.missing
}

// off is the offset of the first of the member paths struct typ has.
func (n *layoutNeeds) off(typ string, paths ...string) (uint64, bool) {
	if o, i := n.tryOff(typ, paths...); i >= 0 {
		return o, true
	}
	if len(paths) == 1 {
		n.miss("struct %s has no member %s", typ, paths[0])
	} else {
		n.miss("struct %s has none of the members %s", typ, strings.Join(paths, ", "))
	}
	return 0, false
}

// tryOff is off without recording a gap; it also says which path was
// found (-1 for none).
func (n *layoutNeeds) tryOff(typ string, paths ...string) (uint64, int) {
	for i, p := range paths {
		if o, err := n.k.Types.Offset(typ, p); err == nil {
			return o, i
		}
	}
	return 0, -1
}

// has reports whether struct typ has member path, recording nothing.
func (n *layoutNeeds) has(typ, path string) bool {
	_, i := n.tryOff(typ, path)
	return i >= 0
}

// size is sizeof(struct typ).
func (n *layoutNeeds) size(typ string) (uint64, bool) {
	s, err := n.k.Types.Size(typ)
	if err != nil {
		n.miss("no struct %s", typ)
		return 0, false
	}
	return s, true
}

// arrayLen is the element count of array member path of struct typ.
func (n *layoutNeeds) arrayLen(typ, path string) (uint64, bool) {
	l, err := n.k.arrayLen(typ, path)
	if err != nil {
		n.miss("the length of array %s.%s", typ, path)
		return 0, false
	}
	return l, true
}

// sym is the address of the first of the symbols the kernel has.
func (n *layoutNeeds) sym(names ...string) (uint64, bool) {
	for _, name := range names {
		if a, ok := n.k.Syms.Lookup(name); ok {
			return a, true
		}
	}
	n.miss("symbol %s", strings.Join(names, " or "))
	return 0, false
}

// enum is the value of the first of the enumerators enum typ has.
func (n *layoutNeeds) enum(typ string, names ...string) (int64, bool) {
	for _, name := range names {
		if v, err := n.k.enumIn(typ, name); err == nil {
			return v, true
		}
	}
	n.miss("enum %s has no %s", typ, strings.Join(names, " or "))
	return 0, false
}

// errMissing is returned by a section reader that found too little of the
// layout to read anything; the section's Missing says what.
var errMissing = errors.New("analyzer: the kernel's types lack what this section reads")

// More readers of kernel memory, beside Kernel's ptr, u32 and u64.

func (k *Kernel) i64(va uint64) (int64, error) {
	v, err := k.mem.u64(va)
	return int64(v), err
}

func (k *Kernel) i32(va uint64) (int32, error) {
	v, err := k.mem.u32(va)
	return int32(v), err
}

func (k *Kernel) u16(va uint64) (uint16, error) {
	var b [2]byte
	if err := k.mem.read(b[:], va); err != nil {
		return 0, err
	}
	return k.Dump.ByteOrder.Uint16(b[:]), nil
}

func (k *Kernel) u8(va uint64) (uint8, error) {
	var b [1]byte
	err := k.mem.read(b[:], va)
	return b[0], err
}

// u64s reads n consecutive 64-bit words.
func (k *Kernel) u64s(va uint64, n int) ([]uint64, error) {
	if n < 0 || n > 1<<16 {
		return nil, fmt.Errorf("analyzer: %d words at %#x: too many", n, va)
	}
	b := make([]byte, 8*n)
	if err := k.mem.read(b, va); err != nil {
		return nil, err
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = k.Dump.ByteOrder.Uint64(b[8*i:])
	}
	return out, nil
}

// cstr reads the NUL-terminated string a char pointer at va points to, at
// most n bytes.
func (k *Kernel) cstr(va uint64, n int) (string, error) {
	p, err := k.ptr(va)
	if err != nil {
		return "", err
	}
	if p == 0 {
		return "", nil
	}
	return k.strAt(p, n)
}

// strAt reads a NUL-terminated string of at most n bytes a page at a time,
// so a short string at the end of the last page of its allocation reads
// no further page (which the dump may not hold).
func (k *Kernel) strAt(va uint64, n int) (string, error) {
	ps := uint64(k.Dump.PageSize)
	if ps == 0 {
		ps = 4096
	}
	var out []byte
	for len(out) < n {
		chunk := min(uint64(n-len(out)), ps-va%ps)
		b := make([]byte, chunk)
		if err := k.mem.read(b, va); err != nil {
			return string(out), err
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return string(append(out, b[:i]...)), nil
		}
		out = append(out, b...)
		va += chunk
	}
	return string(out), nil
}

// positive is a signed kernel counter clamped at zero, as the kernel's
// readers of its per-CPU-batched counters clamp them.
func positive(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}
