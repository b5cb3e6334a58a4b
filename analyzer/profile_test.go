package analyzer_test

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

func analyzeJSON(t testing.TB, files []string, profiles string) (map[string]json.RawMessage, *analysis.Document) {
	d, err := vmcore.Open(files...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a := analyzer.Analyze(context.Background(), d, analyzer.Options{ProfileDir: profiles})
	b, _ := json.Marshal(a)
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	delete(m, "steps")
	return m, a
}

// TestProfileWarmEqualsCold: the second analysis of a kernel build starts
// from the cached profile and gives the same document as the first; a
// damaged profile is ignored (cold start again), never trusted.
func TestProfileWarmEqualsCold(t *testing.T) {
	dir := t.TempDir()
	dc := corpus.Fixture(t)
	cold, ca := analyzeJSON(t, dc.Files, dir)
	profiles, _ := filepath.Glob(filepath.Join(dir, "*.profile"))
	if len(profiles) != 1 {
		t.Fatalf("profiles after a cold analysis: %v (warnings %v)", profiles, ca.Warnings)
	}
	warm, _ := analyzeJSON(t, dc.Files, dir)
	for k, v := range cold {
		if string(warm[k]) != string(v) {
			t.Errorf("warm analysis differs in %q", k)
		}
	}
	// Damage the profile: truncation and garbage are refused.
	b, _ := os.ReadFile(profiles[0])
	for _, bad := range [][]byte{b[:len(b)/2], append([]byte("garbage!"), b[8:]...), nil} {
		os.WriteFile(profiles[0], bad, 0o644)
		again, a := analyzeJSON(t, dc.Files, dir)
		if a.Debuginfo.Source != ca.Debuginfo.Source || string(again["backtraces"]) != string(cold["backtraces"]) {
			t.Errorf("a damaged profile changed the analysis")
		}
	}
}

// BenchmarkOpenKernel measures the start of introspection: cold (decode
// kallsyms, parse BTF) and warm (load the build's cached profile).
func BenchmarkOpenKernel(b *testing.B) {
	dc := corpus.Fixture(b)
	d, err := vmcore.Open(dc.Files...)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			if _, err := analyzer.OpenKernel(d, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		dir := b.TempDir()
		k, _ := analyzer.OpenKernel(d, dir)
		k.CPUBacktraces()
		k.SaveProfile()
		for b.Loop() {
			if _, err := analyzer.OpenKernel(d, dir); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("analyze-warm", func(b *testing.B) {
		o := analyzer.Options{ProfileDir: b.TempDir()}
		analyzer.Analyze(context.Background(), d, o)
		for b.Loop() {
			analyzer.Analyze(context.Background(), d, o)
		}
	})
}

// TestProfileDWARFWarmEqualsCold: with a DWARF vmlinux the build's profile
// holds the symbols, the type answers and the frames' DWARF locations; the
// warm analysis, which reads no DWARF for frames seen before, gives the
// same document as the cold one, file:line and inlined frames included.
func TestProfileDWARFWarmEqualsCold(t *testing.T) {
	dir := t.TempDir()
	dc := corpus.Fixture(t)
	analyse := func() (map[string]json.RawMessage, *analysis.Document) {
		d, v := openWithVmlinux(t, dc) // a fresh Kernel each time: the second starts from the profile
		a := analyzer.Analyze(context.Background(), d, analyzer.Options{Vmlinux: v, ProfileDir: dir})
		b, _ := json.Marshal(a)
		var m map[string]json.RawMessage
		json.Unmarshal(b, &m)
		delete(m, "steps")
		return m, a
	}
	cold, ca := analyse()
	if ca.Debuginfo.Source != analysis.SourceDWARF || !bytes.Contains(cold["backtraces"], []byte(`"file":`)) {
		t.Fatalf("cold analysis: source %s, no file:line in %.200s", ca.Debuginfo.Source, cold["backtraces"])
	}
	if _, err := os.Stat(filepath.Join(dir, ca.Dump.BuildID+".dwarf.profile")); err != nil {
		t.Fatalf("no DWARF profile after a cold analysis: %v", err)
	}
	warm, _ := analyse()
	for k, v := range cold {
		if string(warm[k]) != string(v) {
			t.Errorf("warm analysis differs in %q", k)
		}
	}
}

// TestNoDataSymbolsNoted: a build whose kallsyms lists no data symbols
// (Debian's 6.1 arm64) is noted in the profile directory, and its next
// dump gets the same answer without decoding kallsyms again.
func TestNoDataSymbolsNoted(t *testing.T) {
	var dc *corpus.Dump
	for _, d := range corpus.Find(corpus.Committed()) {
		if d.Kernel == "6.1.0-57-arm64" && d.Format == "kdump-zlib" {
			dc = &d
			break
		}
	}
	if dc == nil {
		t.Fatal("the 6.1 arm64 fixture is missing")
	}
	dir := t.TempDir()
	cold, ca := analyzeJSON(t, dc.Files, dir)
	if ca.Debuginfo.Source != analysis.SourceVMCOREINFO {
		t.Fatalf("source %s, want %s (no data symbols)", ca.Debuginfo.Source, analysis.SourceVMCOREINFO)
	}
	notes, _ := filepath.Glob(filepath.Join(dir, "*.nodata"))
	if len(notes) != 1 {
		t.Fatalf("notes after the first analysis: %v", notes)
	}
	warm, _ := analyzeJSON(t, dc.Files, dir)
	for k, v := range cold {
		if string(warm[k]) != string(v) {
			t.Errorf("the second analysis differs in %q:\n%s\n%s", k, v, warm[k])
		}
	}
	// The note is the build's only: another build still opens.
	if _, a := analyzeJSON(t, corpus.Fixture(t).Files, dir); a.Debuginfo.Source == analysis.SourceVMCOREINFO {
		t.Errorf("the amd64 fixture opened with %s: %v", a.Debuginfo.Source, a.Warnings)
	}
}

// TestProfileMappingsReleased: a kernel opened from a profile reads it in
// place, mapped; the mapping goes once the kernel is unreachable, so a
// worker analysing dump after dump keeps no more than a few.
func TestProfileMappingsReleased(t *testing.T) {
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		t.Skip("no /proc/self/maps")
	}
	dc := corpus.Fixture(t)
	d, err := vmcore.Open(dc.Files...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dir := t.TempDir()
	k, err := analyzer.OpenKernel(d, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SaveProfile(); err != nil {
		t.Fatal(err)
	}
	mapped := func() int {
		b, _ := os.ReadFile("/proc/self/maps")
		return bytes.Count(b, []byte(dir))
	}
	for range 20 {
		k, err := analyzer.OpenKernel(d, dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := k.Syms.Lookup("init_task"); !ok {
			t.Fatal("init_task not in the profile's symbols")
		}
	}
	if n := mapped(); n < 1 {
		t.Fatalf("the profile is not mapped (%d mappings)", n)
	}
	// Cleanups run in their own goroutine after the collection that finds
	// the tables unreachable: wait for them, however long that takes here.
	n := mapped()
	for i := 0; i < 500 && n > 2; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		n = mapped()
	}
	if n > 2 {
		t.Errorf("%d mappings of the profile left after 20 kernels went unreachable", n)
	}
}

// TestNoVMCOREINFOAnalysed: a dump without VMCOREINFO (QEMU's without its
// vmcoreinfo device) gets an analysis saying so, with a profile directory
// to consult: the note of builds without data symbols needs a build-id
// and a release, and must not be looked for without them.
func TestNoVMCOREINFOAnalysed(t *testing.T) {
	img := dumpwrite.ELF(nil, []dumpwrite.Segment{{Paddr: 0, Data: make([]byte, 1<<20)}}, dumpwrite.ELFOptions{Machine: elf.EM_X86_64})
	d, err := vmcore.NewReader(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	a := analyzer.Analyze(context.Background(), d, analyzer.Options{ProfileDir: t.TempDir()})
	if a.Debuginfo.Source != analysis.SourceVMCOREINFO || !slices.ContainsFunc(a.Warnings, func(w string) bool {
		return strings.Contains(w, "no VMCOREINFO to locate the kallsyms tables")
	}) {
		t.Errorf("source %s, warnings %q", a.Debuginfo.Source, a.Warnings)
	}
}
