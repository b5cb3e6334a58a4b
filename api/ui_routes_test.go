package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vmcore/vmcore/ui"
)

var updateRoutes = flag.Bool("update-routes", false, "rewrite testdata/ui-routes.golden from the server's answers")

// TestUIRoutes sends every method to the web UI's paths, their near
// misses (a trailing slash, an extra segment, an escaped slash, dot
// segments) and the API's unknown paths, without a session and with an
// uploader's, a viewer's and an admin's, and compares what the router
// answers (status, content type, redirect, Allow, security headers,
// compression, cookies set, the page's title) with
// testdata/ui-routes.golden. The golden file was written by the server
// whose echo router handed the UI's paths to the UI's own ServeMux: the
// single router must answer the same.
func TestUIRoutes(t *testing.T) {
	s := startService(t, Config{Role: RoleAPI, AuthFailures: 1 << 20})
	ctx := context.Background()
	sessions := []string{""}
	for _, role := range []string{"uploader", "viewer", "admin"} {
		if _, err := s.srv.db.CreateSession(ctx, sessionID(role), s.token(role), "csrf-"+role, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, role)
	}
	const id = "0123456789abcdef"
	paths := []string{
		"/", "/login", "/login/", "/logout", "/links/abc", "/links/", "/links/a/b", "/lang",
		"/crashes", "/crashes/", "/crashes/" + id, "/crashes/" + id + "/", "/crashes/" + id + "/log",
		"/crashes/" + id + "/log.txt", "/crashes/" + id + "/vmcore", "/crashes/" + id + "/feedback",
		"/crashes/" + id + "/triage", "/crashes/" + id + "/x", "/crashes/a/b/c/d", "/crashes/a%2Fb",
		"/buckets", "/buckets/x", "/buckets/x/merge", "/kb", "/kb/", "/kb/nope", "/kb/a/b", "/kb/a%2Fb",
		"/upload", "/upload/", "/upload/x", ui.UploadAPI, ui.UploadAPI + "/" + id,
		"/webhooks", "/webhooks/x/delete", "/tokens", "/tokens/x/revoke",
		"/static/app.css", "/static/upload.js", "/static/nope.css", "/static/", "/static/a/b", "/favicon.ico",
		"/nothing", "/nothing/deeper", "//crashes", "/crashes/./x", "/crashes/../kb", "/CRASHES",
		"/api", "/api/", "/api/v1/nothing", "/api/v1/dumps", "/api/v1/login-links", "/healthz",
	}
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}
	title := regexp.MustCompile(`<title>([^<]*)</title>`)
	requestID := regexp.MustCompile(`"request_id":"[^"]*"`)
	var out strings.Builder
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, role string, hdr map[string]string) {
		req, err := http.NewRequest(method, s.ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", "gzip")
		req.Header.Set("Accept-Language", "en")
		if role != "" {
			req.AddCookie(&http.Cookie{Name: "vmcore_session", Value: sessionID(role)})
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" && method != "HEAD" {
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
		b, _ := io.ReadAll(body)
		h := resp.Header
		var cookies []string
		for _, c := range resp.Cookies() {
			cookies = append(cookies, c.Name)
		}
		sort.Strings(cookies)
		what := ""
		if m := title.FindSubmatch(b); m != nil {
			what = "title " + string(m[1])
		} else if strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			what = "json " + requestID.ReplaceAllString(strings.TrimSpace(string(b)), `"request_id":"…"`)
		} else if len(b) > 0 {
			what = fmt.Sprintf("%d bytes", len(b))
		}
		fmt.Fprintf(&out, "%s %s %s%s: %d type=%q location=%q allow=%q cache=%q csp=%t frame=%q encoding=%q cookies=%v %s\n",
			method, path, role, hdrNote(hdr), resp.StatusCode, h.Get("Content-Type"), h.Get("Location"), h.Get("Allow"),
			h.Get("Cache-Control"), h.Get("Content-Security-Policy") != "", h.Get("X-Frame-Options"),
			h.Get("Content-Encoding"), cookies, what)
	}
	for _, role := range sessions {
		for _, p := range paths {
			for _, m := range methods {
				do(m, p, role, nil)
			}
		}
	}
	// Unsafe methods with the session's CSRF token reach the handlers
	// (none of these changes anything: the crash does not exist).
	for _, role := range sessions[1:] {
		for _, p := range []string{"/crashes/" + id + "/feedback", "/crashes/" + id + "/articles", "/buckets/x/merge"} {
			do("POST", p, role, map[string]string{ui.CSRFHeader: "csrf-" + role})
			do("POST", p, role, map[string]string{ui.CSRFHeader: "csrf-" + role, "Origin": "https://elsewhere.example"})
		}
		do("POST", ui.UploadAPI, role, map[string]string{ui.CSRFHeader: "csrf-" + role, "Content-Type": "application/json"})
	}
	const golden = "testdata/ui-routes.golden"
	if *updateRoutes {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(out.String(), "\n")
	for i, w := range strings.Split(string(want), "\n") {
		if i >= len(got) || got[i] != w {
			g := ""
			if i < len(got) {
				g = got[i]
			}
			t.Errorf("line %d:\n got %s\nwant %s", i+1, g, w)
		}
	}
	if t.Failed() {
		os.WriteFile(golden+".got", []byte(out.String()), 0o644)
	}
}

func hdrNote(h map[string]string) string {
	if len(h) == 0 {
		return ""
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, " +%s", k)
	}
	return b.String()
}

// sessionID is the test session of a role: 64 characters, as the UI's.
func sessionID(role string) string { return fmt.Sprintf("%064s", role) }
