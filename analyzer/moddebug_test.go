package analyzer

import (
	"debug/elf"
	"os/exec"
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
	var dc corpus.Dump
	for _, d := range corpus.Find(corpus.Committed()) {
		if d.Scenario == "module-null-deref" && d.Format == "kdump-zlib" {
			dc = d
		}
	}
	if dc.Dir == "" {
		t.Fatal("no module-null-deref fixture")
	}
	addr2line, err := exec.LookPath("addr2line")
	if err != nil {
		t.Skip("binutils' addr2line is the reference; not installed")
	}
	d, err := vmcore.Open(dc.Files...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	k, err := OpenKernel(d, "")
	if err != nil {
		t.Fatal(err)
	}
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
	k2, _ := OpenKernel(d, "")
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
