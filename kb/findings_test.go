package kb

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analysis"
)

// findingArticle is an article whose rules are rules, with prose shared by
// every article of findingsTestIndex so that the text search scores them alike.
func findingArticle(t *testing.T, id, rules string) *Article {
	t.Helper()
	src := fmt.Sprintf("---\nid: %s\nlang: en\ntitle: A findings test\nsymptoms: s\ncause: c\nresolution: r\nmatch:\n%s---\n", id, rules)
	a, err := ParseArticle(id+".md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// findingsTestIndex holds articles that differ only in their findings rules:
// "twin" has none, so the others' confidence can be compared with it.
func findingsTestIndex(t *testing.T) *Index {
	t.Helper()
	const bug = "  title: ['^kernel BUG at fs/test']\n"
	ix := NewIndex()
	err := ix.Add(
		findingArticle(t, "twin", bug),
		findingArticle(t, "cites-oom", bug+"  findings: [oom, slab]\n"),
		findingArticle(t, "needs-chain", bug+"  findings: [wait_chain]\n  require: [findings]\n"),
		findingArticle(t, "only-deadlock", "  findings: [deadlock]\n"),
		findingArticle(t, "cites-io", bug+"  findings: [blocked_io, stuck_io, starved]\n"),
	)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

const bugLog = `[   10.000000] kernel BUG at fs/test.c:12!
[   10.000001] invalid opcode: 0000 [#1] SMP
[   10.000002] RIP: 0010:test_function+0x1/0x2
`

var (
	deadlockChain = &analysis.WaitChain{Cycle: true, Blocked: 2,
		Locks: []analysis.Lock{{Kind: analysis.LockMutex, Symbol: "lock_b", Owner: 12, Waiters: []int32{11}},
			{Kind: analysis.LockMutex, Symbol: "lock_a", Owner: 11, Waiters: []int32{12}}},
		Head: analysis.ChainTask{PID: 11, Comm: "worker_ab", State: "D", Function: "take_both"},
		Text: "1 task waits on mutex lock_b held by PID 12 (worker_ba), which waits on mutex lock_a held by PID 11 (worker_ab), which waits on mutex lock_b: a deadlock"}
	runningChain = &analysis.WaitChain{Blocked: 3,
		Locks: []analysis.Lock{{Kind: analysis.LockRwsemWrite, Symbol: "big_sem", Owner: 40, Waiters: []int32{41, 42, 43}}},
		Head:  analysis.ChainTask{PID: 40, Comm: "spinner", Running: true, CPU: 2, Function: "busy_loop"},
		Text:  "3 tasks wait on rwsem big_sem held by PID 40 (spinner), running on CPU 2 in busy_loop"}
	oomFinding = &analysis.OOMFinding{Scope: "memcg", Cgroup: "/app", PID: 77, Comm: "hog",
		Text: "memory cgroup /app hit its limit (32.0 MiB of 32.0 MiB); hog (PID 77) in it held 32.5 MiB resident, 0 B swapped"}
	slabFinding = &analysis.SlabFinding{Bytes: 300 << 20, Fraction: 0.3, Caches: []string{"kmalloc-1k"},
		Text: "unreclaimable slab holds 300.0 MiB, 30% of memory; largest caches: kmalloc-1k"}
)

// findingDoc is the bug log's analysis with the sections named in
// sections read (empty ones: what matters is that they were read) and
// the findings f.
func findingDoc(sections string, f analysis.Findings) *analysis.Document {
	a := LogAnalysis(bugLog)
	for _, s := range strings.Fields(sections) {
		switch s {
		case "memory":
			a.Memory = &analysis.Memory{}
		case "task_memory":
			a.TaskMemory = &analysis.TaskMemory{}
		case "locks":
			a.Locks = &analysis.Locks{}
		case "runqueues":
			a.RunQueues = &analysis.RunQueues{}
		case "block":
			a.Block = &analysis.Block{}
		}
	}
	a.Findings = f
	return a
}

// TestFindingsRule: a findings rule holds when a finding it names does,
// cites each one that holds verbatim, counts against an article only when
// the sections could have shown it, and gates the article in require.
func TestFindingsRule(t *testing.T) {
	m := &Matcher{Index: findingsTestIndex(t)}
	const (
		same   = iota // as confident as twin
		higher        // more confident than twin
		lower         // less confident than twin
		absent        // not suggested
		shown         // suggested, whatever its confidence
	)
	type want struct {
		rank     int
		evidence []string // each must be an evidence line, or part of one
	}
	for _, c := range []struct {
		name     string
		sections string
		f        analysis.Findings
		want     map[string]want
	}{
		{"log alone: undecided", "", analysis.Findings{}, map[string]want{
			"cites-oom":     {rank: same},
			"cites-io":      {rank: same},
			"needs-chain":   {rank: absent},
			"only-deadlock": {rank: absent},
		}},
		{"sections read, nothing found", "memory task_memory locks runqueues block", analysis.Findings{}, map[string]want{
			"cites-oom":     {rank: lower},
			"cites-io":      {rank: lower},
			"needs-chain":   {rank: absent},
			"only-deadlock": {rank: absent},
		}},
		{"only the memory sections read", "memory task_memory", analysis.Findings{}, map[string]want{
			"cites-oom": {rank: lower},
			"cites-io":  {rank: same},
		}},
		{"oom and slab", "memory task_memory", analysis.Findings{OOM: oomFinding, Slab: slabFinding}, map[string]want{
			"cites-oom": {rank: higher, evidence: []string{
				"out of memory in the dump: " + oomFinding.Text,
				"in the dump, " + slabFinding.Text + " (314572800 bytes)"}},
			"needs-chain": {rank: absent},
		}},
		{"slab alone", "memory task_memory", analysis.Findings{Slab: slabFinding}, map[string]want{
			"cites-oom": {rank: higher, evidence: []string{"in the dump, " + slabFinding.Text}},
		}},
		{"deadlock", "locks", analysis.Findings{Deadlock: deadlockChain, WaitChain: deadlockChain}, map[string]want{
			"only-deadlock": {rank: shown, evidence: []string{"deadlock in the dump: " + deadlockChain.Text}},
			"needs-chain": {rank: higher, evidence: []string{
				"wait chain in the dump (2 blocked tasks): " + deadlockChain.Text + "; its head is PID 11 (worker_ab, state D) in take_both"}},
			"cites-io": {rank: lower},
		}},
		{"chain to a running task", "locks", analysis.Findings{WaitChain: runningChain}, map[string]want{
			"needs-chain": {rank: higher, evidence: []string{
				"its head is PID 40 (spinner, running on CPU 2) in busy_loop", runningChain.Text}},
			"only-deadlock": {rank: absent},
		}},
		{"stuck I/O and a starved CPU", "locks block runqueues", analysis.Findings{
			BlockedIO: &analysis.BlockedIO{PIDs: []int32{5, 9}, Functions: []string{"io_schedule"}, Text: "2 blocked tasks waiting for I/O, in io_schedule"},
			StuckIO:   &analysis.StuckIO{Disk: "vdb", InFlight: 3, Oldest: 42e9, Text: "vdb has 3 requests in flight, the oldest for 42s"},
			Starved:   &analysis.StarvedCPU{CPU: 1, PID: 126, Comm: "sh", Queued: 5, Longest: 8e9, Text: "CPU 1 runs sh (PID 126) with 5 tasks queued behind it, waiting up to 8s"},
		}, map[string]want{
			"cites-io": {rank: higher, evidence: []string{
				"in the dump, 2 blocked tasks waiting for I/O, in io_schedule (PID 5, 9)",
				"I/O stuck in the dump: disk vdb has 3 requests in flight, the oldest for 42s",
				"starved run queue in the dump: CPU 1 runs sh (PID 126) with 5 tasks queued behind it, waiting up to 8s"}},
			"needs-chain": {rank: absent},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := m.Match(findingDoc(c.sections, c.f))
			if err != nil {
				t.Fatal(err)
			}
			by := map[string]analysis.Suggestion{}
			for _, s := range got {
				by[s.ID] = s
				t.Logf("%.3f %s %q", s.Confidence, s.ID, s.Evidence)
			}
			twin, ok := by["twin"]
			if !ok {
				t.Fatal("the article without findings is not suggested")
			}
			for id, w := range c.want {
				s, ok := by[id]
				switch {
				case w.rank == absent:
					if ok {
						t.Errorf("%s suggested (%.3f, %q); want it absent", id, s.Confidence, s.Evidence)
					}
					continue
				case !ok:
					t.Errorf("%s not suggested", id)
					continue
				case w.rank == same && s.Confidence != twin.Confidence,
					w.rank == higher && s.Confidence <= twin.Confidence,
					w.rank == lower && s.Confidence >= twin.Confidence:
					t.Errorf("%s confidence %.3f against %.3f without findings; want %s", id, s.Confidence, twin.Confidence,
						[]string{"the same", "higher", "lower"}[w.rank])
				}
				ev := strings.Join(s.Evidence, "\n")
				for _, e := range w.evidence {
					if !strings.Contains(ev, e) {
						t.Errorf("%s evidence %q lacks %q", id, s.Evidence, e)
					}
				}
				if len(w.evidence) == 0 && strings.Contains(ev, "in the dump") {
					t.Errorf("%s cites a finding the dump does not show: %q", id, s.Evidence)
				}
			}
		})
	}
}

// TestFindingsRuleLongChain: a chain through many locks is cited cut to a
// bounded length, never the whole text.
func TestFindingsRuleLongChain(t *testing.T) {
	ch := *runningChain
	ch.Text = strings.Repeat("which waits on mutex m held by PID 1, ", 100)
	got, err := (&Matcher{Index: findingsTestIndex(t)}).Match(findingDoc("locks", analysis.Findings{WaitChain: &ch}))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range got {
		for _, e := range s.Evidence {
			if len(e) > maxFindingText {
				t.Errorf("%s: evidence of %d bytes", s.ID, len(e))
			}
		}
	}
}
