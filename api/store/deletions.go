package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Deleting a dump removes its row first and its objects after, so no row
// ever names an object that is gone. The row's deletion leaves a Deletion
// in the same transaction, and the Deletion goes only once every object
// is removed: a process that dies in between leaves work to finish, never
// a dump without bytes or bytes without a dump.

// Deletion is a deleted dump whose objects may still be stored.
type Deletion struct {
	DumpID string
	// Runs is the dump's last run: results of runs 1..Runs may exist.
	Runs int
	// UploadID is the unfinished upload to abort, or "".
	UploadID string
}

// DeleteDump removes a dump's row, its steps and links, and records the
// Deletion of its objects, which it returns.
func (db *DB) DeleteDump(ctx context.Context, id string) (Deletion, error) {
	var del Deletion
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `DELETE FROM dumps WHERE id = $1 RETURNING run, upload_id, status`, id).Scan(&del.Runs, &del.UploadID, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: dump %s: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("store: deleting dump %s: %w", id, err)
		}
		if status != StatusUploading {
			del.UploadID = ""
		}
		del.DumpID = id
		// A run may be analysed while it is deleted: its worker removes
		// what it stored when it finds the row gone (SetResult), and
		// this deletion removes what was stored before.
		_, err = tx.ExecContext(ctx, `INSERT INTO deletions (dump_id, runs, upload_id, created) VALUES ($1,$2,$3,$4)
			ON CONFLICT (dump_id) DO UPDATE SET runs = excluded.runs`, id, del.Runs, del.UploadID, unix(time.Now()))
		if err != nil {
			return fmt.Errorf("store: recording the deletion of %s: %w", id, err)
		}
		return nil
	})
	return del, err
}

// Deletions returns up to limit deletions whose objects are still to be
// removed, oldest first.
func (db *DB) Deletions(ctx context.Context, limit int) ([]Deletion, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT dump_id, runs, upload_id FROM deletions ORDER BY created LIMIT $1`, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("store: deletions: %w", err)
	}
	defer rows.Close()
	var out []Deletion
	for rows.Next() {
		var d Deletion
		if err := rows.Scan(&d.DumpID, &d.Runs, &d.UploadID); err != nil {
			return nil, fmt.Errorf("store: deletions: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeletionDone forgets a deletion whose objects are all removed.
func (db *DB) DeletionDone(ctx context.Context, id string) error {
	if _, err := db.sql.ExecContext(ctx, `DELETE FROM deletions WHERE dump_id = $1`, id); err != nil {
		return fmt.Errorf("store: deletion of %s: %w", id, err)
	}
	return nil
}

// TouchUpload records activity on an upload in progress, which keeps it
// from expiring.
func (db *DB) TouchUpload(ctx context.Context, id string) error {
	_, err := db.sql.ExecContext(ctx, `UPDATE dumps SET updated = $2 WHERE id = $1 AND status = $3`, id, unix(time.Now()), StatusUploading)
	if err != nil {
		return fmt.Errorf("store: upload %s: %w", id, err)
	}
	return nil
}

// StaleUploads returns up to limit ids of uploads with no activity since
// before.
func (db *DB) StaleUploads(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return db.ids(ctx, `SELECT id FROM dumps WHERE status = $1 AND updated < $2 ORDER BY updated LIMIT $3`,
		StatusUploading, unix(before), max(limit, 1))
}

// DumpsUploadedBefore returns up to limit ids of complete dumps uploaded
// before before, oldest first: what a retention period deletes.
func (db *DB) DumpsUploadedBefore(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return db.ids(ctx, `SELECT id FROM dumps WHERE status <> $1 AND created < $2 ORDER BY created LIMIT $3`,
		StatusUploading, unix(before), max(limit, 1))
}

func (db *DB) ids(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// OpenUploads counts the uploads in progress registered by a token, and
// the bytes they announced.
func (db *DB) OpenUploads(ctx context.Context, owner string) (n int, bytes int64, err error) {
	err = db.sql.QueryRowContext(ctx, `SELECT count(*), CAST(coalesce(sum(size), 0) AS BIGINT) FROM dumps WHERE status = $1 AND owner = $2`,
		StatusUploading, owner).Scan(&n, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("store: open uploads: %w", err)
	}
	return n, bytes, nil
}

// UploadingBytes is the bytes announced by every upload in progress: what
// the object store must still find room for.
func (db *DB) UploadingBytes(ctx context.Context) (int64, error) {
	var n int64
	if err := db.sql.QueryRowContext(ctx, `SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM dumps WHERE status = $1`, StatusUploading).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: open uploads: %w", err)
	}
	return n, nil
}
