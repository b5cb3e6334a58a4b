package kb

import (
	"math/rand"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestMatchEmpty(t *testing.T) {
	m := &Matcher{Index: builtinIndex(t)}
	for _, text := range []string{"", "\n\n\n", "   ", "\x00"} {
		got, err := m.MatchLog(text)
		if err != nil || len(got) != 0 {
			t.Errorf("log %q: %v, %v", text, got, err)
		}
	}
	got, err := m.Match(nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("nil analysis: %v, %v", got, err)
	}
	if s := Signature(nil); s != "unknown crash" {
		t.Errorf("Signature(nil) = %q", s)
	}
	if _, err := (&Matcher{}).MatchLog("x"); err == nil {
		t.Error("a matcher without an index matched")
	}
}

// TestMatchBinaryGarbage feeds random bytes, random bytes with kernel
// words sprinkled in, and invalid UTF-8: nothing may panic, and nothing
// confident may come out of noise.
func TestMatchBinaryGarbage(t *testing.T) {
	m := &Matcher{Index: builtinIndex(t)}
	r := rand.New(rand.NewSource(6))
	for i := 0; i < 4; i++ {
		b := make([]byte, 1<<20)
		r.Read(b)
		if i%2 == 1 {
			for _, w := range []string{"Kernel panic - not syncing: ", "Call Trace:\n", " panic+0x1/0x2\n", "\nRIP: 0010:", "Tainted: G"} {
				p := r.Intn(len(b) - len(w))
				copy(b[p:], w)
			}
		}
		got, err := m.MatchLog(string(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			if s.Confidence > 0.7 {
				t.Errorf("garbage %d: confident suggestion %s %.3f %q", i, s.ID, s.Confidence, s.Evidence)
			}
		}
	}
}

// TestMatchHugeLog matches a 100 MB console log whose crash is at the end:
// only the head and tail are read, so time and memory stay bounded, and
// the crash is still found.
func TestMatchHugeLog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100 MB log")
	}
	var crash string
	for _, c := range scenarioLogs(t) {
		if c.scenario == "sysrq-c" {
			crash = c.text
			break
		}
	}
	if crash == "" {
		t.Fatal("no sysrq-c log among the fixtures")
	}
	lines := strings.Split(crash, "\n")
	noise := strings.Join(lines[:len(lines)/2], "\n") + "\n" // boot messages, without the crash
	var b strings.Builder
	b.Grow(100<<20 + len(crash))
	for b.Len() < 100<<20 {
		b.WriteString(noise)
	}
	b.WriteString(crash)
	text := b.String()

	m := &Matcher{Index: builtinIndex(t)}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	got, err := m.MatchLog(text)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d MB log matched in %v, %d MB allocated", len(text)>>20, took, alloc>>20)
	if alloc > 128<<20 && !raceEnabled {
		t.Errorf("matching allocated %d MB; the log is capped at %d MB", alloc>>20, MaxLogBytes>>20)
	}
	if took > 10*time.Second {
		t.Errorf("matching took %v", took)
	}
	checkFirst(t, got, "sysrq-trigger-crash")
}

// interleavedLockup is two CPUs reporting soft lockups at once, their
// lines mixed, with caller ids telling them apart (CONFIG_PRINTK_CALLER).
const interleavedLockup = `[  120.000001][    C1] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [kworker/1:2:345]
[  120.000002][    C0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [fio:999]
[  120.000003][    C1] Modules linked in: xfs nvme nvme_core
[  120.000004][    C0] Modules linked in: xfs nvme nvme_core
[  120.000005][    C1] CPU: 1 PID: 345 Comm: kworker/1:2 Not tainted 6.6.30 #1
[  120.000006][    C0] CPU: 0 PID: 999 Comm: fio Not tainted 6.6.30 #1
[  120.000007][    C1] RIP: 0010:native_queued_spin_lock_slowpath+0x6e/0x2c0
[  120.000008][    C0] RIP: 0010:xfs_buf_find_lock+0x20/0x90 [xfs]
[  120.000009][    C1] Call Trace:
[  120.000010][    C0] Call Trace:
[  120.000011][    C1]  <TASK>
[  120.000012][    C1]  _raw_spin_lock+0x30/0x40
[  120.000013][    C0]  <TASK>
[  120.000014][    C1]  xfs_buf_get_map+0x123/0x456 [xfs]
[  120.000015][    C0]  xfs_buf_lookup+0x80/0x150 [xfs]
[  120.000016][    C1]  xfs_buf_read_map+0x50/0x300 [xfs]
[  120.000017][    C0]  xfs_buf_get_map+0x100/0x456 [xfs]
[  120.000018][    C1]  xfs_trans_read_buf_map+0x120/0x2f0 [xfs]
[  120.000019][    C0]  xfs_buf_read_map+0x50/0x300 [xfs]
[  120.000020][    C1]  </TASK>
[  120.000021][    C0]  </TASK>
[  121.000000][    C1] Kernel panic - not syncing: softlockup: hung tasks
`

func TestMatchInterleavedOops(t *testing.T) {
	m := &Matcher{Index: builtinIndex(t)}
	got, err := m.MatchLog(interleavedLockup)
	if err != nil {
		t.Fatal(err)
	}
	checkFirst(t, got, "soft-lockup")
	a := LogAnalysis(interleavedLockup)
	if a.System == nil || a.System.Release != "6.6.30" {
		t.Errorf("kernel release from the oops header: %+v", a.System)
	}
	if !strings.HasPrefix(Signature(a), "BUG: soft lockup in ") {
		t.Errorf("signature %q", Signature(a))
	}
	// The labelled set's interleaved reports: several CPUs, a shell
	// prompt, initramfs output.
	for _, name := range []string{"049-kfence-corruption-arm64-interleaved-shell.txt", "070-panic-kill-init-initramfs-interleaved.txt"} {
		for _, f := range oopsFiles(t) {
			if !strings.HasSuffix(f, name) {
				continue
			}
			hdr, text := readOops(t, f)
			got, err := m.MatchLog(text)
			if err != nil || len(got) == 0 || !contains(oopsArticles[hdr["TYPE"]], got[0].ID) {
				t.Errorf("%s: %v %v", name, got, err)
			}
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
