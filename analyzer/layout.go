package analyzer

import (
	"debug/dwarf"
	"fmt"
	"strings"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"

	"github.com/vmcore/vmcore/analyzer/btf"
)

// Two layout questions beyond Types' size, offset and enumerator: how many
// elements an array member has (zone.free_area has MAX_ORDER or
// NR_PAGE_ORDERS of them, which no enumerator names), and the value of an
// enumerator of one named enum (NR_PAGETABLE is a zone counter on 5.10
// and a node counter since 5.11, so which enum holds it matters). Every
// type source answers them, and the recording source keeps the answers in
// the build's profile like the others.

// arrayLen is the number of elements of the array member path of struct
// typ.
func (k *Kernel) arrayLen(typ, path string) (uint64, error) {
	if l, ok := k.Types.(layoutTypes); ok {
		return l.ArrayLen(typ, path)
	}
	return 0, fmt.Errorf("%w: the type source cannot count the elements of %s.%s", ErrNoType, typ, path)
}

// enumIn is the value of enumerator name of enum typ.
func (k *Kernel) enumIn(typ, name string) (int64, error) {
	if l, ok := k.Types.(layoutTypes); ok {
		return l.EnumIn(typ, name)
	}
	return 0, fmt.Errorf("%w: the type source cannot read enum %s", ErrNoType, typ)
}

// layoutTypes is implemented by every Types of this package.
type layoutTypes interface {
	// ArrayLen is the element count of array member path of struct typ.
	ArrayLen(typ, path string) (uint64, error)
	// EnumIn is the value of enumerator name of enum typ.
	EnumIn(typ, name string) (int64, error)
}

// The recording source keeps both answers in the profile's Lens and
// EnumsIn (absent from profiles saved before them).
func (r *recordingTypes) ArrayLen(typ, path string) (uint64, error) {
	key := typ + "." + path
	return r.answer("len:"+key,
		func() (uint64, bool) { v, ok := r.p.Lens[key]; return v, ok },
		func(t Types) (uint64, error) {
			l, ok := t.(layoutTypes)
			if !ok {
				return 0, fmt.Errorf("%w: array length of %s", ErrNoType, key)
			}
			return l.ArrayLen(typ, path)
		},
		func(v uint64) {
			if r.p.Lens == nil {
				r.p.Lens = map[string]uint64{}
			}
			r.p.Lens[key] = v
		})
}

func (r *recordingTypes) EnumIn(typ, name string) (int64, error) {
	key := typ + ":" + name
	v, err := r.answer("enum_in:"+key,
		func() (uint64, bool) { v, ok := r.p.EnumsIn[key]; return uint64(v), ok },
		func(t Types) (uint64, error) {
			l, ok := t.(layoutTypes)
			if !ok {
				return 0, fmt.Errorf("%w: enum %s", ErrNoType, typ)
			}
			v, err := l.EnumIn(typ, name)
			return uint64(v), err
		},
		func(v uint64) {
			if r.p.EnumsIn == nil {
				r.p.EnumsIn = map[string]int64{}
			}
			r.p.EnumsIn[key] = int64(v)
		})
	return int64(v), err
}

// ArrayLen finds the member as Offset does and reads its array type.
func (b *btfTypes) ArrayLen(typ, path string) (uint64, error) {
	t, _, err := b.member(typ, path)
	if err != nil {
		return 0, err
	}
	if t.Kind != btf.KindArray {
		return 0, fmt.Errorf("%w: %s.%s is not an array", ErrNoType, typ, path)
	}
	a, err := b.spec.Array(t.ID)
	if err != nil {
		return 0, fmt.Errorf("analyzer: %s.%s: %w", typ, path, err)
	}
	return uint64(a.Nelems), nil
}

// EnumIn looks the enum up by name (the BTF's name index: no pass over
// every type).
func (b *btfTypes) EnumIn(typ, name string) (int64, error) {
	id, err := b.spec.TypeByName(typ, btf.KindEnum, btf.KindEnum64)
	if err := lookupErr("enum", typ, err); err != nil {
		return 0, err
	}
	values, err := b.spec.EnumValues(id)
	if err != nil {
		return 0, fmt.Errorf("analyzer: enum %s: %w", typ, err)
	}
	for _, v := range values {
		if v.Name == name {
			return int64(v.Value), nil // a signed enum's values are stored two's complement
		}
	}
	return 0, fmt.Errorf("%w: enum %s has no %s", ErrNoType, typ, name)
}

func enumFrom(enums map[string]map[string]int64, typ, name string) (int64, error) {
	e, ok := enums[typ]
	if !ok {
		return 0, fmt.Errorf("%w: enum %s", ErrNoType, typ)
	}
	v, ok := e[name]
	if !ok {
		return 0, fmt.Errorf("%w: enum %s has no %s", ErrNoType, typ, name)
	}
	return v, nil
}

func (t *dwarfTypes) ArrayLen(typ, path string) (uint64, error) {
	st, err := t.structType(typ)
	if err != nil {
		return 0, err
	}
	var cur godwarf.Type = st
	for _, name := range strings.Split(path, ".") {
		f, _, ok := dwarfMember(cur, name)
		if !ok {
			return 0, fmt.Errorf("%w: %s has no member %s", ErrNoType, typ, path)
		}
		cur = f.Type
	}
	for {
		td, ok := cur.(*godwarf.TypedefType)
		if !ok {
			break
		}
		cur = td.Type
	}
	a, ok := cur.(*godwarf.ArrayType)
	if !ok || a.Count < 0 {
		return 0, fmt.Errorf("%w: %s.%s is not an array of known length", ErrNoType, typ, path)
	}
	return uint64(a.Count), nil
}

// EnumIn scans the DWARF's enumeration types once (only a vmlinux without
// .BTF gets here, and the profile keeps the answers).
func (t *dwarfTypes) EnumIn(typ, name string) (int64, error) {
	t.enumOnce.Do(func() {
		t.enumTypes = map[string]map[string]int64{}
		r := t.dw.Reader()
		var cur map[string]int64
		for {
			e, err := r.Next()
			if err != nil || e == nil {
				return
			}
			switch e.Tag {
			case dwarf.TagEnumerationType:
				cur = nil
				if n, _ := e.Val(dwarf.AttrName).(string); n != "" && e.Children && t.enumTypes[n] == nil {
					cur = map[string]int64{}
					t.enumTypes[n] = cur
				}
			case dwarf.TagEnumerator:
				if n, _ := e.Val(dwarf.AttrName).(string); cur != nil && n != "" {
					if v, ok := e.Val(dwarf.AttrConstValue).(int64); ok {
						cur[n] = v
					}
				}
			case 0:
			default:
				cur = nil
			}
			if e.Tag == dwarf.TagSubprogram && e.Children {
				r.SkipChildren()
			}
		}
	})
	return enumFrom(t.enumTypes, typ, name)
}
