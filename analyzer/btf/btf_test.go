package btf

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"
)

// builder writes a BTF blob, for the corner cases no kernel's blob has.
type builder struct {
	order binary.ByteOrder
	types []byte
	strs  []byte
}

func newBuilder(order binary.ByteOrder) *builder { return &builder{order: order, strs: []byte{0}} }

func (b *builder) str(s string) uint32 {
	if s == "" {
		return 0
	}
	off := uint32(len(b.strs))
	b.strs = append(append(b.strs, s...), 0)
	return off
}

func (b *builder) u32(vs ...uint32) {
	for _, v := range vs {
		b.types = b.order.(binary.AppendByteOrder).AppendUint32(b.types, v)
	}
}

// typ appends a btf_type; the kind's data follows with u32.
func (b *builder) typ(name string, k Kind, vlen int, kindFlag bool, sizeType uint32) {
	info := uint32(k)<<24 | uint32(vlen)
	if kindFlag {
		info |= 1 << 31
	}
	b.u32(b.str(name), info, sizeType)
}

func (b *builder) blob() []byte {
	h := header{Magic: Magic, Version: 1, HdrLen: 24, TypeOff: 0, TypeLen: uint32(len(b.types)), StrOff: uint32(len(b.types)), StrLen: uint32(len(b.strs))}
	out, err := binary.Append(nil, b.order, h)
	if err != nil {
		panic(err)
	}
	return append(append(out, b.types...), b.strs...)
}

// sample is a small type section in the given byte order:
//
//	1 int                       (4 bytes)
//	2 struct task { int pid; union { int a; long b; }; int x:3, y:5; int arr[16]; }
//	3 union (anonymous) { int a; int b; }
//	4 array of 1, 16 elements
//	5 typedef task_t -> 2
//	6 const -> 5
//	7 enum state (signed) { RUNNING = -1, STOPPED = 4 }
//	8 enum64 big { HUGE = 1<<40 }
//	9 struct dup {}   10 struct dup {}
func sample(order binary.ByteOrder) []byte {
	b := newBuilder(order)
	b.typ("int", KindInt, 0, false, 4)
	b.u32(32)
	b.typ("task", KindStruct, 4, false, 88)
	b.u32(b.str("pid"), 1, 0)
	b.u32(0, 3, 64)
	b.u32(b.str("flags"), 1, 128)
	b.u32(b.str("arr"), 4, 192)
	b.typ("", KindUnion, 2, false, 8)
	b.u32(b.str("a"), 1, 0, b.str("b"), 1, 0)
	b.typ("", KindArray, 0, false, 0)
	b.u32(1, 1, 16)
	b.typ("task_t", KindTypedef, 0, false, 2)
	b.typ("", KindConst, 0, false, 5)
	b.typ("state", KindEnum, 2, true, 4)
	b.u32(b.str("RUNNING"), 0xffffffff, b.str("STOPPED"), 4)
	b.typ("big", KindEnum64, 1, false, 8)
	b.u32(b.str("HUGE"), 0, 1<<8)
	b.typ("dup", KindStruct, 0, false, 0)
	b.typ("dup", KindStruct, 0, false, 0)
	return b.blob()
}

func TestSample(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(order.String(), func(t *testing.T) {
			s, err := Parse(sample(order))
			if err != nil {
				t.Fatal(err)
			}
			if s.NumTypes() != 10 {
				t.Errorf("NumTypes = %d, want 10", s.NumTypes())
			}
			id, err := s.TypeByName("task", KindStruct)
			if err != nil || id != 2 {
				t.Fatalf("TypeByName(task) = %d, %v; want 2", id, err)
			}
			task, err := s.Type(id)
			if err != nil || task.Size != 88 || task.Vlen != 4 || task.Name != "task" {
				t.Errorf("Type(2) = %+v, %v", task, err)
			}
			ms, err := s.Members(id)
			if err != nil {
				t.Fatal(err)
			}
			want := []Member{{"pid", 1, 0, 0}, {"", 3, 64, 0}, {"flags", 1, 128, 0}, {"arr", 4, 192, 0}}
			if len(ms) != len(want) {
				t.Fatalf("Members = %+v", ms)
			}
			for i := range want {
				if ms[i] != want[i] {
					t.Errorf("member %d = %+v, want %+v", i, ms[i], want[i])
				}
			}
			r, err := s.Resolve(6)
			if err != nil || r.ID != 2 {
				t.Errorf("Resolve(const task_t) = %+v, %v; want type 2", r, err)
			}
			a, err := s.Array(4)
			if err != nil || a != (Array{Elem: 1, Index: 1, Nelems: 16}) {
				t.Errorf("Array(4) = %+v, %v", a, err)
			}
			eid, err := s.TypeByName("state", KindEnum, KindEnum64)
			if err != nil {
				t.Fatal(err)
			}
			vs, err := s.EnumValues(eid)
			if err != nil || len(vs) != 2 || int64(vs[0].Value) != -1 || vs[1].Value != 4 {
				t.Errorf("EnumValues(state) = %+v, %v", vs, err)
			}
			eid, err = s.TypeByName("big", KindEnum, KindEnum64)
			if err != nil {
				t.Fatal(err)
			}
			if vs, err := s.EnumValues(eid); err != nil || vs[0].Value != 1<<40 {
				t.Errorf("EnumValues(big) = %+v, %v", vs, err)
			}
			if _, err := s.TypeByName("dup", KindStruct); !errors.Is(err, ErrMultiple) {
				t.Errorf("TypeByName(dup) = %v, want ErrMultiple", err)
			}
			if _, err := s.TypeByName("nothing", KindStruct, KindUnion); !errors.Is(err, ErrNotFound) {
				t.Errorf("TypeByName(nothing) = %v, want ErrNotFound", err)
			}
			if _, err := s.Members(1); err == nil {
				t.Error("Members(int) succeeded")
			}
		})
	}
}

func TestBitfieldMembers(t *testing.T) {
	b := newBuilder(binary.LittleEndian)
	b.typ("int", KindInt, 0, false, 4)
	b.u32(32)
	b.typ("flags", KindStruct, 2, true, 4)
	b.u32(b.str("x"), 1, 3<<24) // 3 bits at bit 0
	b.u32(b.str("y"), 1, 5<<24|3)
	s, err := Parse(b.blob())
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.Members(2)
	if err != nil {
		t.Fatal(err)
	}
	if ms[0] != (Member{"x", 1, 0, 3}) || ms[1] != (Member{"y", 1, 3, 5}) {
		t.Errorf("Members = %+v", ms)
	}
}

// TestMalformed: each blob is refused by Parse or by the lookup that
// reads the bad part, with an error, never a panic.
func TestMalformed(t *testing.T) {
	good := sample(binary.LittleEndian)
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cycle := newBuilder(binary.LittleEndian)
	cycle.typ("a", KindTypedef, 0, false, 2)
	cycle.typ("b", KindTypedef, 0, false, 1)
	badName := newBuilder(binary.LittleEndian)
	badName.typ("s", KindStruct, 1, false, 4)
	badName.u32(999, 0, 0)
	tests := []struct {
		name  string
		blob  []byte
		parse bool // Parse refuses it (else a lookup does)
	}{
		{"empty", nil, true},
		{"bad magic", mutate(func(b []byte) []byte { b[0] = 0; return b }), true},
		{"version 2", mutate(func(b []byte) []byte { b[2] = 2; return b }), true},
		{"hdr_len past the end", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 1<<30); return b }), true},
		{"type section past the end", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 1<<30); return b }), true},
		{"strings past the end", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[16:], 0xfffffff0); return b }), true},
		{"strings not NUL-terminated", mutate(func(b []byte) []byte { b[len(b)-1] = 'x'; return b }), true},
		{"truncated", good[:len(good)-40], true},
		{"vlen past the section", mutate(func(b []byte) []byte { b[24+16+4] = 0xff; return b }), true},
		{"unknown kind", mutate(func(b []byte) []byte { b[24+7] = 30; return b }), true},
		{"typedef cycle", cycle.blob(), false},
		{"member name past the strings", badName.blob(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.blob)
			if tt.parse {
				if err == nil {
					t.Fatal("Parse succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if _, err := s.Resolve(1); err == nil && tt.name == "typedef cycle" {
				t.Error("Resolve of a typedef cycle succeeded")
			}
			if _, err := s.Members(1); err == nil && tt.name == "member name past the strings" {
				t.Error("Members with a bad name offset succeeded")
			}
		})
	}
}

// TestHostBTF parses the running kernel's BTF and finds what an analysis
// asks for; the analyzer's tests compare every type with cilium/ebpf's
// reading of the crash dumps' blobs.
func TestHostBTF(t *testing.T) {
	raw, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	if err != nil {
		t.Skipf("no host BTF: %v", err)
	}
	s, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.TypeByName("task_struct", KindStruct)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.Members(id)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range ms {
		found = found || m.Name == "pid"
	}
	if !found {
		t.Error("task_struct has no member pid")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample(binary.LittleEndian))
	f.Add(sample(binary.BigEndian))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := Parse(raw)
		if err != nil {
			return
		}
		for id := TypeID(1); int(id) <= s.NumTypes() && id < 64; id++ {
			s.Type(id)
			s.Resolve(id)
			s.Members(id)
			s.Array(id)
			s.EnumValues(id)
		}
		s.TypeByName("task", KindStruct, KindUnion)
		s.TypeByName("state", KindEnum, KindEnum64)
	})
}
