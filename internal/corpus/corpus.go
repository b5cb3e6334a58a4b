// Package corpus enumerates the real crash dumps tests run against: the
// fixtures committed under testdata/dumps, the starter dumps in
// ../shared/corpus, and the generated corpus under .cache/corpus (made by
// testdata/corpus/make.sh). Each dump directory is
// <kernel release>/<scenario>/ holding vmcore.<format> files and a ref/
// directory with the reference tools' outputs.
package corpus

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Dump is one real dump in one format.
type Dump struct {
	Root     string   // corpus root it was found under
	Kernel   string   // kernel release, e.g. "6.1.0-56-amd64"
	Scenario string   // e.g. "sysrq-c"
	Format   string   // file suffix: "kdump-zlib", "flat", "elf-d31", "split", "qemu-snappy", ...
	Dir      string   // the scenario directory
	Files    []string // the dump's files (several for a split dump)
}

// Name is kernel/scenario/format, unique within a root.
func (d Dump) Name() string { return d.Kernel + "/" + d.Scenario + "/" + d.Format }

// Label is Name prefixed by where the dump comes from ("fixture",
// "shared", "generated" or the root's path), unique across roots.
func (d Dump) Label() string {
	root := d.Root
	switch {
	case root == Committed():
		root = "fixture"
	case filepath.Base(root) == "corpus" && filepath.Base(filepath.Dir(root)) == "shared":
		root = "shared"
	case filepath.Base(root) == "corpus" && filepath.Base(filepath.Dir(root)) == ".cache":
		root = "generated"
	}
	return root + ":" + d.Name()
}

// Ref returns the path of a reference output such as "dmesg.makedumpfile.txt".
func (d Dump) Ref(name string) string { return filepath.Join(d.Dir, "ref", name) }

// ReadRef reads a reference output, or reports ok=false when it is absent
// or records the reference tool's failure (the generator writes "ERROR: …"
// or crash's "crash produced no output" in place of the output), or when
// it is a crash table of a session that broke (crashBroke).
func (d Dump) ReadRef(name string) ([]byte, bool) {
	b, err := os.ReadFile(d.Ref(name))
	if err != nil || bytes.HasPrefix(b, []byte("ERROR")) || bytes.Contains(b[:min(len(b), 200)], []byte("crash produced no output")) {
		return nil, false
	}
	if build, _, ok := strings.Cut(name, "-"); ok && strings.HasPrefix(build, "crash") && !strings.HasSuffix(name, "-session.log") && d.crashBroke(build) {
		return nil, false
	}
	return b, true
}

// crashNewestKernel is the newest kernel series each crash release was
// made for. On a later kernel a crash reads structures whose layout it
// does not know: Debian 12's 8.0.2 (November 2022) on 6.12 prints tables
// with wrong slab counts and empty CPU traces, and crashes in gdb on some
// dumps and not on others.
var crashNewestKernel = map[string][2]int{"8.0.2": {6, 1}, "8.0.6": {6, 13}}

// crashBroke says whether a crash build's session on the dump is no
// reference: its gdb crashed, the generator stopped it (CRASH_TIMEOUT), or
// the kernel is newer than the crash release knows (crashNewestKernel).
func (d Dump) crashBroke(build string) bool {
	p := d.Ref(build + "-session.log")
	if v, ok := brokenSessions.Load(p); ok {
		return v.(bool) // every table of a session asks: decide once
	}
	broke := d.crashTooOld(build)
	if !broke {
		log, err := os.ReadFile(p)
		broke = err == nil && (bytes.Contains(log, []byte("<segmentation violation in gdb>")) || bytes.Contains(log, []byte("crash session stopped after")))
	}
	brokenSessions.Store(p, broke)
	return broke
}

// crashTooOld says whether ref/tools.txt names the crash build's release
// ("crash806: Debian 13 crash 8.0.6-1") and the dump's kernel is a later
// series than it knows.
func (d Dump) crashTooOld(build string) bool {
	tools, err := os.ReadFile(d.Ref("tools.txt"))
	if err != nil {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(d.Kernel, "%d.%d", &major, &minor); err != nil {
		return false
	}
	for _, l := range strings.Split(string(tools), "\n") {
		name, desc, ok := strings.Cut(l, ": ")
		if !ok || name != build {
			continue
		}
		for v, newest := range crashNewestKernel {
			if strings.Contains(desc, "crash "+v) {
				return major > newest[0] || major == newest[0] && minor > newest[1]
			}
		}
	}
	return false
}

// brokenSessions caches crashBroke by session log path.
var brokenSessions sync.Map

// RepoRoot is the directory holding go.mod.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Roots lists the corpus roots that exist: testdata/dumps, ../shared/corpus,
// .cache/corpus, and any in $VMCORE_CORPUS (colon-separated).
func Roots() []string {
	root := RepoRoot()
	cands := []string{
		filepath.Join(root, "testdata", "dumps"),
		filepath.Join(root, "..", "shared", "corpus"),
		filepath.Join(root, ".cache", "corpus"),
	}
	if env := os.Getenv("VMCORE_CORPUS"); env != "" {
		cands = append(cands, filepath.SplitList(env)...)
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range cands {
		abs, err := filepath.Abs(c)
		if err != nil || seen[abs] {
			continue
		}
		if st, err := os.Stat(abs); err == nil && st.IsDir() {
			seen[abs] = true
			out = append(out, abs)
		}
	}
	return out
}

// KernelFile is the path of a file of a kernel's -dbg package (name
// "vmlinux" or "System.map"): where testdata/corpus/make.sh unpacks it, or
// committed beside the fixtures (the System.map of a kernel whose
// kallsyms lacks data symbols, so CI tests it); "" when it is in neither.
func KernelFile(release, name string) string {
	for _, p := range []string{
		filepath.Join(RepoRoot(), ".cache", "kernels", release, "usr", "lib", "debug", "boot", name+"-"+release),
		filepath.Join(Committed(), release, name+"-"+release),
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Committed is the root of the fixtures committed with the code; tests
// require it so that they always exercise real dumps.
func Committed() string { return filepath.Join(RepoRoot(), "testdata", "dumps") }

// Find returns every dump under the given roots, sorted by root then name.
func Find(roots ...string) []Dump {
	var out []Dump
	for _, root := range roots {
		scen, _ := filepath.Glob(filepath.Join(root, "*", "*"))
		for _, dir := range scen {
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				continue
			}
			kernel := filepath.Base(filepath.Dir(dir))
			files, _ := filepath.Glob(filepath.Join(dir, "vmcore.*"))
			var split []string
			for _, f := range files {
				format := strings.TrimPrefix(filepath.Base(f), "vmcore.")
				switch {
				case strings.HasPrefix(format, "split-"):
					split = append(split, f)
					continue
				case format == "elf": // the raw capture, kept only on request
				case strings.HasSuffix(format, ".md"), strings.HasSuffix(format, ".txt"):
					continue
				}
				out = append(out, Dump{Root: root, Kernel: kernel, Scenario: filepath.Base(dir), Format: format, Dir: dir, Files: []string{f}})
			}
			if len(split) > 0 {
				sort.Strings(split)
				out = append(out, Dump{Root: root, Kernel: kernel, Scenario: filepath.Base(dir), Format: "split", Dir: dir, Files: split})
			}
		}
	}
	return out
}

// All returns every dump in every root. It fails the test when the committed
// fixtures are missing, so a checkout without them cannot pass silently.
func All(t testing.TB) []Dump {
	t.Helper()
	if len(Find(Committed())) == 0 {
		t.Fatalf("no committed fixture dumps under %s", Committed())
	}
	return Find(Roots()...)
}

// Fixture returns the first committed kdump-compressed (zlib) dump, the
// one tests derive variants from; it fails the test when there is none.
func Fixture(t testing.TB) Dump {
	t.Helper()
	for _, dc := range Find(Committed()) {
		if dc.Format == "kdump-zlib" {
			return dc
		}
	}
	t.Fatalf("no committed kdump-zlib fixture under %s", Committed())
	return Dump{}
}

// formatPreference orders the formats OnePerCrash picks from: the
// kdump-compressed file the tools made, else any ELF (kernels whose
// dumps makedumpfile cannot convert keep only the raw capture).
var formatPreference = []string{"kdump-zlib", "kdump-lzo", "elf-d31", "flat", "elf"}

// OnePerCrash keeps one dump of each crash (scenario directory), in the
// preferred format, in order of first appearance.
func OnePerCrash(dumps []Dump) []Dump {
	rank := func(f string) int {
		for i, p := range formatPreference {
			if p == f {
				return i
			}
		}
		return len(formatPreference)
	}
	best := map[string]int{}
	var order []string
	for i, d := range dumps {
		j, ok := best[d.Root+d.Dir]
		if !ok {
			order = append(order, d.Root+d.Dir)
			best[d.Root+d.Dir] = i
			continue
		}
		if rank(d.Format) < rank(dumps[j].Format) {
			best[d.Root+d.Dir] = i
		}
	}
	out := make([]Dump, 0, len(order))
	for _, k := range order {
		out = append(out, dumps[best[k]])
	}
	return out
}
