package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmcore/vmcore/api/blob"
	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/internal/diskspace"
	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/internal/testsvc"
)

// The fault and abuse suite, in the test process: clients that hang up,
// a full filesystem, slow and hostile clients. Each test reports what it
// did and what was lost ("reliability:" lines, collected in
// docs/reliability.md); the killed daemons are in cmd/vmcored.

// report logs one line of the suite's counts.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("reliability: %s: %s", t.Name(), fmt.Sprintf(format, args...))
}

// dropComplete asks for a completion and hangs up after a while, as a
// client whose connection breaks does.
func (s *service) dropComplete(token, id, sum string, after time.Duration) {
	body, _ := json.Marshal(wire.CompleteRequest{SHA256: sum})
	conn, err := net.Dial("tcp", s.ts.Listener.Addr().String())
	if err != nil {
		s.t.Error(err)
		return
	}
	fmt.Fprintf(conn, "POST /api/v1/uploads/%s/complete HTTP/1.1\r\nHost: vmcored\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", id, token, len(body), body)
	time.Sleep(after)
	conn.Close()
}

// droppedCompletes uploads n dumps, hangs up 0-20 ms into each one's
// completion, and completes again as the client's retry does: every dump
// must be stored once, analysed exactly once, and nothing left over.
func droppedCompletes(t *testing.T, s *service, n int) {
	tok := s.token("uploader")
	ids := make([]string, n)
	sums := make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	retries := 0
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			data := randomDump(64<<10 + i)
			up := s.register(tok, data)
			s.sendParts(tok, &up, data)
			ids[i], sums[i] = up.DumpID, sha(data)
			s.dropComplete(tok, up.DumpID, sums[i], time.Duration(rand.IntN(21))*time.Millisecond)
			for try := 1; ; try++ {
				code, res, body := s.complete(tok, up.DumpID, sums[i])
				if code == 200 && res.DumpID == up.DumpID && !res.Duplicate {
					mu.Lock()
					retries += try
					mu.Unlock()
					return
				}
				if try == 20 {
					t.Errorf("dump %s: completion retried %d times: %d %s", up.DumpID, try, code, body)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	done := s.waitDone(3*time.Minute, ids...)
	jobs := s.jobs()
	lost, twice := 0, 0
	for i, id := range ids {
		d := done[id]
		if d.SHA256 != sums[i] {
			lost++
			t.Errorf("dump %s: sha256 %q, uploaded %s", id, d.SHA256, sums[i])
		}
		if js := jobs[id]; len(js) != 1 || js[0] != 1 || s.started(id) != 1 {
			twice++
			t.Errorf("dump %s: jobs %v (attempts), analysis started %d times; want one job, one attempt", id, js, s.started(id))
		}
	}
	var list wire.DumpList
	s.call("GET", fmt.Sprintf("/api/v1/dumps?limit=%d", maxListLimit), testAdmin, nil, &list)
	if list.Total != n {
		t.Errorf("%d dumps listed, %d uploaded", list.Total, n)
	}
	leftovers := 0
	if s.cfg.S3.Endpoint == "" {
		ups, _ := os.ReadDir(filepath.Join(s.cfg.DataDir, "objects", "uploads"))
		leftovers = len(ups)
		if leftovers != 0 {
			t.Errorf("%d uploads left in the store", leftovers)
		}
	}
	report(t, "%d uploads, each completion dropped 0-20 ms in, %d completions in all: %d stranded or lost, %d analysed other than once, %d leftover uploads",
		n, n+retries, lost, twice, leftovers)
}

// TestDroppedCompletes: issue 17's 300 completions cut by the client, on
// the embedded default.
func TestDroppedCompletes(t *testing.T) {
	droppedCompletes(t, startService(t, Config{Workers: 2}), 300)
}

// TestDroppedCompletesFleet: the same on MinIO and PostgreSQL, where the
// join is S3's multipart completion and the job goes into PostgreSQL in
// the row's transaction.
func TestDroppedCompletesFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("MinIO and PostgreSQL")
	}
	droppedCompletes(t, startService(t, fleetConfig(t, Config{Workers: 2})), 100)
}

// TestUploadOwnership: an upload is its token's. Another uploader can
// neither read its state nor add parts, logs or indexes, nor complete it;
// once complete, nobody adds to it.
func TestUploadOwnership(t *testing.T) {
	s := startService(t, Config{Workers: 1})
	alice, mallory := s.token("uploader"), s.token("uploader")
	data := randomDump(100 << 10)
	up := s.register(alice, data)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/uploads/" + up.DumpID},
		{"PUT", "/api/v1/uploads/" + up.DumpID + "/dmesg"},
		{"PUT", "/api/v1/uploads/" + up.DumpID + "/index"},
		{"PUT", "/api/v1/uploads/" + up.DumpID + "/parts/1"},
		{"POST", "/api/v1/uploads/" + up.DumpID + "/complete"},
	} {
		if code, body := s.call(c.method, c.path, mallory, wire.CompleteRequest{SHA256: sha(data)}, nil); code != 404 {
			t.Errorf("another uploader's %s %s: %d %s, want 404", c.method, c.path, code, body)
		}
	}
	if code, _ := s.putPart(mallory, &up, data, 1); code != 404 {
		t.Errorf("another uploader's part: %d", code)
	}
	s.sendParts(alice, &up, data)
	if code, _, body := s.complete(alice, up.DumpID, sha(data)); code != 200 {
		t.Fatalf("complete: %d %s", code, body)
	}
	for _, tok := range []string{alice, mallory} {
		for _, side := range []string{"dmesg", "index"} {
			if code, body := s.call("PUT", "/api/v1/uploads/"+up.DumpID+"/"+side, tok, "planted", nil); code != 409 && code != 404 {
				t.Errorf("PUT %s on a complete dump: %d %s", side, code, body)
			}
		}
	}
	report(t, "another uploader's 6 requests on an upload and 4 on a complete dump refused")
}

// TestSHA256Verified: bytes stored under another dump's SHA-256 are
// refused, and the genuine dump still arrives as itself.
func TestSHA256Verified(t *testing.T) {
	s := startService(t, Config{Workers: 1})
	tok := s.token("uploader")
	genuine, junk := randomDump(200<<10), randomDump(200<<10)
	up := s.register(tok, junk)
	s.sendParts(tok, &up, junk)
	code, _, body := s.complete(tok, up.DumpID, sha(genuine))
	if code != 422 || !strings.Contains(body, sha(junk)) {
		t.Fatalf("junk claimed as the genuine dump: %d %s, want 422", code, body)
	}
	res := s.upload(tok, genuine)
	if res.Duplicate || res.DumpID == up.DumpID {
		t.Fatalf("the genuine dump was taken for a duplicate: %+v", res)
	}
	d := s.waitDone(time.Minute, res.DumpID)[res.DumpID]
	if d.SHA256 != sha(genuine) {
		t.Errorf("genuine dump stored with sha256 %s", d.SHA256)
	}
	// The same bytes again are one dump.
	if again := s.upload(tok, genuine); !again.Duplicate || again.DumpID != res.DumpID {
		t.Errorf("the same bytes again: %+v", again)
	}
	report(t, "junk under a genuine SHA-256 refused (422); the genuine dump stored as itself")
}

// TestListLimit: more rows than a page holds is an error, not 100 rows.
func TestListLimit(t *testing.T) {
	s := startService(t, Config{Workers: 1})
	if code, body := s.call("GET", "/api/v1/dumps?limit=1001", testAdmin, nil, nil); code != 400 {
		t.Errorf("limit 1001: %d %s", code, body)
	}
	if code, _ := s.call("GET", "/api/v1/dumps?limit=1000", testAdmin, nil, nil); code != 200 {
		t.Errorf("limit 1000: %d", code)
	}
}

// TestReadyzFreeSpace: below the free-space threshold the service is not
// ready, and the metric says how much is free.
func TestReadyzFreeSpace(t *testing.T) {
	s := startService(t, Config{Workers: 1, MinFreeSpace: 1 << 62})
	if code, body := s.call("GET", "/readyz", "", nil, nil); code != 503 || !strings.Contains(body, "free") {
		t.Errorf("readyz with the threshold above the free space: %d %s", code, body)
	}
	code, body := s.call("GET", "/metrics", testAdmin, nil, nil)
	if code != 200 || !strings.Contains(body, "vmcored_data_free_bytes ") {
		t.Errorf("metrics: %d, no vmcored_data_free_bytes", code)
	}
	if code, _ := s.call("POST", "/api/v1/uploads", s.token("uploader"), wire.UploadRequest{Size: 1 << 20}, nil); code != 507 {
		t.Errorf("upload with no room: %d, want 507", code)
	}
}

var _ = context.Background

// fixtureBytes is a real kdump-compressed dump of the corpus.
func fixtureBytes(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(corpus.Fixture(t).Files[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPermanentFailsOnce: an ELF file that is no dump, and bytes that are
// nothing, fail at their first attempt instead of five over minutes.
func TestPermanentFailsOnce(t *testing.T) {
	s := startService(t, Config{Workers: 1})
	ls, err := os.ReadFile("/bin/ls")
	if err != nil {
		t.Skip(err)
	}
	tok := s.token("uploader")
	var ids []string
	for _, data := range [][]byte{ls, randomDump(10 << 10)} {
		ids = append(ids, s.upload(tok, data).DumpID)
	}
	done := s.waitDone(time.Minute, ids...)
	jobs := s.jobs()
	for _, id := range ids {
		if done[id].Status != "failed" || len(jobs[id]) != 1 || jobs[id][0] != 1 || s.started(id) != 1 {
			t.Errorf("dump %s: %s after attempts %v (%d started), want failed at the first", id, done[id].Status, jobs[id], s.started(id))
		}
	}
	report(t, "an ELF that is no dump and random bytes: failed after 1 attempt each")
}

// TestGzipBomb uploads 10 MB of gzip that expands to 10 GiB: the worker
// stops at the expansion limit (4 × the largest upload), fails the dump
// once, and leaves no temporary file.
func TestGzipBomb(t *testing.T) {
	s := startService(t, Config{Workers: 1, MaxUploadSize: 64 << 20})
	bomb := dumpwrite.GzipZeros(10 << 30)
	start := time.Now()
	id := s.upload(s.token("uploader"), bomb).DumpID
	d := s.waitDone(2*time.Minute, id)[id]
	took := time.Since(start)
	if d.Status != "failed" || !strings.Contains(d.Error, "size limit") {
		t.Errorf("bomb: %s %q, want failed over the size limit", d.Status, d.Error)
	}
	if js := s.jobs()[id]; len(js) != 1 || js[0] != 1 {
		t.Errorf("bomb analysed with attempts %v, want one", js)
	}
	left, _ := os.ReadDir(s.srv.tmpDir())
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if strings.Contains(d.Error, s.cfg.DataDir) {
		t.Errorf("the error names the data directory: %s", d.Error)
	}
	report(t, "a %d-byte gzip expanding to 10 GiB: stopped at %d bytes (4 × --max-upload-size), failed after 1 attempt in %s, %d temporary files left",
		len(bomb), s.srv.cfg.MaxExpandedSize, took.Round(100*time.Millisecond), len(left))
}

// TestDiskFull runs the embedded store on a real 64 MiB filesystem: a
// 40 MiB dump completes with 24 MiB free (the parts are joined in place);
// a part that does not fit is a retryable 507 that names no path and
// leaves no temporary file; /readyz fails below the threshold; once room
// is made, the same part and the completion succeed.
func TestDiskFull(t *testing.T) {
	dir := testsvc.Tmpfs(t, 64<<20)
	s := startService(t, Config{Workers: 1, DataDir: dir, PartSize: 5 << 20, MinFreeSpace: 8 << 20})
	tok := s.token("uploader")
	first, second := randomDump(40<<20), randomDump(30<<20)
	up1, up2 := s.register(tok, first), s.register(tok, second)
	s.sendParts(tok, &up1, first)
	free, _ := diskspace.Free(dir)
	if code, _, body := s.complete(tok, up1.DumpID, sha(first)); code != 200 {
		t.Fatalf("completing %d bytes with %d free: %d %s", len(first), free, code, body)
	}
	var full int
	var body string
	for n := 1; n <= up2.Parts; n++ {
		code, b := s.putPart(tok, &up2, second, n)
		if code == 507 {
			full, body = n, b
			break
		} else if code != 200 {
			t.Fatalf("part %d: %d %s", n, code, b)
		}
	}
	if full == 0 {
		t.Fatal("the filesystem never filled up")
	}
	if strings.Contains(body, dir) || strings.Contains(body, "/") {
		t.Errorf("the 507 names a path: %s", body)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "objects", "tmp")); len(tmp) != 0 {
		t.Errorf("the refused part left %d temporary files", len(tmp))
	}
	if code, _ := s.call("GET", "/readyz", "", nil, nil); code != 503 {
		t.Errorf("readyz on a full disk: %d", code)
	}
	if code, body := s.call("DELETE", "/api/v1/dumps/"+up1.DumpID, testAdmin, nil, nil); code != 204 {
		t.Fatalf("delete: %d %s", code, body)
	}
	for n := full; n <= up2.Parts; n++ {
		if code, b := s.putPart(tok, &up2, second, n); code != 200 {
			t.Fatalf("part %d once room was made: %d %s", n, code, b)
		}
	}
	if code, _, body := s.complete(tok, up2.DumpID, sha(second)); code != 200 {
		t.Fatalf("complete once room was made: %d %s", code, body)
	}
	if code, _ := s.call("GET", "/readyz", "", nil, nil); code != 200 {
		t.Errorf("readyz once room was made: %d", code)
	}
	report(t, "64 MiB filesystem: a 40 MiB dump completed with %d MiB free; part %d of a 30 MiB dump answered 507 (no path, no temporary file); after a delete both dumps were whole", free>>20, full)
}

// TestDiskFullFleet fills MinIO's disk (a real 64 MiB tmpfs) under the
// fleet: the presigned part that does not fit is refused by MinIO with a
// retryable 5xx, and nothing is completed without all its parts. A dump
// deleted meanwhile leaves the bucket at once (MinIO frees its space
// later, from its trash); once the disk grows, the refused part is sent
// again and the dump completes with its SHA-256 checked.
func TestDiskFullFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("MinIO and PostgreSQL")
	}
	disk := testsvc.Tmpfs(t, 64<<20)
	m := testsvc.MinIOOn(t, disk)
	pg := testsvc.Postgres(t)
	cfg := Config{Workers: 1, PartSize: 5 << 20, DB: pg.DSN, S3: blob.S3Config{Endpoint: m.Endpoint, Bucket: "full",
		AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true, PathStyle: true}}
	s := startService(t, cfg)
	tok := s.token("uploader")
	var stored []wire.CompleteResponse
	var full *wire.Upload
	var fullPart int
	var fullData []byte
	var refused []int
	for i := 0; i < 6 && full == nil; i++ {
		data := randomDump(20 << 20)
		up := s.register(tok, data)
		for n := 1; n <= up.Parts; n++ {
			code, _ := s.putPart(tok, &up, data, n)
			if code >= 500 {
				full, fullPart, fullData = &up, n, data
				refused = append(refused, code)
				break
			} else if code != 200 {
				t.Fatalf("part %d: %d", n, code)
			}
		}
		if full != nil {
			if code, _, _ := s.complete(tok, up.DumpID, sha(data)); code != 409 {
				t.Errorf("completion with a part refused: %d, want 409", code)
			}
			break
		}
		code, res, body := s.complete(tok, up.DumpID, sha(data))
		if code != 200 {
			t.Fatalf("complete: %d %s", code, body)
		}
		stored = append(stored, res)
	}
	if full == nil || len(stored) == 0 {
		t.Fatalf("MinIO's disk never filled up (%d dumps stored)", len(stored))
	}
	s.waitDone(time.Minute, stored[0].DumpID)
	if code, body := s.call("DELETE", "/api/v1/dumps/"+stored[0].DumpID, testAdmin, nil, nil); code != 204 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if _, err := s.srv.blobs.Stat(context.Background(), dumpKey(stored[0].DumpID)); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("the deleted dump's object: %v", err)
	}
	// The operator grows the disk; the client retries a 5xx with backoff.
	if out, err := exec.Command("mount", "-o", "remount,size=128m", disk).CombinedOutput(); err != nil {
		t.Fatalf("growing the tmpfs: %v %s", err, out)
	}
	grown := time.Now()
	for n := fullPart; n <= full.Parts; n++ {
		for try := 0; ; try++ {
			code, body := s.putPart(tok, full, fullData, n)
			if code == 200 {
				break
			}
			if code < 500 || try == 60 {
				t.Fatalf("part %d once room was made: %d %.200s", n, code, body)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	t.Logf("the parts went in %s after the disk grew", time.Since(grown).Round(100*time.Millisecond))
	if code, _, body := s.complete(tok, full.DumpID, sha(fullData)); code != 200 {
		t.Fatalf("complete once room was made: %d %s", code, body)
	}
	report(t, "MinIO on a 64 MiB filesystem: %d dumps of 20 MiB stored, then part %d of the next refused with %v (retryable), its completion 409; once the disk grew it completed, SHA-256 checked",
		len(stored), fullPart, refused)
}

// TestTokens: tokens are listed and revoked (with their browser
// sessions), expire, and the last admin token cannot be revoked; the
// environment's admin token replaces the one it gave before.
func TestTokens(t *testing.T) {
	s := startService(t, Config{Workers: 1})
	ctx := context.Background()
	viewer := s.token("viewer")
	var expiring wire.NewToken
	s.call("POST", "/api/v1/tokens", testAdmin, wire.TokenRequest{Name: "ci", Role: "viewer", ExpiresIn: 3600}, &expiring)
	if expiring.Expires.IsZero() || expiring.ID != store.TokenID(expiring.Secret) {
		t.Errorf("token with a lifetime: %+v", expiring.Token)
	}
	var list wire.TokenList
	if code, _ := s.call("GET", "/api/v1/tokens", testAdmin, nil, &list); code != 200 || len(list.Tokens) != 3 {
		t.Fatalf("list: %d %+v", code, list)
	}
	if strings.Contains(fmt.Sprint(list), viewer) {
		t.Errorf("the list shows a secret")
	}
	if err := s.srv.db.AddToken(ctx, "vmc_old", store.Token{Name: "old", Role: "viewer", Expires: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.call("GET", "/api/v1/dumps", "vmc_old", nil, nil); code != 401 {
		t.Errorf("expired token: %d", code)
	}
	if _, err := s.srv.db.CreateSession(ctx, "session-of-viewer", viewer, "csrf", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if code, body := s.call("DELETE", "/api/v1/tokens/"+store.TokenID(viewer), testAdmin, nil, nil); code != 204 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, _ := s.call("GET", "/api/v1/dumps", viewer, nil, nil); code != 401 {
		t.Errorf("revoked token: %d", code)
	}
	if _, err := s.srv.db.Session(ctx, "session-of-viewer"); err == nil {
		t.Errorf("the revoked token's session lives on")
	}
	if code, body := s.call("DELETE", "/api/v1/tokens/"+store.TokenID(testAdmin), testAdmin, nil, nil); code != 409 {
		t.Errorf("revoking the last admin token: %d %s", code, body)
	}
	// A restart with another VMCORED_ADMIN_TOKEN revokes the old one.
	s.ts.Close()
	s.srv.Close(ctx)
	cfg := s.cfg
	cfg.AdminToken = "vmc_new_admin"
	srv2, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.srv = srv2
	s.ts = httptest.NewServer(srv2.Handler())
	if code, _ := s.call("GET", "/api/v1/dumps", testAdmin, nil, nil); code != 401 {
		t.Errorf("the previous environment admin token after a restart: %d", code)
	}
	if code, _ := s.call("GET", "/api/v1/dumps", "vmc_new_admin", nil, nil); code != 200 {
		t.Errorf("the new environment admin token: %d", code)
	}
	report(t, "list, revoke (with sessions), expiry, last-admin refusal, environment admin token replaced at restart")
}

// TestAuthFailureLimit sends 1,000 requests with bad tokens from one
// client: after the burst they are answered 429 without a token lookup,
// a good token from that client waits too, another client is not
// affected; the web UI's login form counts the same.
func TestAuthFailureLimit(t *testing.T) {
	s := startService(t, Config{Workers: 1, AuthFailures: 20, AuthFailureEvery: time.Hour, TrustedProxies: []string{"127.0.0.0/8"}})
	codes := map[int]int{}
	for i := range 1000 {
		req, _ := http.NewRequest("GET", s.ts.URL+"/api/v1/dumps", nil)
		req.Header.Set("Authorization", fmt.Sprintf("Bearer vmc_guess_%d", i))
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
	}
	if codes[401] != 20 || codes[429] != 980 {
		t.Errorf("answers to 1,000 bad tokens: %v, want 20 × 401 and 980 × 429", codes)
	}
	get := func(ip, tok string) int {
		req, _ := http.NewRequest("GET", s.ts.URL+"/api/v1/dumps", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("198.51.100.7", testAdmin); code != 429 {
		t.Errorf("a good token from the limited client: %d, want 429", code)
	}
	if code := get("203.0.113.9", testAdmin); code != 200 {
		t.Errorf("another client: %d", code)
	}
	logins := map[int]int{}
	for range 30 {
		logins[uiLogin(t, s, "203.0.113.50", "vmc_wrong")]++
	}
	if logins[401] != 20 || logins[429] != 10 {
		t.Errorf("30 bad logins in the web form: %v, want 20 × 401, 10 × 429", logins)
	}
	report(t, "1,000 bad-token requests from one client: %d × 401, %d × 429 (no token looked up); other clients unaffected; web login limited alike", codes[401], codes[429])
}

// uiLogin posts the web UI's login form from ip and returns the status.
func uiLogin(t *testing.T, s *service, ip, token string) int {
	t.Helper()
	jar := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", s.ts.URL+"/login", nil)
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := jar.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var csrf string
	for _, c := range resp.Cookies() {
		if c.Name == "vmcore_login" {
			csrf = c.Value
		}
	}
	form := url.Values{"csrf": {csrf}, "token": {token}, "next": {"/"}}
	req, _ = http.NewRequest("POST", s.ts.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", ip)
	req.AddCookie(&http.Cookie{Name: "vmcore_login", Value: csrf})
	resp, err = jar.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSlowBodies: 50 clients send their parts one byte at a time, 50
// more stall after the headers: each is cut off within the limits, and
// no temporary file outlives it.
func TestSlowBodies(t *testing.T) {
	s := startService(t, Config{Workers: 1, PartSize: 5 << 20, BodyIdle: time.Second, MinBodyRate: 64 << 10})
	tok := s.token("uploader")
	data := randomDump(5 << 20)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var longest time.Duration
	for i := range 100 {
		up := s.register(tok, data)
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", s.ts.Listener.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			t0 := time.Now()
			fmt.Fprintf(conn, "PUT /api/v1/uploads/%s/parts/1 HTTP/1.1\r\nHost: vmcored\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n",
				up.DumpID, tok, len(data))
			go func() { // the server's answer or its hang-up ends the client
				io.Copy(io.Discard, conn)
				conn.Close()
			}()
			for j := 0; i%2 == 0 && j < 600; j++ { // half trickle, half stall
				if _, err := conn.Write(data[j : j+1]); err != nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			buf := make([]byte, 1)
			conn.SetReadDeadline(time.Now().Add(time.Minute))
			conn.Read(buf)
			mu.Lock()
			longest = max(longest, time.Since(t0))
			mu.Unlock()
		}()
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond) // the handlers' deferred removals
	tmp, _ := os.ReadDir(filepath.Join(s.cfg.DataDir, "objects", "tmp"))
	if len(tmp) != 0 {
		t.Errorf("%d temporary files outlived the slow clients", len(tmp))
	}
	if longest > 30*time.Second {
		t.Errorf("a slow client was held %s", longest)
	}
	report(t, "50 one-byte-per-100-ms and 50 stalled part uploads: all cut off (the longest held %s with --body-idle 1s), %d temporary files left, %s in all",
		longest.Round(100*time.Millisecond), len(tmp), time.Since(start).Round(100*time.Millisecond))
}

// TestUploadExpiry: an upload without activity for UploadTTL goes, with
// its parts; one with activity stays.
func TestUploadExpiry(t *testing.T) {
	s := startService(t, Config{Workers: 1, PartSize: 5 << 20, UploadTTL: 24 * time.Hour})
	tok := s.token("uploader")
	data := randomDump(6 << 20)
	up := s.register(tok, data)
	s.putPart(tok, &up, data, 1)
	m, err := s.srv.Maintain(context.Background(), time.Now().Add(23*time.Hour))
	if err != nil || m.Expired != 0 {
		t.Fatalf("before the TTL: %+v %v", m, err)
	}
	m, err = s.srv.Maintain(context.Background(), time.Now().Add(25*time.Hour))
	if err != nil || m.Expired != 1 || m.Deleted != 1 {
		t.Fatalf("after the TTL: %+v %v", m, err)
	}
	if code, _ := s.call("GET", "/api/v1/uploads/"+up.DumpID, tok, nil, nil); code != 404 {
		t.Errorf("expired upload: %d", code)
	}
	if ups, _ := os.ReadDir(filepath.Join(s.cfg.DataDir, "objects", "uploads")); len(ups) != 0 {
		t.Errorf("the expired upload's parts are still stored: %v", ups)
	}
	report(t, "an upload idle past --upload-ttl removed with its parts")
}

// objectCount counts the files of the embedded object store.
func objectCount(t *testing.T, dir string) int {
	n := 0
	filepath.Walk(filepath.Join(dir, "objects", "objects"), func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// TestRetention: dumps older than the retention are deleted, rows first,
// then their objects and results.
func TestRetention(t *testing.T) {
	s := startService(t, Config{Workers: 1, Retention: 90 * 24 * time.Hour})
	tok := s.token("uploader")
	var ids []string
	for range 3 {
		ids = append(ids, s.upload(tok, randomDump(20<<10)).DumpID)
	}
	s.waitDone(time.Minute, ids...)
	before := objectCount(t, s.cfg.DataDir)
	if m, err := s.srv.Maintain(context.Background(), time.Now().Add(89*24*time.Hour)); err != nil || m.Retired != 0 {
		t.Fatalf("within the retention: %+v %v", m, err)
	}
	m, err := s.srv.Maintain(context.Background(), time.Now().Add(91*24*time.Hour))
	if err != nil || m.Retired != 3 || m.Deleted != 3 {
		t.Fatalf("past the retention: %+v %v", m, err)
	}
	var list wire.DumpList
	s.call("GET", "/api/v1/dumps", testAdmin, nil, &list)
	if list.Total != 0 || objectCount(t, s.cfg.DataDir) != 0 {
		t.Errorf("after the retention: %d dumps, %d objects", list.Total, objectCount(t, s.cfg.DataDir))
	}
	report(t, "3 dumps past --retention deleted: rows and %d objects", before)
}

// failingDeletes is an object store whose deletions fail, as one that is
// down does.
type failingDeletes struct{ blob.Store }

func (failingDeletes) Delete(context.Context, string) error { return errors.New("store down") }

// TestDeleteRowFirst: a dump is deleted from the database before its
// objects; when the object store fails then, the dump is gone for
// everyone at once and its objects are removed once the store is back.
func TestDeleteRowFirst(t *testing.T) {
	s := startService(t, Config{Workers: 1})
	id := s.upload(s.token("uploader"), randomDump(20<<10)).DumpID
	s.waitDone(time.Minute, id)
	good := s.srv.blobs
	s.srv.blobs = failingDeletes{good}
	if code, body := s.call("DELETE", "/api/v1/dumps/"+id, testAdmin, nil, nil); code != 204 {
		t.Fatalf("delete with the store down: %d %s", code, body)
	}
	if code, _ := s.call("GET", "/api/v1/dumps/"+id, testAdmin, nil, nil); code != 404 {
		t.Errorf("the deleted dump is still listed: %d", code)
	}
	if objectCount(t, s.cfg.DataDir) == 0 {
		t.Fatal("the objects went although the store was down: the test proves nothing")
	}
	s.srv.blobs = good
	if m, err := s.srv.Maintain(context.Background(), time.Now()); err != nil || m.Deleted != 1 {
		t.Fatalf("maintenance once the store is back: %+v %v", m, err)
	}
	if n := objectCount(t, s.cfg.DataDir); n != 0 {
		t.Errorf("%d objects of the deleted dump left", n)
	}
}

// hookedPuts is an object store that calls a hook before each Put.
type hookedPuts struct {
	blob.Store
	before func(key string)
}

func (h hookedPuts) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	h.before(key)
	return h.Store.Put(ctx, key, r, size)
}

// TestDeletedDuringAnalysis deletes a dump while a worker analyses it,
// before it stores its results and while it stores them: either way no
// result of the deleted dump is left.
func TestDeletedDuringAnalysis(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		s := startService(t, Config{Workers: 1, StepDelay: 100 * time.Millisecond})
		id := s.upload(s.token("uploader"), fixtureBytes(t)).DumpID
		deadline := time.Now().Add(time.Minute)
		for {
			steps, _ := s.srv.db.Steps(context.Background(), id, 1)
			if len(steps) > 0 && steps[len(steps)-1].Name == "kb" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the analysis did not reach the kb step: %+v", steps)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if code, body := s.call("DELETE", "/api/v1/dumps/"+id, testAdmin, nil, nil); code != 204 {
			t.Fatalf("delete: %d %s", code, body)
		}
		waitLog(t, s, "dump deleted during its analysis")
		if n := objectCount(t, s.cfg.DataDir); n != 0 {
			t.Errorf("%d objects of a dump deleted during its analysis", n)
		}
	})
	t.Run("storing", func(t *testing.T) {
		s := startService(t, Config{Workers: 1})
		var once sync.Once
		s.srv.blobs = hookedPuts{s.srv.blobs, func(key string) {
			if strings.HasPrefix(key, "results/") {
				once.Do(func() {
					id := strings.Split(key, "/")[1]
					if err := s.srv.deleteDumpNow(context.Background(), id); err != nil {
						t.Error(err)
					}
				})
			}
		}}
		s.upload(s.token("uploader"), fixtureBytes(t))
		waitLog(t, s, "dump deleted during its analysis: its results removed")
		if n := objectCount(t, s.cfg.DataDir); n != 0 {
			t.Errorf("%d objects of a dump deleted while its results were stored", n)
		}
	})
}

func waitLog(t *testing.T, s *service, line string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(s.logs.String(), line) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log", line)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestJunkIndex: a flattened index that does not fit the dump is set
// aside, and the dump is analysed without it.
func TestJunkIndex(t *testing.T) {
	s := startService(t, Config{Workers: 1})
	tok := s.token("uploader")
	data := fixtureBytes(t)
	up := s.register(tok, data)
	if code, body := s.call("PUT", "/api/v1/uploads/"+up.DumpID+"/index", tok, "junk", nil); code != 204 {
		t.Fatalf("index: %d %s", code, body)
	}
	s.sendParts(tok, &up, data)
	s.complete(tok, up.DumpID, sha(data))
	if d := s.waitDone(time.Minute, up.DumpID)[up.DumpID]; d.Status != "done" {
		t.Errorf("a dump with a junk index: %s %s", d.Status, d.Error)
	}
}

// TestFileModes: what the service writes in its data directory is its
// user's alone, the database included.
func TestFileModes(t *testing.T) {
	s := startService(t, Config{Workers: 1, DataDir: filepath.Join(t.TempDir(), "data")})
	id := s.upload(s.token("uploader"), fixtureBytes(t)).DumpID
	s.waitDone(time.Minute, id)
	n := 0
	filepath.Walk(s.cfg.DataDir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		n++
		if perm := info.Mode().Perm(); info.IsDir() && perm != 0o700 || !info.IsDir() && perm&0o077 != 0 {
			t.Errorf("%s: mode %v", p, perm)
		}
		return nil
	})
	report(t, "%d files and directories of the data directory checked: 0600/0700", n)
}
