package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The web UI against the real vmcored, as a browser without JavaScript
// sees it: forms, cookies, redirects. ui_browser_test.go drives real
// Chromium through the same pages.

// uiService is a running vmcored (started with flags) with the
// module-null-deref fixture uploaded by vmcorectl and analysed.
type uiService struct {
	d                       *daemon
	id                      string // the uploaded dump
	viewer, uploader, admin string // tokens
	panic                   string // crash's PANIC line for the fixture
	hostname                string
}

func startUIService(t *testing.T, flags ...string) *uiService {
	t.Helper()
	d := startDaemon(t, backend{data: t.TempDir()}, "all", flags...)
	s := &uiService{d: d, viewer: newToken(t, d, "viewer"), uploader: newToken(t, d, "uploader"), admin: adminToken, hostname: "(none)"}
	fx := fixture(t, "module-null-deref")
	out, stderr, err := ctl(t, nil, "upload", "--server", d.url(), "--token", s.uploader, kdumpDir(t, fx))
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, stderr)
	}
	s.id = lastLine(out)
	waitDone(t, d, s.viewer, s.id)
	ref, _ := os.ReadFile(fx.Ref("crash-sys.txt"))
	m := panicLine.FindStringSubmatch(string(ref))
	if m == nil {
		t.Fatalf("no PANIC line in crash-sys.txt")
	}
	// crash quotes an oops header and adds "(check log for details)"; the
	// page shows the header line itself.
	s.panic = strings.TrimSpace(m[1])
	if q := regexp.MustCompile(`^"(.*)" \(check log for details\)$`).FindStringSubmatch(s.panic); q != nil {
		s.panic = q[1]
	}
	return s
}

// waitDone waits until the service has analysed a dump.
func waitDone(t *testing.T, d *daemon, token, id string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var st struct{ Status, Error string }
		apiCall(t, "GET", d.url()+"/api/v1/dumps/"+id, token, nil, &st)
		if st.Status == "done" {
			return
		}
		if st.Status == "failed" || time.Now().After(deadline) {
			t.Fatalf("dump %s: %s %s", id, st.Status, st.Error)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// webClient is a browser without JavaScript: cookies, no redirects
// followed.
type webClient struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func newWebClient(t *testing.T, base string) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{t: t, base: base, http: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func (c *webClient) do(method, path string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = c.base + path
	}
	req, _ := http.NewRequest(method, u, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfInput.FindSubmatch(b); m != nil && !strings.HasPrefix(path, "/login") && !strings.Contains(path, "/links/") {
		c.csrf = string(m[1])
	}
	return resp, string(b)
}

func (c *webClient) get(path string) (int, string) {
	c.t.Helper()
	resp, body := c.do("GET", path, nil, nil)
	return resp.StatusCode, body
}

func (c *webClient) post(path string, form url.Values) (int, string) {
	c.t.Helper()
	resp, _ := c.do("POST", path, strings.NewReader(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	return resp.StatusCode, resp.Header.Get("Location")
}

func (c *webClient) login(token string) {
	c.t.Helper()
	_, body := c.get("/login")
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no login form:\n%s", body)
	}
	if code, loc := c.post("/login", url.Values{"csrf": {m[1]}, "token": {token}, "next": {"/"}}); code != http.StatusSeeOther {
		c.t.Fatalf("login: %d %s", code, loc)
	}
	c.get("/upload")
	c.get("/crashes")
}

func TestUIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	svc := startUIService(t)
	d, id := svc.d, svc.id
	c := newWebClient(t, d.url())
	if code, _ := c.get("/crashes"); code != http.StatusSeeOther {
		t.Errorf("no session: %d", code)
	}
	c.login(svc.viewer)

	// Find the crash by host, open it: the panic line, the first KB
	// suggestion, the panic CPU's backtrace.
	_, list := c.get("/crashes?host=" + url.QueryEscape(svc.hostname))
	if !strings.Contains(list, `href="/crashes/`+id+`"`) {
		t.Fatalf("the crash is not listed under its host:\n%s", list)
	}
	_, page := c.get("/crashes/" + id)
	var dd struct{ Signature string }
	apiCall(t, "GET", d.url()+"/api/v1/dumps/"+id, svc.viewer, nil, &dd)
	if !strings.Contains(page, `<h1 id="panic" class="mono">`+html.EscapeString(dd.Signature)+`</h1>`) || dd.Signature == "" {
		t.Errorf("the crash page's heading is not the signature %q", dd.Signature)
	}
	if !strings.Contains(page, `id="panicline">`+svc.panic+`</p>`) {
		t.Errorf("the crash page does not show crash's PANIC %q under the heading", svc.panic)
	}
	first := regexp.MustCompile(`<li class="suggestion">\s*<h3><a href="/kb/([^"]+)"`).FindStringSubmatch(page)
	if first == nil || first[1] != "null-deref-out-of-tree-module" {
		t.Errorf("first suggestion %v, want null-deref-out-of-tree-module", first)
	}
	if !regexp.MustCompile(`(?s)<section class="trace panic".*?CPU 1 .*?crashmod_null_deref\+0x`).MatchString(page) {
		t.Errorf("the panic CPU's backtrace is not on the crash page")
	}
	_, errs := c.get("/crashes/" + id + "/log?level=err")
	if n := strings.Count(errs, `<div class="r l`); n != 4 || strings.Contains(errs, `class="r l6"`) {
		t.Errorf("log at err and above: %d lines", n)
	}
	// Downloads: the log is the API's; the dump is the admin's.
	_, logTxt := c.get("/crashes/" + id + "/log.txt")
	var apiLog bytes.Buffer
	req, _ := http.NewRequest("GET", d.url()+"/api/v1/dumps/"+id+"/log", nil)
	req.Header.Set("Authorization", "Bearer "+svc.viewer)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(&apiLog, resp.Body)
		resp.Body.Close()
	}
	if logTxt != apiLog.String() || len(logTxt) < 1000 {
		t.Errorf("log.txt (%d bytes) differs from the API's log (%d bytes)", len(logTxt), apiLog.Len())
	}
	if code, _ := c.get("/crashes/" + id + "/vmcore"); code != http.StatusForbidden {
		t.Errorf("a viewer downloads the dump: %d", code)
	}

	// Feedback: refused without the session's CSRF token, taken with it.
	if code, _ := c.post("/crashes/"+id+"/feedback", url.Values{"article": {"null-deref-out-of-tree-module"}, "verdict": {"confirm"}}); code != http.StatusForbidden {
		t.Errorf("feedback without a CSRF token: %d", code)
	}
	if code, loc := c.post("/crashes/"+id+"/feedback", url.Values{"csrf": {c.csrf}, "article": {"null-deref-out-of-tree-module"}, "verdict": {"confirm"}}); code != http.StatusSeeOther {
		t.Errorf("feedback: %d %s", code, loc)
	}
	if _, page := c.get("/crashes/" + id); !strings.Contains(page, "1 confirmed, 0 rejected") {
		t.Errorf("the vote is not counted on the crash page")
	}
	// A viewer may not merge buckets, even with a good token.
	var buckets struct{ Buckets []struct{ ID string } }
	apiCall(t, "GET", d.url()+"/api/v1/buckets", svc.viewer, nil, &buckets)
	if len(buckets.Buckets) != 1 {
		t.Fatalf("buckets: %+v", buckets)
	}
	bid := buckets.Buckets[0].ID
	if _, bp := c.get("/buckets/" + bid); !strings.Contains(bp, `href="/crashes/`+id+`"`) {
		t.Errorf("the bucket page does not list the crash")
	}
	if code, _ := c.post("/buckets/"+bid+"/article", url.Values{"csrf": {c.csrf}, "article": {"null-deref-out-of-tree-module"}}); code != http.StatusForbidden {
		t.Errorf("a viewer linked a bucket: %d", code)
	}
	// Unknown ids are the 404 page; unknown API paths stay JSON.
	if code, body := c.get("/crashes/0000000000000000"); code != http.StatusNotFound || !strings.Contains(body, "Not found") {
		t.Errorf("unknown crash: %d", code)
	}
	if code, body := c.get("/api/v1/nothing"); code != http.StatusNotFound || !strings.HasPrefix(body, "{") {
		t.Errorf("unknown API path: %d %.100s", code, body)
	}

	// An admin links the bucket to an article and downloads the dump.
	a := newWebClient(t, d.url())
	a.login(adminToken)
	if code, _ := a.post("/buckets/"+bid+"/article", url.Values{"csrf": {a.csrf}, "article": {"null-deref-out-of-tree-module"}}); code != http.StatusSeeOther {
		t.Errorf("admin links a bucket: %d", code)
	}
	if _, bp := a.get("/buckets/" + bid); !strings.Contains(bp, `href="/kb/null-deref-out-of-tree-module"`) {
		t.Errorf("the bucket's article link is not shown")
	}
	resp, dump := a.do("GET", "/crashes/"+id+"/vmcore", nil, nil)
	sum := sha256.Sum256([]byte(dump))
	if resp.StatusCode != 200 || hex.EncodeToString(sum[:]) != fileSHA256(t, fixture(t, "module-null-deref").Files[0]) {
		t.Errorf("dump download: %d, %d bytes", resp.StatusCode, len(dump))
	}

	// Logging out ends the session on the server.
	cookies := c.http.Jar.Cookies(mustParse(d.url()))
	if code, _ := c.post("/logout", url.Values{"csrf": {c.csrf}}); code != http.StatusSeeOther {
		t.Errorf("logout: %d", code)
	}
	stale := newWebClient(t, d.url())
	stale.http.Jar.SetCookies(mustParse(d.url()), cookies)
	if code, _ := stale.get("/crashes"); code != http.StatusSeeOther {
		t.Errorf("a logged-out session still reads: %d", code)
	}
}

func mustParse(s string) *url.URL { u, _ := url.Parse(s); return u }

// useLink opens a one-time login link as a person does: its page, then
// the page's button.
func (c *webClient) useLink(link string) *http.Response {
	c.t.Helper()
	resp, page := c.do("GET", link, nil, nil)
	m := csrfInput.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		return resp
	}
	form := url.Values{"csrf": {m[1]}}
	resp, _ = c.do("POST", link, strings.NewReader(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	return resp
}

// TestUIUploaderSession checks an uploader's session: the upload page and
// the upload protocol with the session's CSRF token, nothing else.
func TestUIUploaderSession(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	d := startDaemon(t, backend{data: t.TempDir()}, "all")
	up := newWebClient(t, d.url())
	up.login(newToken(t, d, "uploader"))
	if code, _ := up.get("/upload"); code != http.StatusOK {
		t.Errorf("upload page: %d", code)
	}
	if code, _ := up.get("/crashes"); code != http.StatusForbidden {
		t.Errorf("an uploader reads the crash list: %d", code)
	}
	// The upload protocol with the session: the CSRF header is required.
	dmesg := []byte("[    1.000000] Kernel panic - not syncing: sysrq triggered crash\n")
	fx := fixture(t, "sysrq-c")
	data, err := os.ReadFile(fx.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path string, body []byte, csrf bool, out any) int {
		t.Helper()
		hdr := map[string]string{"Content-Type": "application/json"}
		if csrf {
			hdr["X-CSRF-Token"] = up.csrf
		}
		resp, b := up.do(method, "/upload/api/v1/uploads"+path, bytes.NewReader(body), hdr)
		if out != nil && resp.StatusCode < 300 {
			if err := json.Unmarshal([]byte(b), out); err != nil {
				t.Fatalf("%s %s: %v %s", method, path, err, b)
			}
		}
		return resp.StatusCode
	}
	meta, _ := json.Marshal(map[string]any{"size": len(data), "filename": "vmcore", "hostname": "browser-host"})
	if code := call("POST", "", meta, false, nil); code != http.StatusForbidden {
		t.Errorf("upload without the CSRF header: %d", code)
	}
	if code, _ := newWebClient(t, d.url()).do("POST", "/upload/api/v1/uploads", bytes.NewReader(meta), map[string]string{"Content-Type": "application/json"}); code.StatusCode != http.StatusUnauthorized {
		t.Errorf("upload without a session: %d", code.StatusCode)
	}
	var upl struct {
		DumpID   string `json:"dump_id"`
		PartSize int64  `json:"part_size"`
		Parts    int
	}
	if code := call("POST", "", meta, true, &upl); code != http.StatusCreated {
		t.Fatalf("upload: %d", code)
	}
	if code := call("PUT", "/"+upl.DumpID+"/dmesg", dmesg, true, nil); code != http.StatusNoContent {
		t.Errorf("dmesg: %d", code)
	}
	for n := 1; n <= upl.Parts; n++ {
		off := int64(n-1) * upl.PartSize
		if code := call("PUT", fmt.Sprintf("/%s/parts/%d", upl.DumpID, n), data[off:min(off+upl.PartSize, int64(len(data)))], true, nil); code != http.StatusOK {
			t.Fatalf("part %d: %d", n, code)
		}
	}
	sum := sha256.Sum256(data)
	done, _ := json.Marshal(map[string]string{"sha256": hex.EncodeToString(sum[:])})
	if code := call("POST", "/"+upl.DumpID+"/complete", done, true, nil); code != http.StatusOK {
		t.Fatalf("complete: %d", code)
	}
	waitDone(t, d, adminToken, upl.DumpID)
	var dd struct{ Uploader, Hostname string }
	apiCall(t, "GET", d.url()+"/api/v1/dumps/"+upl.DumpID, adminToken, nil, &dd)
	if !strings.HasPrefix(dd.Uploader, "e2e uploader") {
		t.Errorf("uploader recorded as %q, want the session's token name", dd.Uploader)
	}
	// The host name given at upload survives the analysis of a dump whose
	// kernel never had one set ("(none)", issue 18).
	if dd.Hostname != "browser-host" {
		t.Errorf("host %q after the analysis, want the upload's browser-host", dd.Hostname)
	}
}

// TestUILoginLink checks vmcorectl open: the link logs in once, at the
// crash's page, and not after it expires; an uploader gets none.
func TestUILoginLink(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	svc := startUIService(t)
	env := []string{"VMCORE_SERVER=" + svc.d.url(), "VMCORE_TOKEN=" + svc.viewer, "DISPLAY=", "WAYLAND_DISPLAY="}
	out, stderr, err := ctl(t, env, "open", svc.id)
	if err != nil {
		t.Fatalf("vmcorectl open: %v\n%s", err, stderr)
	}
	link := strings.TrimSpace(out)
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(svc.d.url()) + `/links/[0-9a-f]{64}$`).MatchString(link) {
		t.Fatalf("vmcorectl open printed %q", out)
	}
	// A chat's preview (GETs) does not spend the link.
	for range 2 {
		if resp, _ := newWebClient(t, svc.d.url()).do("GET", link, nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("a preview of the link: %d", resp.StatusCode)
		}
	}
	b := newWebClient(t, svc.d.url())
	resp := b.useLink(link)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/crashes/"+svc.id {
		t.Fatalf("the link: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, page := b.get("/crashes/" + svc.id); code != http.StatusOK || !strings.Contains(page, svc.panic) {
		t.Errorf("the link's session does not read the crash: %d", code)
	}
	if resp := newWebClient(t, svc.d.url()).useLink(link); resp.StatusCode != http.StatusGone {
		t.Errorf("the link worked twice: %d", resp.StatusCode)
	}
	// An admin's link opens a viewer's session.
	out, _, err = ctl(t, []string{"VMCORE_SERVER=" + svc.d.url(), "VMCORE_TOKEN=" + adminToken, "DISPLAY=", "WAYLAND_DISPLAY="}, "open", svc.id)
	if err != nil {
		t.Fatal(err)
	}
	ab := newWebClient(t, svc.d.url())
	ab.useLink(strings.TrimSpace(out))
	if _, page := ab.get("/crashes/" + svc.id); !strings.Contains(page, `<span class="role">viewer</span>`) {
		t.Errorf("an admin's link opens more than a viewer's session")
	}
	if code, _ := ab.get("/crashes/" + svc.id + "/vmcore"); code != http.StatusForbidden {
		t.Errorf("an admin's link downloads the dump: %d", code)
	}
	// Expiry: a link of one second, used after two.
	out, _, err = ctl(t, env, "open", "--ttl", "1s", svc.id)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if resp := newWebClient(t, svc.d.url()).useLink(strings.TrimSpace(out)); resp.StatusCode != http.StatusGone {
		t.Errorf("an expired link worked: %d", resp.StatusCode)
	}
	// Refusals: an uploader's token, an unknown dump.
	if _, stderr, err := ctl(t, []string{"VMCORE_SERVER=" + svc.d.url(), "VMCORE_TOKEN=" + svc.uploader}, "open", svc.id); err == nil || !strings.Contains(stderr, "403") {
		t.Errorf("an uploader got a login link: %v %s", err, stderr)
	}
	if _, stderr, err := ctl(t, env, "open", "0000000000000000"); err == nil || !strings.Contains(stderr, "404") {
		t.Errorf("a link to an unknown dump: %v %s", err, stderr)
	}
}
