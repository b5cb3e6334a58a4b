package api

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmcore/vmcore/api/blob"
	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/internal/testsvc"
)

// A service in the test process: the whole of it (API, workers,
// maintenance) on the embedded default or on MinIO and PostgreSQL, on
// loopback, with its log kept for the test to read.

type service struct {
	t    *testing.T
	srv  *Server
	ts   *httptest.Server
	logs *logBuffer
	cfg  Config
}

// logBuffer keeps a service's log for a test to read while it runs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fleetConfig puts the service on a real MinIO and PostgreSQL.
func fleetConfig(t *testing.T, cfg Config) Config {
	m := testsvc.MinIO(t)
	pg := testsvc.Postgres(t)
	cfg.DB = pg.DSN
	cfg.S3 = blob.S3Config{Endpoint: m.Endpoint, Bucket: "vmcore-api", AccessKey: m.AccessKey, SecretKey: m.SecretKey,
		Insecure: true, PathStyle: true}
	return cfg
}

// startService starts a service with cfg (role all unless set) and its
// workers; DataDir is a new temporary directory unless set.
func startService(t *testing.T, cfg Config) *service {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.AdminToken = testAdmin
	if cfg.MinFreeSpace == 0 {
		cfg.MinFreeSpace = -1 // the tests that need a threshold set one
	}
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	s := &service{t: t, srv: srv, ts: ts, logs: logs, cfg: cfg}
	t.Cleanup(func() {
		ts.Close()
		s.srv.Close(context.Background())
		if t.Failed() {
			t.Logf("service log:\n%s", tailString(logs.String(), 8000))
		}
	})
	return s
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// call sends a JSON request with a token and decodes a 2xx answer.
func (s *service) call(method, path, token string, in, out any) (int, string) {
	s.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.ts.URL+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

func (s *service) token(role string) string {
	s.t.Helper()
	var tok wire.NewToken
	if code, body := s.call("POST", "/api/v1/tokens", testAdmin, wire.TokenRequest{Name: "test " + role, Role: role}, &tok); code != 201 {
		s.t.Fatalf("token: %d %s", code, body)
	}
	return tok.Secret
}

// register starts an upload of data.
func (s *service) register(token string, data []byte) wire.Upload {
	s.t.Helper()
	var up wire.Upload
	if code, body := s.call("POST", "/api/v1/uploads", token, wire.UploadRequest{Size: int64(len(data)), Filename: "vmcore"}, &up); code != 201 {
		s.t.Fatalf("register: %d %s", code, body)
	}
	return up
}

// putPart sends part n of data, to its presigned URL or to the API.
func (s *service) putPart(token string, up *wire.Upload, data []byte, n int) (int, string) {
	s.t.Helper()
	off := int64(n-1) * up.PartSize
	chunk := data[off:min(off+up.PartSize, int64(len(data)))]
	sum := md5.Sum(chunk)
	target := up.URLs[n]
	if target == "" {
		target = fmt.Sprintf("%s/api/v1/uploads/%s/parts/%d", s.ts.URL, up.DumpID, n)
	}
	req, _ := http.NewRequest("PUT", target, bytes.NewReader(chunk))
	if up.URLs[n] == "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sendParts stores every part of data.
func (s *service) sendParts(token string, up *wire.Upload, data []byte) {
	s.t.Helper()
	for n := 1; n <= up.Parts; n++ {
		if code, body := s.putPart(token, up, data, n); code != 200 {
			s.t.Fatalf("part %d of %s: %d %s", n, up.DumpID, code, body)
		}
	}
}

func sha(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// complete ends an upload, claiming sum.
func (s *service) complete(token, id, sum string) (int, wire.CompleteResponse, string) {
	s.t.Helper()
	var res wire.CompleteResponse
	code, body := s.call("POST", "/api/v1/uploads/"+id+"/complete", token, wire.CompleteRequest{SHA256: sum}, &res)
	return code, res, body
}

// upload sends data whole and completes it.
func (s *service) upload(token string, data []byte) wire.CompleteResponse {
	s.t.Helper()
	up := s.register(token, data)
	s.sendParts(token, &up, data)
	code, res, body := s.complete(token, up.DumpID, sha(data))
	if code != 200 {
		s.t.Fatalf("complete %s: %d %s", up.DumpID, code, body)
	}
	return res
}

// waitDone waits until the dumps are analysed (done or failed).
func (s *service) waitDone(limit time.Duration, ids ...string) map[string]store.Dump {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out := map[string]store.Dump{}
		for _, id := range ids {
			d, err := s.srv.db.GetDump(context.Background(), id)
			if err != nil {
				s.t.Fatalf("dump %s: %v", id, err)
			}
			if d.Status == store.StatusDone || d.Status == store.StatusFailed {
				out[id] = d
			}
		}
		if len(out) == len(ids) {
			return out
		}
		if time.Now().After(deadline) {
			var stuck []string
			for _, id := range ids {
				if _, ok := out[id]; !ok {
					d, _ := s.srv.db.GetDump(context.Background(), id)
					stuck = append(stuck, id+" "+d.Status)
				}
			}
			s.t.Fatalf("%d of %d dumps not analysed after %s: %v", len(stuck), len(ids), limit, stuck[:min(len(stuck), 10)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jobs counts the analysis jobs of each dump and their attempts.
func (s *service) jobs() map[string][]int {
	s.t.Helper()
	rows, err := s.srv.db.SQL().Query(`SELECT CAST(args AS TEXT), attempt FROM river_job WHERE kind = 'analyze'`)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]int{}
	for rows.Next() {
		var args string
		var attempt int
		if err := rows.Scan(&args, &attempt); err != nil {
			s.t.Fatal(err)
		}
		var j store.AnalyzeJob
		json.Unmarshal([]byte(args), &j)
		out[j.DumpID] = append(out[j.DumpID], attempt)
	}
	return out
}

// started counts the "analysis started" lines of a dump in the log.
func (s *service) started(id string) int {
	return strings.Count(s.logs.String(), "analysis started\" dump="+id)
}

// randomDump is n bytes no dump reader takes for a dump, different every
// call: each upload is its own dump, and its analysis fails at once.
func randomDump(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	copy(b, "not a dump")
	return b
}
