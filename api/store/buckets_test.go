package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBucketsSQLite(t *testing.T) { ExerciseBuckets(t, openTest(t)) }

// ExerciseBuckets checks grouping, merge and split with their audit
// trail, links and feedback.
func ExerciseBuckets(t *testing.T, db *DB) {
	ctx := context.Background()
	q := enqueueOnly(t, db)
	mk := func(id, host, rel, sig string, day int) {
		if err := db.CreateDump(ctx, Dump{ID: id, Status: StatusUploading, Size: 1, Hostname: host, Release: rel,
			CrashTime: time.Date(2026, 11, day, 12, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		db.CompleteUpload(ctx, q, id, id)
		if err := db.SetResult(ctx, id, 1, Result{Status: StatusDone, Signature: sig}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.EnsureBucket(ctx, sig); err != nil {
			t.Fatal(err)
		}
	}
	mk("b1", "web-1", "6.1.0", "WARNING in foo", 1)
	mk("b2", "web-2", "6.1.0", "WARNING in foo", 2)
	mk("b3", "web-1", "6.12.0", "WARNING in foo", 2)
	mk("b4", "db-1", "6.1.0", "BUG in bar", 3)
	bs, err := db.Buckets(ctx, "")
	if err != nil || len(bs) != 2 {
		t.Fatalf("buckets: %+v %v", bs, err)
	}
	foo := bs[0]
	if foo.Count != 3 || foo.Title != "WARNING in foo" || len(foo.Hosts) != 2 || len(foo.Releases) != 2 ||
		!foo.FirstSeen.Equal(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)) || foo.ID != BucketID("WARNING in foo") {
		t.Errorf("bucket: %+v", foo)
	}
	hist, _ := db.BucketHistory(ctx, foo.ID)
	if len(hist) != 2 || hist[1].Count != 2 {
		t.Errorf("history: %+v", hist)
	}
	bar := BucketID("BUG in bar")
	if err := db.MergeBuckets(ctx, foo.ID, bar, "alice"); err != nil {
		t.Fatal(err)
	}
	if bs, _ = db.Buckets(ctx, ""); len(bs) != 1 || bs[0].Count != 4 || len(bs[0].Signatures) != 2 {
		t.Errorf("after merge: %+v", bs)
	}
	if err := db.MergeBuckets(ctx, foo.ID, foo.ID, "alice"); !errors.Is(err, ErrConflict) {
		t.Errorf("self-merge: %v", err)
	}
	if id, err := db.SplitSignature(ctx, "BUG in bar", "bob"); err != nil || id != bar {
		t.Fatalf("split: %s %v", id, err)
	}
	if bs, _ = db.Buckets(ctx, ""); len(bs) != 2 {
		t.Errorf("after split: %+v", bs)
	}
	if err := db.LinkBucket(ctx, bar, "kb-bar", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := db.LinkDump(ctx, "b1", "kb-foo", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := db.LinkDump(ctx, "nope", "kb-foo", "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("link to a missing dump: %v", err)
	}
	if err := db.SetFeedback(ctx, "BUG in bar", "kb-x", -1, "carol"); err != nil {
		t.Fatal(err)
	}
	db.SetFeedback(ctx, "BUG in bar", "kb-x", 1, "carol")
	db.SetFeedback(ctx, "BUG in bar", "kb-x", 1, "dave")
	if v, _ := db.Votes(ctx, "BUG in bar"); v["kb-x"] != [2]int{2, 0} {
		t.Errorf("votes: %v", v)
	}
	all, _ := db.Audit(ctx, 20)
	var actions []string
	var audit []AuditEntry
	for _, a := range all {
		if a.Action != "revoke-token" { // Exercise's, on a shared database
			actions = append(actions, a.Action)
			audit = append(audit, a)
		}
	}
	if len(audit) != 7 || audit[len(audit)-1].Action != "merge" || audit[len(audit)-2].Action != "split" {
		t.Errorf("audit: %v", actions)
	}
}
