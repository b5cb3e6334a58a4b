package api

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/api/wire"
)

const testAdmin = "vmc_test_admin"

// newTestServer runs the API in-process on the embedded default.
func newTestServer(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	cfg.DataDir = t.TempDir()
	cfg.AdminToken = testAdmin
	cfg.Role = RoleAPI
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close(context.Background())
	})
	return ts
}

func do(t *testing.T, ts *httptest.Server, method, path string, body []byte, hdr map[string]string, out any) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

func jsonBody(v any) []byte { b, _ := json.Marshal(v); return b }

// TestUploadRequests checks the upload protocol's answers to bad requests:
// each is refused with a clear status, before any bytes are stored.
func TestUploadRequests(t *testing.T) {
	ts := newTestServer(t, Config{MaxUploadSize: 20 << 20, PartSize: 5 << 20})
	if code, body := do(t, ts, "POST", "/api/v1/uploads", jsonBody(wire.UploadRequest{Size: 21 << 20}), nil, nil); code != 413 || !strings.Contains(body, "limit") {
		t.Errorf("too large: %d %s", code, body)
	}
	for _, bad := range []string{`{"size":0}`, `{"size":-5}`, `{"size":10,"sha256":"xyz"}`, `not json`} {
		if code, body := do(t, ts, "POST", "/api/v1/uploads", []byte(bad), nil, nil); code != 400 {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}
	var up wire.Upload
	size := int64(6 << 20)
	if code, body := do(t, ts, "POST", "/api/v1/uploads", jsonBody(wire.UploadRequest{Size: size}), nil, &up); code != 201 || up.Parts != 2 {
		t.Fatalf("create: %d %s", code, body)
	}
	part := bytes.Repeat([]byte{0xab}, 5<<20)
	sum := md5.Sum(part)
	badSum := md5.Sum([]byte("other"))
	base := "/api/v1/uploads/" + up.DumpID
	for _, c := range []struct {
		name, path string
		body       []byte
		md5        []byte
		want       int
	}{
		{"short part", base + "/parts/1", part[:100], nil, 400},
		{"part 0", base + "/parts/0", part, nil, 400},
		{"part past the end", base + "/parts/3", part, nil, 400},
		{"bad checksum", base + "/parts/1", part, badSum[:], 400},
		{"unknown upload", "/api/v1/uploads/0123456789abcdef/parts/1", part, nil, 404},
		{"good part", base + "/parts/1", part, sum[:], 200},
	} {
		hdr := map[string]string{"Content-Type": "application/octet-stream"}
		if c.md5 != nil {
			hdr["Content-MD5"] = base64.StdEncoding.EncodeToString(c.md5)
		}
		if code, body := do(t, ts, "PUT", c.path, c.body, hdr, nil); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
	}
	var st wire.Upload
	do(t, ts, "GET", base, nil, nil, &st)
	if len(st.Done) != 1 || st.Done[0].Number != 1 {
		t.Errorf("after a refused part the store holds %+v", st.Done)
	}
	if code, body := do(t, ts, "POST", base+"/complete", jsonBody(wire.CompleteRequest{SHA256: strings.Repeat("a", 64)}), nil, nil); code != 409 || !strings.Contains(body, "1 of 2") {
		t.Errorf("complete with a part missing: %d %s", code, body)
	}
}

// TestServiceEndpoints checks health, metrics and the OpenAPI document;
// the metrics want a viewer's or the metrics token.
func TestServiceEndpoints(t *testing.T) {
	ts := newTestServer(t, Config{MetricsToken: "scrape-me"})
	for path, want := range map[string]string{
		"/healthz":             "ok",
		"/readyz":              "ready",
		"/api/v1/openapi.yaml": "/api/v1/uploads/{id}/complete",
	} {
		code, body := do(t, ts, "GET", path, nil, map[string]string{"Authorization": ""}, nil)
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d, want %q in %.200s", path, code, want, body)
		}
	}
	for tok, want := range map[string]int{"": 401, "Bearer wrong": 401, "Bearer scrape-me": 200, "Bearer " + testAdmin: 200} {
		code, body := do(t, ts, "GET", "/metrics", nil, map[string]string{"Authorization": tok}, nil)
		if code != want || (want == 200 && !strings.Contains(body, "vmcored_data_free_bytes")) {
			t.Errorf("/metrics with %q: %d, want %d", tok, code, want)
		}
	}
	if code, _ := do(t, ts, "GET", "/api/v1/nothing", nil, nil, nil); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
}

// TestDebuginfoUpload stores a vmlinux by build-id for later analyses.
func TestDebuginfoUpload(t *testing.T) {
	ts := newTestServer(t, Config{})
	hdr := map[string]string{"Content-Type": "application/octet-stream"}
	if code, body := do(t, ts, "PUT", "/api/v1/debuginfo/0aa5bb96df02ed722c7dbce79dddfef2b3d14f67", []byte("\x7fELF..."), hdr, nil); code != 204 {
		t.Errorf("upload: %d %s", code, body)
	}
	if code, _ := do(t, ts, "PUT", "/api/v1/debuginfo/not-a-build-id", []byte("x"), hdr, nil); code != 400 {
		t.Errorf("bad build-id: %d", code)
	}
	var tok struct{ Token string }
	do(t, ts, "POST", "/api/v1/tokens", jsonBody(map[string]string{"name": "v", "role": "viewer"}), nil, &tok)
	hdr["Authorization"] = "Bearer " + tok.Token
	if code, _ := do(t, ts, "PUT", "/api/v1/debuginfo/0aa5bb96df02ed722c7dbce79dddfef2b3d14f67", []byte("x"), hdr, nil); code != 403 {
		t.Errorf("viewer: %d", code)
	}
}
