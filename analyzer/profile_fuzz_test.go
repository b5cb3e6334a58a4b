package analyzer

import (
	"testing"
)

// FuzzDecodeProfile: a cached profile is a file on disk that may be cut
// short or damaged; decoding must fail cleanly, never panic or allocate
// beyond the file.
func FuzzDecodeProfile(f *testing.F) {
	meta := profileMeta{BuildID: "0123456789abcdef", Source: SourceBTF, Types: profileTypes{
		Sizes: map[string]uint64{"task_struct": 9000}, Offsets: map[string]uint64{"task_struct.pid": 2416},
		Enums: map[string]int64{"MOD_TEXT": 0}, Missing: map[string]bool{"offset:x.y": true}}}
	syms := []Symbol{{Name: "_stext", Addr: 0xffffffff81000000, Type: 'T'}, {Name: "panic", Addr: 0xffffffff81a01cb0, Size: 100, Type: 'T'}}
	orc := newORCTable(appendORCRecord(appendORCRecord(nil, 0xffffffff81000000, orcEntry{spOffset: 8, spReg: orcRegSP, typ: orcCall}),
		0xffffffff81000010, orcEntry{typ: orcEndOfStack}), 0)
	b, err := encodeProfile(meta, newSymbolTable(syms, true), orc, kaslr{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ks, o, err := decodeProfile(b, kaslr{0x1000, 0xffffffff80000000})
		if err != nil {
			return
		}
		if m.Types.Sizes == nil || ks == nil {
			t.Fatal("decoded without tables")
		}
		ks.Lookup("panic")
		ks.Symbolize(0xffffffff81a01cb0)
		if o != nil {
			o.find(0xffffffff81000005)
		}
	})
}

// FuzzBTFTypes: the BTF blob comes from the dump's memory, so a hostile
// blob is an error, never a panic or a hang.
func FuzzBTFTypes(f *testing.F) {
	f.Add([]byte{0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ty, err := NewBTFTypes(b)
		if err != nil {
			return
		}
		ty.Size("task_struct")
		ty.Offset("task_struct", "pid")
		ty.Enum("MOD_TEXT")
	})
}
