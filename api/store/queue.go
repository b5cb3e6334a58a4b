package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

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

// InsertOpts implements river.JobArgsWithInsertOpts: the same (dump, run)
// enqueued twice — a client retrying its completion — is one job.
func (AnalyzeJob) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// QueueConfig configures the job queue.
type QueueConfig struct {
	// Workers is how many analyses this process runs at once; 0 makes an
	// enqueue-only queue (the API role).
	Workers int
	// Lease is how long an analysis may run; a job whose worker died is
	// given to another worker after Lease plus River's 30 s rescue pass.
	Lease time.Duration
	// Work analyses one job.
	Work func(ctx context.Context, job AnalyzeJob, attempt int) error
	// Logger receives River's logs.
	Logger *slog.Logger
}

// Queue is the analysis job queue, kept by River in the metadata database.
type Queue interface {
	// Enqueue adds an analysis job (idempotent per dump and run).
	Enqueue(ctx context.Context, job AnalyzeJob) error
	// Start starts working jobs (a no-op without workers).
	Start(ctx context.Context) error
	// Stop waits for running jobs to finish.
	Stop(ctx context.Context) error
	// Depth counts jobs waiting or running.
	Depth(ctx context.Context) (int, error)
}

type worker struct {
	river.WorkerDefaults[AnalyzeJob]
	work  func(ctx context.Context, job AnalyzeJob, attempt int) error
	lease time.Duration
}

func (w *worker) Work(ctx context.Context, j *river.Job[AnalyzeJob]) error {
	return w.work(ctx, j.Args, j.Attempt)
}

func (w *worker) Timeout(*river.Job[AnalyzeJob]) time.Duration { return w.lease }

type riverQueue[TTx any] struct {
	client  *river.Client[TTx]
	workers int
}

// NewQueue makes the queue in db, creating River's tables if needed.
func (db *DB) NewQueue(ctx context.Context, c QueueConfig) (Queue, error) {
	if db.postgres {
		return newRiverQueue(ctx, riverpgxv5.New(db.pool), c)
	}
	return newRiverQueue(ctx, riversqlite.New(db.sql), c)
}

func newRiverQueue[TTx any](ctx context.Context, drv riverdriver.Driver[TTx], c QueueConfig) (Queue, error) {
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
	cfg := &river.Config{Logger: c.Logger, JobTimeout: lease, RescueStuckJobsAfter: lease}
	if c.Workers > 0 {
		ws := river.NewWorkers()
		if err := river.AddWorkerSafely(ws, &worker{work: c.Work, lease: lease}); err != nil {
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
	return &riverQueue[TTx]{client: client, workers: c.Workers}, nil
}

func (q *riverQueue[TTx]) Enqueue(ctx context.Context, job AnalyzeJob) error {
	if _, err := q.client.Insert(ctx, job, nil); err != nil {
		return fmt.Errorf("store: enqueue %s run %d: %w", job.DumpID, job.Run, err)
	}
	return nil
}

func (q *riverQueue[TTx]) Start(ctx context.Context) error {
	if q.workers == 0 {
		return nil
	}
	return q.client.Start(ctx)
}

func (q *riverQueue[TTx]) Stop(ctx context.Context) error {
	if q.workers == 0 {
		return nil
	}
	return q.client.Stop(ctx)
}

func (q *riverQueue[TTx]) Depth(ctx context.Context) (int, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled).First(10000))
	if err != nil {
		return 0, fmt.Errorf("store: queue depth: %w", err)
	}
	return len(res.Jobs), nil
}
