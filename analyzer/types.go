package analyzer

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/vmcore/vmcore/elfdump"
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
// __stop_BTF in the kernel image. The parser is third-party code, so a panic
// on hostile bytes becomes an error.
func NewBTFTypes(raw []byte) (Types, error) {
	var spec *btf.Spec
	err := elfdump.Guard("cilium/ebpf btf", func() (err error) {
		spec, err = btf.LoadSpecFromReader(bytes.NewReader(raw))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("analyzer: parsing BTF: %w", err)
	}
	return &btfTypes{spec: spec}, nil
}

func (b *btfTypes) composite(name string) (btf.Type, error) {
	var s *btf.Struct
	if err := b.spec.TypeByName(name, &s); err == nil {
		return s, nil
	}
	var u *btf.Union
	if err := b.spec.TypeByName(name, &u); err == nil {
		return u, nil
	}
	return nil, fmt.Errorf("%w: struct %s", ErrNoType, name)
}

// Size and Offset do not cache: the Kernel's recordingTypes in front of
// them keeps every answer (and saves it in the build's profile).
func (b *btfTypes) Size(typ string) (uint64, error) {
	t, err := b.composite(typ)
	if err != nil {
		return 0, err
	}
	n, err := btf.Sizeof(t)
	if err != nil {
		return 0, fmt.Errorf("analyzer: sizeof(struct %s): %w", typ, err)
	}
	return uint64(n), nil
}

func (b *btfTypes) Offset(typ, path string) (uint64, error) {
	t, err := b.composite(typ)
	if err != nil {
		return 0, err
	}
	var off uint64
	for _, name := range strings.Split(path, ".") {
		m, moff, ok := findMember(t, name)
		if !ok {
			return 0, fmt.Errorf("%w: %s has no member %s", ErrNoType, typ, path)
		}
		off += moff
		t = btf.UnderlyingType(m.Type)
	}
	return off, nil
}

// findMember finds a member by name, descending into anonymous members;
// the offset is in bytes from the start of t.
func findMember(t btf.Type, name string) (btf.Member, uint64, bool) {
	var members []btf.Member
	switch c := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		members = c.Members
	case *btf.Union:
		members = c.Members
	default:
		return btf.Member{}, 0, false
	}
	for _, m := range members {
		if m.Name == name {
			return m, uint64(m.Offset.Bytes()), true
		}
	}
	for _, m := range members {
		if m.Name == "" {
			if inner, off, ok := findMember(m.Type, name); ok {
				return inner, uint64(m.Offset.Bytes()) + off, true
			}
		}
	}
	return btf.Member{}, 0, false
}

func (b *btfTypes) Enum(name string) (int64, error) {
	for t, err := range b.spec.All() {
		if err != nil {
			return 0, err
		}
		e, ok := t.(*btf.Enum)
		if !ok {
			continue
		}
		for _, v := range e.Values {
			if v.Name == name {
				return int64(v.Value), nil
			}
		}
	}
	return 0, fmt.Errorf("%w: enumerator %s", ErrNoType, name)
}
