package kb

import (
	"path/filepath"
	"strings"
	"testing"
)

// oopsArticles says, for each labelled TYPE of testdata/oops, which
// articles are a right first suggestion. Every type has an article.
var oopsArticles = map[string][]string{
	"BUG":                      {"kernel-bug-at", "list-corruption"},
	"KASAN":                    {"kasan-use-after-free", "kasan-out-of-bounds", "null-pointer-dereference", "general-protection-fault"},
	"KFENCE":                   {"kfence-report"},
	"MCE":                      {"mce-hardware-error"},
	"NULL pointer dereference": {"null-pointer-dereference", "null-deref-out-of-tree-module"},
	"OOM panic":                {"oom-panic-on-oom", "oom-no-killable-processes"},
	"RCU stall":                {"rcu-stall"},
	"UBSAN":                    {"ubsan-report"},
	"WARNING":                  {"kernel-warning", "panic-on-warn"},
	"divide error":             {"divide-error"},
	"double fault":             {"double-fault"},
	"general protection fault": {"general-protection-fault"},
	"hard lockup":              {"hard-lockup"},
	"hung task":                {"hung-task", "hung-task-panic"},
	"invalid opcode":           {"invalid-opcode"},
	"module load":              {"module-unknown-symbol"},
	"module signature":         {"module-signature-rejected", "module-unsigned-taint"},
	"page fault":               {"page-fault-bad-address"},
	"panic":                    {"vfs-unable-to-mount-root", "attempted-to-kill-init"},
	"soft lockup":              {"soft-lockup"},
	"stack-protector":          {"stack-protector"},
}

// oopsFileArticles are right first articles for single reports beyond
// their type's: reports whose class now has a more specific article.
var oopsFileArticles = map[string][]string{
	// A WARNING printed by btrfs aborting a transaction (error -27).
	"022-warning-4.4-ubuntu-dmesg-human-timestamps.txt": {"btrfs-transaction-abort"},
}

// TestOopsLabelled matches each real report of testdata/oops (kernel
// mailing lists, bug trackers, syzbot; see its README) as a kernel log
// alone: the first suggestion must be an article about that kind of
// failure, with evidence. Kinds without an article would be skipped; today
// every kind has one.
func TestOopsLabelled(t *testing.T) {
	m := &Matcher{Index: builtinIndex(t)}
	right, total := 0, 0
	for _, f := range oopsFiles(t) {
		hdr, text := readOops(t, f)
		want, ok := oopsArticles[hdr["TYPE"]]
		if !ok {
			t.Logf("%s: no article for type %q", filepath.Base(f), hdr["TYPE"])
			continue
		}
		want = append(want[:len(want):len(want)], oopsFileArticles[filepath.Base(f)]...)
		total++
		got, err := m.MatchLog(text)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if len(got) == 0 {
			t.Errorf("%s (%s): no suggestion; want one of %v", filepath.Base(f), hdr["TYPE"], want)
			continue
		}
		first := got[0]
		found := false
		for _, w := range want {
			found = found || first.ID == w
		}
		switch {
		case !found:
			t.Errorf("%s (%s): first suggestion %s (%.3f), want one of %v; evidence %q", filepath.Base(f), hdr["TYPE"], first.ID, first.Confidence, want, first.Evidence)
		case len(first.Evidence) == 0:
			t.Errorf("%s: %s without evidence", filepath.Base(f), first.ID)
		default:
			right++
		}
	}
	t.Logf("%d of %d labelled reports get a right first article", right, total)
}

// TestOopsSignatures checks that a log's signature is the analyzer's title
// for the labelled reports whose title the analyzer gets right, so buckets
// made from logs and from dumps agree.
func TestOopsSignatures(t *testing.T) {
	same, total := 0, 0
	for _, f := range oopsFiles(t) {
		hdr, text := readOops(t, f)
		total++
		if Signature(LogAnalysis(text)) == hdr["TITLE"] {
			same++
		}
	}
	// The analyzer's own test holds it to 95% of titles; the signature adds
	// nothing of its own when there is an oops, so it must do as well.
	if same*100 < total*90 {
		t.Errorf("only %d of %d signatures equal the labelled title", same, total)
	}
	t.Logf("%d of %d signatures equal the labelled title", same, total)
	if s := Signature(LogAnalysis("")); s != "unknown crash" {
		t.Errorf("signature of an empty log: %q", s)
	}
	if s := Signature(LogAnalysis("[ 1.0] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(8,1)\n")); !strings.HasPrefix(s, "kernel panic: VFS") || strings.ContainsAny(s, "0123456789") {
		t.Errorf("panic signature not normalised: %q", s)
	}
}
