package kb

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/vmcore/vmcore/analysis"
)

// nfOops is a general protection fault freeing an skb under nf_hook_slow,
// what CVE-2024-1086 looks like without KASAN; %s is the kernel version.
const nfOops = `[ 4242.000001] general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] PREEMPT SMP NOPTI
[ 4242.000002] CPU: 3 PID: 4242 Comm: exploit Not tainted %s #1
[ 4242.000003] RIP: 0010:skb_release_data+0x8a/0x1e0
[ 4242.000004] Call Trace:
[ 4242.000005]  <TASK>
[ 4242.000006]  kfree_skb_reason+0x4d/0x110
[ 4242.000007]  nf_hook_slow+0x9a/0x100
[ 4242.000008]  ip_local_deliver+0xd3/0x100
[ 4242.000009]  __netif_receive_skb_one_core+0x89/0xa0
[ 4242.000010]  </TASK>
[ 4242.000011] Modules linked in: nf_tables nfnetlink
`

func TestVersionEvidence(t *testing.T) {
	m := &Matcher{Index: builtinIndex(t)}
	conf := map[string]float64{}
	for _, c := range []struct {
		kernel, evidence string
	}{
		{"6.1.52", "kernel 6.1.52 < fixed-in 6.1.76"},
		{"6.6.3", "kernel 6.6.3 < fixed-in 6.6.15"},
		{"6.1.80", "kernel 6.1.80 ≥ fixed-in 6.1.76"},
		{"6.9.1", "kernel 6.9.1 is newer than fixed-in 6.1.76"},
		{"5.15.100", "kernel 5.15.100 predates the fix"},
	} {
		got, err := m.MatchLog(strings.Replace(nfOops, "%s", c.kernel, 1))
		if err != nil {
			t.Fatal(err)
		}
		var s *analysis.Suggestion
		for i := range got {
			if got[i].ID == "nf-tables-verdict-double-free" {
				s = &got[i]
			}
		}
		if s == nil {
			t.Errorf("%s: nf_tables article not suggested: %+v", c.kernel, got)
			continue
		}
		if !strings.Contains(strings.Join(s.Evidence, "\n"), c.evidence) {
			t.Errorf("%s: evidence %q lacks %q", c.kernel, s.Evidence, c.evidence)
		}
		conf[c.kernel] = s.Confidence
	}
	if conf["6.1.52"] <= conf["6.1.80"] || conf["6.1.52"] <= conf["6.9.1"] {
		t.Errorf("a kernel with the fix scores as high as one without: %v", conf)
	}
	// On an affected kernel the specific article beats the generic one.
	got, _ := m.MatchLog(strings.Replace(nfOops, "%s", "6.1.52", 1))
	if len(got) == 0 || got[0].ID != "nf-tables-verdict-double-free" {
		t.Errorf("affected kernel: %+v", got)
	}
}

// TestFeedback: rejections push an article down for that signature only,
// confirmations push it up, and an article confirmed for a signature is
// suggested even when no rule matches.
func TestFeedback(t *testing.T) {
	ix := builtinIndex(t)
	var text string
	for _, c := range scenarioLogs(t) {
		if c.scenario == "module-null-deref" {
			text = c.text
		}
	}
	a := LogAnalysis(text)
	sig := Signature(a)
	base, err := (&Matcher{Index: ix}).Match(a)
	if err != nil || len(base) < 2 || base[0].ID != "null-deref-out-of-tree-module" || base[1].ID != "null-pointer-dereference" {
		t.Fatalf("baseline: %+v %v", base, err)
	}

	fb := FeedbackMap{sig: {"null-deref-out-of-tree-module": {Rejected: 2}}}
	got, _ := (&Matcher{Index: ix, Feedback: fb}).Match(a)
	if got[0].ID != "null-pointer-dereference" {
		t.Errorf("after two rejections the rejected article still leads: %+v", got)
	}
	for _, s := range got {
		if s.ID == "null-deref-out-of-tree-module" && (s.Confidence >= base[0].Confidence || !strings.Contains(strings.Join(s.Evidence, " "), "rejected it 2 times")) {
			t.Errorf("rejected article: %+v", s)
		}
	}

	// Votes for another signature change nothing.
	other := FeedbackMap{"kernel BUG in something_else": {"null-deref-out-of-tree-module": {Rejected: 5}}}
	if got, _ := (&Matcher{Index: ix, Feedback: other}).Match(a); got[0].ID != base[0].ID || got[0].Confidence != base[0].Confidence {
		t.Errorf("another signature's votes changed the ranking: %+v", got)
	}

	fb = FeedbackMap{sig: {"null-pointer-dereference": {Confirmed: 3}, "kfence-report": {Confirmed: 2, Rejected: 0}}}
	got, _ = (&Matcher{Index: ix, Feedback: fb, Max: 10}).Match(a)
	if got[0].ID != "null-pointer-dereference" || got[0].Confidence <= base[1].Confidence {
		t.Errorf("confirmed article not first: %+v", got)
	}
	found := false
	for _, s := range got {
		if s.ID == "kfence-report" {
			found = true
			if !strings.Contains(strings.Join(s.Evidence, " "), "confirmed it 2") {
				t.Errorf("confirmed-only suggestion without its reason: %+v", s)
			}
		}
	}
	if !found {
		t.Errorf("an article confirmed for this signature is not suggested: %+v", got)
	}
}

func TestMatcherLimits(t *testing.T) {
	ix := builtinIndex(t)
	a := LogAnalysis(scenarioLogs(t)[0].text)
	all, _ := (&Matcher{Index: ix, Max: 100, MinConfidence: 0.01}).Match(a)
	one, _ := (&Matcher{Index: ix, Max: 1}).Match(a)
	high, _ := (&Matcher{Index: ix, MinConfidence: 0.9}).Match(a)
	if len(one) != 1 || len(all) < 2 || one[0].ID != all[0].ID {
		t.Errorf("Max 1: %d suggestions, all: %d", len(one), len(all))
	}
	for _, s := range high {
		if s.Confidence < 0.9 {
			t.Errorf("MinConfidence 0.9 let %.3f through", s.Confidence)
		}
	}
	for _, s := range all {
		if s.Confidence <= 0 || s.Confidence > 1 || len(s.Evidence) == 0 || s.Title == "" {
			t.Errorf("suggestion %+v", s)
		}
	}
}

// TestMatchWhileWriting runs matches while articles are added, replaced
// and deleted (run with -race).
func TestMatchWhileWriting(t *testing.T) {
	ix := newTestIndex(t)
	logs := scenarioLogs(t)
	art, _ := ParseArticle("test.md", []byte(goodArticle))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			if err := ix.Add(art); err != nil {
				t.Error(err)
				return
			}
			if err := ix.Replace(art); err != nil {
				t.Error(err)
				return
			}
			if err := ix.Delete(art.ID); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	m := &Matcher{Index: ix}
	for i := 0; i < 40; i++ {
		if _, err := m.MatchLog(logs[i%len(logs)].text); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

// TestClassesRankedAsIssue16Asks covers the rankings issue 16 found wrong:
// a BUG in lib/list_debug.c is list corruption before it is a BUG(); a
// plain WARNING never brings up panic-on-warn; a pasted NULL pointer line
// searches to the NULL dereference article, not to kernel-bug-at.
func TestClassesRankedAsIssue16Asks(t *testing.T) {
	ix := builtinIndex(t)
	m := &Matcher{Index: ix}
	listBug := `[  123.000001] list_del corruption, ffff888100aa0008->next is LIST_POISON1 (dead000000000100)
[  123.000002] ------------[ cut here ]------------
[  123.000003] kernel BUG at lib/list_debug.c:56!
[  123.000004] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
[  123.000005] CPU: 1 PID: 77 Comm: kworker/1:1 Not tainted 6.1.0-18-amd64 #1 Debian 6.1.76-1
[  123.000006] RIP: 0010:__list_del_entry_valid.cold+0x37/0x4f
[  123.000007] Call Trace:
[  123.000008]  <TASK>
[  123.000009]  foo_remove_entry+0x2a/0x60 [foo]
[  123.000010]  process_one_work+0x1c7/0x380
[  123.000011]  </TASK>
`
	got, _ := m.MatchLog(listBug)
	if len(got) == 0 || got[0].ID != "list-corruption" {
		t.Errorf("kernel BUG at lib/list_debug.c: %v, want list-corruption first", ids(got))
	}
	for _, s := range got {
		if s.ID == "kernel-bug-at" {
			t.Errorf("kernel-bug-at suggested for a list_debug BUG: %v", ids(got))
		}
	}

	// Every labelled WARNING without the panic: panic-on-warn nowhere.
	for _, f := range oopsFiles(t) {
		hdr, text := readOops(t, f)
		if hdr["TYPE"] != "WARNING" || strings.Contains(text, "panic_on_warn set") {
			continue
		}
		got, _ := m.MatchLog(text)
		for _, s := range got {
			if s.ID == "panic-on-warn" {
				t.Errorf("%s: panic-on-warn suggested for a WARNING that did not panic (%.2f)", f, s.Confidence)
			}
		}
	}

	hits := ix.Search("BUG: kernel NULL pointer dereference, address: 0000000000000008", 5, "en")
	if len(hits) == 0 || hits[0].ID != "null-pointer-dereference" {
		t.Errorf("pasted NULL pointer line: hits %+v, want null-pointer-dereference first", hits)
	}
}

func ids(s []analysis.Suggestion) []string {
	var out []string
	for _, x := range s {
		out = append(out, fmt.Sprintf("%s %.2f", x.ID, x.Confidence))
	}
	return out
}
