package ui

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkCrashPage measures the server's time to render a crash with a
// 1 MB kernel log (the target: under 200 ms), from a request with
// a session cookie to the last byte, on the in-memory backend. "cold"
// decodes the stored analysis document and finds the oops in the log, as
// the first view of a crash does; "warm" finds it decoded (docCache), as
// moving between a crash's tabs does; "warm-gzip" adds the compression a
// browser asks for (page-bytes is then what goes on the wire).
//
//	go test ./ui -run '^$' -bench CrashPage -benchtime 20x
func BenchmarkCrashPage(b *testing.B) {
	tu := newTestUI(b)
	a := tu.b.addCrash(b, crashID, 12500)
	size := 0
	for _, r := range a.Log {
		size += len(r.Text) + 1
	}
	if size < 1<<20 {
		b.Fatalf("the log is %d bytes, not 1 MB", size)
	}
	c := newClient(b, tu.srv.URL)
	c.login("tok-viewer")
	cookies := c.http.Jar.Cookies(mustURL(tu.srv.URL))
	for _, page := range []struct{ name, path string }{
		{"summary", "/crashes/" + crashID},
		{"log", "/crashes/" + crashID + "/log"},
		{"log-err", "/crashes/" + crashID + "/log?level=err"},
		{"backtraces", "/crashes/" + crashID + "/backtraces"},
	} {
		for _, mode := range []string{"cold", "warm", "warm-gzip"} {
			cold, gz := mode == "cold", mode == "warm-gzip"
			name := page.name + "/" + mode
			b.Run(name, func(b *testing.B) {
				bytes := 0
				for b.Loop() {
					if cold {
						tu.ui.docs.mu.Lock()
						tu.ui.docs.entries = nil
						tu.ui.docs.mu.Unlock()
					}
					req := httptest.NewRequest("GET", page.path, nil)
					for _, ck := range cookies {
						req.AddCookie(ck)
					}
					if gz {
						req.Header.Set("Accept-Encoding", "gzip")
					}
					w := httptest.NewRecorder()
					tu.router.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("%s: %d", page.path, w.Code)
					}
					bytes = w.Body.Len()
				}
				b.ReportMetric(float64(bytes), "page-bytes")
			})
		}
	}
}
