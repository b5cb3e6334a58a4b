// Package testsvc starts real servers for tests: MinIO (the S3 blob store backend) and PostgreSQL
// (the metadata store backend), each on 127.0.0.1 on a free port, with its data in the test's
// temporary directory, stopped when the test ends.
//
// Nothing is mocked and nothing runs in a container. The MinIO server binary is taken from
// $VMCORE_MINIO_BIN or <repo>/.cache/bin/minio, and built there from the module proxy when absent
// (minutes from a cold cache; scripts/test builds it before the tests). PostgreSQL comes from Debian's
// postgresql package (/usr/lib/postgresql/<ver>/bin) or $VMCORE_POSTGRES_BIN; run as root, the
// server runs as the postgres (else nobody) user, since PostgreSQL refuses to run as root.
// With $VMCORE_POSTGRES_FAKETIME set (e.g. "+1461d") it runs under libfaketime on a clock moved by
// that much, for scripts/test-future-clock.
//
// When a server cannot be had, the test is skipped on a developer's machine and fails when the CI
// environment variable is set, so that CI never passes by skipping.
//
// A test takes a server, uses it, and may restart it to check that its code survives:
//
//	s := testsvc.MinIO(t) // or testsvc.Postgres(t), whose DSN goes to pgx
//	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
//	...
//	s.Restart() // same port, same data
package testsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	startTimeout = 60 * time.Second // from exec to ready, per attempt
	stopTimeout  = 15 * time.Second // from the stop signal to SIGKILL
	startTries   = 3                // attempts with a fresh port when a server dies while starting
	logTailBytes = 4 << 10          // how much of a server's log a failure shows
)

// unavailable ends the test when a server cannot be had: a skip on a developer's machine, a
// failure when CI is set.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "" {
		t.Skip(msg + " (a failure when CI is set)")
	}
	t.Fatal(msg)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another process may take
// it before the server binds it; server.launch retries with a new port when the server dies.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// repoRoot returns the directory of the go.mod above the working directory: the repository,
// since tests run in their package's directory.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
}

// process is one run of a server: started with its output in a log file, reaped by a goroutine.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result; read only after done is closed
}

// startProcess starts cmd with its stdout and stderr appended to logPath. The process is killed
// if the test binary dies first (Pdeathsig), so a timed-out test leaves no server behind.
func startProcess(cmd *exec.Cmd, logPath string) (*process, error) {
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child holds its own copy
	cmd.Stdout, cmd.Stderr = log, log
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error)
	go func() {
		// Pdeathsig fires when the thread that forked the child exits (golang/go#27505), so
		// that thread stays locked to this goroutine, and alive, until the child has exited.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			p.err = cmd.Wait()
			close(p.done)
		}
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	return p, nil
}

// stop sends sig, waits up to stopTimeout for the process to exit, then kills it.
func (p *process) stop(sig os.Signal) {
	if err := p.cmd.Process.Signal(sig); err == nil {
		select {
		case <-p.done:
			return
		case <-time.After(stopTimeout):
		}
	}
	p.cmd.Process.Kill()
	<-p.done
}

// errExited reports a server that exited before it was ready.
var errExited = errors.New("exited before it was ready")

// waitReady calls probe every 50 ms until it succeeds, the process exits (errExited), or ctx ends.
func (p *process) waitReady(ctx context.Context, probe func(context.Context) error) error {
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = probe(pctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w (%v)", errExited, p.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v: %w", startTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logTail returns the last logTailBytes of the file at path.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > logTailBytes {
		f.Seek(fi.Size()-logTailBytes, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// server is what MinIOServer and PostgresServer share: one process at a time, started by command,
// judged ready by probe, stopped by stopSig.
type server struct {
	t       testing.TB
	name    string
	logPath string
	stopSig os.Signal
	command func() *exec.Cmd                // the command line of one run
	probe   func(ctx context.Context) error // nil once the server answers
	newPort func() error                    // picks a fresh port before a retried first start

	mu   sync.Mutex
	proc *process // nil when stopped
}

// launch starts the server the first time, retrying with a fresh port when it dies while starting
// (another process may have taken the port), and registers its Stop with t.Cleanup.
func (s *server) launch() error {
	var err error
	for try := 0; try < startTries; try++ {
		if err = s.newPort(); err != nil {
			return err
		}
		if err = s.start(); err == nil || !errors.Is(err, errExited) {
			break
		}
	}
	if err != nil {
		return err
	}
	s.t.Cleanup(func() {
		if s.t.Failed() {
			s.t.Logf("%s log (%s), its end:\n%s", s.name, s.logPath, logTail(s.logPath))
		}
		s.stop()
	})
	return nil
}

// start starts the server unless it runs and waits until it answers.
func (s *server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return nil
	}
	p, err := startProcess(s.command(), s.logPath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := p.waitReady(ctx, s.probe); err != nil {
		p.stop(os.Kill)
		return fmt.Errorf("%s %w; its log %s ends:\n%s", s.name, err, s.logPath, logTail(s.logPath))
	}
	s.proc = p
	return nil
}

// stop stops the server if it runs.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.stop(s.stopSig)
		s.proc = nil
	}
}

// mustStart is start for the exported Start methods: a failure fails the test.
func (s *server) mustStart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// quote formats a command line for messages.
func quote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
