package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/internal/corpus"
)

// The end-to-end tests run the real binaries as a user would: vmcored
// processes on loopback and vmcorectl against them.

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds vmcored and vmcorectl once per test process.
func binaries(t *testing.T) (vmcored, vmcorectl string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "vmcore-e2e-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "github.com/vmcore/vmcore/cmd/vmcored", "github.com/vmcore/vmcore/cmd/vmcorectl")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "vmcored"), filepath.Join(binDir, "vmcorectl")
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// daemon is one running vmcored process.
type daemon struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// backend is where the service keeps its state: the embedded default, or
// MinIO and PostgreSQL.
type backend struct {
	data string   // --data
	env  []string // VMCORED_* settings shared by every process
}

const adminToken = "vmc_e2e_admin_token"

// startDaemon starts vmcored with a role and waits until it is ready.
func startDaemon(t *testing.T, be backend, role string, extra ...string) *daemon {
	t.Helper()
	return startDaemonAt(t, be, freePort(t), role, extra...)
}

// startDaemonAt starts vmcored listening on addr (a restart where the
// clients know it).
func startDaemonAt(t *testing.T, be backend, addr, role string, extra ...string) *daemon {
	t.Helper()
	vmcored, _ := binaries(t)
	d := &daemon{t: t, addr: addr, logs: &syncBuffer{}}
	args := append([]string{"--data", be.data, "--listen", d.addr, "--role", role, "--log-level", "debug"}, extra...)
	d.cmd = exec.Command(vmcored, args...)
	d.cmd.Env = append(append(os.Environ(), "VMCORED_ADMIN_TOKEN="+adminToken), be.env...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("vmcored %s (%s) log:\n%s", role, d.addr, tail(d.logs.String(), 6000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + d.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return d
			}
		}
		if time.Now().After(deadline) || d.cmd.ProcessState != nil {
			t.Fatalf("vmcored did not become ready: %v\n%s", err, d.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *daemon) url() string { return "http://" + d.addr }

// stop ends the process gracefully.
func (d *daemon) stop() {
	if d.cmd.Process != nil && d.cmd.ProcessState == nil {
		d.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			d.cmd.Process.Kill()
			<-done
		}
	}
}

// kill ends the process at once, as a crash or an OOM kill would.
func (d *daemon) kill() {
	d.cmd.Process.Kill()
	d.cmd.Wait()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// ctl runs vmcorectl and returns its standard output.
func ctl(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	_, vmcorectl := binaries(t)
	// A bound, so that a hang shows the daemons' logs instead of a test
	// timeout's goroutine dump.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, vmcorectl, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// apiCall sends a JSON request with a token and decodes the answer.
func apiCall(t *testing.T, method, url, token string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func newToken(t *testing.T, d *daemon, role string) string {
	t.Helper()
	var res struct{ Token string }
	if code := apiCall(t, "POST", d.url()+"/api/v1/tokens", adminToken, map[string]string{"name": "e2e " + role, "role": role}, &res); code != 201 {
		t.Fatalf("making a %s token: %d", role, code)
	}
	return res.Token
}

func fixture(t *testing.T, scenario string) corpus.Dump {
	t.Helper()
	for _, d := range corpus.Find(corpus.Committed()) {
		if d.Scenario == scenario && d.Format == "kdump-zlib" {
			return d
		}
	}
	t.Fatalf("no committed fixture %s", scenario)
	return corpus.Dump{}
}

// kdumpDir lays a fixture out as kdump writes it on RHEL: a directory
// with vmcore and vmcore-dmesg.txt.
func kdumpDir(t *testing.T, fx corpus.Dump) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "127.0.0.1-2026-11-22-05:02:51")
	os.MkdirAll(dir, 0o755)
	copyFile(t, fx.Files[0], filepath.Join(dir, "vmcore"))
	copyFile(t, fx.Ref("dmesg.makedumpfile.txt"), filepath.Join(dir, "vmcore-dmesg.txt"))
	return dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// lastLine is the dump id vmcorectl upload prints last.
func lastLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	last := ""
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}

var panicLine = regexp.MustCompile(`(?m)^\s+PANIC: (.*)$`)

// checkAnalysis compares what the service says about a fixture with the
// reference tools' output for the same dump: crash's sys PANIC line and
// mod list, makedumpfile's log.
func checkAnalysis(t *testing.T, env []string, id string, fx corpus.Dump) {
	t.Helper()
	sys, stderr, err := ctl(t, env, "sys", id, "--wait")
	if err != nil {
		t.Fatalf("vmcorectl sys %s: %v\n%s", id, err, stderr)
	}
	ref, _ := os.ReadFile(fx.Ref("crash-sys.txt"))
	want, got := panicLine.FindStringSubmatch(string(ref)), panicLine.FindStringSubmatch(sys)
	if want == nil || got == nil || got[1] != want[1] {
		t.Errorf("PANIC: got %q, crash says %q\n%s", got, want, sys)
	}
	mod, _, err := ctl(t, env, "mod", id)
	if err != nil {
		t.Fatal(err)
	}
	refMod, _ := os.ReadFile(fx.Ref("crash-mod.txt"))
	if g, w := moduleNames(mod), moduleNames(string(refMod)); g != w {
		t.Errorf("modules: got %s, crash says %s", g, w)
	}
	lg, _, err := ctl(t, env, "log", id)
	if err != nil {
		t.Fatal(err)
	}
	refLog, _ := os.ReadFile(fx.Ref("dmesg.makedumpfile-upstream.txt")) // the current makedumpfile's format
	if lg != string(refLog) {
		t.Errorf("log differs from makedumpfile's (%d vs %d bytes)", len(lg), len(refLog))
	}
}

// moduleNames lists the NAME column of a mod table, sorted by address as
// both tools print them.
func moduleNames(s string) string {
	var names []string
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] != "MODULE" && regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(f[0]) {
			names = append(names, f[1])
		}
	}
	return strings.Join(names, ",")
}

// TestEmbeddedEndToEnd runs the default: one vmcored with no flags but the
// data directory, SQLite, filesystem objects and in-process workers.
func TestEmbeddedEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	be := backend{data: t.TempDir()}
	d := startDaemon(t, be, "all")
	exerciseService(t, d, be, func() *daemon { return d })
}

// exerciseService is the end-to-end scenario every backend passes: upload
// a kdump directory with vmcorectl, see the analysis, upload it again.
func exerciseService(t *testing.T, api *daemon, be backend, _ func() *daemon) {
	fx := fixture(t, "module-null-deref")
	up := newToken(t, api, "uploader")
	viewer := newToken(t, api, "viewer")
	dir := kdumpDir(t, fx)
	out, stderr, err := ctl(t, nil, "upload", "--server", api.url(), "--token", up, dir)
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, stderr)
	}
	id := lastLine(out)
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
		t.Fatalf("upload printed %q, want a dump id last", out)
	}
	if _, err := os.Stat(filepath.Join(dir, ".uploaded")); err != nil {
		t.Errorf("no .uploaded marker: %v", err)
	}
	env := []string{"VMCORE_SERVER=" + api.url(), "VMCORE_TOKEN=" + viewer}
	checkAnalysis(t, env, id, fx)

	// The stored log text is makedumpfile's.
	var logText bytes.Buffer
	req, _ := http.NewRequest("GET", api.url()+"/api/v1/dumps/"+id+"/log", nil)
	req.Header.Set("Authorization", "Bearer "+viewer)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(&logText, resp.Body)
		resp.Body.Close()
		ref, _ := os.ReadFile(fx.Ref("dmesg.makedumpfile-upstream.txt"))
		if resp.Header.Get("X-Vmcore-Log-Source") != "vmcore" || logText.String() != string(ref) {
			t.Errorf("GET log: from %q, %d bytes, makedumpfile's has %d", resp.Header.Get("X-Vmcore-Log-Source"), logText.Len(), len(ref))
		}
	}

	// The analysis document is the one the offline command prints.
	remote, _, err := ctl(t, env, "analyze", id, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema string
		Oops   struct{ Title string }
		Steps  []struct{ Name, Error string }
		KB     []struct {
			ID       string
			Evidence []string
		}
	}
	if err := json.Unmarshal([]byte(remote), &doc); err != nil || doc.Schema != analysis.Schema {
		t.Fatalf("analysis document: %v %q", err, remote[:min(200, len(remote))])
	}
	if len(doc.KB) == 0 || doc.KB[0].ID != "null-deref-out-of-tree-module" || len(doc.KB[0].Evidence) == 0 {
		t.Errorf("first KB suggestion: %+v, want null-deref-out-of-tree-module with evidence", doc.KB)
	}
	// The offline command gives the same answer as the service.
	local, _, err := ctl(t, nil, "analyze", fx.Files[0], "--json", "--debuginfo", "none")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(local, `"id": "null-deref-out-of-tree-module"`) {
		t.Errorf("offline analysis lacks the KB suggestion")
	}
	exerciseKB(t, api, viewer, id, doc.Oops.Title)

	var detail struct {
		Status, Signature, SHA256 string
		Steps                     []struct{ Name, Status string }
	}
	apiCall(t, "GET", api.url()+"/api/v1/dumps/"+id, viewer, nil, &detail)
	if detail.Status != "done" || detail.Signature != doc.Oops.Title || detail.SHA256 != fileSHA256(t, fx.Files[0]) {
		t.Errorf("dump: %+v; oops title %q", detail, doc.Oops.Title)
	}
	names := map[string]bool{}
	for _, s := range detail.Steps {
		names[s.Name] = true
	}
	for _, n := range []string{"identify", "log", "sys", "backtraces", "modules", "signature", "kb", "store"} {
		if !names[n] {
			t.Errorf("step %s not recorded: %+v", n, detail.Steps)
		}
	}

	// The same bytes again are stored once and map to the same dump.
	dir2 := kdumpDir(t, fx)
	out, stderr, err = ctl(t, nil, "upload", "--server", api.url(), "--token", up, filepath.Join(dir2, "vmcore"))
	if err != nil || lastLine(out) != id {
		t.Errorf("second upload: %q %v %s, want %s", out, err, stderr, id)
	}
	var list struct{ Total int }
	apiCall(t, "GET", api.url()+"/api/v1/dumps", viewer, nil, &list)
	if list.Total != 1 {
		t.Errorf("%d dumps listed after uploading the same dump twice", list.Total)
	}

	// Tokens: none, an uploader's, are refused where they must be.
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/api/v1/dumps", "", 401},
		{"GET", "/api/v1/dumps/" + id, up, 403},
		{"GET", "/api/v1/dumps/" + id + "/log", up, 403},
		{"DELETE", "/api/v1/dumps/" + id, up, 403},
		{"GET", "/api/v1/dumps/" + id + "/download", viewer, 403},
		{"DELETE", "/api/v1/dumps/" + id, viewer, 403},
		{"POST", "/api/v1/tokens", up, 403},
		{"GET", "/api/v1/dumps", "wrong", 401},
		{"GET", "/api/v1/dumps/0000000000000000", viewer, 404},
		{"GET", "/api/v1/dumps/../../etc", viewer, 404},
	} {
		if got := apiCall(t, c.method, api.url()+c.path, c.token, nil, nil); got != c.want {
			t.Errorf("%s %s with %q: %d, want %d", c.method, c.path, c.token, got, c.want)
		}
	}
}

func execCommand(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	return cmd
}

// exerciseKB checks buckets, feedback and article edits through the API.
func exerciseKB(t *testing.T, api *daemon, viewer, id, title string) {
	var buckets struct {
		Buckets []struct {
			ID, Title string
			Count     int
			Hosts     []string
		}
	}
	apiCall(t, "GET", api.url()+"/api/v1/buckets", viewer, nil, &buckets)
	if len(buckets.Buckets) != 1 || buckets.Buckets[0].Title != title || buckets.Buckets[0].Count != 1 {
		t.Errorf("buckets: %+v", buckets)
	}
	if code := apiCall(t, "POST", api.url()+"/api/v1/dumps/"+id+"/feedback", viewer,
		map[string]string{"article_id": "null-deref-out-of-tree-module", "verdict": "confirm"}, nil); code != 204 {
		t.Errorf("feedback: %d", code)
	}
	if code := apiCall(t, "POST", api.url()+"/api/v1/dumps/"+id+"/feedback", viewer,
		map[string]string{"article_id": "no-such-article", "verdict": "confirm"}, nil); code != 400 {
		t.Errorf("feedback on a missing article: %d", code)
	}
	// A broken article is refused with its line, and the KB is unchanged.
	broken := "---\nid: site-note\ntitle: [unclosed\n---\nbody\n"
	req, _ := http.NewRequest("PUT", api.url()+"/api/v1/kb/articles/site-note", strings.NewReader(broken))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "site-note.md:3:") {
		t.Errorf("broken article: %d %s", resp.StatusCode, body)
	}
	if code := apiCall(t, "GET", api.url()+"/api/v1/kb/articles/site-note", viewer, nil, nil); code != 404 {
		t.Errorf("the broken article is visible: %d", code)
	}
	// vmcorectl kb against the server: add a site article, find it.
	src, err := os.ReadFile("../../kb/articles/kernel-warning.md")
	if err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(t.TempDir(), "site.md")
	os.WriteFile(art, []byte(strings.Replace(string(src), "id: kernel-warning", "id: site-warning", 1)), 0o644)
	if out, stderr, err := ctl(t, nil, "kb", "add", "--server", api.url(), "--token", adminToken, art); err != nil || !strings.Contains(out, "added site-warning") {
		t.Errorf("kb add --server: %q %v %s", out, err, stderr)
	}
	if out, _, err := ctl(t, nil, "kb", "show", "--server", api.url(), "--token", viewer, "site-warning"); err != nil || !strings.Contains(out, "site-warning") {
		t.Errorf("kb show --server: %q %v", out, err)
	}
	if out, _, err := ctl(t, nil, "kb", "search", "--server", api.url(), "--token", viewer, "sysrq"); err != nil || !strings.Contains(out, "sysrq-trigger-crash") {
		t.Errorf("kb search --server: %q %v", out, err)
	}
	var hits struct{ Hits []struct{ ID string } }
	apiCall(t, "GET", api.url()+"/api/v1/kb/articles?q=sysrq", viewer, nil, &hits)
	if len(hits.Hits) == 0 {
		t.Errorf("search for sysrq found nothing")
	}
}

// TestUploadScan is the boot-time path: every dump directory under
// /var/crash without a marker is uploaded once.
func TestUploadScan(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	be := backend{data: t.TempDir()}
	api := startDaemon(t, be, "all")
	root := t.TempDir()
	for _, sc := range []string{"sysrq-c", "module-null-deref"} {
		dir := kdumpDir(t, fixture(t, sc))
		os.Rename(dir, filepath.Join(root, sc))
	}
	os.MkdirAll(filepath.Join(root, "not-a-dump"), 0o755)
	args := []string{"upload", "--server", api.url(), "--token", adminToken, "--scan", root}
	out, stderr, err := ctl(t, nil, args...)
	if err != nil || strings.Count(out, "\n") != 2 {
		t.Fatalf("scan: %q %v %s", out, err, stderr)
	}
	if out, _, err = ctl(t, nil, args...); err != nil || out != "" {
		t.Errorf("second scan uploaded again: %q %v", out, err)
	}
	var list struct{ Total int }
	apiCall(t, "GET", api.url()+"/api/v1/dumps", adminToken, nil, &list)
	if list.Total != 2 {
		t.Errorf("%d dumps after the scan", list.Total)
	}
}
