package analyzer_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
)

// scenarioOops is what each corpus scenario's log must yield: the scenario
// defines the bug (testdata/corpus/crashmod), so these are facts.
var scenarioOops = map[string]struct{ typ, title, function string }{
	"sysrq-c":           {"panic", "kernel panic: sysrq triggered crash", "sysrq_handle_crash"},
	"lkdtm-exception":   {"NULL pointer dereference", "BUG: unable to handle kernel NULL pointer dereference in lkdtm_EXCEPTION", "lkdtm_EXCEPTION"},
	"module-null-deref": {"NULL pointer dereference", "BUG: unable to handle kernel NULL pointer dereference in crashmod_null_deref", "crashmod_null_deref"},
	"bug":               {"BUG", "kernel BUG in crashmod_bug", "crashmod_bug"},
	"panic":             {"panic", "kernel panic: crashmod: deliberate panic from module", "crashmod_panic"},
	"hung-task":         {"hung task", "INFO: task hung in crashmod_hung", "crashmod_hung"},
	"soft-lockup":       {"soft lockup", "BUG: soft lockup in crashmod_softlockup", "crashmod_softlockup"},
	"warn":              {"WARNING", "WARNING in crashmod_warn", "crashmod_warn"},
	"oom":               {"OOM panic", "kernel panic: Out of memory: system-wide panic_on_oom is enabled", ""},
}

// TestOopsCorpus parses every corpus dump's kernel log (makedumpfile's
// reference text, timestamps and all) and checks the report that explains
// the crash.
func TestOopsCorpus(t *testing.T) {
	seen := map[string]bool{}
	for _, dc := range corpus.All(t) {
		want, ok := scenarioOops[dc.Scenario]
		log, ok2 := dc.ReadRef("dmesg.makedumpfile.txt")
		if !ok || !ok2 || seen[dc.Dir] {
			continue
		}
		seen[dc.Dir] = true
		t.Run(dc.Label(), func(t *testing.T) {
			p := analyzer.PrimaryOops(analyzer.ParseOops(string(log)))
			if p == nil {
				t.Fatal("no report found")
			}
			if p.Type != want.typ || p.Title != want.title || p.Function != want.function || p.Corrupted {
				t.Errorf("got %q %q in %q (corrupted %v %s), want %q %q in %q", p.Type, p.Title, p.Function, p.Corrupted, p.Reason, want.typ, want.title, want.function)
			}
			if want.function != "" && len(p.Frames) == 0 {
				t.Errorf("no call trace frames")
			}
		})
	}
}

// TestOopsBadInput: empty, binary and huge inputs return promptly without a
// report; a report whose lines interleave with another CPU's is split by
// caller id, or marked corrupted.
func TestOopsBadInput(t *testing.T) {
	if r := analyzer.ParseOops(""); r != nil {
		t.Errorf("empty input: %v", r)
	}
	garbage := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range garbage {
		garbage[i] = byte(rng.IntN(256))
	}
	analyzer.ParseOops(string(garbage))
	big := strings.Repeat("[    1.000000] usb 1-1: new high-speed USB device number 2 using xhci_hcd\n", 1<<17) // ~10 MB
	if r := analyzer.ParseOops(big); r != nil {
		t.Errorf("a log without a crash gave %d reports", len(r))
	}

	interleaved := `[   10.000001][    C1] BUG: kernel NULL pointer dereference, address: 0000000000000000
[   10.000002][    C1] #PF: supervisor read access in kernel mode
[   10.000003][    C0] WARNING: CPU: 0 PID: 7 at fs/inode.c:100 iput+0x10/0x20
[   10.000004][    C1] RIP: 0010:foo_read+0x12/0x40 [foo]
[   10.000005][    C1] Call Trace:
[   10.000006][    C0] Call Trace:
[   10.000007][    C1]  <TASK>
[   10.000008][    C0]  evict+0x1/0x2
[   10.000009][    C1]  vfs_read+0x99/0x140
[   10.000010][    C1]  ksys_read+0x6b/0xf0
[   10.000011][    C1]  </TASK>
`
	r := analyzer.ParseOops(interleaved)
	if len(r) == 0 || r[0].Title != "BUG: unable to handle kernel NULL pointer dereference in foo_read" {
		t.Fatalf("interleaved: %+v", r)
	}
	for _, f := range r[0].Frames {
		if f.Function == "evict" {
			t.Errorf("CPU 0's frame in CPU 1's report")
		}
	}
	if !r[0].Corrupted {
		t.Errorf("an interleaved call trace is not marked corrupted")
	}
	// Cut right after the header: corrupted, with a reason.
	cut := analyzer.ParseOops("general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP\n")
	if len(cut) != 1 || !cut[0].Corrupted || cut[0].Title != "general protection fault" {
		t.Errorf("cut report: %+v", cut)
	}
	var buf bytes.Buffer
	for i := 0; i < 1000; i++ {
		buf.WriteString("Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b\n")
	}
	if r := analyzer.ParseOops(buf.String()); len(r) != 1000 || r[0].Title != "kernel panic: Attempted to kill init! exitcode=N" {
		t.Errorf("repeated panics: %d, %q", len(r), r[0].Title)
	}
}

func FuzzParseOops(f *testing.F) {
	for _, dc := range corpus.Find(corpus.Roots()...) {
		if b, ok := dc.ReadRef("oops-calltrace.txt"); ok {
			f.Add(string(b))
		}
		if len(dc.Files) > 0 {
			break
		}
	}
	f.Add("BUG: KASAN: use-after-free in foo+0x1/0x2\nRead of size 8 at addr x\nCall Trace:\n bar+0x1/0x2\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range analyzer.ParseOops(s) {
			if r.Title == "" || r.Lines[1] < r.Lines[0] {
				t.Fatalf("report without title or with bad lines: %+v", r)
			}
		}
	})
}
