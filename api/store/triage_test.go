package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestTriageSQLite(t *testing.T) { ExerciseTriage(t, openTest(t)) }

func ptr(s string) *string { return &s }

// ExerciseTriage checks triage states, notes, events, facts and facets,
// the seen marks, and the host name an upload gave surviving the dump's
// "(none)"; the PostgreSQL test runs it too.
func ExerciseTriage(t *testing.T, db *DB) {
	ctx := context.Background()
	mk := func(id, host, rel, sig, uploadHost string, day int) {
		t.Helper()
		if err := db.CreateDump(ctx, Dump{ID: id, Status: StatusUploading, Size: 1, Hostname: uploadHost, Release: rel,
			CrashTime: time.Date(2026, 10, day, 12, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CompleteUpload(ctx, id, "sha-"+id); err != nil {
			t.Fatal(err)
		}
		if err := db.SetResult(ctx, id, 1, Result{Status: StatusDone, Signature: sig, OopsType: "BUG", Hostname: host}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.EnsureBucket(ctx, sig); err != nil {
			t.Fatal(err)
		}
	}
	// The kernel's "(none)" replaces no name the uploader gave (issue 18),
	// but is kept when nothing better is known, and a real name wins.
	mk("t1", "(none)", "6.1.0-56-amd64", "sysrq: triggered crash", "customer-db1", 1)
	mk("t2", "(none)", "6.1.0-56-amd64", "sysrq: triggered crash", "", 2)
	mk("t3", "web-9", "6.1.0-57-amd64", "BUG: in crashmod", "(none)", 3)
	for id, want := range map[string]string{"t1": "customer-db1", "t2": "(none)", "t3": "web-9"} {
		if d, err := db.GetDump(ctx, id); err != nil || d.Hostname != want {
			t.Errorf("dump %s host %q (%v), want %q", id, d.Hostname, err, want)
		}
	}

	sysrq := BucketID("sysrq: triggered crash")
	if tr, err := db.Triage(ctx, KindBucket, sysrq); err != nil || tr.Status != TriageNew {
		t.Fatalf("untouched bucket: %+v %v", tr, err)
	}
	if _, _, err := db.SetTriage(ctx, KindBucket, "nope", TriageChange{Status: ptr(TriageFixed)}, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown bucket: %v", err)
	}
	for _, c := range []TriageChange{{Status: ptr("done")}, {Status: ptr("")}, {LinkURL: ptr("javascript:alert(1)")},
		{Rule: ptr(TriageInvestigating)}, {Assignee: ptr("a\nb")}} {
		if _, _, err := db.SetTriage(ctx, KindBucket, sysrq, c, "alice"); !errors.Is(err, ErrInvalid) {
			t.Errorf("change %+v: %v, want ErrInvalid", c, err)
		}
	}
	tr, events, err := db.SetTriage(ctx, KindBucket, sysrq, TriageChange{Status: ptr(TriageNotABug), Rule: ptr(TriageNotABug),
		Assignee: ptr("alice"), LinkURL: ptr("https://bugs.example/1"), LinkLabel: ptr("CASE-1"), Note: "A **test** crash."}, "alice")
	if err != nil || tr.Status != TriageNotABug || tr.Rule != TriageNotABug || tr.RuleBy != "alice" || len(events) != 6 || tr.UpdatedBy != "alice" {
		t.Fatalf("set: %+v %d events %v", tr, len(events), err)
	}
	// An unchanged field makes no event.
	if _, events, _ := db.SetTriage(ctx, KindBucket, sysrq, TriageChange{Status: ptr(TriageNotABug)}, "bob"); len(events) != 0 {
		t.Errorf("a change to the same status: %+v", events)
	}
	if notes, err := db.Notes(ctx, KindBucket, sysrq); err != nil || len(notes) != 1 || notes[0].Author != "alice" || notes[0].Body != "A **test** crash." {
		t.Errorf("notes: %+v %v", notes, err)
	}
	// A dump's own status, then back to following its bucket.
	if _, _, err := db.SetTriage(ctx, KindDump, "t3", TriageChange{Status: ptr(TriageInvestigating)}, "bob"); err != nil {
		t.Fatal(err)
	}
	bug := BucketID("BUG: in crashmod")
	tr, _, err = db.SetTriage(ctx, KindBucket, bug, TriageChange{Status: ptr(TriageFixed), FixCommit: ptr("0123abcd"), FixRelease: ptr("6.1.193")}, "carol")
	if err != nil {
		t.Fatal(err)
	}
	reg := &Regression{DumpID: "t3", Release: "6.1.0-57-amd64", At: time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC)}
	tr, _, err = db.SetTriage(ctx, KindBucket, bug, TriageChange{Status: ptr(TriageNew), Regression: reg}, "vmcored")
	if err != nil || tr.Regression == nil || tr.Regression.DumpID != "t3" || tr.FixRelease != "6.1.193" {
		t.Fatalf("regression: %+v %v", tr, err)
	}
	if tr, _ = db.Triage(ctx, KindBucket, bug); tr.Regression == nil || !tr.Regression.At.Equal(reg.At) {
		t.Errorf("regression read back: %+v", tr.Regression)
	}
	if tr, _, _ = db.SetTriage(ctx, KindBucket, bug, TriageChange{Status: ptr(TriageInvestigating)}, "carol"); tr.Regression != nil {
		t.Errorf("a status change keeps the regression mark: %+v", tr.Regression)
	}
	ev, err := db.TriageEvents(ctx, KindBucket, bug, 10)
	if err != nil || len(ev) != 6 || ev[0].Field != "status" || ev[0].Old != TriageNew || ev[0].New != TriageInvestigating || ev[0].Actor != "carol" {
		t.Errorf("events: %+v %v", ev, err)
	}

	// Facts, facets and the filters on them.
	for id, f := range map[string]DumpFacts{"t1": {Taint: "OE", Modules: []string{"crashmod", "virtio"}}, "t2": {Modules: []string{"virtio"}},
		"t3": {KernelVersion: "#1 SMP Debian 6.1.192-2", Taint: "O", Modules: []string{"crashmod", "crashmod"}}} {
		if first, err := db.RecordArrival(ctx, id, f); err != nil || !first {
			t.Fatalf("arrival of %s: %t %v", id, first, err)
		}
	}
	if first, err := db.RecordArrival(ctx, "t3", DumpFacts{KernelVersion: "#1 SMP Debian 6.1.192-2", Taint: "O", Modules: []string{"crashmod"}}); err != nil || first {
		t.Errorf("second arrival: %t %v", first, err)
	}
	if _, err := db.RecordArrival(ctx, "nope", DumpFacts{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("arrival of an unknown dump: %v", err)
	}
	if v, _ := db.KernelVersionOf(ctx, "t3"); v != "#1 SMP Debian 6.1.192-2" {
		t.Errorf("kernel version %q", v)
	}
	ids := func(q DumpQuery) []string {
		t.Helper()
		ds, total, err := db.SearchDumps(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			out = append(out, d.ID)
		}
		if total != len(out) {
			t.Errorf("total %d, %d listed", total, len(out))
		}
		return out
	}
	for _, c := range []struct {
		q    DumpQuery
		want string
	}{
		{DumpQuery{Module: "crashmod"}, "t3 t1"},
		{DumpQuery{Taint: "E"}, "t1"},
		{DumpQuery{Triage: TriageNotABug}, "t2 t1"}, // the bucket's status
		{DumpQuery{Triage: TriageInvestigating}, "t3"},
		{DumpQuery{Triage: TriageNotABug, Filter: Filter{Host: "customer-db1"}}, "t1"},
		{DumpQuery{Text: "t", Module: "virtio", Taint: "O"}, "t1"},
	} {
		if got := ids(c.q); join(got) != c.want {
			t.Errorf("%+v: %q, want %q", c.q, got, c.want)
		}
	}
	facets, err := db.CountFacets(ctx, DumpQuery{Signatures: []string{"sysrq: triggered crash", "BUG: in crashmod"}}, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		FacetModule: "virtio=2 crashmod=2", FacetTaint: "O=2 E=1", FacetStatus: "not-a-bug=2 investigating=1",
		FacetKernel: "6.1.0-56-amd64=2 6.1.0-57-amd64=1", FacetType: "BUG=3", FacetHost: "(none)=1 customer-db1=1 web-9=1",
	}
	for name, w := range want {
		var got []string
		for _, f := range facets[name] {
			got = append(got, f.Value+"="+itoa(f.Count))
		}
		if g := join(got); g != w && !(name == FacetModule && g == "crashmod=2 virtio=2") {
			t.Errorf("facet %s: %q, want %q", name, g, w)
		}
	}
	if f, _ := db.CountFacets(ctx, DumpQuery{Module: "crashmod"}, 10); len(f[FacetHost]) != 2 {
		t.Errorf("facets of a filtered list: %+v", f[FacetHost])
	}

	// Seen marks are per actor.
	if err := db.MarkSeen(ctx, "t1", "alice"); err != nil {
		t.Fatal(err)
	}
	db.MarkSeen(ctx, "t1", "alice")
	if seen, err := db.Seen(ctx, "alice", []string{"t1", "t2"}); err != nil || !seen["t1"] || seen["t2"] {
		t.Errorf("seen: %v %v", seen, err)
	}
	if seen, _ := db.Seen(ctx, "bob", []string{"t1"}); seen["t1"] {
		t.Errorf("alice's mark counts for bob")
	}
	// Arrival order: t1 arrived first though it crashed first too; by
	// arrival the newest upload leads.
	if got := ids(DumpQuery{ByArrival: true}); len(got) < 3 || got[0] != "t3" {
		t.Errorf("by arrival: %q", got)
	}
	if err := db.DeleteDump(ctx, "t2"); err != nil {
		t.Errorf("deleting a dump with facts and marks: %v", err)
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return "many"
}
