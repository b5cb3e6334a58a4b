package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
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

// enqueueOnly is a queue without workers, as the API role has.
func enqueueOnly(t *testing.T, db *DB) Queue {
	t.Helper()
	q, err := db.NewQueue(context.Background(), QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// Exercise runs the store's contract against db; the PostgreSQL test
// calls it too.
func Exercise(t *testing.T, db *DB) {
	ctx := context.Background()
	q := enqueueOnly(t, db)
	d := Dump{ID: "d1", Status: StatusUploading, Size: 100, Hostname: "web-1", Release: "6.1.0", CrashTime: time.Unix(1700000000, 0)}
	if err := db.CreateDump(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateDump(ctx, d); !errors.Is(err, ErrConflict) {
		t.Fatalf("second insert: %v, want ErrConflict", err)
	}
	run, err := db.CompleteUpload(ctx, q, "d1", "aa")
	if err != nil || run != 1 {
		t.Fatalf("complete: run %d, %v", run, err)
	}
	if _, err := db.CompleteUpload(ctx, q, "d1", "aa"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("completing twice: %v", err)
	}
	if err := db.CreateDump(ctx, Dump{ID: "d2", Status: StatusUploading, Size: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CompleteUpload(ctx, q, "d2", "aa"); !errors.Is(err, ErrConflict) {
		t.Fatalf("same sha256: %v, want ErrConflict", err)
	}
	if got, err := db.DumpBySHA256(ctx, "aa"); err != nil || got.ID != "d1" {
		t.Fatalf("by sha: %v %v", got.ID, err)
	}
	if err := db.SetResult(ctx, "d1", 1, Result{Status: StatusDone, Signature: "BUG in x", Panic: "p", CrashTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	// A late result of an older run does not overwrite.
	if run, err = db.Rerun(ctx, q, "d1"); err != nil || run != 2 {
		t.Fatalf("rerun: %d %v", run, err)
	}
	if err := db.SetResult(ctx, "d1", 1, Result{Status: StatusFailed}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stale result: %v, want ErrNotFound", err)
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
	if err := db.AddToken(ctx, "secret", Token{Name: "ci", Role: RoleUploader}); err != nil {
		t.Fatal(err)
	}
	if tok, err := db.LookupToken(ctx, "secret"); err != nil || tok.Role != RoleUploader || tok.Name != "ci" || tok.ID != TokenID("secret") {
		t.Fatalf("token: %+v %v", tok, err)
	}
	if _, err := db.LookupToken(ctx, "other"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	if _, err := db.DeleteDump(ctx, "d2"); err != nil {
		t.Fatal(err)
	}
	exerciseTokens(t, db)
	exerciseLifecycle(t, db)
}

// exerciseTokens: expiry, listing, revocation with sessions, the last
// admin, and the environment's token replacing its predecessor.
func exerciseTokens(t *testing.T, db *DB) {
	ctx := context.Background()
	if err := db.AddToken(ctx, "expired", Token{Name: "old", Role: RoleViewer, Expires: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.LookupToken(ctx, "expired"); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired token: %v", err)
	}
	if _, err := db.CreateSession(ctx, "s-expired", "expired", "c", time.Now().Add(time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Errorf("session of an expired token: %v", err)
	}
	if err := db.SetEnvToken(ctx, "env-1", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateSession(ctx, "s-env-1", "env-1", "c", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.SetEnvToken(ctx, "env-2", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.LookupToken(ctx, "env-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the previous environment token: %v", err)
	}
	if _, err := db.Session(ctx, "s-env-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the previous environment token's session: %v", err)
	}
	if tok, err := db.LookupToken(ctx, "env-2"); err != nil || tok.Origin != OriginEnv || tok.Role != RoleAdmin {
		t.Errorf("environment token: %+v %v", tok, err)
	}
	if _, err := db.RevokeToken(ctx, TokenID("env-2"), "test"); !errors.Is(err, ErrConflict) {
		t.Errorf("revoking the last admin: %v", err)
	}
	ts, err := db.Tokens(ctx)
	if err != nil || len(ts) < 3 {
		t.Fatalf("tokens: %+v %v", ts, err)
	}
	if got, err := db.RevokeToken(ctx, TokenID("secret"), "test"); err != nil || got.Name != "ci" {
		t.Errorf("revoke: %+v %v", got, err)
	}
	if _, err := db.LookupToken(ctx, "secret"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked token: %v", err)
	}
	if _, err := db.RevokeToken(ctx, TokenID("secret"), "test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking twice: %v", err)
	}
}

// exerciseLifecycle: open uploads, stale uploads, old dumps and the
// deletions their removal leaves.
func exerciseLifecycle(t *testing.T, db *DB) {
	ctx := context.Background()
	for _, id := range []string{"u1", "u2"} {
		if err := db.CreateDump(ctx, Dump{ID: id, Status: StatusUploading, Size: 1000, Owner: "tok-a", UploadID: "up-" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if n, b, err := db.OpenUploads(ctx, "tok-a"); err != nil || n != 2 || b != 2000 {
		t.Errorf("open uploads: %d %d %v", n, b, err)
	}
	if n, err := db.UploadingBytes(ctx); err != nil || n < 2000 {
		t.Errorf("uploading bytes: %d %v", n, err)
	}
	if ids, err := db.StaleUploads(ctx, time.Now().Add(-time.Hour), 10); err != nil || len(ids) != 0 {
		t.Errorf("stale uploads an hour ago: %v %v", ids, err)
	}
	ids, err := db.StaleUploads(ctx, time.Now().Add(time.Hour), 10)
	if err != nil || len(ids) < 2 {
		t.Errorf("stale uploads in an hour: %v %v", ids, err)
	}
	if old, err := db.DumpsUploadedBefore(ctx, time.Now().Add(time.Hour), 100); err != nil || len(old) == 0 {
		t.Errorf("dumps uploaded before: %v %v", old, err)
	}
	del, err := db.DeleteDump(ctx, "u1")
	if err != nil || del.UploadID != "up-u1" || del.DumpID != "u1" {
		t.Fatalf("delete: %+v %v", del, err)
	}
	dels, err := db.Deletions(ctx, 10)
	if err != nil || len(dels) == 0 {
		t.Fatalf("deletions: %+v %v", dels, err)
	}
	for _, d := range dels {
		if err := db.DeletionDone(ctx, d.DumpID); err != nil {
			t.Fatal(err)
		}
	}
	if dels, _ := db.Deletions(ctx, 10); len(dels) != 0 {
		t.Errorf("deletions left: %+v", dels)
	}
}

func TestSQLite(t *testing.T) { Exercise(t, openTest(t)) }

func TestQueueSQLite(t *testing.T) {
	db := openTest(t)
	ExerciseQueue(t, db)
}

// ExerciseQueue checks that a job is worked once, even when enqueued
// twice; that a completion's job commits with its row; that a slow job
// whose worker beats is left alone while a dead worker's job runs again
// within RescueAfter, and at once when its worker starts again.
func ExerciseQueue(t *testing.T, db *DB) {
	ctx := context.Background()
	var mu sync.Mutex
	worked := map[string]int{}
	work := func(ctx context.Context, j AnalyzeJob, attempt int) error {
		mu.Lock()
		worked[j.DumpID]++
		mu.Unlock()
		if j.DumpID == "slow" {
			select { // longer than RescueAfter: only the heartbeat keeps it
			case <-time.After(3 * time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	count := func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		return worked[id]
	}
	waitWorked := func(id string, limit time.Duration) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for count(id) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("job %s not worked within %s", id, limit)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	q, err := db.NewQueue(ctx, QueueConfig{Workers: 2, RescueAfter: time.Second, Work: work})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := q.Enqueue(ctx, AnalyzeJob{DumpID: "x", Run: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Enqueue(ctx, AnalyzeJob{DumpID: "slow", Run: 1}); err != nil {
		t.Fatal(err)
	}
	// A completion that fails (the hash is another dump's) enqueues
	// nothing; one that succeeds enqueues its run.
	for _, id := range []string{"qa", "qb"} {
		if err := db.CreateDump(ctx, Dump{ID: id, Status: StatusUploading, Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.CompleteUpload(ctx, q, "qa", "q-sum"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CompleteUpload(ctx, q, "qb", "q-sum"); !errors.Is(err, ErrConflict) {
		t.Fatalf("second completion with the same hash: %v", err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	waitWorked("x", 30*time.Second)
	waitWorked("qa", 30*time.Second)
	waitWorked("slow", 30*time.Second)
	time.Sleep(4 * time.Second)
	if n := count("x"); n != 1 {
		t.Errorf("x worked %d times", n)
	}
	if n := count("slow"); n != 1 {
		t.Errorf("a slow job whose worker is alive was worked %d times", n)
	}
	if n := count("qb"); n != 0 {
		t.Errorf("the refused completion's job ran %d times", n)
	}

	// A dead worker's job: running, attempted by it, not beaten since.
	dead := func(id, client string) {
		t.Helper()
		if err := q.Enqueue(ctx, AnalyzeJob{DumpID: id, Run: 1}); err != nil {
			t.Fatal(err)
		}
		by := `'["` + client + `"]'`
		if db.Postgres() {
			by = `ARRAY['` + client + `']`
		}
		// An hour ago by the clock River reads: PostgreSQL's, or on
		// SQLite the process's.
		old := "'" + time.Now().Add(-time.Hour).UTC().Format("2006-01-02 15:04:05.999") + "'"
		if db.Postgres() {
			old = `(now() - interval '1 hour')`
		}
		if _, err := db.SQL().ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = `+old+`, attempted_by = `+by+`
			WHERE CAST(args AS TEXT) LIKE $1`, `%"`+id+`"%`); err != nil {
			t.Fatal(err)
		}
	}
	q.Stop(ctx)
	dead("orphan", "gone-worker")
	q2, err := db.NewQueue(ctx, QueueConfig{Workers: 1, RescueAfter: time.Second, Work: work})
	if err != nil {
		t.Fatal(err)
	}
	if err := q2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitWorked("orphan", 30*time.Second)
	q2.Stop(ctx)
	dead("mine", "worker-7")
	q3, err := db.NewQueue(ctx, QueueConfig{Workers: 1, RescueAfter: time.Hour, ClientID: "worker-7", Work: work})
	if err != nil {
		t.Fatal(err)
	}
	if err := q3.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q3.Stop(ctx)
	waitWorked("mine", 10*time.Second) // not the hour of RescueAfter
}
