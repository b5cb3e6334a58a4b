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
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/vmcore/vmcore/api/blob"
	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/api/wire"
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
	// Lease is how long one analysis may run before its job is given to
	// another worker.
	Lease time.Duration
	// MaxUploadSize refuses larger dumps when they are registered.
	MaxUploadSize int64
	// PartSize is the upload part size offered to clients.
	PartSize int64
	// AdminToken, when set, is stored as an admin token at start.
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
	cfg     Config
	db      *store.DB
	blobs   blob.Store
	queue   store.Queue
	echo    *echo.Echo
	log     *slog.Logger
	metrics *metrics
	kb      kbState
	// stopHooks ends the webhook deliveries (Close).
	stopHooks context.CancelFunc
}

// New opens the stores and builds the service; Start starts its workers.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Role == "" {
		cfg.Role = RoleAll
	}
	if cfg.Role != RoleAll && cfg.Role != RoleAPI && cfg.Role != RoleWorker {
		return nil, fmt.Errorf("api: unknown role %q (all, api, worker)", cfg.Role)
	}
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("api: data directory: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: newMetrics()}
	dsn := cfg.DB
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, "vmcored.db")
	}
	var err error
	if s.db, err = store.Open(ctx, dsn); err != nil {
		return nil, err
	}
	if cfg.S3.Endpoint != "" {
		s.blobs, err = blob.NewS3(ctx, cfg.S3)
	} else {
		s.blobs, err = blob.NewFS(filepath.Join(cfg.DataDir, "objects"))
	}
	if err != nil {
		s.db.Close()
		return nil, err
	}
	workers := 0
	if cfg.Role != RoleAPI {
		workers = cfg.Workers
	}
	s.queue, err = s.db.NewQueue(ctx, store.QueueConfig{Workers: workers, Lease: cfg.Lease, Work: s.analyze,
		Logger: slog.New(quietHandler{cfg.Logger.Handler()}).With("component", "queue")})
	if err != nil {
		s.db.Close()
		return nil, err
	}
	s.metrics.depth = func() float64 {
		n, err := s.queue.Depth(context.Background())
		if err != nil {
			return -1
		}
		return float64(n)
	}
	if err := s.bootstrapToken(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	s.echo = s.routes()
	// The first analysis or search should not wait for the index.
	go s.KBIndex(context.WithoutCancel(ctx))
	return s, nil
}

// bootstrapToken makes sure an admin can log in: with no admin token yet,
// it makes one and writes it to DataDir/admin-token.
func (s *Server) bootstrapToken(ctx context.Context) error {
	if s.cfg.AdminToken != "" {
		return s.db.AddToken(ctx, s.cfg.AdminToken, "admin (VMCORED_ADMIN_TOKEN)", store.RoleAdmin)
	}
	n, err := s.db.CountTokens(ctx, store.RoleAdmin)
	if err != nil || n > 0 {
		return err
	}
	tok := NewToken()
	if err := s.db.AddToken(ctx, tok, "admin (first start)", store.RoleAdmin); err != nil {
		return err
	}
	path := filepath.Join(s.cfg.DataDir, "admin-token")
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
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

// Start starts the workers (for roles all and worker) and the webhook
// deliveries (for roles all and api).
func (s *Server) Start(ctx context.Context) error {
	if s.cfg.Role != RoleWorker {
		hctx, cancel := context.WithCancel(ctx)
		s.stopHooks = cancel
		go s.deliverWebhooks(hctx)
	}
	return s.queue.Start(ctx)
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Close stops the workers, waiting for running analyses, and closes the
// stores.
func (s *Server) Close(ctx context.Context) error {
	if s.stopHooks != nil {
		s.stopHooks()
	}
	err := s.queue.Stop(ctx)
	return errors.Join(err, s.db.Close())
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
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
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(s.metrics.handler()))
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

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "database: "+err.Error())
	}
	if _, err := s.blobs.Stat(ctx, "readyz"); err != nil && !errors.Is(err, blob.ErrNotFound) {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "object store: "+err.Error())
	}
	return c.String(http.StatusOK, "ready\n")
}

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

// auth admits requests whose bearer token has one of the roles.
func (s *Server) auth(roles ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header.Get("Authorization")
			tok, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || tok == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="vmcored"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "a token is required (Authorization: Bearer …)")
			}
			name, role, err := s.db.TokenRole(c.Request().Context(), tok)
			if errors.Is(err, store.ErrNotFound) {
				return echo.NewHTTPError(http.StatusUnauthorized, "unknown token")
			} else if err != nil {
				return err
			}
			for _, r := range roles {
				if role == r {
					c.Set("token", name)
					c.Set("role", role)
					return next(c)
				}
			}
			return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("a %s token may not do this", role))
		}
	}
}

type tokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func (s *Server) createToken(c echo.Context) error {
	var req tokenRequest
	if err := c.Bind(&req); err != nil {
		return err
	}
	if !store.ValidRole(req.Role) || req.Name == "" {
		return echo.NewHTTPError(http.StatusBadRequest, "name and role (uploader, viewer, support, admin) are required")
	}
	tok := NewToken()
	if err := s.db.AddToken(c.Request().Context(), tok, req.Name, req.Role); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]string{"token": tok, "name": req.Name, "role": req.Role})
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
