package vmcore_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// TestCorpusHeaders opens every real dump and checks what it says about
// itself against the raw capture's VMCOREINFO (ref/vmcoreinfo.txt).
func TestCorpusHeaders(t *testing.T) {
	for _, dc := range corpus.All(t) {
		t.Run(dc.Label(), func(t *testing.T) {
			d, err := vmcore.Open(dc.Files...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			want, ok := dc.ReadRef("vmcoreinfo.txt")
			if !ok {
				t.Skip("no vmcoreinfo.txt reference")
			}
			if d.Info == nil {
				t.Fatal("no VMCOREINFO")
			}
			if !bytes.Equal(bytes.TrimRight(d.Info.Raw(), "\n"), bytes.TrimRight(want, "\n")) {
				t.Errorf("VMCOREINFO differs from the reference")
			}
			if d.Arch != vmcore.ArchX86_64 || d.PageSize != 4096 {
				t.Errorf("arch %s page size %d", d.Arch, d.PageSize)
			}
			if len(d.CPUs) == 0 {
				t.Errorf("no NT_PRSTATUS notes")
			}
			for _, c := range d.CPUs {
				// A CPU stopped in the kernel has a kernel rip; one stopped
				// in user space says so in its code segment's privilege level.
				rip, _ := c.Reg("rip")
				cs, _ := c.Reg("cs")
				if kernel := rip >= 0xffff800000000000; kernel != (cs&3 == 0) {
					t.Errorf("cpu note %d: rip %#x with cs %#x", c.Index, rip, cs)
				}
			}
			if _, err := d.PageCounts(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCorpusFormatsAgree reads the same crash in each of its formats and
// checks that every page the kdump-compressed file holds reads the same
// everywhere (or is consistently absent).
func TestCorpusFormatsAgree(t *testing.T) {
	byDir := map[string][]corpus.Dump{}
	var dirs []string
	for _, dc := range corpus.All(t) {
		if byDir[dc.Dir] == nil {
			dirs = append(dirs, dc.Dir)
		}
		byDir[dc.Dir] = append(byDir[dc.Dir], dc)
	}
	for _, dir := range dirs {
		var base *corpus.Dump
		for i, dc := range byDir[dir] {
			if dc.Format == "kdump-zlib" {
				base = &byDir[dir][i]
			}
		}
		if base == nil {
			continue
		}
		ref, err := vmcore.Open(base.Files...)
		if err != nil {
			t.Fatal(err)
		}
		for _, dc := range byDir[dir] {
			if dc.Format == base.Format || dc.Format == "kdump-zlib-d31-misfiltered" {
				continue
			}
			t.Run(dc.Label(), func(t *testing.T) {
				d, err := vmcore.Open(dc.Files...)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				if d.Format == vmcore.FormatELF && dc.Format != "elf-d31" {
					t.Skip("not a makedumpfile conversion of the same capture")
				}
				compared, err := comparePages(ref, d)
				if err != nil {
					t.Fatal(err)
				}
				if compared == 0 {
					t.Fatal("no page compared")
				}
			})
		}
		ref.Close()
	}
}

// comparePages compares every 5th dumped page of ref with d.
func comparePages(ref, d *vmcore.Dump) (int, error) {
	a := make([]byte, ref.PageSize)
	b := make([]byte, ref.PageSize)
	n := 0
	for pfn := uint64(0); pfn < ref.Header.MaxPFN; pfn += 5 {
		errA := ref.ReadPhys(a, pfn*uint64(len(a)))
		if errA != nil {
			continue
		}
		if err := d.ReadPhys(b, pfn*uint64(len(b))); err != nil {
			if (errors.Is(err, vmcore.ErrHole) || errors.Is(err, vmcore.ErrExcluded)) && !bytes.ContainsFunc(a, func(r rune) bool { return r != 0 }) {
				// A zero page: kdump files keep it (as the shared zero
				// page), ELF output and dumps converted from ELF leave it out.
				continue
			}
			return n, fmt.Errorf("pfn %#x: in the reference dump but %v", pfn, err)
		}
		if !bytes.Equal(a, b) {
			return n, fmt.Errorf("pfn %#x differs", pfn)
		}
		n++
	}
	return n, nil
}
