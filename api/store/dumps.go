package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vmcore/vmcore/api/wire"
)

// Dump statuses, in the order a dump goes through them.
const (
	StatusUploading = "uploading"
	StatusQueued    = "queued"
	StatusAnalyzing = "analyzing"
	StatusDone      = "done"
	StatusFailed    = "failed"
)

// Dump is one uploaded crash dump (see wire.Dump).
type Dump = wire.Dump

const dumpCols = `id, status, size, sha256, filename, hostname, kernel_release, build_id, crash_time, upload_id, part_size,
	has_dmesg, has_index, run, signature, oops_type, panic, error, uploader, created, updated`

func scanDump(row interface{ Scan(...any) error }) (Dump, error) {
	var d Dump
	var crash, created, updated int64
	var dmesg, index int
	err := row.Scan(&d.ID, &d.Status, &d.Size, &d.SHA256, &d.Filename, &d.Hostname, &d.Release, &d.BuildID, &crash,
		&d.UploadID, &d.PartSize, &dmesg, &index, &d.Run, &d.Signature, &d.OopsType, &d.Panic, &d.Error, &d.Uploader, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	} else if err != nil {
		return d, fmt.Errorf("store: reading dump: %w", err)
	}
	d.CrashTime, d.Created, d.Updated = fromUnix(crash), fromUnix(created), fromUnix(updated)
	d.HasDmesg, d.HasIndex = dmesg != 0, index != 0
	return d, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateDump inserts a new dump.
func (db *DB) CreateDump(ctx context.Context, d Dump) error {
	now := unix(time.Now())
	_, err := db.sql.ExecContext(ctx, `INSERT INTO dumps (`+dumpCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21)`,
		d.ID, d.Status, d.Size, d.SHA256, d.Filename, d.Hostname, d.Release, d.BuildID, unix(d.CrashTime), d.UploadID, d.PartSize,
		b2i(d.HasDmesg), b2i(d.HasIndex), d.Run, d.Signature, d.OopsType, d.Panic, d.Error, d.Uploader, now, now)
	if isUnique(err) {
		return fmt.Errorf("store: dump %s: %w", d.ID, ErrConflict)
	} else if err != nil {
		return fmt.Errorf("store: inserting dump: %w", err)
	}
	return nil
}

// GetDump returns one dump.
func (db *DB) GetDump(ctx context.Context, id string) (Dump, error) {
	return scanDump(db.sql.QueryRowContext(ctx, `SELECT `+dumpCols+` FROM dumps WHERE id = $1`, id))
}

// DumpBySHA256 returns the dump with that content hash.
func (db *DB) DumpBySHA256(ctx context.Context, sum string) (Dump, error) {
	return scanDump(db.sql.QueryRowContext(ctx, `SELECT `+dumpCols+` FROM dumps WHERE sha256 = $1 AND sha256 <> ''`, sum))
}

// SetFlags records that a dump's kernel log or flattened index arrived.
func (db *DB) SetFlags(ctx context.Context, id string, dmesg, index bool) error {
	return db.exec1(ctx, `UPDATE dumps SET has_dmesg = has_dmesg | $2, has_index = has_index | $3, updated = $4 WHERE id = $1`,
		id, b2i(dmesg), b2i(index), unix(time.Now()))
}

// CompleteUpload records a finished upload and its content hash, and moves
// the dump to queued with a new run number, which it returns. If another
// dump already has that hash, nothing changes and ErrConflict is returned:
// the caller maps this upload to that dump.
func (db *DB) CompleteUpload(ctx context.Context, id, sha256 string) (int, error) {
	var run int
	err := db.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE dumps SET sha256 = $2, status = $3, run = run + 1, upload_id = '', updated = $4
			WHERE id = $1 AND status = $5 RETURNING run`, id, sha256, StatusQueued, unix(time.Now()), StatusUploading).Scan(&run)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: dump %s is not being uploaded: %w", id, ErrNotFound)
		}
		return err
	})
	if isUnique(err) {
		return 0, fmt.Errorf("store: sha256 %s: %w", sha256, ErrConflict)
	}
	return run, err
}

// Rerun queues a new analysis of a dump and returns its run number.
func (db *DB) Rerun(ctx context.Context, id string) (int, error) {
	var run int
	err := db.sql.QueryRowContext(ctx, `UPDATE dumps SET status = $2, run = run + 1, error = '', updated = $3
		WHERE id = $1 AND status <> $4 RETURNING run`, id, StatusQueued, unix(time.Now()), StatusUploading).Scan(&run)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: dump %s has no complete upload: %w", id, ErrNotFound)
	} else if err != nil {
		return 0, fmt.Errorf("store: rerun: %w", err)
	}
	return run, nil
}

// Result is what an analysis run found, for the dump's summary.
type Result struct {
	Status    string
	Signature string
	OopsType  string
	Panic     string
	Error     string
	// The kernel identity the analysis read from the dump, which wins
	// over what the uploader said, except the kernel's "(none)" for a
	// host name never set: it replaces no name the uploader gave.
	Hostname, Release, BuildID string
	CrashTime                  time.Time
}

// SetStatus moves run's dump to status; it does nothing when a newer run
// has started (an old worker finishing late must not overwrite it).
func (db *DB) SetStatus(ctx context.Context, id string, run int, status string) error {
	_, err := db.sql.ExecContext(ctx, `UPDATE dumps SET status = $3, updated = $4 WHERE id = $1 AND run = $2`, id, run, status, unix(time.Now()))
	if err != nil {
		return fmt.Errorf("store: status: %w", err)
	}
	return nil
}

// SetResult stores run's result, unless a newer run has started.
func (db *DB) SetResult(ctx context.Context, id string, run int, r Result) error {
	_, err := db.sql.ExecContext(ctx, `UPDATE dumps SET status = $3, signature = $4, oops_type = $5, panic = $6, error = $7,
		hostname = CASE WHEN $8 <> '' AND ($8 <> '(none)' OR hostname = '') THEN $8 ELSE hostname END,
		kernel_release = CASE WHEN $9 <> '' THEN $9 ELSE kernel_release END,
		build_id = CASE WHEN $10 <> '' THEN $10 ELSE build_id END,
		crash_time = CASE WHEN CAST($11 AS BIGINT) <> 0 THEN CAST($11 AS BIGINT) ELSE crash_time END,
		updated = $12 WHERE id = $1 AND run = $2`,
		id, run, r.Status, r.Signature, r.OopsType, r.Panic, r.Error, r.Hostname, r.Release, r.BuildID, unix(r.CrashTime), unix(time.Now()))
	if err != nil {
		return fmt.Errorf("store: result: %w", err)
	}
	return nil
}

// DeleteDump removes a dump and its steps.
func (db *DB) DeleteDump(ctx context.Context, id string) error {
	return db.exec1(ctx, `DELETE FROM dumps WHERE id = $1`, id)
}

func (db *DB) exec1(ctx context.Context, q string, args ...any) error {
	res, err := db.sql.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Filter selects dumps for a list.
type Filter struct {
	Host      string
	Release   string
	Signature string
	Status    string
	Type      string
	Since     time.Time // crash time (or upload time when unknown) at or after
	Until     time.Time // and before
	Limit     int
	Offset    int
}

// ListDumps lists dumps matching f, newest first, and how many match in all
// (SearchDumps with a filter alone).
func (db *DB) ListDumps(ctx context.Context, f Filter) ([]Dump, int, error) {
	return db.SearchDumps(ctx, DumpQuery{Filter: f})
}

// Step is the state of one analysis step of one run (see wire.Step).
type Step = wire.Step

// PutStep records (or updates) a step of a run.
func (db *DB) PutStep(ctx context.Context, id string, run, seq int, s Step) error {
	_, err := db.sql.ExecContext(ctx, `INSERT INTO steps (dump_id, run, name, seq, status, seconds, error) VALUES ($1,$2,$3,$4,$5,$6,$7)
		ON CONFLICT (dump_id, run, name) DO UPDATE SET status = excluded.status, seconds = excluded.seconds, error = excluded.error`,
		id, run, s.Name, seq, s.Status, s.Seconds, s.Error)
	if err != nil {
		return fmt.Errorf("store: step %s: %w", s.Name, err)
	}
	return nil
}

// Steps returns a run's steps in order.
func (db *DB) Steps(ctx context.Context, id string, run int) ([]Step, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT name, status, seconds, error FROM steps WHERE dump_id = $1 AND run = $2 ORDER BY seq`, id, run)
	if err != nil {
		return nil, fmt.Errorf("store: steps: %w", err)
	}
	defer rows.Close()
	out := []Step{}
	for rows.Next() {
		var s Step
		if err := rows.Scan(&s.Name, &s.Status, &s.Seconds, &s.Error); err != nil {
			return nil, fmt.Errorf("store: steps: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
