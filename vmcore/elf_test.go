package vmcore_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/elfdump"
	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

// synthELFSegments lays out synthPages as makedumpfile -E would: a segment
// per run of dumped pages, zero pages as a p_filesz < p_memsz tail.
func synthELF(t testing.TB, opt dumpwrite.ELFOptions) []byte {
	t.Helper()
	page := func(pfn uint64) []byte {
		b := make([]byte, 4096)
		fillPage(pfn, b)
		return b
	}
	run := func(from, to uint64) []byte {
		var b []byte
		for p := from; p < to; p++ {
			b = append(b, page(p)...)
		}
		return b
	}
	segs := []dumpwrite.Segment{
		{Paddr: 0, Vaddr: 0xffff888000000000, Data: run(0, 10)},
		{Paddr: 16 * 4096, Vaddr: 0xffff888000000000 + 16*4096, Data: run(16, 20)},
		{Paddr: 30 * 4096, Vaddr: 0xffff888000000000 + 30*4096, Data: nil, Memsz: 4 * 4096},
		{Paddr: 34 * 4096, Vaddr: 0xffff888000000000 + 34*4096, Data: run(34, 64)},
	}
	vmcoreinfo := "OSRELEASE=6.99.0-synthetic\nPAGESIZE=4096\nNUMBER(phys_base)=0\nSYMBOL(init_top_pgt)=ffffffff81000000\n"
	return dumpwrite.ELF([]dumpwrite.Note{
		{Name: "CORE", Type: elf.NT_PRSTATUS, Desc: make([]byte, 336)},
		{Name: "CORE", Type: elf.NT_PRSTATUS, Desc: make([]byte, 336)},
		{Name: elfdump.NoteVMCOREINFO, Desc: []byte(vmcoreinfo)},
	}, segs, opt)
}

func TestELFDump(t *testing.T) {
	for _, pnxnum := range []bool{false, true} {
		d := openBytes(t, synthELF(t, dumpwrite.ELFOptions{ForcePNXNUM: pnxnum}))
		if d.Format != vmcore.FormatELF || d.Arch != vmcore.ArchX86_64 || len(d.CPUs) != 2 || d.Info == nil {
			t.Fatalf("PN_XNUM=%v: format %v arch %v cpus %d info %v", pnxnum, d.Format, d.Arch, len(d.CPUs), d.Info != nil)
		}
		page := make([]byte, 4096)
		want := make([]byte, 4096)
		for _, pfn := range []uint64{0, 9, 16, 19, 30, 33, 34, 63} {
			if err := d.ReadPhys(page, pfn*4096); err != nil {
				t.Fatalf("page %d: %v", pfn, err)
			}
			fillPage(pfn, want)
			if !bytes.Equal(page, want) {
				t.Errorf("page %d differs", pfn)
			}
		}
		for _, pfn := range []uint64{10, 15, 20, 29, 64} {
			if err := d.ReadPhys(page, pfn*4096); !errors.Is(err, vmcore.ErrHole) {
				t.Errorf("page %d: err = %v, want ErrHole", pfn, err)
			}
		}
		// A read spanning two segments with a hole between fails at the hole.
		if err := d.ReadPhys(make([]byte, 8192), 9*4096); !errors.Is(err, vmcore.ErrHole) {
			t.Errorf("read across a hole: %v", err)
		}
	}
}

func TestELFDamage(t *testing.T) {
	good := synthELF(t, dumpwrite.ELFOptions{})
	cases := []struct {
		name    string
		mutate  func([]byte) []byte
		openErr string
	}{
		{"short", func(b []byte) []byte { return b[:40] }, "shorter than the 64-byte"},
		{"not core", func(b []byte) []byte { b[16] = 2; return b }, "not ET_CORE"},
		{"32-bit", func(b []byte) []byte { b[4] = 1; return b }, "unsupported ELF class"},
		{"phnum huge", func(b []byte) []byte { b[56], b[57] = 0xfe, 0xff; return b }, "do not fit"},
		{"phentsize", func(b []byte) []byte { b[54] = 32; return b }, "program header size"},
		{"pnxnum without section", func(b []byte) []byte { b[56], b[57] = 0xff, 0xff; return b }, "PN_XNUM"},
		{"headers only", func(b []byte) []byte { return b[:64+5*56] }, "note segment"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(append([]byte(nil), good...))
			_, err := vmcore.NewReader(bytes.NewReader(b), int64(len(b)))
			if err == nil || !strings.Contains(err.Error(), c.openErr) {
				t.Fatalf("err = %v, want one containing %q", err, c.openErr)
			}
		})
	}
	// Cut in the page data: opens, marked incomplete, missing tail reads as a hole.
	b := good[:len(good)-3*4096]
	d, err := vmcore.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Header.Incomplete {
		t.Errorf("truncated ELF not marked incomplete")
	}
	if err := d.ReadPhys(make([]byte, 4096), 10*4096-4096); err != nil {
		t.Errorf("page before the cut: %v", err)
	}
}

// TestQEMUDumpMarked: a dump with QEMU's CPU state notes is marked as
// QEMU's (its NT_PRSTATUS notes are then every vCPU's registers, in
// order); a kdump ELF without them is not.
func TestQEMUDumpMarked(t *testing.T) {
	prstatus := make([]byte, 336) // x86_64 elf_prstatus
	for _, c := range []struct {
		qemu bool
	}{{false}, {true}} {
		notes := []dumpwrite.Note{{Name: elfdump.NoteCore, Type: elf.NT_PRSTATUS, Desc: prstatus},
			{Name: elfdump.NoteVMCOREINFO, Desc: []byte("OSRELEASE=6.99\nPAGESIZE=4096\n")}}
		if c.qemu {
			notes = append(notes, dumpwrite.Note{Name: "QEMU", Desc: make([]byte, 0x1b8)})
		}
		img := dumpwrite.ELF(notes, []dumpwrite.Segment{{Paddr: 0, Data: make([]byte, 4096)}}, dumpwrite.ELFOptions{Machine: elf.EM_X86_64})
		d, err := vmcore.NewReader(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatal(err)
		}
		if d.Header.QEMU != c.qemu || len(d.CPUs) != 1 {
			t.Errorf("QEMU note %v: Header.QEMU %v, %d CPUs", c.qemu, d.Header.QEMU, len(d.CPUs))
		}
	}
}
