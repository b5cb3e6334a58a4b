package testsvc

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MinIOVersion is the version of github.com/minio/minio that MinIO builds when no binary is at
// hand: the newest the module proxy serves (MinIO has been in maintenance since 2025-12); it
// builds with Go 1.26. .ci/run prebuilds the same version (a test keeps the two equal).
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// minioModule is the module, and main package, of the MinIO server.
const minioModule = "github.com/minio/minio"

// minioBinMu serialises minioBinary within one test process; the lock file does it across
// processes (go test runs packages in parallel).
var minioBinMu sync.Mutex

// minioBinary returns the MinIO server binary: $VMCORE_MINIO_BIN when set, else
// <repo>/.cache/bin/minio when it was built from MinIOVersion, else it builds that with
// `GOBIN=<repo>/.cache/bin go install github.com/minio/minio@<MinIOVersion>`, holding
// <repo>/.cache/bin/minio.lock so that only one test process builds. A build from a cold module
// and build cache takes about 3.5 minutes on 2 cores; it is given the test's deadline less a
// minute, and what it compiled stays in the build cache for the next try.
func minioBinary(t testing.TB) (string, error) {
	if bin := os.Getenv("VMCORE_MINIO_BIN"); bin != "" {
		if _, err := exec.LookPath(bin); err != nil {
			return "", fmt.Errorf("VMCORE_MINIO_BIN: %w", err)
		}
		return bin, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, ".cache", "bin")
	bin := filepath.Join(dir, "minio")
	if builtFrom(bin) == MinIOVersion {
		return bin, nil
	}

	minioBinMu.Lock()
	defer minioBinMu.Unlock()
	ctx, cancel := buildContext(t)
	defer cancel()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, t, filepath.Join(dir, "minio.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if builtFrom(bin) == MinIOVersion { // built by the process that held the lock
		return bin, nil
	}

	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building minio: %w", err)
	}
	// Build into a directory of its own and rename, so that a reader that did not take the lock
	// never runs a half-written binary.
	stage, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	args := []string{goTool, "install", minioModule + "@" + MinIOVersion}
	t.Logf("building the MinIO server (minutes from a cold cache): GOBIN=%s %s", dir, quote(args))
	start := time.Now()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOBIN="+stage)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return "", fmt.Errorf("building minio did not finish before the test deadline (%v); build it first: (cd %s && GOBIN=$PWD/.cache/bin go install %s@%s)",
			time.Since(start).Round(time.Second), root, minioModule, MinIOVersion)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %v\n%s", quote(args), err, tail(out, logTailBytes))
	}
	if err := os.Rename(filepath.Join(stage, "minio"), bin); err != nil {
		return "", err
	}
	t.Logf("built %s in %v", bin, time.Since(start).Round(time.Second))
	return bin, nil
}

// builtFrom returns the version of github.com/minio/minio the binary at path was built from, or ""
// when it is missing or was built from something else. It reads only the build info.
func builtFrom(path string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil || info.Main.Path != minioModule {
		return ""
	}
	return info.Main.Version
}

// buildContext ends a minute before the test's deadline, if it has one.
func buildContext(t testing.TB) (context.Context, context.CancelFunc) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			return context.WithDeadline(context.Background(), deadline.Add(-time.Minute))
		}
	}
	return context.WithCancel(context.Background())
}

// lockFile takes an exclusive flock on path, polling until ctx ends, and returns its release.
func lockFile(ctx context.Context, t testing.TB, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for logged := false; ; logged = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !logged {
			t.Logf("waiting for another test process building the MinIO server (%s)", path)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
