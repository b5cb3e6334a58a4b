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
			{Name: "CORE", Type: elf.NT_PRSTATUS, Desc: make([]byte, 336)},
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
			if n.Type == elf.NT_PRSTATUS {
				checkPRStatus(t, n)
			}
		}
	})
}

// checkPRStatus parses a note as each machine's NT_PRSTATUS: it parses
// into the machine's register count or fails.
func checkPRStatus(t *testing.T, n elfdump.Note) {
	for m, names := range elfdump.RegisterNames {
		if p, err := elfdump.ParsePRStatus(n, m, binary.LittleEndian); err == nil && len(p.Regs) != len(names) {
			t.Fatalf("%v prstatus with %d registers", m, len(p.Regs))
		}
	}
}

// FuzzParsePRStatus decodes NT_PRSTATUS descriptors as every machine's
// (x86_64's 336 bytes, arm64's 392), seeded with the real notes of the
// corpus' dumps of both.
func FuzzParsePRStatus(f *testing.F) {
	seen := map[elf.Machine]bool{}
	for _, dc := range corpus.Find(corpus.Roots()...) {
		if dc.Format != "elf-d31" {
			continue
		}
		b, err := readPrefix(dc.Files[0], 1<<16)
		if err != nil {
			continue
		}
		c, err := elfdump.NewCore(bytes.NewReader(b), int64(len(b)))
		if err != nil || seen[c.Machine] {
			continue
		}
		seen[c.Machine] = true
		for _, n := range c.Notes {
			if n.Type == elf.NT_PRSTATUS {
				f.Add(n.Desc)
			}
		}
	}
	f.Add(make([]byte, 392))
	f.Fuzz(func(t *testing.T, desc []byte) {
		checkPRStatus(t, elfdump.Note{Name: elfdump.NoteCore, Type: elf.NT_PRSTATUS, Desc: desc})
	})
}

func FuzzNewCore(f *testing.F) {
	notes := []dumpwrite.Note{{Name: "CORE", Type: elf.NT_PRSTATUS, Desc: make([]byte, 336)}}
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
