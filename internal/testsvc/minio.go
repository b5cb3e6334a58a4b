package testsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// MinIOServer is a MinIO server on 127.0.0.1 with one root user, its data in a temporary
// directory of the test that started it. Plain HTTP (minio-go: Secure false).
type MinIOServer struct {
	// Endpoint is the server's host:port.
	Endpoint string
	// AccessKey and SecretKey are the root user's credentials, random per server.
	AccessKey, SecretKey string

	srv server
}

// MinIO starts a MinIO server for the test and stops it in t.Cleanup. It returns once
// /minio/health/live answers for an initialised server, about half a second after the start.
// The binary is $VMCORE_MINIO_BIN, else <repo>/.cache/bin/minio when built from MinIOVersion,
// else MinIO builds it there first: about 3.5 minutes from cold module and build caches on
// 2 cores, 6 s from warm ones, one test process at a time. When the binary cannot be had, the
// test is skipped, or fails when CI is set.
func MinIO(t testing.TB) *MinIOServer {
	t.Helper()
	return MinIOOn(t, "")
}

// MinIOOn is MinIO with its objects in data (for example a small Tmpfs,
// to fill it); "" means a directory of its own.
func MinIOOn(t testing.TB, data string) *MinIOServer {
	t.Helper()
	bin, err := minioBinary(t)
	if err != nil {
		unavailable(t, "no MinIO server: %v", err)
	}
	dir := t.TempDir()
	for _, d := range []string{"data", "certs", "home"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if data == "" {
		data = filepath.Join(dir, "data")
	}
	m := &MinIOServer{AccessKey: randomHex(10), SecretKey: randomHex(20)}
	env := []string{
		"HOME=" + filepath.Join(dir, "home"),
		"MINIO_ROOT_USER=" + m.AccessKey,
		"MINIO_ROOT_PASSWORD=" + m.SecretKey,
		"MINIO_BROWSER=off", // no console listener
		"MINIO_UPDATE=off",  // no update checks
		"MINIO_CI_CD=1",     // no root-disk and similar production checks
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") { // a developer's MINIO_* (KMS, config) must not leak in
			env = append(env, kv)
		}
	}
	m.srv = server{
		t:       t,
		name:    "minio",
		logPath: filepath.Join(dir, "minio.log"),
		stopSig: syscall.SIGTERM,
		command: func() *exec.Cmd {
			cmd := exec.Command(bin, "server", "--quiet", "--anonymous",
				"--address", m.Endpoint, "--certs-dir", filepath.Join(dir, "certs"), data)
			cmd.Env, cmd.Dir = env, dir
			return cmd
		},
		probe: m.ready,
		newPort: func() error {
			port, err := freePort()
			m.Endpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			return err
		},
	}
	if err := m.srv.launch(); err != nil {
		t.Fatal(err)
	}
	return m
}

// ready returns nil once the server is live and its object layer is initialised: /minio/health/live
// answers 200 even before that, marking it with an x-minio-server-status header.
func (m *MinIOServer) ready(ctx context.Context) error {
	for _, path := range []string{"/minio/health/live", "/minio/health/cluster"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.Endpoint+path, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", path, resp.Status)
		}
		if st := resp.Header.Get("x-minio-server-status"); st != "" {
			return fmt.Errorf("%s: server status %s", path, st)
		}
	}
	return nil
}

// Stop stops the server (SIGTERM, SIGKILL after 15 s) and waits for it to exit. Start reuses its
// data and port. Stop on a stopped server does nothing.
func (m *MinIOServer) Stop() { m.srv.stop() }

// Start starts a stopped server again on the same port and data, and waits until it answers; a
// failure fails the test, so call it from the test's goroutine. Start on a running server does
// nothing.
func (m *MinIOServer) Start() {
	m.t().Helper()
	m.srv.mustStart()
}

// Restart is Stop then Start: clients see connection errors in between, then the same objects.
func (m *MinIOServer) Restart() {
	m.t().Helper()
	m.srv.stop()
	m.srv.mustStart()
}

func (m *MinIOServer) t() testing.TB { return m.srv.t }

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
