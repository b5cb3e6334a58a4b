package analyzer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vmcore/vmcore/analyzer/btf"
)

// Types gives the layout of the crashed kernel's types: what the analyses
// need to walk task, module and runqueue structures.
type Types interface {
	// Size is sizeof(struct typ).
	Size(typ string) (uint64, error)
	// Offset is offsetof(struct typ, path), where path may name nested
	// members ("thread_info.cpu") and members of anonymous unions.
	Offset(typ, path string) (uint64, error)
	// Enum returns the value of an enumerator.
	Enum(name string) (int64, error)
}

// ErrNoType means a type or member the analysis needs is not in the type
// source: usually a kernel version whose layout the analysis does not know.
var ErrNoType = errors.New("analyzer: type not found")

// btfTypes is Types over the kernel's BTF (CONFIG_DEBUG_INFO_BTF).
type btfTypes struct {
	spec *btf.Spec
}

// NewBTFTypes parses a raw BTF blob, such as the one between __start_BTF and
// __stop_BTF in the kernel image. The blob is read in place: the caller
// does not change it afterwards.
func NewBTFTypes(raw []byte) (Types, error) {
	spec, err := btf.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("analyzer: parsing BTF: %w", err)
	}
	return &btfTypes{spec: spec}, nil
}

// composite finds struct name, else union name.
func (b *btfTypes) composite(name string) (btf.TypeID, error) {
	id, err := b.spec.TypeByName(name, btf.KindStruct)
	if errors.Is(err, btf.ErrNotFound) {
		id, err = b.spec.TypeByName(name, btf.KindUnion)
	}
	return id, lookupErr("struct", name, err)
}

// lookupErr words a failed lookup of type what name: none by that name, or
// several, is ErrNoType (the layout the analysis needs is not there); a
// malformed blob is itself.
func lookupErr(what, name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, btf.ErrNotFound) || errors.Is(err, btf.ErrMultiple):
		return fmt.Errorf("%w: %s %s (%v)", ErrNoType, what, name, err)
	}
	return fmt.Errorf("analyzer: %s %s: %w", what, name, err)
}

// Size and Offset do not cache: the Kernel's recordingTypes in front of
// them keeps every answer (and saves it in the build's profile).
func (b *btfTypes) Size(typ string) (uint64, error) {
	id, err := b.composite(typ)
	if err != nil {
		return 0, err
	}
	t, err := b.spec.Type(id)
	if err != nil {
		return 0, fmt.Errorf("analyzer: sizeof(struct %s): %w", typ, err)
	}
	return uint64(t.Size), nil
}

func (b *btfTypes) Offset(typ, path string) (uint64, error) {
	_, off, err := b.member(typ, path)
	return off, err
}

// member finds the member at path in struct (or union) typ, as Offset
// does, and returns its type with typedefs and qualifiers resolved.
func (b *btfTypes) member(typ, path string) (btf.Type, uint64, error) {
	id, err := b.composite(typ)
	if err != nil {
		return btf.Type{}, 0, err
	}
	var off uint64
	for _, name := range strings.Split(path, ".") {
		m, moff, ok, err := b.findMember(id, name, 0)
		if err != nil {
			return btf.Type{}, 0, fmt.Errorf("analyzer: %s.%s: %w", typ, path, err)
		}
		if !ok {
			return btf.Type{}, 0, fmt.Errorf("%w: %s has no member %s", ErrNoType, typ, path)
		}
		off += moff
		id = m.Type
	}
	t, err := b.spec.Resolve(id)
	if err != nil {
		return btf.Type{}, 0, fmt.Errorf("analyzer: %s.%s: %w", typ, path, err)
	}
	return t, off, nil
}

// maxAnonDepth bounds the anonymous members findMember descends into: a
// hostile blob's cycle of anonymous structs ends there.
const maxAnonDepth = 32

// findMember finds a member by name in the struct or union id (through
// typedefs and qualifiers), descending into anonymous members; the offset
// is in bytes from the start of id.
func (b *btfTypes) findMember(id btf.TypeID, name string, depth int) (btf.Member, uint64, bool, error) {
	if depth > maxAnonDepth {
		return btf.Member{}, 0, false, fmt.Errorf("anonymous members nested more than %d deep", maxAnonDepth)
	}
	t, err := b.spec.Resolve(id)
	if err != nil {
		return btf.Member{}, 0, false, err
	}
	if t.Kind != btf.KindStruct && t.Kind != btf.KindUnion {
		return btf.Member{}, 0, false, nil
	}
	members, err := b.spec.Members(t.ID)
	if err != nil {
		return btf.Member{}, 0, false, err
	}
	for _, m := range members {
		if m.Name == name {
			return m, uint64(m.BitOffset / 8), true, nil
		}
	}
	for _, m := range members {
		if m.Name == "" {
			inner, off, ok, err := b.findMember(m.Type, name, depth+1)
			if err != nil || ok {
				return inner, uint64(m.BitOffset/8) + off, ok, err
			}
		}
	}
	return btf.Member{}, 0, false, nil
}

func (b *btfTypes) Enum(name string) (int64, error) {
	for id := btf.TypeID(1); int(id) <= b.spec.NumTypes(); id++ {
		if k := b.spec.KindOf(id); k != btf.KindEnum && k != btf.KindEnum64 {
			continue
		}
		values, err := b.spec.EnumValues(id)
		if err != nil {
			return 0, fmt.Errorf("analyzer: enumerator %s: %w", name, err)
		}
		for _, v := range values {
			if v.Name == name {
				return int64(v.Value), nil
			}
		}
	}
	return 0, fmt.Errorf("%w: enumerator %s", ErrNoType, name)
}
