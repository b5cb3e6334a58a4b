// Package btf reads the BPF Type Format: the compact description of its
// types that a kernel built with CONFIG_DEBUG_INFO_BTF carries (between
// __start_BTF and __stop_BTF in its image, and as a vmlinux's .BTF
// section). The layout of a kernel's structures, its unions, arrays and
// enums is what an analysis needs from it.
//
// The format is the kernel's (Documentation/bpf/btf.rst): a header, then a
// type section of variable-length records, numbered from 1 in order, then
// a string section. Parse checks the header and walks the type section
// once, to index where each record starts; a record's members, values and
// names are decoded, and checked, when asked for. The blob may come from a
// crashed kernel's memory, so every offset, length, count and type ID is
// checked before use, and a loop that follows references between types is
// bounded.
package btf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// Magic is btf_header.magic, in the byte order of the blob.
const Magic = 0xeb9f

// Kind is a type record's kind (BTF_KIND_*).
type Kind uint8

// The kinds of type records.
const (
	KindUnknown   Kind = 0
	KindInt       Kind = 1
	KindPtr       Kind = 2
	KindArray     Kind = 3
	KindStruct    Kind = 4
	KindUnion     Kind = 5
	KindEnum      Kind = 6
	KindFwd       Kind = 7
	KindTypedef   Kind = 8
	KindVolatile  Kind = 9
	KindConst     Kind = 10
	KindRestrict  Kind = 11
	KindFunc      Kind = 12
	KindFuncProto Kind = 13
	KindVar       Kind = 14
	KindDatasec   Kind = 15
	KindFloat     Kind = 16
	KindDeclTag   Kind = 17
	KindTypeTag   Kind = 18
	KindEnum64    Kind = 19
)

// kindInfo is what the walk over the type section needs of a kind: the
// bytes that follow its btf_type record, fixed and per vlen item.
type kindInfo struct {
	name      string
	fixed     int  // bytes after struct btf_type
	perItem   int  // bytes per vlen item
	sizeField bool // size_type is a size
	refField  bool // size_type is the ID of the type referred to
}

// kinds is indexed by Kind.
var kinds = [...]kindInfo{
	KindUnknown:   {name: "unknown"},
	KindInt:       {name: "int", fixed: 4, sizeField: true},
	KindPtr:       {name: "ptr", refField: true},
	KindArray:     {name: "array", fixed: 12},
	KindStruct:    {name: "struct", perItem: 12, sizeField: true},
	KindUnion:     {name: "union", perItem: 12, sizeField: true},
	KindEnum:      {name: "enum", perItem: 8, sizeField: true},
	KindFwd:       {name: "fwd"},
	KindTypedef:   {name: "typedef", refField: true},
	KindVolatile:  {name: "volatile", refField: true},
	KindConst:     {name: "const", refField: true},
	KindRestrict:  {name: "restrict", refField: true},
	KindFunc:      {name: "func", refField: true},
	KindFuncProto: {name: "func_proto", perItem: 8, refField: true},
	KindVar:       {name: "var", fixed: 4, refField: true},
	KindDatasec:   {name: "datasec", perItem: 12, sizeField: true},
	KindFloat:     {name: "float", sizeField: true},
	KindDeclTag:   {name: "decl_tag", fixed: 4, refField: true},
	KindTypeTag:   {name: "type_tag", refField: true},
	KindEnum64:    {name: "enum64", perItem: 12, sizeField: true},
}

func (k Kind) String() string {
	if int(k) < len(kinds) {
		return kinds[k].name
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

// header is struct btf_header.
type header struct {
	Magic   uint16
	Version uint8
	Flags   uint8
	HdrLen  uint32
	TypeOff uint32 // from the end of the header
	TypeLen uint32
	StrOff  uint32 // from the end of the header
	StrLen  uint32
}

// btfType is struct btf_type, the start of every type record.
type btfType struct {
	NameOff  uint32
	Info     uint32 // vlen: bits 0-15, kind: bits 24-28, kind_flag: bit 31
	SizeType uint32 // size, or a type ID, by kind
}

const btfTypeLen = 12

func (t btfType) kind() Kind     { return Kind(t.Info >> 24 & 0x1f) }
func (t btfType) vlen() int      { return int(t.Info & 0xffff) }
func (t btfType) kindFlag() bool { return t.Info>>31 != 0 }

// recordAt decodes the btf_type at pos of the type section, which holds
// one (index checked it).
func (s *Spec) recordAt(pos int) btfType {
	b := s.types[pos:]
	return btfType{s.order.Uint32(b), s.order.Uint32(b[4:]), s.order.Uint32(b[8:])}
}

// maxTypes bounds the records Parse indexes: a 6.12 kernel has about
// 150,000; the bound only keeps a hostile blob from costing more than a
// large kernel's would.
const maxTypes = 4 << 20

// maxChain bounds the references followed through typedefs, qualifiers
// and type tags: a cycle in a hostile blob ends there.
const maxChain = 64

// TypeID names a type: its position in the type section, from 1; 0 is void.
type TypeID uint32

// Errors of lookups; a malformed blob gives a *FormatError instead.
var (
	ErrNotFound = errors.New("btf: type not found")
	ErrMultiple = errors.New("btf: several types have the name")
)

// FormatError is a malformed blob: what is wrong and at which offset of
// the blob.
type FormatError struct {
	Off int64
	Msg string
}

func (e *FormatError) Error() string { return fmt.Sprintf("btf: at %#x: %s", e.Off, e.Msg) }

// Spec is a parsed BTF blob. It reads the blob in place: the caller must
// not change it. Its methods are safe for concurrent use (the name index,
// built on the first lookup by name, is built once).
type Spec struct {
	order   binary.ByteOrder
	types   []byte // the type section
	typeOff int64  // its offset in the blob, for errors
	strs    []byte // the string section
	strOff  int64
	offs    []uint32 // offs[id-1]: where record id starts in types

	names nameIndex
}

// Parse checks a blob's header and indexes its type records.
func Parse(raw []byte) (*Spec, error) {
	var h header
	if len(raw) < int(unsafe.Sizeof(h)) {
		return nil, &FormatError{0, fmt.Sprintf("%d bytes is shorter than btf_header", len(raw))}
	}
	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint16(raw) == Magic:
		order = binary.LittleEndian
	case binary.BigEndian.Uint16(raw) == Magic:
		order = binary.BigEndian
	default:
		return nil, &FormatError{0, fmt.Sprintf("magic %#04x is not %#04x", binary.LittleEndian.Uint16(raw), Magic)}
	}
	if _, err := binary.Decode(raw, order, &h); err != nil {
		return nil, &FormatError{0, "btf_header: " + err.Error()}
	}
	if h.Version != 1 {
		return nil, &FormatError{2, fmt.Sprintf("version %d is not 1", h.Version)}
	}
	if h.HdrLen < uint32(unsafe.Sizeof(h)) || uint64(h.HdrLen) > uint64(len(raw)) {
		return nil, &FormatError{4, fmt.Sprintf("hdr_len %d is not in [%d, %d]", h.HdrLen, unsafe.Sizeof(h), len(raw))}
	}
	body := raw[h.HdrLen:]
	section := func(name string, field int64, off, n uint32) ([]byte, error) {
		if uint64(off)+uint64(n) > uint64(len(body)) {
			return nil, &FormatError{field, fmt.Sprintf("%s section %d+%d is past the blob's %d bytes after its header", name, off, n, len(body))}
		}
		return body[off : off+n], nil
	}
	s := &Spec{order: order, typeOff: int64(h.HdrLen) + int64(h.TypeOff), strOff: int64(h.HdrLen) + int64(h.StrOff)}
	var err error
	if s.types, err = section("type", 8, h.TypeOff, h.TypeLen); err != nil {
		return nil, err
	}
	if s.strs, err = section("string", 16, h.StrOff, h.StrLen); err != nil {
		return nil, err
	}
	if len(s.strs) > 0 && s.strs[len(s.strs)-1] != 0 {
		return nil, &FormatError{s.strOff + int64(len(s.strs)) - 1, "the string section does not end with a NUL"}
	}
	if err := s.index(); err != nil {
		return nil, err
	}
	return s, nil
}

// index walks the type section once, recording where each record starts.
func (s *Spec) index() error {
	s.offs = make([]uint32, 0, len(s.types)/(btfTypeLen+8))
	for pos := 0; pos < len(s.types); {
		if len(s.offs) >= maxTypes {
			return &FormatError{s.typeOff + int64(pos), fmt.Sprintf("more than %d types", maxTypes)}
		}
		if len(s.types)-pos < btfTypeLen {
			return &FormatError{s.typeOff + int64(pos), "a type record is cut short by the section's end"}
		}
		bt := s.recordAt(pos)
		k, vlen := bt.kind(), bt.vlen()
		if k == KindUnknown || int(k) >= len(kinds) {
			return &FormatError{s.typeOff + int64(pos), fmt.Sprintf("type %d has unknown kind %d", len(s.offs)+1, k)}
		}
		n := btfTypeLen + kinds[k].fixed + vlen*kinds[k].perItem
		if len(s.types)-pos < n {
			return &FormatError{s.typeOff + int64(pos), fmt.Sprintf("type %d (%s, vlen %d) needs %d bytes, the section has %d left", len(s.offs)+1, k, vlen, n, len(s.types)-pos)}
		}
		s.offs = append(s.offs, uint32(pos))
		pos += n
	}
	return nil
}

// NumTypes is the number of type records (the largest TypeID).
func (s *Spec) NumTypes() int { return len(s.offs) }

// Type is what a type record's btf_type says.
type Type struct {
	ID       TypeID
	Kind     Kind
	Name     string // "" for anonymous types
	Vlen     int    // members, values or parameters
	KindFlag bool   // a struct's bitfield offsets, an enum's signedness
	// Size is the size in bytes of an int, struct, union, enum, datasec
	// or float; Ref the type a ptr, typedef, qualifier, func, var or
	// type tag refers to. Each is 0 where it does not apply.
	Size uint32
	Ref  TypeID
}

// record returns type id's btf_type and where its data after it starts.
func (s *Spec) record(id TypeID) (btfType, int, error) {
	if id == 0 || int(id) > len(s.offs) {
		return btfType{}, 0, fmt.Errorf("%w: type ID %d is not in [1, %d]", ErrNotFound, id, len(s.offs))
	}
	pos := int(s.offs[id-1])
	return s.recordAt(pos), pos + btfTypeLen, nil
}

// Type returns what type id's record says; its name is checked.
func (s *Spec) Type(id TypeID) (Type, error) {
	bt, pos, err := s.record(id)
	if err != nil {
		return Type{}, err
	}
	t := Type{ID: id, Kind: bt.kind(), Vlen: bt.vlen(), KindFlag: bt.kindFlag()}
	if t.Name, err = s.name(bt.NameOff, pos-btfTypeLen); err != nil {
		return Type{}, err
	}
	if kinds[t.Kind].sizeField {
		t.Size = bt.SizeType
	}
	if kinds[t.Kind].refField {
		t.Ref = TypeID(bt.SizeType)
	}
	return t, nil
}

// name returns the string at off of the string section; at is the record
// offset in the type section, for errors. The string is the blob's bytes,
// not a copy.
func (s *Spec) name(off uint32, at int) (string, error) {
	if uint64(off) >= uint64(len(s.strs)) {
		if off == 0 {
			return "", nil // an empty string section: every name is ""
		}
		return "", &FormatError{s.typeOff + int64(at), fmt.Sprintf("name offset %d is past the %d-byte string section", off, len(s.strs))}
	}
	b := s.strs[off:]
	n := 0
	for b[n] != 0 { // the section ends with a NUL (Parse)
		n++
	}
	return unsafe.String(unsafe.SliceData(b), n), nil
}

// Resolve follows typedefs, const, volatile, restrict and type tags from
// id to the type they name.
func (s *Spec) Resolve(id TypeID) (Type, error) {
	for range maxChain {
		t, err := s.Type(id)
		if err != nil {
			return Type{}, err
		}
		switch t.Kind {
		case KindTypedef, KindConst, KindVolatile, KindRestrict, KindTypeTag:
			id = t.Ref
		default:
			return t, nil
		}
	}
	return Type{}, &FormatError{s.typeOff, fmt.Sprintf("more than %d typedefs and qualifiers in a row, to type %d", maxChain, id)}
}

// Member is a struct's or union's member.
type Member struct {
	Name      string // "" for an anonymous member
	Type      TypeID
	BitOffset uint32 // from the start of the struct
	BitSize   uint32 // a bitfield's width; 0 for other members
}

// Members returns a struct's or union's members.
func (s *Spec) Members(id TypeID) ([]Member, error) {
	bt, pos, err := s.record(id)
	if err != nil {
		return nil, err
	}
	k := bt.kind()
	if k != KindStruct && k != KindUnion {
		return nil, fmt.Errorf("btf: type %d is a %s, not a struct or union", id, k)
	}
	bitfields := bt.kindFlag()
	out := make([]Member, bt.vlen())
	for i := range out {
		b := s.types[pos+kinds[k].perItem*i:] // in bounds: index checked vlen
		off := s.order.Uint32(b[8:])
		m := Member{Type: TypeID(s.order.Uint32(b[4:])), BitOffset: off}
		if bitfields {
			m.BitOffset, m.BitSize = off&0xffffff, off>>24
		}
		if m.Name, err = s.name(s.order.Uint32(b), pos-btfTypeLen); err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// Array is what an array type says.
type Array struct {
	Elem, Index TypeID
	Nelems      uint32
}

// Array returns an array type's element type and length.
func (s *Spec) Array(id TypeID) (Array, error) {
	bt, pos, err := s.record(id)
	if err != nil {
		return Array{}, err
	}
	if k := bt.kind(); k != KindArray {
		return Array{}, fmt.Errorf("btf: type %d is a %s, not an array", id, k)
	}
	b := s.types[pos:]
	return Array{Elem: TypeID(s.order.Uint32(b)), Index: TypeID(s.order.Uint32(b[4:])), Nelems: s.order.Uint32(b[8:])}, nil
}

// EnumValue is an enumerator. Value holds a signed enum's value sign
// extended to 64 bits, an unsigned one's zero extended.
type EnumValue struct {
	Name  string
	Value uint64
}

// EnumValues returns an enum's (or enum64's) enumerators.
func (s *Spec) EnumValues(id TypeID) ([]EnumValue, error) {
	bt, pos, err := s.record(id)
	if err != nil {
		return nil, err
	}
	k, signed := bt.kind(), bt.kindFlag()
	if k != KindEnum && k != KindEnum64 {
		return nil, fmt.Errorf("btf: type %d is a %s, not an enum", id, k)
	}
	out := make([]EnumValue, bt.vlen())
	for i := range out {
		b := s.types[pos+kinds[k].perItem*i:] // in bounds: index checked vlen
		v := uint64(s.order.Uint32(b[4:]))
		switch {
		case k == KindEnum64:
			v |= uint64(s.order.Uint32(b[8:])) << 32
		case signed:
			v = uint64(int64(int32(v)))
		}
		if out[i].Name, err = s.name(s.order.Uint32(b), pos-btfTypeLen); err != nil {
			return nil, err
		}
		out[i].Value = v
	}
	return out, nil
}
