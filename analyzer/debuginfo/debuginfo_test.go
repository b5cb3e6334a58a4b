package debuginfo_test

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

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/analyzer/debuginfo"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
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
	v, err := analyzer.OpenVmlinux(bin, "")
	if err != nil {
		t.Fatal(err)
	}
	id := v.BuildID
	v.Close()
	if id == "" {
		t.Fatal("gcc wrote no build-id")
	}

	url, stop := startDebuginfod(t, server, elfs, id, 60*time.Second)
	defer stop()

	f := &debuginfo.Finder{Servers: []string{url}, Cache: filepath.Join(dir, "cache")}
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
	stop()
	if p2, err := f.Find(context.Background(), id); err != nil || p2 != p {
		t.Errorf("second find: %s, %v", p2, err)
	}
	// Unknown build-id: a clear error, nothing left in the cache.
	_, err = f.Find(context.Background(), "00112233445566778899aabbccddeeff00112233")
	if !errors.Is(err, debuginfo.ErrNoDebuginfo) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := f.Find(context.Background(), "../etc/passwd"); err == nil {
		t.Errorf("a path was accepted as a build-id")
	}
}

// startDebuginfod runs Debian's debuginfod on loopback over the ELF files
// under dir and waits (bounded) until it serves id.
func startDebuginfod(t *testing.T, server, dir, id string, wait time.Duration) (url string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, server, "-p", fmt.Sprint(port), "-d", filepath.Join(t.TempDir(), "db.sqlite"), "-F", "-t", "1", dir)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			cmd.Wait()
		}
	}
	url = fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(wait)
	for {
		resp, err := http.Get(url + "/buildid/" + id + "/debuginfo") // debuginfod answers GET only; the body is not read
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url, stop
			}
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("debuginfod never served %s:\n%s", id, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDebuginfodCorpusVmlinux serves the corpus kernel's real DWARF
// vmlinux (Debian's 633 MB linux-image-6.1.0-56-amd64-dbg, unpacked by
// testdata/corpus/make.sh under .cache/kernels) from debuginfod, finds it
// by the committed fixture dump's BUILD-ID, and analyses the dump with it:
// frames get file:line. The vmlinux is not committed; without it the test
// is skipped.
func TestDebuginfodCorpusVmlinux(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads 633 MB on loopback")
	}
	server, err := exec.LookPath("debuginfod")
	if err != nil {
		t.Skip("no debuginfod server")
	}
	dc := corpus.Fixture(t)
	boot := filepath.Join(corpus.RepoRoot(), ".cache", "kernels", dc.Kernel, "usr", "lib", "debug", "boot")
	if _, err := os.Stat(filepath.Join(boot, "vmlinux-"+dc.Kernel)); err != nil {
		t.Skip("no corpus vmlinux under .cache/kernels (testdata/corpus/make.sh unpacks it)")
	}
	d, err := vmcore.Open(dc.Files...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	id := d.Info.BuildID()
	url, stop := startDebuginfod(t, server, boot, id, 5*time.Minute)
	defer stop()
	f := &debuginfo.Finder{Servers: []string{url}, Cache: t.TempDir()}
	p, err := f.Find(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := analyzer.OpenVmlinux(p, "")
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	a := analyzer.Analyze(context.Background(), d, analyzer.Options{Vmlinux: v})
	if a.Debuginfo.Source != analysis.SourceDWARF {
		t.Fatalf("debuginfo source %q, warnings %v", a.Debuginfo.Source, a.Warnings)
	}
	lines := 0
	for _, bt := range a.Backtraces {
		for _, fr := range bt.Frames {
			if fr.File != "" && fr.Line > 0 {
				lines++
			}
		}
	}
	if lines == 0 {
		t.Errorf("no frame got file:line from the fetched vmlinux")
	}
}

// TestDebuginfoStores finds debuginfo in a /usr/lib/debug-style tree.
func TestDebuginfoStores(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	v, err := analyzer.OpenVmlinux(self, "")
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
	f := &debuginfo.Finder{Stores: []string{store}}
	if got, err := f.Find(context.Background(), id); err != nil || got != p {
		t.Errorf("Find = %s, %v", got, err)
	}
}
