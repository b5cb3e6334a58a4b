package btf

import (
	"fmt"
	"sync"
)

// indexedKinds are the kinds looked up by name: an analysis asks for
// structs, unions and enums by name, and reaches everything else through
// them.
var indexedKinds = [...]Kind{KindStruct, KindUnion, KindEnum, KindEnum64}

// nameKey is a named type of an indexed kind.
type nameKey struct {
	kind Kind
	name string
}

// nameIndex maps the named types of the indexed kinds to their IDs, built
// on the first lookup; a name given to several types of one kind maps to 0.
type nameIndex struct {
	once sync.Once
	ids  map[nameKey]TypeID
	err  error
}

func (s *Spec) buildNames() {
	ids := make(map[nameKey]TypeID, len(s.offs)/8)
	for i, pos := range s.offs {
		bt := s.recordAt(int(pos))
		k := bt.kind()
		if !indexable(k) {
			continue
		}
		name, err := s.name(bt.NameOff, int(pos))
		if err != nil {
			s.names.err = err
			return
		}
		if name == "" {
			continue
		}
		key := nameKey{k, name}
		if _, dup := ids[key]; dup {
			ids[key] = 0
			continue
		}
		ids[key] = TypeID(i + 1)
	}
	s.names.ids = ids
}

// TypeByName finds the one type of the given kinds (struct, union, enum or
// enum64) with the name. ErrNotFound: none has it; ErrMultiple: more than
// one, whose layouts the name cannot tell apart.
func (s *Spec) TypeByName(name string, kinds ...Kind) (TypeID, error) {
	s.names.once.Do(s.buildNames)
	if s.names.err != nil {
		return 0, s.names.err
	}
	var found TypeID
	for _, k := range kinds {
		if !indexable(k) {
			return 0, fmt.Errorf("btf: types of kind %s are not looked up by name", k)
		}
		id, ok := s.names.ids[nameKey{k, name}]
		switch {
		case !ok:
			continue
		case id == 0 || found != 0:
			return 0, fmt.Errorf("%w: %s", ErrMultiple, name)
		}
		found = id
	}
	if found == 0 {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return found, nil
}

func indexable(k Kind) bool {
	for _, x := range indexedKinds {
		if x == k {
			return true
		}
	}
	return false
}

// KindOf is type id's kind, KindUnknown for an ID not in the blob.
func (s *Spec) KindOf(id TypeID) Kind {
	if id == 0 || int(id) > len(s.offs) {
		return KindUnknown
	}
	return s.recordAt(int(s.offs[id-1])).kind()
}
