// Command vmcored is the vmcore service: the API that takes dump uploads,
// the workers that analyse them, and (later) the web UI, in one binary.
// With no flags it runs everything on one machine under ./vmcore-data:
// SQLite, a filesystem object store and in-process workers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vmcore/vmcore/api"
	"github.com/vmcore/vmcore/api/blob"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vmcored:", err)
		os.Exit(1)
	}
}

// env returns the environment variable or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("vmcored", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg api.Config
	fs.StringVar(&cfg.DataDir, "data", env("VMCORED_DATA", "./vmcore-data"), "data directory (database, objects, caches)")
	listen := fs.String("listen", env("VMCORED_LISTEN", "127.0.0.1:8080"), "address to serve the API on")
	fs.StringVar(&cfg.Role, "role", env("VMCORED_ROLE", api.RoleAll), "all, api or worker")
	fs.StringVar(&cfg.DB, "db", env("VMCORED_DB", ""), "PostgreSQL URL (postgres://…); empty: SQLite in the data directory")
	fs.StringVar(&cfg.S3.Endpoint, "s3-endpoint", env("VMCORED_S3_ENDPOINT", ""), "S3/MinIO host:port; empty: objects in the data directory")
	fs.StringVar(&cfg.S3.Bucket, "s3-bucket", env("VMCORED_S3_BUCKET", "vmcore"), "bucket")
	fs.StringVar(&cfg.S3.Region, "s3-region", env("VMCORED_S3_REGION", ""), "region")
	fs.StringVar(&cfg.S3.CAFile, "s3-ca-file", env("VMCORED_S3_CA_FILE", ""), "CA bundle for the S3 endpoint")
	fs.StringVar(&cfg.S3.PublicEndpoint, "s3-public-endpoint", env("VMCORED_S3_PUBLIC_ENDPOINT", ""), "host:port uploaders reach the store at, if not -s3-endpoint")
	fs.BoolVar(&cfg.S3.PathStyle, "s3-path-style", env("VMCORED_S3_PATH_STYLE", "") == "1", "bucket in the path (MinIO, Ceph)")
	fs.BoolVar(&cfg.S3.Insecure, "s3-insecure", env("VMCORED_S3_INSECURE", "") == "1", "plain HTTP to the store")
	fs.IntVar(&cfg.Workers, "workers", 2, "analyses run at once by this process")
	fs.DurationVar(&cfg.Lease, "lease", 30*time.Minute, "longest analysis; a dead worker's job moves on after it")
	fs.Int64Var(&cfg.MaxUploadSize, "max-upload-size", 1<<40, "largest dump accepted, in bytes")
	fs.Int64Var(&cfg.PartSize, "part-size", 16<<20, "upload part size offered to clients (at least 5 MiB)")
	fs.DurationVar(&cfg.StepDelay, "fault-step-delay", 0, "sleep before every analysis step (fault-injection tests only)")
	fs.StringVar(&cfg.PublicURL, "public-url", env("VMCORED_PUBLIC_URL", ""), "where people reach the web UI (https://vmcore.example), for links in webhook notifications")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.S3.AccessKey = os.Getenv("VMCORED_S3_ACCESS_KEY")
	cfg.S3.SecretKey = os.Getenv("VMCORED_S3_SECRET_KEY")
	cfg.AdminToken = os.Getenv("VMCORED_ADMIN_TOKEN")
	cfg.DebuginfodURLs = strings.Fields(os.Getenv("DEBUGINFOD_URLS"))
	if s := os.Getenv("VMCORE_DEBUGINFO"); s != "" {
		cfg.DebuginfoStores = strings.Split(s, ":")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := api.New(ctx, cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second}
	cfg.Logger.Info("vmcored serving", "addr", ln.Addr().String(), "role", cfg.Role, "data", cfg.DataDir,
		"db", dbKind(cfg.DB), "objects", objectsKind(cfg.S3))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	cfg.Logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	if cerr := srv.Close(sctx); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func dbKind(dsn string) string {
	if dsn == "" {
		return "sqlite"
	}
	return "postgres"
}

func objectsKind(c blob.S3Config) string {
	if c.Endpoint == "" {
		return "filesystem"
	}
	return "s3://" + c.Endpoint + "/" + c.Bucket
}
