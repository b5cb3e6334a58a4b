// Command vmcored is the vmcore service: the API that takes dump uploads,
// the workers that analyse them, and the web UI, in one binary. With no
// flags it runs everything on one machine under ./vmcore-data: SQLite, a
// filesystem object store and in-process workers.
//
// The command line follows vmcorectl's: GNU long flags (--listen ADDR or
// --listen=ADDR), help on standard output with status 0, --version, and
// exit status 0 after a clean shutdown, 1 when the service fails, 2 for a
// mistake on the command line or in a VMCORED_* variable.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vmcore/vmcore/api"
	"github.com/vmcore/vmcore/api/blob"
	"github.com/vmcore/vmcore/cmd/internal/buildinfo"
)

// Exit statuses, as vmcorectl's.
const (
	exitOK      = 0 // shut down cleanly, or printed the help or version
	exitFailure = 1 // the service could not start or failed
	exitUsage   = 2 // the command line or the environment is wrong
)

// errUsage marks a mistake on the command line or in the environment.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// longHelp is the help's description: what the service is, its exit
// status and the environment (the variables that set a flag are listed
// with the flags).
const longHelp = `vmcored is the vmcore service: the API that takes kernel crash dump uploads (vmcorectl upload),
the workers that analyse them, and the web UI for support engineers, in one binary. With no flags
it runs everything on one machine under ./vmcore-data: SQLite for the metadata and the job queue,
the dumps in the data directory, and in-process workers. A fleet runs --role api and --role worker
processes on PostgreSQL (--db) and an S3 store (--s3-endpoint).

Durations are Go durations (90s, 30m, 72h); sizes are in bytes. A flag given on the command line
wins over its environment variable, which wins over the default.

Environment (and the variables in [$…] below, which set their flag):
  VMCORED_ADMIN_TOKEN    an admin token to store at start; a new value replaces the previous one.
                         Without it the first start makes one and writes it to DATA/admin-token
  VMCORED_METRICS_TOKEN  a token accepted on /metrics only (for a Prometheus scraper)
  VMCORED_S3_ACCESS_KEY, VMCORED_S3_SECRET_KEY
                         the S3 store's credentials
  VMCORE_DEBUGINFO       local debuginfo stores, colon-separated (as vmcorectl), searched by build-id
  DEBUGINFOD_URLS        debuginfod servers, space-separated (as elfutils)

Signals: SIGINT and SIGTERM stop accepting work and shut down within 30 s; an analysis cut short
runs again at the next start or on another worker.

Exit status: 0 after a clean shutdown (or --help, --version), 1 when the service fails,
2 for a mistake on the command line or in a VMCORED_* variable.`

// options are what the command line sets besides api.Config.
type options struct {
	listen, metricsListen, trustedProxies, logLevel string
}

// envFlags are the flags an environment variable sets when the command
// line does not.
var envFlags = []struct{ flag, env string }{
	{"data", "VMCORED_DATA"},
	{"listen", "VMCORED_LISTEN"},
	{"role", "VMCORED_ROLE"},
	{"db", "VMCORED_DB"},
	{"s3-endpoint", "VMCORED_S3_ENDPOINT"},
	{"s3-bucket", "VMCORED_S3_BUCKET"},
	{"s3-region", "VMCORED_S3_REGION"},
	{"s3-ca-file", "VMCORED_S3_CA_FILE"},
	{"s3-public-endpoint", "VMCORED_S3_PUBLIC_ENDPOINT"},
	{"s3-path-style", "VMCORED_S3_PATH_STYLE"},
	{"s3-insecure", "VMCORED_S3_INSECURE"},
	{"retention", "VMCORED_RETENTION"},
	{"trusted-proxies", "VMCORED_TRUSTED_PROXIES"},
	{"metrics-listen", "VMCORED_METRICS_LISTEN"},
	{"public-url", "VMCORED_PUBLIC_URL"},
}

// defineFlags declares vmcored's flags on fs, into cfg and o.
func defineFlags(fs *pflag.FlagSet, cfg *api.Config, o *options) {
	fs.SortFlags = false
	fs.StringVar(&cfg.DataDir, "data", "./vmcore-data", "the data `directory`: the SQLite database and the dumps on the embedded default, every role's caches, the lock that keeps a second vmcored out")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "`host:port` the API and the web UI are served on (plain HTTP: put TLS in front)")
	fs.StringVar(&cfg.Role, "role", api.RoleAll, "what this process does, its `role`: all (API, web UI and workers), api (API and web UI) or worker (analyses only; it still serves /healthz, /readyz and /metrics)")
	fs.StringVar(&cfg.DB, "db", "", "PostgreSQL `url` (postgres://user@host:5432/db) for the metadata and the job queue; empty: SQLite in the data directory (one machine)")
	fs.StringVar(&cfg.S3.Endpoint, "s3-endpoint", "", "S3 or MinIO `host:port` for the dumps and results; empty: the data directory")
	fs.StringVar(&cfg.S3.Bucket, "s3-bucket", "vmcore", "S3 bucket")
	fs.StringVar(&cfg.S3.Region, "s3-region", "", "S3 region; empty: the store's default")
	fs.StringVar(&cfg.S3.CAFile, "s3-ca-file", "", "PEM `file` of the CA that signed the S3 endpoint's certificate; empty: the system's CAs")
	fs.StringVar(&cfg.S3.PublicEndpoint, "s3-public-endpoint", "", "`host:port` the crashed hosts reach the store at, in their presigned part URLs; empty: --s3-endpoint")
	fs.BoolVar(&cfg.S3.PathStyle, "s3-path-style", false, "put the bucket in the URL's path, not its host name (MinIO, Ceph); the variable takes 1 or 0")
	fs.BoolVar(&cfg.S3.Insecure, "s3-insecure", false, "speak plain HTTP to the store; the variable takes 1 or 0")
	fs.IntVar(&cfg.Workers, "workers", 2, "`number` of analyses this process runs at once (roles all and worker)")
	fs.DurationVar(&cfg.Lease, "lease", 30*time.Minute, "longest analysis: a longer one is cancelled and tried again")
	fs.DurationVar(&cfg.RescueAfter, "rescue-after", 30*time.Second, "a running analysis whose worker sent no heartbeat for this long runs again elsewhere")
	fs.Int64Var(&cfg.MaxUploadSize, "max-upload-size", 1<<40, "largest dump accepted, in `bytes` (1 TiB)")
	fs.Int64Var(&cfg.MaxExpandedSize, "max-expanded-size", 0, "largest size, in `bytes`, a dump in a compressed container (xz, gzip, ...) may expand to; 0: 4 × --max-upload-size")
	fs.Int64Var(&cfg.PartSize, "part-size", 16<<20, "upload part size offered to clients, in `bytes` (16 MiB; at least 5 MiB)")
	fs.Int64Var(&cfg.MinFreeSpace, "min-free-space", 1<<30, "`bytes` the data directory keeps free (1 GiB): below it /readyz fails and uploads get 507; -1: no threshold")
	fs.DurationVar(&cfg.UploadTTL, "upload-ttl", 72*time.Hour, "an unfinished upload without activity for this long is removed with its parts")
	fs.DurationVar(&cfg.Retention, "retention", 0, "delete dumps this long after their upload (2160h is 90 days); 0: keep them")
	fs.IntVar(&cfg.MaxOpenUploads, "max-open-uploads", 256, "`number` of unfinished uploads one token may have at once")
	fs.IntVar(&cfg.AuthFailures, "auth-failures", 20, "`number` of failed authentications one client address may make in a burst before it gets 429")
	fs.DurationVar(&cfg.AuthFailureEvery, "auth-failure-every", 6*time.Second, "after the burst, one more failed authentication per this long")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "", "comma-separated `CIDRs` of the reverse proxies whose X-Forwarded-For names the client; empty: the client is the connection's address")
	fs.Int64Var(&cfg.MinBodyRate, "min-body-rate", 16<<10, "slowest request body accepted, in `bytes` per second (16 KiB/s), after --body-idle")
	fs.DurationVar(&cfg.BodyIdle, "body-idle", 60*time.Second, "longest stall of a request body before the request is cut off")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "also serve /metrics, with no token, on this `host:port` (for the monitoring network only); empty: no such listener")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "`URL` people reach the web UI at (https://vmcore.example), for the links in webhook notifications; empty: relative links")
	fs.StringVar(&o.logLevel, "log-level", "info", "least important log messages (the `level`) written to standard error: debug, info, warn or error")
	fs.DurationVar(&cfg.StepDelay, "fault-step-delay", 0, "sleep before every analysis step (fault-injection tests only)")
	fs.MarkHidden("fault-step-delay")
	for _, e := range envFlags {
		f := fs.Lookup(e.flag)
		f.Usage += " [$" + e.env + "]"
	}
}

// newCommand is vmcored's command line; its RunE serves until ctx ends.
func newCommand(cfg *api.Config, o *options, stdout, stderr io.Writer) *cobra.Command {
	c := &cobra.Command{
		Use:           "vmcored [flags]",
		Short:         "The vmcore service: crash dump uploads, analysis and the web UI",
		Long:          longHelp,
		Version:       buildinfo.Version(),
		Args:          noArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := configure(c.Flags(), cfg, o); err != nil {
				return err
			}
			return serve(c.Context(), *cfg, *o, stderr)
		},
	}
	c.SetOut(stdout)
	c.SetErr(stderr)
	c.SetVersionTemplate("vmcored {{.Version}}\n")
	c.SetUsageFunc(func(c *cobra.Command) error {
		_, err := fmt.Fprintf(c.OutOrStderr(), "Usage:\n  %s\n\nFlags:\n%s", c.UseLine(), c.Flags().FlagUsagesWrapped(100))
		return err
	})
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("%w: %v", errUsage, err) })
	c.CompletionOptions.DisableDefaultCmd = true
	defineFlags(c.Flags(), cfg, o)
	c.InitDefaultHelpFlag()
	c.InitDefaultVersionFlag()
	c.Flags().Lookup("help").Usage = "print this help and exit"
	c.Flags().Lookup("version").Usage = "print the version and the VCS revision it was built from, and exit"
	return c
}

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: vmcored takes no arguments, not %q", errUsage, args[0])
	}
	return nil
}

// run runs vmcored with a command line and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg api.Config
	var o options
	c := newCommand(&cfg, &o, stdout, stderr)
	c.SetArgs(longFlags(c.Flags(), args))
	err := c.ExecuteContext(ctx)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "vmcored: %v\nRun 'vmcored --help' for usage.\n", strings.TrimPrefix(err.Error(), "usage: "))
		return exitUsage
	}
	fmt.Fprintln(stderr, "vmcored:", err)
	return exitFailure
}

// longFlags turns "-listen" into "--listen": vmcored's flags were Go's
// flag package's, which takes one dash, and the units and scripts
// written for it keep working. One-letter flags (-h) and flag values
// are left alone.
func longFlags(fs *pflag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	value := false // the argument is the previous flag's value
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if value || !strings.HasPrefix(a, "-") {
			value = false
			out = append(out, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); f != nil && len(name) > 1 {
			if !strings.HasPrefix(a, "--") {
				a = "-" + a
			}
			value = !hasValue && f.NoOptDefVal == ""
		}
		out = append(out, a)
	}
	return out
}

// configure completes the configuration after the flags: the
// environment's settings for flags not given, the secrets, and checks of
// the values the flag types cannot make.
func configure(fs *pflag.FlagSet, cfg *api.Config, o *options) error {
	for _, e := range envFlags {
		v, ok := os.LookupEnv(e.env)
		if !ok || v == "" || fs.Changed(e.flag) { // VMCORED_X= is unset
			continue
		}
		if err := fs.Set(e.flag, v); err != nil {
			return fmt.Errorf("%w: $%s: %v", errUsage, e.env, err)
		}
	}
	if !slices.Contains([]string{api.RoleAll, api.RoleAPI, api.RoleWorker}, cfg.Role) {
		return fmt.Errorf("%w: --role is all, api or worker, not %q", errUsage, cfg.Role)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("%w: --log-level is debug, info, warn or error, not %q", errUsage, o.logLevel)
	}
	if o.trustedProxies != "" {
		cfg.TrustedProxies = strings.Split(o.trustedProxies, ",")
	}
	cfg.MetricsToken = os.Getenv("VMCORED_METRICS_TOKEN")
	cfg.S3.AccessKey = os.Getenv("VMCORED_S3_ACCESS_KEY")
	cfg.S3.SecretKey = os.Getenv("VMCORED_S3_SECRET_KEY")
	cfg.AdminToken = os.Getenv("VMCORED_ADMIN_TOKEN")
	cfg.DebuginfodURLs = strings.Fields(os.Getenv("DEBUGINFOD_URLS"))
	if s := os.Getenv("VMCORE_DEBUGINFO"); s != "" {
		cfg.DebuginfoStores = strings.Split(s, ":")
	}
	o.logLevel = lvl.String()
	return nil
}

// serve runs the service until ctx ends or a signal stops it.
func serve(ctx context.Context, cfg api.Config, o options, stderr io.Writer) error {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(o.logLevel)) // configure checked it
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	privateFiles()

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := api.New(ctx, cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	// Bodies are bounded per request (api.Config.MinBodyRate), headers
	// and idle connections here.
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	cfg.Logger.Info("vmcored serving", "addr", ln.Addr().String(), "role", cfg.Role, "data", cfg.DataDir,
		"db", dbKind(cfg.DB), "objects", objectsKind(cfg.S3))
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if o.metricsListen != "" {
		mln, err := net.Listen("tcp", o.metricsListen)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.MetricsHandler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		defer ms.Close()
		cfg.Logger.Info("serving metrics", "addr", mln.Addr().String())
		go func() { errc <- ms.Serve(mln) }()
	}
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
