package elfdump_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"testing"

	"github.com/vmcore/vmcore/elfdump"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/internal/dumpwrite"
)

// seedNotes returns real ELF note blobs: NT_PRSTATUS and VMCOREINFO notes
// rebuilt from the corpus' reference VMCOREINFO.
func seedNotes(f *testing.F) [][]byte {
	var out [][]byte
	for _, dc := range corpus.Find(corpus.Roots()...) {
		vi, ok := dc.ReadRef("vmcoreinfo.txt")
		if !ok {
			continue
		}
		out = append(out, dumpwrite.EncodeNotes([]dumpwrite.Note{
			{Name: "CORE", Type: elfdump.NT_PRSTATUS, Desc: make([]byte, 336)},
			{Name: elfdump.NoteVMCOREINFO, Desc: vi},
		}))
		break
	}
	return out
}

func FuzzParseNotes(f *testing.F) {
	for _, s := range seedNotes(f) {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		notes, _ := elfdump.ParseNotes(b, binary.LittleEndian, 0)
		for _, n := range notes {
			if len(n.Desc) > elfdump.MaxNote || int(n.Off) > len(b) {
				t.Fatalf("note %+v escapes its %d-byte segment", n.Off, len(b))
			}
			if n.Type == elfdump.NT_PRSTATUS {
				if p, err := elfdump.ParsePRStatus(n, elf.EM_X86_64, binary.LittleEndian); err == nil && len(p.Regs) != 27 {
					t.Fatalf("x86_64 prstatus with %d registers", len(p.Regs))
				}
			}
		}
	})
}

func FuzzNewCore(f *testing.F) {
	notes := []dumpwrite.Note{{Name: "CORE", Type: elfdump.NT_PRSTATUS, Desc: make([]byte, 336)}}
	segs := []dumpwrite.Segment{{Paddr: 0x1000, Vaddr: 0xffff888000001000, Data: make([]byte, 64)}}
	f.Add(dumpwrite.ELF(notes, segs, dumpwrite.ELFOptions{}))
	f.Add(dumpwrite.ELF(notes, segs, dumpwrite.ELFOptions{ForcePNXNUM: true}))
	for _, dc := range corpus.Find(corpus.Roots()...) {
		if dc.Format != "elf-d31" {
			continue
		}
		if b, err := readPrefix(dc.Files[0], 1<<16); err == nil {
			f.Add(b)
		}
		break
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := elfdump.NewCore(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		if len(c.Segments) > elfdump.MaxSegments {
			t.Fatalf("%d segments", len(c.Segments))
		}
	})
}

func readPrefix(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	k, _ := f.Read(b)
	return b[:k], nil
}
