package analyzer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmcore/vmcore/analyzer"
)

// TestDebuginfodFetch runs Debian's real debuginfod server on loopback,
// serving a freshly built ELF with debuginfo, and fetches it by build-id:
// downloaded once, checked, cached; an unknown id is a clear error.
func TestDebuginfodFetch(t *testing.T) {
	server, err := exec.LookPath("debuginfod")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("debuginfod is not installed (.ci/run installs Debian's debuginfod package)")
		}
		t.Skip("no debuginfod server (apt-get install debuginfod)")
	}
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc to build an ELF with debuginfo")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "hello.c")
	os.WriteFile(src, []byte("int answer(void) { return 42; }\nint main(void) { return answer(); }\n"), 0o644)
	elfs := filepath.Join(dir, "elfs")
	os.Mkdir(elfs, 0o755)
	bin := filepath.Join(elfs, "hello")
	if out, err := exec.Command(cc, "-g", "-Wl,--build-id", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	v, err := analyzer.OpenVmlinux(bin)
	if err != nil {
		t.Fatal(err)
	}
	id := v.BuildID
	v.Close()
	if id == "" {
		t.Fatal("gcc wrote no build-id")
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, server, "-p", fmt.Sprint(port), "-d", filepath.Join(dir, "db.sqlite"), "-F", "-t", "1", elfs)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	// Wait (bounded) until the server has scanned the directory.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url + "/buildid/" + id + "/debuginfo")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("debuginfod never served %s:\n%s", id, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	f := &analyzer.DebuginfoFinder{Servers: []string{url}, Cache: filepath.Join(dir, "cache")}
	p, err := f.Find(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	want, _ := os.ReadFile(bin)
	if !bytes.Equal(got, want) {
		t.Errorf("downloaded %d bytes, not the served file's %d", len(got), len(want))
	}
	// Cached: found again with the server gone.
	cancel()
	cmd.Wait()
	if p2, err := f.Find(context.Background(), id); err != nil || p2 != p {
		t.Errorf("second find: %s, %v", p2, err)
	}
	// Unknown build-id: a clear error, nothing left in the cache.
	_, err = f.Find(context.Background(), "00112233445566778899aabbccddeeff00112233")
	if !errors.Is(err, analyzer.ErrNoDebuginfo) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := f.Find(context.Background(), "../etc/passwd"); err == nil {
		t.Errorf("a path was accepted as a build-id")
	}
}

// TestDebuginfoStores finds debuginfo in a /usr/lib/debug-style tree.
func TestDebuginfoStores(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	v, err := analyzer.OpenVmlinux(self)
	if err != nil || v.BuildID == "" {
		t.Skip("test binary has no build-id")
	}
	id := v.BuildID
	v.Close()
	store := t.TempDir()
	p := filepath.Join(store, ".build-id", id[:2], id[2:]+".debug")
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.Symlink(self, p); err != nil {
		t.Fatal(err)
	}
	f := &analyzer.DebuginfoFinder{Stores: []string{store}}
	if got, err := f.Find(context.Background(), id); err != nil || got != p {
		t.Errorf("Find = %s, %v", got, err)
	}
}
