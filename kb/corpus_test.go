package kb

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// scenarioArticle is the article each corpus scenario must get first
// (testdata/corpus/README.md describes the scenarios; crashmod makes the
// crashes). The generator calls the panic_on_warn scenario "warn".
var scenarioArticle = map[string]string{
	"sysrq-c":           "sysrq-trigger-crash",
	"qemu-sysrq-c":      "sysrq-trigger-crash",
	"module-null-deref": "null-deref-out-of-tree-module",
	"bug":               "kernel-bug-at",
	"panic":             "panic-from-module",
	"hung-task":         "lock-deadlock-cycle", // crashmod takes its mutex twice: a cycle of one owner
	"soft-lockup":       "soft-lockup",
	"warn":              "panic-on-warn",
	"panic-on-warn":     "panic-on-warn",
	"oom":               "oom-panic-on-oom",
	"lkdtm-exception":   "lkdtm-test-crash",    // ../shared/corpus
	"hung-io":           "hung-task-panic",     // a task waiting on I/O, hung_task_panic=1
	"mutex-deadlock":    "lock-deadlock-cycle", // two tasks deadlocked on mutexes, hung_task_panic=1
	"oom-cgroup":        "oom-panic-on-oom",    // a memory cgroup's OOM with panic_on_oom=2
	"soft-lockup-runq":  "soft-lockup",         // a CPU spinning with its run queue lock held
}

// withoutSections is the article a scenario expects when its article
// needs findings and there are none to read: from its kernel log alone,
// or from a dump whose sections need symbols the test does not have. The
// log shows the deadlocked tasks as hung tasks; the cycle is only in the
// dump's locks.
var withoutSections = map[string]string{
	"hung-task":      "hung-task-panic",
	"mutex-deadlock": "hung-task-panic",
}

// articleFor is the article a scenario expects; a variant of a scenario
// run on another CPU ("sysrq-c-va48": arm64 without LPA2) expects the
// scenario's.
func articleFor(scenario string) (string, bool) {
	for s := scenario; ; {
		if a, ok := scenarioArticle[s]; ok {
			return a, true
		}
		i := strings.LastIndexByte(s, '-')
		if i < 0 {
			return "", false
		}
		s = s[:i]
	}
}

// scenarioDumps returns one dump per scenario directory (the kdump-zlib
// file when there is one: every format yields the same analysis, which the
// analyzer's own tests check), fixtures first.
func scenarioDumps(t testing.TB) []corpus.Dump {
	t.Helper()
	byDir := map[string]corpus.Dump{}
	var dirs []string
	for _, d := range corpus.All(t) {
		cur, seen := byDir[d.Dir]
		if !seen {
			dirs = append(dirs, d.Dir)
		}
		if !seen || d.Format == "kdump-zlib" && cur.Format != "kdump-zlib" {
			byDir[d.Dir] = d
		}
	}
	var out []corpus.Dump
	for _, dir := range dirs {
		out = append(out, byDir[dir])
	}
	return out
}

// scenarioDoc analyses a corpus dump as a user with the kernel's -dbg
// package would: from the dump's BTF and kallsyms, and when those cannot
// locate the kernel's data (no locks section: a kernel whose kallsyms
// lacks data symbols, or one before 6.0 whose VMCOREINFO does not locate
// its symbols) with its System.map, then its DWARF vmlinux, where the
// corpus has them.
func scenarioDoc(t testing.TB, d corpus.Dump) *analysis.Document {
	t.Helper()
	dump, err := vmcore.Open(d.Files...)
	if err != nil {
		t.Fatal(err)
	}
	defer dump.Close()
	a := analyzer.Analyze(context.Background(), dump, analyzer.Options{})
	rel := dump.Info.OSRelease()
	if p := corpus.KernelFile(rel, "System.map"); a.Locks == nil && p != "" {
		sm, err := analyzer.OpenSystemMap(p)
		if err != nil {
			t.Fatal(err)
		}
		a = analyzer.Analyze(context.Background(), dump, analyzer.Options{SystemMap: sm})
	}
	if p := corpus.KernelFile(rel, "vmlinux"); a.Locks == nil && p != "" {
		v, err := analyzer.OpenVmlinux(p, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		a = analyzer.Analyze(context.Background(), dump, analyzer.Options{Vmlinux: v})
	}
	return a
}

type scenarioLog struct {
	label, scenario, text string
}

// scenarioLogs returns the kernel log (makedumpfile --dump-dmesg) of every
// scenario that has a usable one: the committed fixtures always, the
// generated corpus when present.
func scenarioLogs(t testing.TB) []scenarioLog {
	t.Helper()
	var out []scenarioLog
	for _, d := range scenarioDumps(t) {
		b, ok := d.ReadRef("dmesg.makedumpfile.txt")
		if !ok || !strings.Contains(string(b), "Linux version") {
			continue // QEMU's ELF dumps: makedumpfile cannot read their log
		}
		out = append(out, scenarioLog{label: d.Label(), scenario: d.Scenario, text: string(b)})
	}
	if len(out) == 0 {
		t.Fatal("no scenario logs: the committed fixtures' ref/dmesg.makedumpfile.txt are missing")
	}
	return out
}

// TestScenarioDumps analyses every corpus scenario's dump and requires its
// article first, with evidence and a confident score: the fixtures always,
// the generated corpus when it is present.
func TestScenarioDumps(t *testing.T) {
	ix := builtinIndex(t)
	m := &Matcher{Index: ix}
	for _, d := range scenarioDumps(t) {
		want, ok := articleFor(d.Scenario)
		if !ok {
			t.Errorf("%s: scenario %q has no expected article: add it to scenarioArticle", d.Label(), d.Scenario)
			continue
		}
		t.Run(d.Label(), func(t *testing.T) {
			a := scenarioDoc(t, d)
			if w, ok := withoutSections[d.Scenario]; ok && a.Locks == nil {
				t.Logf("no locks section (%.200s): the log's article", strings.Join(a.Warnings, "; "))
				want = w
			}
			start := time.Now()
			sig := Signature(a)
			got, err := m.Match(a)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("signature %q, matched in %v", sig, time.Since(start))
			checkFirst(t, got, want)
		})
	}
}

// TestScenarioLogs matches each scenario's kernel log alone, as for a
// crash reported with dmesg and no dump: the same article must come first.
func TestScenarioLogs(t *testing.T) {
	m := &Matcher{Index: builtinIndex(t)}
	for _, c := range scenarioLogs(t) {
		t.Run(c.label, func(t *testing.T) {
			got, err := m.MatchLog(c.text)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := articleFor(c.scenario)
			if w, ok := withoutSections[c.scenario]; ok {
				want = w
			}
			checkFirst(t, got, want)
		})
	}
}

func checkFirst(t *testing.T, got []analysis.Suggestion, want string) {
	t.Helper()
	if len(got) == 0 {
		t.Fatalf("no suggestion; want %s", want)
	}
	for _, s := range got {
		t.Logf("%.3f %s %q", s.Confidence, s.ID, s.Evidence)
	}
	first := got[0]
	switch {
	case first.ID != want:
		t.Errorf("first suggestion %s (%.3f); want %s", first.ID, first.Confidence, want)
	case len(first.Evidence) == 0:
		t.Errorf("%s suggested without evidence", first.ID)
	case first.Confidence < 0.7 || first.Confidence > 1:
		t.Errorf("%s confidence %.3f, want a confident 0.7..1", first.ID, first.Confidence)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Confidence > got[i-1].Confidence {
			t.Errorf("suggestions not ranked: %s %.3f after %s %.3f", got[i].ID, got[i].Confidence, got[i-1].ID, got[i-1].Confidence)
		}
	}
}

// builtinIndex is BuiltinIndex, failing the test on error.
func builtinIndex(t testing.TB) *Index {
	t.Helper()
	ix, err := BuiltinIndex()
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// readOops reads one labelled report of testdata/oops: header fields, then
// the text after the first blank line.
func readOops(t testing.TB, path string) (map[string]string, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(b), "\n\n")
	hdr := map[string]string{}
	for _, l := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			hdr[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return hdr, body
}

func oopsFiles(t testing.TB) []string {
	t.Helper()
	return labelledFiles(t, "oops")
}

// labelledFiles lists the numbered reports of testdata/DIR, in order; a
// missing set fails the test.
func labelledFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(corpus.RepoRoot(), "testdata", dir, "[0-9]*.txt"))
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no labelled reports in testdata/%s", dir)
	}
	return files
}
