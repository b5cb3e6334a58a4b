package analyzer

import (
	"debug/elf"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// TestModuleFrameLines gives the module frames of a real crash file:line
// from the module object's DWARF, and checks each against binutils'
// addr2line at the same section offset of the same object — the frames
// are in .text and in .text.unlikely, which both start at 0 in the object.
func TestModuleFrameLines(t *testing.T) {
	n := 0
	for _, dc := range corpus.Find(corpus.Committed()) {
		if dc.Scenario == "module-null-deref" && dc.Format == "kdump-zlib" {
			t.Run(dc.Label(), func(t *testing.T) { moduleFrameLines(t, dc) })
			n++
		}
	}
	if n == 0 {
		t.Fatal("no module-null-deref fixture")
	}
}

// openFixtureKernel opens a kernel from its dump, with the System.map
// committed beside the fixtures when its kallsyms lists no data symbols.
func openFixtureKernel(t *testing.T, d *vmcore.Dump) *Kernel {
	k, err := OpenKernel(d, "")
	if errors.Is(err, ErrNoDataSymbols) {
		rel := d.Info.OSRelease()
		var sm *SystemMap
		if sm, err = OpenSystemMap(filepath.Join(corpus.Committed(), rel, "System.map-"+rel)); err == nil {
			k, err = OpenKernelWithSystemMap(d, sm, "")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// addr2lines are binutils' addr2line for each architecture's objects (the
// host's does not relocate another's).
var addr2lines = map[vmcore.Arch]string{vmcore.ArchX86_64: "x86_64-linux-gnu-addr2line", vmcore.ArchAArch64: "aarch64-linux-gnu-addr2line"}

func moduleFrameLines(t *testing.T, dc corpus.Dump) {
	d, err := vmcore.Open(dc.Files...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	addr2line, err := exec.LookPath(addr2lines[d.Arch])
	if err != nil && d.Arch == vmcore.ArchX86_64 {
		addr2line, err = exec.LookPath("addr2line")
	}
	if err != nil {
		t.Skipf("binutils' addr2line for %s is the reference; not installed", d.Arch)
	}
	k := openFixtureKernel(t, d)
	k.ModuleDirs = []string{dc.Dir + "/ref"}
	ko := dc.Ref("crashmod.ko")
	f, err := elf.Open(ko)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	bts, _, err := k.CPUBacktraces()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, bt := range bts {
		for i, fr := range bt.Frames {
			if fr.Module != "crashmod" || fr.Inline {
				continue
			}
			lookup := fr.PC - 1 // a return address
			if i == 0 || fr.Regs != nil {
				lookup = fr.PC // the interrupted instruction
			}
			var sec string
			var off uint64
			for _, s := range syms {
				if s.Name == fr.Symbol && int(s.Section) < len(f.Sections) {
					sec, off = f.Sections[s.Section].Name, s.Value+(lookup-(fr.PC-fr.Offset))
				}
			}
			out, err := exec.Command(addr2line, "-e", ko, "-j", sec, strconv.FormatUint(off, 16)).Output()
			if err != nil {
				t.Fatal(err)
			}
			want, _, _ := strings.Cut(strings.TrimSpace(string(out)), " (")
			if got := fr.File + ":" + strconv.Itoa(fr.Line); got != want {
				t.Errorf("%s+%#x [%s]: %s, addr2line says %s", fr.Symbol, fr.Offset, sec, got, want)
			}
			checked++
		}
	}
	if checked < 3 {
		t.Fatalf("%d module frames checked, want the 3 of the oops", checked)
	}
	if w := k.ModuleWarnings(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	// Without the object the frames stay as they were, with a reason.
	k2 := openFixtureKernel(t, d)
	k2.ModuleDirs = []string{t.TempDir()}
	bts, _, _ = k2.CPUBacktraces()
	for _, bt := range bts {
		for _, fr := range bt.Frames {
			if fr.Module != "" && fr.File != "" {
				t.Errorf("file:line without module debuginfo: %+v", fr)
			}
		}
	}
	if w := k2.ModuleWarnings(); len(w) == 0 || !strings.Contains(w[0], "crashmod") {
		t.Errorf("no warning for the missing module debuginfo: %v", w)
	}
}
