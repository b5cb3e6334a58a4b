package analyzer

import (
	"bytes"
	"errors"
	"os"
	"testing"

	cbtf "github.com/cilium/ebpf/btf"

	"github.com/vmcore/vmcore/analyzer/btf"
	"github.com/vmcore/vmcore/vmcore"
)

// TestBTFAgainstCilium reads the BTF of every kernel in the corpus (and
// the host's) with package btf and with cilium/ebpf, the reference, and
// compares every struct, union, array and enum: sizes, member names,
// member types and bit offsets, bitfield widths, lengths, enumerators.
func TestBTFAgainstCilium(t *testing.T) {
	eachKernel(t, func(t *testing.T, d *vmcore.Dump) {
		ks, err := ReadKallsyms(d)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := readBTF(kmem{d: d}, ks)
		if errors.Is(err, errNoBTF) {
			t.Skip("kallsyms lists no __start_BTF/__stop_BTF (no data symbols)")
		} else if err != nil {
			t.Fatal(err)
		}
		compareWithCilium(t, raw)
	})
	if raw, err := os.ReadFile("/sys/kernel/btf/vmlinux"); err == nil {
		t.Run("host", func(t *testing.T) { compareWithCilium(t, raw) })
	}
}

func compareWithCilium(t *testing.T, raw []byte) {
	ref, err := cbtf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("cilium/ebpf: %v", err)
	}
	s, err := btf.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	idOf := func(typ cbtf.Type) btf.TypeID {
		id, err := ref.TypeID(typ)
		if err != nil {
			t.Fatalf("cilium/ebpf has no ID for %v: %v", typ, err)
		}
		return btf.TypeID(id)
	}
	var structs, members, enums, arrays, mismatches int
	fail := func(format string, args ...any) {
		if mismatches++; mismatches <= 20 {
			t.Errorf(format, args...)
		}
	}
	for typ, err := range ref.All() {
		if err != nil {
			t.Fatal(err)
		}
		if _, void := typ.(*cbtf.Void); void {
			continue // type 0, which no record describes
		}
		id := idOf(typ)
		got, err := s.Type(id)
		if err != nil {
			fail("type %d (%v): %v", id, typ, err)
			continue
		}
		name := typ.TypeName()
		switch c := typ.(type) {
		case *cbtf.TypeTag: // cilium/ebpf calls a tag's name its value
			name = c.Value
		}
		if got.Name != name && got.Kind != btf.KindDeclTag { // cilium/ebpf does not export its decl tags
			fail("type %d: name %q, cilium/ebpf %q", id, got.Name, name)
		}
		var ms []cbtf.Member
		switch c := typ.(type) {
		case *cbtf.Struct:
			ms = c.Members
			if got.Kind != btf.KindStruct || got.Size != c.Size {
				fail("type %d %s: %s of size %d, cilium/ebpf: struct of size %d", id, c.Name, got.Kind, got.Size, c.Size)
			}
		case *cbtf.Union:
			ms = c.Members
			if got.Kind != btf.KindUnion || got.Size != c.Size {
				fail("type %d %s: %s of size %d, cilium/ebpf: union of size %d", id, c.Name, got.Kind, got.Size, c.Size)
			}
		case *cbtf.Array:
			arrays++
			a, err := s.Array(id)
			if err != nil || a.Nelems != c.Nelems || a.Elem != idOf(c.Type) || a.Index != idOf(c.Index) {
				fail("array %d: %+v, %v; cilium/ebpf %d of %d", id, a, err, c.Nelems, idOf(c.Type))
			}
		case *cbtf.Enum:
			enums++
			vs, err := s.EnumValues(id)
			if err != nil || len(vs) != len(c.Values) {
				fail("enum %d %s: %d values, %v; cilium/ebpf %d", id, c.Name, len(vs), err, len(c.Values))
				continue
			}
			for i, v := range c.Values {
				if vs[i].Name != v.Name || vs[i].Value != v.Value {
					fail("enum %s value %d: %s = %#x, cilium/ebpf %s = %#x", c.Name, i, vs[i].Name, vs[i].Value, v.Name, v.Value)
				}
			}
			if c.Name != "" {
				if found, err := s.TypeByName(c.Name, btf.KindEnum, btf.KindEnum64); err == nil && found != id {
					fail("TypeByName(enum %s) = %d, want %d", c.Name, found, id)
				}
			}
		}
		if ms == nil {
			continue
		}
		structs++
		got2, err := s.Members(id)
		if err != nil || len(got2) != len(ms) {
			fail("type %d %s: %d members, %v; cilium/ebpf %d", id, typ.TypeName(), len(got2), err, len(ms))
			continue
		}
		for i, m := range ms {
			members++
			g := got2[i]
			if g.Name != m.Name || g.BitOffset != uint32(m.Offset) || g.BitSize != uint32(m.BitfieldSize) || g.Type != idOf(m.Type) {
				fail("%s member %d: %+v; cilium/ebpf %s at bit %d, %d bits, type %d", typ.TypeName(), i, g, m.Name, m.Offset, m.BitfieldSize, idOf(m.Type))
			}
		}
		if name := typ.TypeName(); name != "" {
			var one cbtf.Type
			kind := btf.KindStruct
			if _, ok := typ.(*cbtf.Union); ok {
				kind = btf.KindUnion
			}
			refErr := ref.TypeByName(name, &one)
			found, err := s.TypeByName(name, kind)
			if refErr == nil && (err != nil || found != id) {
				fail("TypeByName(%s %s) = %d, %v; cilium/ebpf finds type %d", kind, name, found, err, id)
			}
		}
	}
	if mismatches > 20 {
		t.Errorf("... %d mismatches in all", mismatches)
	}
	t.Logf("%d types: %d structs and unions with %d members, %d arrays, %d enums agree", s.NumTypes(), structs, members, arrays, enums)
}
