// Package api is the service: the HTTP API (echo) that registers dumps and
// takes their bytes, the worker that analyses them from object storage by
// ranged reads, and the reads of stored results. Storage sits behind
// api/blob (filesystem or S3) and api/store (SQLite or PostgreSQL, with the
// River job queue), so one binary runs on one machine with zero setup or
// as any number of API and worker processes on shared engines.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/sync/singleflight"

	"github.com/vmcore/vmcore/api/blob"
	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/internal/diskspace"
)

// Roles a process can take.
const (
	RoleAll    = "all"
	RoleAPI    = "api"
	RoleWorker = "worker"
)

// Config configures the service.
type Config struct {
	// DataDir holds the embedded default's database and objects, and
	// every role's caches.
	DataDir string
	// Role is all, api or worker.
	Role string
	// DB is a PostgreSQL URL; empty means SQLite under DataDir.
	DB string
	// S3, when its Endpoint is set, stores objects in S3/MinIO instead of
	// under DataDir.
	S3 blob.S3Config
	// Workers is how many analyses a worker process runs at once.
	Workers int
	// Lease is how long one analysis may run before it is cancelled and
	// tried again.
	Lease time.Duration
	// RescueAfter is how long a running analysis may go without its
	// worker's heartbeat before another worker takes it: a killed
	// worker's jobs run again after about this long (0: 30 s), and at
	// once when the same data directory starts again.
	RescueAfter time.Duration
	// MaxUploadSize refuses larger dumps when they are registered.
	MaxUploadSize int64
	// MaxExpandedSize bounds the expansion of a dump in a compressed
	// container (a gzip bomb); 0 means 4 × MaxUploadSize, or
	// vmcore.DefaultMaxExpandedSize without an upload limit.
	MaxExpandedSize int64
	// PartSize is the upload part size offered to clients.
	PartSize int64
	// MinFreeSpace is the free space the data directory keeps: below it
	// /readyz fails, new uploads that would not fit are refused with 507,
	// and expansions stop. 0 means 1 GiB; negative means no threshold.
	MinFreeSpace int64
	// UploadTTL removes an upload, with its parts, after this long
	// without activity; 0 means 72 hours.
	UploadTTL time.Duration
	// Retention deletes dumps (rows, objects and results) this long after
	// their upload; 0 keeps them forever.
	Retention time.Duration
	// MaxOpenUploads is how many uploads one token may have in progress;
	// 0 means 256.
	MaxOpenUploads int
	// AuthFailures is how many failed authentications one client (IP
	// address) may make in a burst before it is answered 429; after the
	// burst, one more per AuthFailureEvery. 0 means 20 per 6 s.
	AuthFailures     int
	AuthFailureEvery time.Duration
	// TrustedProxies are the CIDRs of proxies whose X-Forwarded-For names
	// the client; without them the client is the connection's address.
	TrustedProxies []string
	// MinBodyRate is the slowest a request body may arrive, in bytes per
	// second, after a grace of BodyIdle; a body that stalls for BodyIdle
	// is cut off too. 0 means 16 KiB/s and 60 s.
	MinBodyRate int64
	BodyIdle    time.Duration
	// MetricsToken, when set, is accepted on /metrics besides viewer and
	// admin tokens (for a Prometheus scraper that needs no other right).
	MetricsToken string
	// AdminToken, when set, is stored as an admin token at start and
	// replaces the one the environment gave before.
	AdminToken string
	// DebuginfoStores and DebuginfodURLs find vmlinux debuginfo by
	// build-id, after the debuginfo uploaded to the service.
	DebuginfoStores []string
	DebuginfodURLs  []string
	// StepDelay slows every analysis step down, for fault-injection tests
	// that must kill a worker in the middle of an analysis.
	StepDelay time.Duration
	// Logger receives the service's logs.
	Logger *slog.Logger
	// PublicURL is where people reach the web UI (https://vmcore.example),
	// for the links in webhook notifications; empty means links are
	// relative.
	PublicURL string
	// Now is the clock of triage and webhook deliveries (tests move it);
	// nil means time.Now.
	Now func() time.Time
}

// Server is a running service.
type Server struct {
	cfg      Config
	db       *store.DB
	blobs    blob.Store
	queue    store.Queue
	echo     *echo.Echo
	log      *slog.Logger
	metrics  *metrics
	kb       kbState
	unlock   func()
	authFail *failures
	// completing runs one completion per dump at a time in this process;
	// a client that asks again while it runs waits for its answer.
	completing singleflight.Group
	// stopMaintenance ends the maintenance loop Start started.
	stopMaintenance context.CancelFunc
	maintenance     sync.WaitGroup
	// stopHooks ends the webhook deliveries (Close).
	stopHooks context.CancelFunc
}

// New opens the stores and builds the service; Start starts its workers
// and maintenance. The data directory is locked: a second process on the
// same directory is refused.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Role == "" {
		cfg.Role = RoleAll
	}
	if cfg.Role != RoleAll && cfg.Role != RoleAPI && cfg.Role != RoleWorker {
		return nil, fmt.Errorf("api: unknown role %q (all, api, worker)", cfg.Role)
	}
	cfg = withDefaults(cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("api: data directory: %w", err)
	}
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("api: data directory: %w", err)
	}
	unlock, err := lockDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: newMetrics(), unlock: unlock,
		authFail: newFailures(cfg.AuthFailures, cfg.AuthFailureEvery)}
	fail := func(err error) (*Server, error) {
		if s.db != nil {
			s.db.Close()
		}
		unlock()
		return nil, err
	}
	if err := s.sweepTemp(); err != nil {
		return fail(err)
	}
	dsn := cfg.DB
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, "vmcored.db")
	}
	if s.db, err = store.Open(ctx, dsn); err != nil {
		return fail(err)
	}
	if cfg.S3.Endpoint != "" {
		s.blobs, err = blob.NewS3(ctx, cfg.S3)
	} else {
		var fs *blob.FS
		if fs, err = blob.NewFS(filepath.Join(cfg.DataDir, "objects")); err == nil {
			s.blobs = fs
			// What a killed process was writing: partial parts and
			// objects (a join in progress resumes instead).
			if n, b, serr := fs.Sweep(); serr != nil {
				err = serr
			} else if n > 0 {
				s.log.Warn("removed what a stopped process was writing", "files", n, "bytes", b)
			}
		}
	}
	if err != nil {
		return fail(err)
	}
	workers, clientID := 0, ""
	if cfg.Role != RoleAPI {
		workers = cfg.Workers
		if clientID, err = workerID(cfg.DataDir); err != nil {
			return fail(err)
		}
	}
	s.queue, err = s.db.NewQueue(ctx, store.QueueConfig{Workers: workers, Lease: cfg.Lease, RescueAfter: cfg.RescueAfter,
		ClientID: clientID, Work: s.analyze, Logger: slog.New(quietHandler{cfg.Logger.Handler()}).With("component", "queue")})
	if err != nil {
		return fail(err)
	}
	s.metrics.depth = func() float64 {
		n, err := s.queue.Depth(context.Background())
		if err != nil {
			return -1
		}
		return float64(n)
	}
	s.metrics.free = func() float64 {
		free, err := diskspace.Free(cfg.DataDir)
		if err != nil {
			return -1
		}
		return float64(free)
	}
	if err := s.bootstrapToken(ctx); err != nil {
		return fail(err)
	}
	s.echo = s.routes()
	// The first analysis or search should not wait for the index.
	go s.KBIndex(context.WithoutCancel(ctx))
	return s, nil
}

// withDefaults fills in the zero fields of a Config.
func withDefaults(cfg Config) Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.PartSize <= 0 {
		cfg.PartSize = 16 << 20
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Minute
	}
	if cfg.MinFreeSpace == 0 {
		cfg.MinFreeSpace = 1 << 30
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxExpandedSize <= 0 && cfg.MaxUploadSize > 0 {
		cfg.MaxExpandedSize = 4 * cfg.MaxUploadSize
	}
	if cfg.UploadTTL <= 0 {
		cfg.UploadTTL = 72 * time.Hour
	}
	if cfg.MaxOpenUploads <= 0 {
		cfg.MaxOpenUploads = 256
	}
	if cfg.AuthFailures <= 0 {
		cfg.AuthFailures = 20
	}
	if cfg.AuthFailureEvery <= 0 {
		cfg.AuthFailureEvery = 6 * time.Second
	}
	if cfg.MinBodyRate <= 0 {
		cfg.MinBodyRate = 16 << 10
	}
	if cfg.BodyIdle <= 0 {
		cfg.BodyIdle = 60 * time.Second
	}
	return cfg
}

// workerID is the queue's name for this data directory's worker, made at
// its first start: a worker that starts again knows the jobs it was
// running when it died.
func workerID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "worker-id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	host, _ := os.Hostname()
	var r [6]byte
	rand.Read(r[:])
	id := fmt.Sprintf("vmcored-%s-%s", clip(host, 40), hex.EncodeToString(r[:]))
	if err := writeFileSynced(path, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("api: worker id: %w", err)
	}
	return id, nil
}

// writeFileSynced writes a small file of the data directory by rename,
// synced with its directory.
func writeFileSynced(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// bootstrapToken makes sure an admin can log in: the environment's admin
// token replaces the one it gave before; with none and no admin token
// yet, it makes one and writes it to DataDir/admin-token.
func (s *Server) bootstrapToken(ctx context.Context) error {
	if s.cfg.AdminToken != "" {
		return s.db.SetEnvToken(ctx, s.cfg.AdminToken, "admin (VMCORED_ADMIN_TOKEN)")
	}
	n, err := s.db.CountTokens(ctx, store.RoleAdmin)
	if err != nil || n > 0 {
		return err
	}
	tok := NewToken()
	if err := s.db.AddToken(ctx, tok, store.Token{Name: "admin (first start)", Role: store.RoleAdmin, Origin: store.OriginFirstStart}); err != nil {
		return err
	}
	path := filepath.Join(s.cfg.DataDir, "admin-token")
	if err := writeFileSynced(path, []byte(tok+"\n")); err != nil {
		return fmt.Errorf("api: writing the admin token: %w", err)
	}
	s.log.Info("created an admin token", "file", path)
	return nil
}

// NewToken makes a random API token.
func NewToken() string {
	var b [24]byte
	rand.Read(b[:])
	return "vmc_" + hex.EncodeToString(b[:])
}

// Handler is the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo gives the ui package the router to add its pages to.
func (s *Server) Echo() *echo.Echo { return s.echo }

// DB is the metadata store.
func (s *Server) DB() *store.DB { return s.db }

// Blobs is the object store.
func (s *Server) Blobs() blob.Store { return s.blobs }

// Start starts the workers (for roles all and worker), taking back at
// once the jobs this data directory's worker was running when it died,
// and, for roles all and api, the webhook deliveries and the
// maintenance: deletions to finish, abandoned uploads and, with a
// retention, old dumps.
func (s *Server) Start(ctx context.Context) error {
	if err := s.queue.Start(ctx); err != nil {
		return err
	}
	if s.cfg.Role != RoleWorker {
		hctx, cancel := context.WithCancel(ctx)
		s.stopHooks = cancel
		go s.deliverWebhooks(hctx)
		mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.stopMaintenance = cancel
		s.maintenance.Add(1)
		go s.maintain(mctx)
	}
	return nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Close stops the workers, waiting for running analyses, and the
// maintenance, and closes the stores.
func (s *Server) Close(ctx context.Context) error {
	if s.stopHooks != nil {
		s.stopHooks()
	}
	err := s.queue.Stop(ctx)
	if s.stopMaintenance != nil {
		s.stopMaintenance()
	}
	s.maintenance.Wait()
	err = errors.Join(err, s.db.Close())
	s.unlock()
	return err
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = clientIP(s.cfg.TrustedProxies)
	e.Use(middleware.Recover(), middleware.RequestID())
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURI: true, LogMethod: true, LogLatency: true, LogError: true, HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			// Every request is logged with its status, so that failures
			// can be found in the log; only the probes' successes, which
			// come every few seconds, are left to debug.
			lvl := slog.LevelInfo
			switch {
			case v.Status >= 500:
				lvl = slog.LevelWarn
			case v.Status < 400 && (v.URI == "/healthz" || v.URI == "/readyz" || v.URI == "/metrics"):
				lvl = slog.LevelDebug
			}
			s.log.Log(c.Request().Context(), lvl, "request", "method", v.Method, "uri", v.URI, "status", v.Status,
				"latency", v.Latency, "err", v.Error)
			return nil
		},
	}))
	e.Use(s.bodyDeadline)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(s.metrics.handler()), s.metricsAuth)
	e.GET("/api/v1/openapi.yaml", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", openAPI) })

	// Roles are checked per route, not per group: an echo group with
	// middleware answers unknown paths under it with that middleware's
	// 401/403 instead of 404.
	uploader := s.auth(store.RoleUploader, store.RoleAdmin)
	viewer := s.auth(store.RoleViewer, store.RoleSupport, store.RoleAdmin)
	admin := s.auth(store.RoleAdmin)
	small := middleware.BodyLimit("1M")
	const v1 = "/api/v1"
	e.POST(v1+"/uploads", s.createUpload, uploader, small)
	e.GET(v1+"/uploads/:id", s.getUpload, uploader)
	e.PUT(v1+"/uploads/:id/parts/:n", s.putPart, uploader)
	e.PUT(v1+"/uploads/:id/dmesg", s.putDmesg, uploader, middleware.BodyLimit("64M"))
	e.PUT(v1+"/uploads/:id/index", s.putIndex, uploader, middleware.BodyLimit("256M"))
	e.POST(v1+"/uploads/:id/complete", s.completeUpload, uploader, small)

	e.GET(v1+"/dumps", s.listDumps, viewer)
	e.GET(v1+"/dumps/:id", s.getDump, viewer)
	e.GET(v1+"/dumps/:id/log", s.getLog, viewer)
	e.GET(v1+"/dumps/:id/dmesg", s.getDmesg, viewer)
	e.GET(v1+"/dumps/:id/analysis", s.getAnalysis, viewer)

	e.POST(v1+"/dumps/:id/rerun", s.rerun, admin, small)
	e.DELETE(v1+"/dumps/:id", s.deleteDump, admin)
	e.GET(v1+"/dumps/:id/download", s.downloadDump, admin)
	e.PUT(v1+"/debuginfo/:buildid", s.putDebuginfo, admin)
	e.POST(v1+"/tokens", s.createToken, admin, small)
	e.GET(v1+"/tokens", s.listTokens, admin)
	e.DELETE(v1+"/tokens/:id", s.revokeToken, admin)

	e.GET(v1+"/kb/articles", s.searchArticles, viewer)
	e.GET(v1+"/kb/articles/:id", s.getArticle, viewer)
	e.PUT(v1+"/kb/articles/:id", s.putArticle, admin)
	e.POST(v1+"/kb/match", s.matchLog, viewer, middleware.BodyLimit("8M"))
	e.GET(v1+"/buckets", s.listBuckets, viewer)
	e.GET(v1+"/buckets/:id", s.getBucket, viewer)
	e.POST(v1+"/buckets/:id/merge", s.mergeBucket, admin, small)
	e.POST(v1+"/buckets/split", s.splitBucket, admin, small)
	e.PUT(v1+"/buckets/:id/article", s.linkBucket, admin, small)
	e.POST(v1+"/dumps/:id/articles", s.linkDump, admin, small)
	e.POST(v1+"/dumps/:id/feedback", s.feedback, viewer, small)
	e.GET(v1+"/audit", s.getAudit, admin)
	s.triageRoutes(e, viewer)
	s.mountUI(e)
	return e
}

// MetricsHandler serves the metrics with no authentication, for a
// listener of their own that only the monitoring network reaches
// (vmcored --metrics-listen); the API's /metrics wants a token.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler() }

// readyz answers 503 when this process cannot do its work: the database
// or the object store does not answer, or the data directory has less
// than MinFreeSpace free.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "database: "+err.Error())
	}
	if _, err := s.blobs.Stat(ctx, "readyz"); err != nil && !errors.Is(err, blob.ErrNotFound) {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "object store: "+err.Error())
	}
	if free, low := s.lowOnSpace(); low {
		return echo.NewHTTPError(http.StatusServiceUnavailable,
			fmt.Sprintf("the data directory has %d bytes free, less than the %d it keeps", free, s.cfg.MinFreeSpace))
	}
	return c.String(http.StatusOK, "ready\n")
}

// lowOnSpace says whether the data directory is below MinFreeSpace.
func (s *Server) lowOnSpace() (free int64, low bool) {
	if s.cfg.MinFreeSpace < 0 {
		return 0, false
	}
	free, err := diskspace.Free(s.cfg.DataDir)
	if err != nil {
		return 0, false
	}
	return free, free < s.cfg.MinFreeSpace
}

// errInsufficientStorage is the answer on a full store: retryable, and
// naming nothing of the server's files.
var errInsufficientStorage = echo.NewHTTPError(http.StatusInsufficientStorage, "the service's storage is full; try again later")

func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "internal error"
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		code, msg = he.Code, fmt.Sprint(he.Message)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, blob.ErrNotFound):
		code, msg = http.StatusNotFound, "not found"
	case errors.Is(err, store.ErrConflict):
		code, msg = http.StatusConflict, err.Error()
	case errors.Is(err, blob.ErrNoSpace):
		code, msg = http.StatusInsufficientStorage, fmt.Sprint(errInsufficientStorage.Message)
		s.log.Warn("the object store is full", "uri", c.Request().RequestURI, "err", err)
	case errors.Is(err, blob.ErrBadContent):
		code, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, store.ErrInvalid):
		code, msg = http.StatusBadRequest, strings.TrimPrefix(err.Error(), "store: invalid: ")
	default:
		s.log.Error("request failed", "uri", c.Request().RequestURI, "err", err)
	}
	id := c.Response().Header().Get(echo.HeaderXRequestID)
	if c.Request().Method == http.MethodHead {
		c.NoContent(code)
		return
	}
	c.JSON(code, wire.Error{Error: msg, RequestID: id})
}

// quietHandler passes on only warnings and errors: River's debug and info
// logs would drown the service's own.
type quietHandler struct{ slog.Handler }

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h quietHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(a)}
}
func (h quietHandler) WithGroup(n string) slog.Handler { return quietHandler{h.Handler.WithGroup(n)} }
