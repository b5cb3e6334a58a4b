// Package store keeps the service's metadata — dumps, analysis steps,
// tokens, buckets and KB feedback — and its job queue in one SQL database:
// SQLite (pure Go, the embedded default) or PostgreSQL (a fleet). The same
// SQL runs on both; where the dialects differ, the DB says which it is.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a row already exists.
var ErrConflict = errors.New("store: conflict")

// DB is the metadata database.
type DB struct {
	sql      *sql.DB
	pool     *pgxpool.Pool // PostgreSQL only
	postgres bool
}

// Open opens the database named by dsn: a postgres:// or postgresql://
// URL, or else the path of an SQLite file (created if missing). The
// schema is created or upgraded.
func Open(ctx context.Context, dsn string) (*DB, error) {
	db := &DB{}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("store: postgres DSN: %w", err)
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("store: postgres: %w", err)
		}
		db.pool, db.postgres = pool, true
		db.sql = stdlib.OpenDBFromPool(pool)
	} else {
		// WAL lets readers go on while the worker writes; the busy timeout
		// turns lock contention into a short wait, not an error. River's
		// SQLite driver wants one connection.
		s, err := sql.Open("sqlite", "file:"+dsn+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("store: sqlite %s: %w", dsn, err)
		}
		s.SetMaxOpenConns(1)
		db.sql = s
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error {
	err := db.sql.Close()
	if db.pool != nil {
		db.pool.Close()
	}
	return err
}

// Postgres says whether the database is PostgreSQL.
func (db *DB) Postgres() bool { return db.postgres }

// SQL is the database/sql handle (for River's SQLite driver).
func (db *DB) SQL() *sql.DB { return db.sql }

// Pool is the pgx pool (for River's PostgreSQL driver); nil on SQLite.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// schema is applied in order; each entry once (schema_version counts them).
var schema = []string{
	`CREATE TABLE tokens (
		hash TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		role TEXT NOT NULL,
		created BIGINT NOT NULL)`,
	`CREATE TABLE dumps (
		id TEXT PRIMARY KEY,
		status TEXT NOT NULL,
		size BIGINT NOT NULL,
		sha256 TEXT NOT NULL DEFAULT '',
		filename TEXT NOT NULL DEFAULT '',
		hostname TEXT NOT NULL DEFAULT '',
		kernel_release TEXT NOT NULL DEFAULT '',
		build_id TEXT NOT NULL DEFAULT '',
		crash_time BIGINT NOT NULL DEFAULT 0,
		upload_id TEXT NOT NULL DEFAULT '',
		part_size BIGINT NOT NULL DEFAULT 0,
		has_dmesg INTEGER NOT NULL DEFAULT 0,
		has_index INTEGER NOT NULL DEFAULT 0,
		run INTEGER NOT NULL DEFAULT 0,
		signature TEXT NOT NULL DEFAULT '',
		oops_type TEXT NOT NULL DEFAULT '',
		panic TEXT NOT NULL DEFAULT '',
		error TEXT NOT NULL DEFAULT '',
		uploader TEXT NOT NULL DEFAULT '',
		created BIGINT NOT NULL,
		updated BIGINT NOT NULL)`,
	`CREATE UNIQUE INDEX dumps_sha256 ON dumps (sha256) WHERE sha256 <> ''`,
	`CREATE INDEX dumps_created ON dumps (created)`,
	`CREATE INDEX dumps_signature ON dumps (signature)`,
	`CREATE TABLE steps (
		dump_id TEXT NOT NULL REFERENCES dumps (id) ON DELETE CASCADE,
		run INTEGER NOT NULL,
		name TEXT NOT NULL,
		seq INTEGER NOT NULL,
		status TEXT NOT NULL,
		seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
		error TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (dump_id, run, name))`,
	// Buckets, links, feedback and articles (buckets.go).
	`CREATE TABLE buckets (
			id TEXT PRIMARY KEY,
			title TEXT NOT NULL,
			article_id TEXT NOT NULL DEFAULT '',
			created BIGINT NOT NULL)`,
	`CREATE TABLE bucket_signatures (
			signature TEXT PRIMARY KEY,
			bucket_id TEXT NOT NULL REFERENCES buckets (id))`,
	`CREATE TABLE feedback (
			signature TEXT NOT NULL,
			article_id TEXT NOT NULL,
			verdict INTEGER NOT NULL,
			actor TEXT NOT NULL,
			created BIGINT NOT NULL,
			PRIMARY KEY (signature, article_id, actor))`,
	`CREATE TABLE dump_articles (
			dump_id TEXT NOT NULL REFERENCES dumps (id) ON DELETE CASCADE,
			article_id TEXT NOT NULL,
			actor TEXT NOT NULL,
			created BIGINT NOT NULL,
			PRIMARY KEY (dump_id, article_id))`,
	`CREATE TABLE audit (
			at BIGINT NOT NULL,
			actor TEXT NOT NULL,
			action TEXT NOT NULL,
			detail TEXT NOT NULL)`,
	`CREATE TABLE articles (
			id TEXT PRIMARY KEY,
			source TEXT NOT NULL,
			actor TEXT NOT NULL,
			updated BIGINT NOT NULL)`,
	// Web UI sessions and one-time login links (sessions.go).
	`CREATE TABLE sessions (
			hash TEXT PRIMARY KEY,
			token_hash TEXT NOT NULL,
			csrf TEXT NOT NULL,
			created BIGINT NOT NULL,
			expires BIGINT NOT NULL)`,
	`CREATE INDEX sessions_expires ON sessions (expires)`,
	`CREATE TABLE login_links (
			hash TEXT PRIMARY KEY,
			token_hash TEXT NOT NULL,
			target TEXT NOT NULL,
			expires BIGINT NOT NULL)`,
	// Triage (triage.go): state, notes and events of buckets and dumps,
	// what each dump's analysis found for the crash list's facets, who has
	// seen which dump, webhooks and their deliveries; a login link may
	// give a session a lower role than its token's.
	`CREATE TABLE triage (
			kind TEXT NOT NULL,
			id TEXT NOT NULL,
			status TEXT NOT NULL DEFAULT '',
			assignee TEXT NOT NULL DEFAULT '',
			link_url TEXT NOT NULL DEFAULT '',
			link_label TEXT NOT NULL DEFAULT '',
			fix_commit TEXT NOT NULL DEFAULT '',
			fix_release TEXT NOT NULL DEFAULT '',
			rule TEXT NOT NULL DEFAULT '',
			rule_by TEXT NOT NULL DEFAULT '',
			rule_at BIGINT NOT NULL DEFAULT 0,
			regression_dump TEXT NOT NULL DEFAULT '',
			regression_release TEXT NOT NULL DEFAULT '',
			regression_at BIGINT NOT NULL DEFAULT 0,
			upgrade TEXT NOT NULL DEFAULT '',
			updated BIGINT NOT NULL DEFAULT 0,
			updated_by TEXT NOT NULL DEFAULT '',
			PRIMARY KEY (kind, id))`,
	`CREATE TABLE triage_notes (
			id TEXT PRIMARY KEY,
			kind TEXT NOT NULL,
			subject TEXT NOT NULL,
			author TEXT NOT NULL,
			body TEXT NOT NULL,
			created BIGINT NOT NULL)`,
	`CREATE INDEX triage_notes_subject ON triage_notes (kind, subject)`,
	`CREATE TABLE triage_events (
			at BIGINT NOT NULL,
			seq BIGINT NOT NULL,
			actor TEXT NOT NULL,
			kind TEXT NOT NULL,
			subject TEXT NOT NULL,
			field TEXT NOT NULL,
			old_value TEXT NOT NULL,
			new_value TEXT NOT NULL)`,
	`CREATE INDEX triage_events_subject ON triage_events (kind, subject, at)`,
	`CREATE TABLE dump_facts (
			dump_id TEXT PRIMARY KEY REFERENCES dumps (id) ON DELETE CASCADE,
			kernel_version TEXT NOT NULL DEFAULT '',
			taint TEXT NOT NULL DEFAULT '',
			arrived BIGINT NOT NULL)`,
	`CREATE TABLE dump_tags (
			dump_id TEXT NOT NULL REFERENCES dumps (id) ON DELETE CASCADE,
			kind TEXT NOT NULL,
			value TEXT NOT NULL,
			PRIMARY KEY (dump_id, kind, value))`,
	`CREATE INDEX dump_tags_value ON dump_tags (kind, value)`,
	`CREATE TABLE dump_seen (
			dump_id TEXT NOT NULL REFERENCES dumps (id) ON DELETE CASCADE,
			actor TEXT NOT NULL,
			at BIGINT NOT NULL,
			PRIMARY KEY (dump_id, actor))`,
	`CREATE TABLE webhooks (
			id TEXT PRIMARY KEY,
			url TEXT NOT NULL,
			format TEXT NOT NULL,
			events TEXT NOT NULL,
			lang TEXT NOT NULL,
			created BIGINT NOT NULL,
			created_by TEXT NOT NULL)`,
	`CREATE TABLE webhook_deliveries (
			id TEXT PRIMARY KEY,
			webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
			event TEXT NOT NULL,
			payload TEXT NOT NULL,
			status TEXT NOT NULL,
			attempts INTEGER NOT NULL DEFAULT 0,
			next_at BIGINT NOT NULL,
			last_code INTEGER NOT NULL DEFAULT 0,
			last_error TEXT NOT NULL DEFAULT '',
			created BIGINT NOT NULL,
			updated BIGINT NOT NULL)`,
	`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_at)`,
	`ALTER TABLE login_links ADD COLUMN role TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE sessions ADD COLUMN role TEXT NOT NULL DEFAULT ''`,
	`CREATE TABLE user_prefs (
			actor TEXT PRIMARY KEY,
			lang TEXT NOT NULL)`,
	// New steps go at the end: a database counts the steps it has run.
}

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.sql.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (n INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: schema: %w", err)
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if db.postgres {
			// Two services starting at once must not both migrate.
			if _, err := tx.ExecContext(ctx, `LOCK TABLE schema_version IN EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_version`).Scan(&n); err != nil {
			return err
		}
		for ; n < len(schema); n++ {
			if _, err := tx.ExecContext(ctx, schema[n]); err != nil {
				return fmt.Errorf("store: schema step %d: %w", n, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (n) VALUES ($1)`, n); err != nil {
				return err
			}
		}
		return nil
	})
}

func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnix(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// isUnique says whether err is a unique-constraint violation, in either
// dialect.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505") || strings.Contains(s, "duplicate key")
}
