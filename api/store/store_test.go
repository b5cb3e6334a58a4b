package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// openTest opens a fresh SQLite store; the PostgreSQL run of the same
// checks lives in the api package's end-to-end tests.
func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Exercise runs the store's contract against db; the PostgreSQL test
// calls it too.
func Exercise(t *testing.T, db *DB) {
	ctx := context.Background()
	d := Dump{ID: "d1", Status: StatusUploading, Size: 100, Hostname: "web-1", Release: "6.1.0", CrashTime: time.Unix(1700000000, 0)}
	if err := db.CreateDump(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateDump(ctx, d); !errors.Is(err, ErrConflict) {
		t.Fatalf("second insert: %v, want ErrConflict", err)
	}
	run, err := db.CompleteUpload(ctx, "d1", "aa")
	if err != nil || run != 1 {
		t.Fatalf("complete: run %d, %v", run, err)
	}
	if _, err := db.CompleteUpload(ctx, "d1", "aa"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("completing twice: %v", err)
	}
	if err := db.CreateDump(ctx, Dump{ID: "d2", Status: StatusUploading, Size: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CompleteUpload(ctx, "d2", "aa"); !errors.Is(err, ErrConflict) {
		t.Fatalf("same sha256: %v, want ErrConflict", err)
	}
	if got, err := db.DumpBySHA256(ctx, "aa"); err != nil || got.ID != "d1" {
		t.Fatalf("by sha: %v %v", got.ID, err)
	}
	if err := db.SetResult(ctx, "d1", 1, Result{Status: StatusDone, Signature: "BUG in x", Panic: "p", CrashTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	// A late result of an older run does not overwrite.
	if run, err = db.Rerun(ctx, "d1"); err != nil || run != 2 {
		t.Fatalf("rerun: %d %v", run, err)
	}
	if err := db.SetResult(ctx, "d1", 1, Result{Status: StatusFailed}); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetDump(ctx, "d1")
	if err != nil || got.Status != StatusQueued || got.Signature != "BUG in x" || got.Hostname != "web-1" || !got.CrashTime.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("dump after stale result: %+v %v", got, err)
	}
	for i, s := range []Step{{Name: "log", Status: "ok", Seconds: 0.5}, {Name: "sys", Status: "failed", Error: "x"}} {
		if err := db.PutStep(ctx, "d1", 2, i, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutStep(ctx, "d1", 2, 0, Step{Name: "log", Status: "ok", Seconds: 1}); err != nil {
		t.Fatal(err)
	}
	steps, err := db.Steps(ctx, "d1", 2)
	if err != nil || len(steps) != 2 || steps[0].Seconds != 1 || steps[1].Error != "x" {
		t.Fatalf("steps: %+v %v", steps, err)
	}
	list, total, err := db.ListDumps(ctx, Filter{Host: "web-1"})
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != "d1" {
		t.Fatalf("list: %v %d %v", list, total, err)
	}
	if _, total, _ = db.ListDumps(ctx, Filter{Since: time.Unix(1750000000, 0)}); total != 1 { // d2 has no crash time: its upload time counts
		t.Fatalf("since: %d", total)
	}
	if err := db.AddToken(ctx, "secret", "ci", RoleUploader); err != nil {
		t.Fatal(err)
	}
	if name, role, err := db.TokenRole(ctx, "secret"); err != nil || role != RoleUploader || name != "ci" {
		t.Fatalf("token: %s %s %v", name, role, err)
	}
	if _, _, err := db.TokenRole(ctx, "other"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	if err := db.DeleteDump(ctx, "d2"); err != nil {
		t.Fatal(err)
	}
}

func TestSQLite(t *testing.T) { Exercise(t, openTest(t)) }

func TestQueueSQLite(t *testing.T) {
	db := openTest(t)
	ExerciseQueue(t, db)
}

// ExerciseQueue checks that a job is worked once, even when enqueued twice.
func ExerciseQueue(t *testing.T, db *DB) {
	ctx := context.Background()
	var worked atomic.Int32
	done := make(chan struct{}, 4)
	q, err := db.NewQueue(ctx, QueueConfig{Workers: 2, Work: func(ctx context.Context, j AnalyzeJob, attempt int) error {
		worked.Add(1)
		done <- struct{}{}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := q.Enqueue(ctx, AnalyzeJob{DumpID: "x", Run: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("job not worked")
	}
	time.Sleep(time.Second)
	if n := worked.Load(); n != 1 {
		t.Fatalf("worked %d times", n)
	}
}
