package analyzer_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/report"
	"github.com/vmcore/vmcore/vmcore"
)

// Debuginfo tiers a test can open a kernel with.
const (
	tierKallsyms  = "kallsyms"   // BTF and kallsyms from the dump alone
	tierSystemMap = "system.map" // BTF and the System.map of the -dbg package
	tierDWARF     = "dwarf"      // the DWARF vmlinux of the -dbg package
)

var allTiers = []string{tierKallsyms, tierSystemMap, tierDWARF}

// kernelFile is corpus.KernelFile.
func kernelFile(release, name string) string { return corpus.KernelFile(release, name) }

// openTier opens a dump's kernel with one debuginfo tier; skip says the
// tier is not there for this kernel (no file unpacked, or a kernel whose
// kallsyms holds no data symbols, which needs one of the files).
func openTier(t *testing.T, d *vmcore.Dump, tier string) (k *analyzer.Kernel, skip string) {
	rel := d.Info.OSRelease()
	var err error
	switch tier {
	case tierKallsyms:
		k, err = analyzer.OpenKernel(d, "")
		if errors.Is(err, analyzer.ErrNoDataSymbols) {
			return nil, err.Error()
		}
	case tierSystemMap:
		p := kernelFile(rel, "System.map")
		if p == "" {
			return nil, "no System.map unpacked for " + rel
		}
		sm, oerr := analyzer.OpenSystemMap(p)
		if oerr != nil {
			t.Fatal(oerr)
		}
		k, err = analyzer.OpenKernelWithSystemMap(d, sm, "")
	case tierDWARF:
		p := kernelFile(rel, "vmlinux")
		if p == "" {
			return nil, "no DWARF vmlinux unpacked for " + rel
		}
		v, oerr := analyzer.OpenVmlinux(p, t.TempDir())
		if oerr != nil {
			t.Fatal(oerr)
		}
		t.Cleanup(func() { v.Close() })
		k, err = analyzer.OpenKernelWithVmlinux(d, v, "")
	}
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{tierKallsyms: "btf+kallsyms", tierSystemMap: analysis.SourceSystemMap, tierDWARF: analysis.SourceDWARF}[tier]; !strings.HasPrefix(k.Source, want) {
		t.Fatalf("tier %s opened with source %s", tier, k.Source)
	}
	return k, ""
}

// kernelDumps runs fn on one kdump-compressed dump per crash in the
// corpus, opened with every debuginfo tier the kernel has.
func kernelDumps(t *testing.T, fn func(t *testing.T, dc corpus.Dump, k *analyzer.Kernel)) {
	kernelDumpsWith(t, allTiers, fn)
}

// kernelDumpsWith is kernelDumps with the given tiers.
func kernelDumpsWith(t *testing.T, tiers []string, fn func(t *testing.T, dc corpus.Dump, k *analyzer.Kernel)) {
	for _, dc := range corpus.OnePerCrash(corpus.All(t)) {
		for _, tier := range tiers {
			t.Run(dc.Label()+"/"+tier, func(t *testing.T) {
				d, err := vmcore.Open(dc.Files...)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				k, skip := openTier(t, d, tier)
				if skip != "" {
					t.Skip(skip)
				}
				fn(t, dc, k)
			})
		}
	}
}

// TestTasksMatchDrgn compares the task list read with BTF and kallsyms
// with drgn's (drgn-ps.txt: PID PPID CPU TASK ST COMM for every task but
// the idle ones).
func TestTasksMatchDrgn(t *testing.T) {
	kernelDumps(t, func(t *testing.T, dc corpus.Dump, k *analyzer.Kernel) {
		ref, ok := dc.ReadRef("drgn-ps.txt")
		if !ok || strings.HasPrefix(string(ref), "ERROR") {
			t.Skip("no drgn ps reference")
		}
		tasks, warnings, err := k.Tasks()
		if err != nil {
			t.Fatal(err)
		}
		if len(warnings) > 0 {
			t.Errorf("warnings: %v", warnings)
		}
		var got []string
		for _, ts := range tasks {
			if !ts.Idle {
				got = append(got, fmt.Sprintf("%d %d %d %#x %s %s", ts.PID, ts.PPID, ts.CPU, ts.Addr, ts.State, ts.Comm))
			}
		}
		var want []string
		for _, l := range strings.Split(strings.TrimSpace(string(ref)), "\n")[1:] {
			want = append(want, strings.TrimSpace(l))
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("tasks differ from drgn's:\ngot  %d: %q\nwant %d: %q", len(got), got, len(want), want)
		}
		idle := 0
		for _, ts := range tasks {
			if ts.Idle {
				idle++
			}
		}
		if idle < 2 {
			t.Errorf("%d idle tasks", idle)
		}
	})
}

// TestModulesMatchDrgn compares the module list with drgn's (names, bases,
// sizes) and the sizes with crash's mod.
func TestModulesMatchDrgn(t *testing.T) {
	kernelDumps(t, func(t *testing.T, dc corpus.Dump, k *analyzer.Kernel) {
		mods, warnings, err := k.Modules()
		if err != nil || len(warnings) > 0 {
			t.Fatal(err, warnings)
		}
		var got []string
		for _, m := range mods {
			got = append(got, fmt.Sprintf("%s %#x %d", m.Name, m.Base, m.Size))
		}
		sort.Strings(got)
		// Every reference there is must agree: drgn 0.2's JSON, drgn
		// 0.0.22's NAME BASE SIZE table, crash's mod (which cannot read the
		// module memory of 6.12 and says so instead).
		refs := map[string][]string{}
		if b, ok := dc.ReadRef("drgn-frames.json"); ok {
			var ref struct {
				Modules []struct {
					Name string
					Base string
					Size uint64
				}
			}
			if err := json.Unmarshal(b, &ref); err != nil {
				t.Fatal(err)
			}
			for _, m := range ref.Modules {
				refs["drgn-frames.json"] = append(refs["drgn-frames.json"], fmt.Sprintf("%s %s %d", m.Name, m.Base, m.Size))
			}
		}
		if b, ok := dc.ReadRef("drgn-modules.txt"); ok {
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
				refs["drgn-modules.txt"] = append(refs["drgn-modules.txt"], strings.Join(strings.Fields(l), " "))
			}
		}
		if b, ok := dc.ReadRef("crash-mod.txt"); ok && strings.HasPrefix(string(b), "     MODULE") {
			for _, l := range strings.Split(string(b), "\n")[1:] {
				if f := strings.Fields(l); len(f) >= 4 {
					refs["crash-mod.txt"] = append(refs["crash-mod.txt"], fmt.Sprintf("%s 0x%s %s", f[1], f[2], f[3]))
				}
			}
		}
		if len(refs) == 0 {
			t.Skip("no module reference")
		}
		for name, want := range refs {
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("modules differ from %s:\ngot  %q\nwant %q", name, got, want)
			}
		}
	})
}

// TestModuleTaintsMatchOops: the kernel's own oops lists every module with
// its taint letters ("Modules linked in: crashmod(OE) virtio_blk ..."); the
// letters read from each struct module must be the same.
func TestModuleTaintsMatchOops(t *testing.T) {
	kernelDumps(t, func(t *testing.T, dc corpus.Dump, k *analyzer.Kernel) {
		log, ok := dc.ReadRef("dmesg.makedumpfile.txt")
		if !ok {
			t.Skip("no log reference")
		}
		var linked []string
		for _, r := range report.Parse(string(log)) {
			if len(r.Modules) > 0 {
				linked = r.Modules
				break
			}
		}
		if linked == nil {
			t.Skip("the kernel printed no module list")
		}
		mods, _, err := k.Modules()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, m := range mods {
			got[m.Name] = m.Taints
		}
		for _, l := range linked {
			name, taints, _ := strings.Cut(strings.TrimSuffix(l, ")"), "(")
			if name == "[last" || strings.HasPrefix(name, "unloaded:") {
				continue
			}
			if g, ok := got[name]; !ok || g != taints {
				t.Errorf("module %s: taints %q (found %v), the kernel printed %q", name, g, ok, taints)
			}
		}
	})
}

// TestSysMatchesDrgn: the sys summary's identity is the dump's utsname as
// drgn reads it (ref/drgn-sys.json), its CPUs drgn's online CPUs, and its
// tasks drgn's count plus one idle task per CPU, on every debuginfo tier;
// the utsname also reads from VMCOREINFO alone.
func TestSysMatchesDrgn(t *testing.T) {
	kernelDumps(t, func(t *testing.T, dc corpus.Dump, k *analyzer.Kernel) {
		b, ok := dc.ReadRef("drgn-sys.json")
		if !ok {
			t.Skip("no drgn sys reference")
		}
		var ref struct {
			Release, Version, Machine, Nodename string
			CPUs                                int
			Tasks                               int `json:"tasks_excluding_idle"`
		}
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatal(err)
		}
		tasks, _, err := k.Tasks()
		if err != nil {
			t.Fatal(err)
		}
		s := k.Sys(nil, tasks)
		if len(s.Warnings) > 0 {
			t.Errorf("warnings: %v", s.Warnings)
		}
		idle := 0
		for _, ts := range tasks {
			if ts.Idle {
				idle++
			}
		}
		got := fmt.Sprintf("%s|%s|%s|%s cpus %d tasks %d", s.Release, s.Version, s.Machine, s.Nodename, s.CPUs, s.Tasks-idle)
		want := fmt.Sprintf("%s|%s|%s|%s cpus %d tasks %d", ref.Release, ref.Version, ref.Machine, ref.Nodename, ref.CPUs, ref.Tasks)
		if got != want {
			t.Errorf("sys:\n got  %s\n want %s", got, want)
		}
		u, err := analyzer.Utsname(k.Dump)
		if err != nil || u.Release != ref.Release || u.Machine != ref.Machine || u.Nodename != ref.Nodename {
			t.Errorf("utsname from VMCOREINFO alone: %+v, %v", u, err)
		}
	})
}
