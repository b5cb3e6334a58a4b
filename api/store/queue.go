package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// AnalyzeJob asks a worker to analyse run Run of a dump. A run is analysed
// at most once at a time and its results are keyed by (dump, run), so a job
// that runs again after its worker died overwrites, never duplicates.
type AnalyzeJob struct {
	DumpID string `json:"dump_id"`
	Run    int    `json:"run"`
}

// Kind implements river.JobArgs.
func (AnalyzeJob) Kind() string { return "analyze" }

// MaxAttempts is how many times a job is tried before it is given up.
const MaxAttempts = 5

// InsertOpts implements river.JobArgsWithInsertOpts: the same (dump, run)
// enqueued twice — a client retrying its completion — is one job.
func (AnalyzeJob) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// QueueConfig configures the job queue.
type QueueConfig struct {
	// Workers is how many analyses this process runs at once; 0 makes an
	// enqueue-only queue (the API role).
	Workers int
	// Lease is how long one analysis may run before it is cancelled and
	// tried again.
	Lease time.Duration
	// RescueAfter is how long a running job may go without its worker's
	// heartbeat (sent every RescueAfter/5) before any worker gives it to
	// another: a killed worker's job runs again after about this long,
	// whatever the lease. 0 means 30 s.
	RescueAfter time.Duration
	// ClientID names this process in the queue; a process that starts
	// again with the same ID (the same data directory) takes back the
	// jobs it was running at once. Empty means a random one.
	ClientID string
	// Work analyses one job.
	Work func(ctx context.Context, job AnalyzeJob, attempt int) error
	// Logger receives River's logs.
	Logger *slog.Logger
}

// Queue is the analysis job queue, kept by River in the metadata database.
type Queue interface {
	// Enqueue adds an analysis job (idempotent per dump and run).
	Enqueue(ctx context.Context, job AnalyzeJob) error
	// Start takes back the jobs this process's ID was running when it
	// died and starts working jobs (a no-op without workers).
	Start(ctx context.Context) error
	// Stop waits for running jobs to finish.
	Stop(ctx context.Context) error
	// Depth counts jobs waiting or running.
	Depth(ctx context.Context) (int, error)

	// insertTx enqueues inside a transaction of the metadata database (a
	// *sql.Tx on SQLite, a pgx.Tx on PostgreSQL), so that a dump's row
	// and its job commit together.
	insertTx(ctx context.Context, tx any, job AnalyzeJob) error
}

type worker struct {
	river.WorkerDefaults[AnalyzeJob]
	q     *jobBeats
	work  func(ctx context.Context, job AnalyzeJob, attempt int) error
	lease time.Duration
}

func (w *worker) Work(ctx context.Context, j *river.Job[AnalyzeJob]) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := w.q.beat(ctx, j.ID, cancel)
	defer stop()
	return w.work(ctx, j.Args, j.Attempt)
}

// Timeout is the lease: River cancels an analysis that runs longer.
func (w *worker) Timeout(*river.Job[AnalyzeJob]) time.Duration { return w.lease }

// ErrJobTaken cancels an analysis whose job was given to another worker
// because this one's heartbeats did not reach the database.
var ErrJobTaken = errors.New("store: the job was given to another worker")

// jobBeats keeps running jobs alive in River's table and gives the jobs of
// dead workers to live ones. River's own rescuer waits for a job to run
// longer than its longest allowed time; a heartbeat tells a slow analysis
// from a dead worker within seconds.
type jobBeats struct {
	db          *DB
	every       time.Duration
	rescueAfter time.Duration
	log         *slog.Logger
	wg          sync.WaitGroup
}

// The statements on River's table use the clock River uses: PostgreSQL's
// (River's fetch and completion read now() there), or on SQLite, which
// runs inside this process and has no clock of its own, the process's
// (River is given it too, see goClock). A worker must not take a live
// job for a dead one because two clocks differ.

// dbNow is the time now, minus ago seconds, as an SQL expression of the
// engine's time type (SQLite keeps times as text in River's one format).
func (b *jobBeats) dbNow(ago float64) string {
	if b.db.postgres {
		return fmt.Sprintf("(now() - make_interval(secs => %f))", ago)
	}
	t := time.Now().Add(-time.Duration(ago * float64(time.Second)))
	return "'" + t.UTC().Round(time.Millisecond).Format(sqliteTime) + "'"
}

// sqliteTime is the one text form of times River's SQLite driver
// compares.
const sqliteTime = "2006-01-02 15:04:05.999"

// goClock is River's clock on SQLite: the process's, as River's own
// rescuer and scheduler read it, where SQLite's datetime('now') may read
// another (a test's clock moved ahead, scripts/test-future-clock).
type goClock struct{}

func (goClock) NowUTC() time.Time { return time.Now().UTC() }

func (goClock) NowUTCOrNil() *time.Time {
	t := time.Now().UTC()
	return &t
}

// beat refreshes job id's attempted_at until stop is called, and cancels
// the analysis when the job is no longer this worker's.
func (b *jobBeats) beat(ctx context.Context, id int64, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(b.every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			res, err := b.db.sql.ExecContext(ctx, `UPDATE river_job SET attempted_at = `+b.dbNow(0)+` WHERE id = $1 AND state = 'running'`, id)
			if err != nil {
				if ctx.Err() == nil {
					b.log.Warn("job heartbeat", "job", id, "err", err)
				}
				continue
			}
			if n, _ := res.RowsAffected(); n == 0 {
				cancel(ErrJobTaken)
				return
			}
		}
	}()
	return func() { close(done) }
}

// rescue makes available again the analyses whose worker has not beaten
// for rescueAfter. Every worker runs it: the UPDATE is atomic, so two
// rescuing the same job at once make it available once.
func (b *jobBeats) rescue(ctx context.Context) (int64, error) {
	res, err := b.db.sql.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = `+b.dbNow(0)+`
		WHERE state = 'running' AND kind = 'analyze' AND attempted_at < `+b.dbNow(b.rescueAfter.Seconds()))
	if err != nil {
		return 0, fmt.Errorf("store: rescuing jobs: %w", err)
	}
	return res.RowsAffected()
}

// reclaim makes available again the analyses the client id was running:
// a process that starts with the ID of one that died knows they are not
// running anywhere.
func (b *jobBeats) reclaim(ctx context.Context, id string) (int64, error) {
	last := `json_extract(CAST(attempted_by AS TEXT), '$[#-1]')`
	if b.db.postgres {
		last = `attempted_by[array_length(attempted_by, 1)]`
	}
	res, err := b.db.sql.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = `+b.dbNow(0)+`
		WHERE state = 'running' AND kind = 'analyze' AND `+last+` = $1`, id)
	if err != nil {
		return 0, fmt.Errorf("store: taking back jobs: %w", err)
	}
	return res.RowsAffected()
}

// loop rescues jobs until ctx ends.
func (b *jobBeats) loop(ctx context.Context) {
	defer b.wg.Done()
	t := time.NewTicker(b.rescueAfter / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := b.rescue(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("rescuing jobs", "err", err)
		} else if n > 0 {
			b.log.Warn("gave the jobs of a dead worker to live ones", "jobs", n)
		}
	}
}

type riverQueue[TTx any] struct {
	client   *river.Client[TTx]
	workers  int
	clientID string
	beats    *jobBeats
	stop     context.CancelFunc
}

// NewQueue makes the queue in db, creating River's tables if needed.
func (db *DB) NewQueue(ctx context.Context, c QueueConfig) (Queue, error) {
	if db.postgres {
		return newRiverQueue(ctx, db, riverpgxv5.New(db.pool), c)
	}
	return newRiverQueue(ctx, db, riversqlite.New(db.sql), c)
}

func newRiverQueue[TTx any](ctx context.Context, db *DB, drv riverdriver.Driver[TTx], c QueueConfig) (Queue, error) {
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: c.Logger})
	if err != nil {
		return nil, fmt.Errorf("store: queue: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("store: queue schema: %w", err)
	}
	lease := c.Lease
	if lease <= 0 {
		lease = 30 * time.Minute
	}
	rescueAfter := c.RescueAfter
	if rescueAfter <= 0 {
		rescueAfter = 30 * time.Second
	}
	logger := c.Logger
	if logger == nil {
		logger = slog.Default()
	}
	beats := &jobBeats{db: db, every: rescueAfter / 5, rescueAfter: rescueAfter, log: logger}
	// The worker's Timeout is the lease; River's own rescuer stays as a
	// backstop for heartbeats that stopped while a job kept running.
	cfg := &river.Config{Logger: c.Logger, ID: c.ClientID, JobTimeout: -1, RescueStuckJobsAfter: lease + time.Hour}
	if !db.postgres {
		cfg.Test.Time = goClock{}
	}
	if c.Workers > 0 {
		ws := river.NewWorkers()
		if err := river.AddWorkerSafely(ws, &worker{q: beats, work: c.Work, lease: lease}); err != nil {
			return nil, fmt.Errorf("store: queue: %w", err)
		}
		cfg.Workers = ws
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: c.Workers}}
		cfg.FetchPollInterval = 500 * time.Millisecond
	}
	client, err := river.NewClient(drv, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: queue: %w", err)
	}
	return &riverQueue[TTx]{client: client, workers: c.Workers, clientID: c.ClientID, beats: beats}, nil
}

func (q *riverQueue[TTx]) Enqueue(ctx context.Context, job AnalyzeJob) error {
	if _, err := q.client.Insert(ctx, job, nil); err != nil {
		return fmt.Errorf("store: enqueue %s run %d: %w", job.DumpID, job.Run, err)
	}
	return nil
}

func (q *riverQueue[TTx]) insertTx(ctx context.Context, tx any, job AnalyzeJob) error {
	t, ok := tx.(TTx)
	if !ok {
		return fmt.Errorf("store: enqueue in a %T transaction", tx)
	}
	if _, err := q.client.InsertTx(ctx, t, job, nil); err != nil {
		return fmt.Errorf("store: enqueue %s run %d: %w", job.DumpID, job.Run, err)
	}
	return nil
}

func (q *riverQueue[TTx]) Start(ctx context.Context) error {
	if q.workers == 0 {
		return nil
	}
	if q.clientID != "" {
		n, err := q.beats.reclaim(ctx, q.clientID)
		if err != nil {
			return err
		}
		if n > 0 {
			q.beats.log.Warn("took back the jobs this worker was running when it stopped", "jobs", n)
		}
	}
	if err := q.client.Start(ctx); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.stop = cancel
	q.beats.wg.Add(1)
	go q.beats.loop(lctx)
	return nil
}

func (q *riverQueue[TTx]) Stop(ctx context.Context) error {
	if q.workers == 0 {
		return nil
	}
	err := q.client.Stop(ctx)
	if q.stop != nil {
		q.stop()
	}
	q.beats.wg.Wait()
	return err
}

func (q *riverQueue[TTx]) Depth(ctx context.Context) (int, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled).First(10000))
	if err != nil {
		return 0, fmt.Errorf("store: queue depth: %w", err)
	}
	return len(res.Jobs), nil
}

// jobQuerier is a transaction's queries, on either engine.
type jobQuerier interface {
	queryRow(ctx context.Context, q string, args ...any) interface{ Scan(...any) error }
}

type sqlJobTx struct{ tx *sql.Tx }

func (s sqlJobTx) queryRow(ctx context.Context, q string, args ...any) interface{ Scan(...any) error } {
	return s.tx.QueryRowContext(ctx, q, args...)
}

type pgxJobTx struct{ tx pgx.Tx }

// pgxRow maps pgx's no-rows error to database/sql's, which the callers
// test for.
type pgxRow struct{ r pgx.Row }

func (r pgxRow) Scan(dst ...any) error {
	err := r.r.Scan(dst...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return err
}

func (p pgxJobTx) queryRow(ctx context.Context, q string, args ...any) interface{ Scan(...any) error } {
	return pgxRow{p.tx.QueryRow(ctx, q, args...)}
}

// jobTx runs fn in a transaction and enqueues the job it returns (if any)
// in the same transaction: the row changes and the job commit together,
// so no dump is ever queued without its job, whatever dies when.
func (db *DB) jobTx(ctx context.Context, q Queue, fn func(jobQuerier) (*AnalyzeJob, error)) error {
	if db.postgres {
		tx, err := db.pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("store: begin: %w", err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		job, err := fn(pgxJobTx{tx})
		if err != nil {
			return err
		}
		if job != nil {
			if err := q.insertTx(ctx, tx, *job); err != nil {
				return err
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("store: commit: %w", err)
		}
		return nil
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		job, err := fn(sqlJobTx{tx})
		if err != nil || job == nil {
			return err
		}
		return q.insertTx(ctx, tx, *job)
	})
}
