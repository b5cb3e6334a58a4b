package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestUIFleet runs the web UI on two API processes sharing PostgreSQL and
// MinIO: a session opened on one works on the other (sessions live in the
// database), as do its CSRF token, logout and one-time login links; the
// crash list's text search and filters run on PostgreSQL.
func TestUIFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	be, _, _ := fleet(t)
	api1 := startDaemon(t, be, "api")
	api2 := startDaemon(t, workerData(t, be), "api")
	startDaemon(t, workerData(t, be), "worker")
	viewer := newToken(t, api1, "viewer")
	fx := fixture(t, "module-null-deref")
	out, stderr, err := ctl(t, nil, "upload", "--server", api1.url(), "--token", adminToken, kdumpDir(t, fx))
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, stderr)
	}
	id := lastLine(out)
	waitDone(t, api1, viewer, id)

	// Log in on one node, read on the other with the same cookie.
	c1 := newWebClient(t, api1.url())
	c1.login(viewer)
	c2 := newWebClient(t, api2.url())
	c2.http.Jar.SetCookies(mustParse(api2.url()), c1.http.Jar.Cookies(mustParse(api1.url())))
	for _, q := range []string{"q=CRASHMOD_null", "q=" + url.QueryEscape("(none)"), "release=6.1.0-56-amd64", "type=" + url.QueryEscape("NULL pointer dereference"),
		"since=2026-11-22&until=2026-11-22", "q=" + url.QueryEscape("100%_")} {
		code, body := c2.get("/crashes?" + q)
		listed := strings.Contains(body, `href="/crashes/`+id+`"`)
		if code != http.StatusOK || listed == strings.Contains(q, "100") {
			t.Errorf("/crashes?%s on the second node: %d, listed %t", q, code, listed)
		}
	}
	// The CSRF token of the page from node 1 is good on node 2.
	if code, _ := c2.post("/crashes/"+id+"/feedback", url.Values{"csrf": {c1.csrf}, "article": {"null-deref-out-of-tree-module"}, "verdict": {"reject"}}); code != http.StatusSeeOther {
		t.Errorf("feedback on the second node: %d", code)
	}
	if _, page := c1.get("/crashes/" + id); !strings.Contains(page, "0 confirmed, 1 rejected") {
		t.Errorf("the vote made on node 2 is not seen on node 1")
	}
	// A login link made by node 1 works once, on node 2.
	env := []string{"VMCORE_SERVER=" + api1.url(), "VMCORE_TOKEN=" + viewer, "DISPLAY=", "WAYLAND_DISPLAY="}
	out, _, err = ctl(t, env, "open", id)
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(strings.TrimSpace(out), api1.url())
	if resp := newWebClient(t, api2.url()).useLink(path); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the link on node 2: %d", resp.StatusCode)
	}
	if resp := newWebClient(t, api1.url()).useLink(path); resp.StatusCode != http.StatusGone {
		t.Errorf("the link worked again on node 1: %d", resp.StatusCode)
	}
	// Logging out on node 2 ends the session on node 1.
	if code, _ := c2.post("/logout", url.Values{"csrf": {c1.csrf}}); code != http.StatusSeeOther {
		t.Errorf("logout on node 2: %d", code)
	}
	if code, _ := c1.get("/crashes"); code != http.StatusSeeOther {
		t.Errorf("node 1 still reads after the logout on node 2: %d", code)
	}
}
