package analyzer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// vmlinuxFor returns the DWARF vmlinux that testdata/corpus/make.sh unpacks
// for a kernel release, or skips the test.
func vmlinuxFor(t *testing.T, release string) string {
	p := filepath.Join(corpus.RepoRoot(), ".cache", "kernels", release, "usr", "lib", "debug", "boot", "vmlinux-"+release)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no DWARF vmlinux for %s (testdata/corpus/make.sh unpacks it)", release)
	}
	return p
}

// openWithVmlinux opens a corpus dump and its DWARF vmlinux (or skips the
// test), both closed when the test ends.
func openWithVmlinux(t *testing.T, dc corpus.Dump) (*vmcore.Dump, *analyzer.Vmlinux) {
	d, err := vmcore.Open(dc.Files...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	v, err := analyzer.OpenVmlinux(vmlinuxFor(t, d.Info.OSRelease()), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return d, v
}

// TestDWARFBacktracesMatchDrgn: with the DWARF vmlinux, every CPU's trace
// has drgn's frames by name, inlined ones included and marked, in order.
func TestDWARFBacktracesMatchDrgn(t *testing.T) {
	kernelDumps(t, func(t *testing.T, dc corpus.Dump, _ *analyzer.Kernel) {
		b, ok := dc.ReadRef("drgn-frames.json")
		if !ok {
			t.Skip("no drgn frames reference")
		}
		d, v := openWithVmlinux(t, dc)
		k, err := analyzer.OpenKernelWithVmlinux(d, v, "")
		if err != nil {
			t.Fatal(err)
		}
		var ref struct {
			CPUs []struct {
				CPU    int
				Frames []struct {
					Name   string
					Inline bool
				}
			}
		}
		json.Unmarshal(b, &ref)
		bts, _, err := k.CPUBacktraces()
		if err != nil {
			t.Fatal(err)
		}
		for _, rc := range ref.CPUs {
			var want, got []string
			for _, f := range rc.Frames {
				if strings.HasPrefix(f.Name, "0x") {
					continue // the user-space pc
				}
				want = append(want, f.Name+map[bool]string{true: "(inline)"}[f.Inline])
			}
			for _, bt := range bts {
				if bt.CPU != rc.CPU {
					continue
				}
				for _, f := range bt.Frames {
					if f.User || !f.Reliable {
						continue
					}
					if !f.Inline && f.File == "" && f.Module == "" && !strings.HasPrefix(f.Function, "entry_") && !strings.HasPrefix(f.Function, "secondary_startup") {
						t.Errorf("CPU %d: frame %s has no file:line", rc.CPU, f.Function) // asm entry code has no DWARF
					}
					name := f.Function
					if f.Module != "" {
						// No module debuginfo yet: drgn names the function
						// from the .ko's DWARF, we from its symbol table.
						name, _, _ = strings.Cut(name, ".")
					}
					got = append(got, name+map[bool]string{true: "(inline)"}[f.Inline])
				}
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("CPU %d:\n got %v\nwant %v", rc.CPU, got, want)
			}
		}
	})
}

// TestWrongVmlinuxRefused: a vmlinux of another build is refused with a
// message naming both build-ids.
func TestWrongVmlinuxRefused(t *testing.T) {
	dc := corpus.Find(corpus.Committed())
	if len(dc) == 0 {
		t.Fatal("no committed fixture")
	}
	d, err := vmcore.Open(dc[0].Files...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	self, err := os.Executable() // an ELF with a build-id that is surely not the kernel's
	if err != nil {
		t.Skip(err)
	}
	v, err := analyzer.OpenVmlinux(self, "")
	if err != nil {
		t.Skip(err)
	}
	defer v.Close()
	if v.BuildID == "" {
		t.Skip("test binary has no GNU build-id")
	}
	_, err = analyzer.OpenKernelWithVmlinux(d, v, "")
	if !errors.Is(err, analyzer.ErrBuildIDMismatch) || !strings.Contains(err.Error(), d.Info.BuildID()) {
		t.Errorf("err = %v", err)
	}
	// The analysis falls back to the dump's BTF and says why.
	a := analyzer.Analyze(context.Background(), d, analyzer.Options{Vmlinux: v})
	if a.Debuginfo.Source != analysis.SourceBTF || !strings.Contains(strings.Join(a.Warnings, "\n"), "build-id") {
		t.Errorf("source %s, warnings %v", a.Debuginfo.Source, a.Warnings)
	}
}

// TestXZVmlinux opens an xz-compressed ELF (as .ko.xz and xz'd debuginfo
// ship) and reads the same build-id as the plain file.
func TestXZVmlinux(t *testing.T) {
	self, err := exec.LookPath("true") // a small ELF with a build-id
	if err != nil {
		if self, err = os.Executable(); err != nil {
			t.Skip(err)
		}
	}
	plain, err := analyzer.OpenVmlinux(self, "")
	if err != nil {
		t.Skip(err)
	}
	defer plain.Close()
	raw, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw)
	w.Close()
	p := filepath.Join(t.TempDir(), "vmlinux.xz")
	os.WriteFile(p, b.Bytes(), 0o644)
	v, err := analyzer.OpenVmlinux(p, "")
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.BuildID != plain.BuildID {
		t.Errorf("xz build-id %q, plain %q", v.BuildID, plain.BuildID)
	}
	if _, err := analyzer.OpenVmlinux(filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Errorf("a missing file opened")
	}
}
