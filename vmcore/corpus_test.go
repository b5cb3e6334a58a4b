package vmcore_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
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
			if want := flavourArch(dc.Kernel); d.Arch != want || d.PageSize != d.Info.PageSize() {
				t.Errorf("arch %s page size %d, want %s and VMCOREINFO's %d", d.Arch, d.PageSize, want, d.Info.PageSize())
			}
			if len(d.CPUs) == 0 {
				t.Errorf("no NT_PRSTATUS notes")
			}
			mode := cpuModes[d.Arch]
			for _, c := range d.CPUs {
				// A CPU stopped in the kernel has a kernel pc; one stopped
				// in user space says so in its privilege level.
				pc, _ := c.Reg(mode.pc)
				level, _ := c.Reg(mode.level)
				if kernel := pc >= 0xffff000000000000; kernel != mode.kernel(level) {
					t.Errorf("cpu note %d: %s %#x with %s %#x", c.Index, mode.pc, pc, mode.level, level)
				}
			}
			if _, err := d.PageCounts(); err != nil {
				t.Error(err)
			}
		})
	}
}

// flavourArch is the architecture of a Debian kernel flavour
// ("6.1.0-56-amd64", "6.12.118+deb13-arm64-16k").
func flavourArch(release string) vmcore.Arch {
	for flavour, arch := range map[string]vmcore.Arch{"-amd64": vmcore.ArchX86_64, "-arm64": vmcore.ArchAArch64} {
		if strings.Contains(release, flavour) {
			return arch
		}
	}
	return ""
}

// cpuModes says, per architecture, which saved register holds the pc and
// which the privilege level, and what level is the kernel's.
var cpuModes = map[vmcore.Arch]struct {
	pc, level string
	kernel    func(uint64) bool
}{
	vmcore.ArchX86_64:  {"rip", "cs", func(cs uint64) bool { return cs&3 == 0 }},
	vmcore.ArchAArch64: {"pc", "pstate", func(pstate uint64) bool { return pstate>>2&3 != 0 }}, // PSTATE.EL
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
