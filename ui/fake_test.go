package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/kb"
	"github.com/vmcore/vmcore/kb/fulltext"
)

// fakeBackend is a Backend in memory, for handler tests: what the pages
// show and refuse does not depend on the stores.
type fakeBackend struct {
	mu       sync.Mutex
	now      func() time.Time
	tokens   map[string][2]string // token → name, role
	sessions map[string]Session
	links    map[string]fakeLink
	dumps    map[string]wire.DumpDetail
	objects  map[string][]byte // id/artifact → bytes
	buckets  []Bucket
	history  map[string][]DayCount
	votes    []string // "id article verdict actor"
	merges   []string
	ix       *fulltext.Index
	fakeTriage
}

type fakeLink struct {
	token, target string
	expires       time.Time
}

func newFakeBackend(t testing.TB, now func() time.Time) *fakeBackend {
	t.Helper()
	arts, err := kb.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	hostile, err := kb.ParseArticle("hostile.md", []byte(hostileArticle))
	if err != nil {
		t.Fatal(err)
	}
	ix, err := fulltext.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(append(arts, hostile)...); err != nil {
		t.Fatal(err)
	}
	return &fakeBackend{now: now, ix: ix,
		tokens: map[string][2]string{"tok-admin": {"alice", RoleAdmin}, "tok-viewer": {"victor", RoleViewer}, "tok-uploader": {"ursula", RoleUploader},
			"tok-support": {"sam", RoleSupport}},
		sessions: map[string]Session{}, links: map[string]fakeLink{}, dumps: map[string]wire.DumpDetail{},
		objects: map[string][]byte{}, history: map[string][]DayCount{}, fakeTriage: newFakeTriage()}
}

func (f *fakeBackend) Login(ctx context.Context, token string, n NewSession) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	nr, ok := f.tokens[token]
	if !ok {
		return Session{}, ErrBadToken
	}
	s := Session{ID: n.ID, Name: nr[0], Role: nr[1], CSRF: n.CSRF, Expires: n.Expires, Lang: f.langs[nr[0]]}
	f.sessions[n.ID] = s
	return s, nil
}

func (f *fakeBackend) UseLoginLink(ctx context.Context, secret string, n NewSession) (Session, string, error) {
	f.mu.Lock()
	l, ok := f.links[secret]
	delete(f.links, secret)
	f.mu.Unlock()
	if !ok || !f.now().Before(l.expires) {
		return Session{}, "", ErrNotFound
	}
	s, err := f.Login(ctx, l.token, n)
	return s, l.target, err
}

func (f *fakeBackend) Session(ctx context.Context, id string) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	if !ok || !f.now().Before(s.Expires) {
		return Session{}, ErrNotFound
	}
	return s, nil
}

func (f *fakeBackend) Logout(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sessions, id)
	return nil
}

func (f *fakeBackend) Dumps(ctx context.Context, q DumpQuery) (DumpPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var p DumpPage
	for _, d := range f.dumps {
		if q.Host != "" && d.Hostname != q.Host || q.Text != "" && !strings.Contains(strings.ToLower(d.Hostname+d.Signature+d.ID), strings.ToLower(q.Text)) {
			continue
		}
		if len(q.Signatures) > 0 && !contains(q.Signatures, d.Signature) {
			continue
		}
		p.Dumps = append(p.Dumps, DumpRow{Dump: d.Dump, Steps: d.Steps, Triage: "new", Unseen: q.Viewer != "" && !f.seen[d.ID+" "+q.Viewer]})
	}
	sort.Slice(p.Dumps, func(i, j int) bool { return p.Dumps[i].ID < p.Dumps[j].ID })
	p.Total = len(p.Dumps)
	p.Dumps = p.Dumps[min(q.Offset, len(p.Dumps)):]
	if q.Limit > 0 && len(p.Dumps) > q.Limit {
		p.Dumps = p.Dumps[:q.Limit]
	}
	return p, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (f *fakeBackend) Facets(ctx context.Context) (Facets, error) { return Facets{}, nil }

func (f *fakeBackend) Dump(ctx context.Context, id string) (wire.DumpDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.dumps[id]
	if !ok {
		return d, fmt.Errorf("dump %s: %w", id, ErrNotFound)
	}
	return d, nil
}

type memObject struct{ *bytes.Reader }

func (memObject) Close() error { return nil }

func (f *fakeBackend) Open(ctx context.Context, id string, a Artifact) (Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[fmt.Sprintf("%s/%d", id, a)]
	if !ok {
		return nil, ErrNotFound
	}
	return memObject{bytes.NewReader(b)}, nil
}

func (f *fakeBackend) DumpArticles(ctx context.Context, id string) ([]string, error) { return nil, nil }

func (f *fakeBackend) LinkDump(ctx context.Context, id, article, actor string) error { return nil }

func (f *fakeBackend) Feedback(ctx context.Context, id, article string, verdict int, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.votes = append(f.votes, fmt.Sprintf("%s %s %d %s", id, article, verdict, actor))
	return nil
}

func (f *fakeBackend) Votes(ctx context.Context, signature string) (map[string]kb.Votes, error) {
	return map[string]kb.Votes{}, nil
}

func (f *fakeBackend) Buckets(ctx context.Context) ([]Bucket, error) { return f.buckets, nil }

func (f *fakeBackend) Bucket(ctx context.Context, id string) (Bucket, error) {
	for _, b := range f.buckets {
		if b.ID == id {
			return b, nil
		}
	}
	return Bucket{}, ErrNotFound
}

func (f *fakeBackend) BucketHistory(ctx context.Context, id string) ([]DayCount, error) {
	return f.history[id], nil
}

func (f *fakeBackend) BucketOf(ctx context.Context, signature string) (string, error) {
	for _, b := range f.buckets {
		if contains(b.Signatures, signature) {
			return b.ID, nil
		}
	}
	return "", ErrNotFound
}

func (f *fakeBackend) MergeBuckets(ctx context.Context, into, from, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if into == from {
		return fmt.Errorf("%w: cannot merge a bucket into itself", ErrConflict)
	}
	f.merges = append(f.merges, into+" "+from+" "+actor)
	return nil
}

func (f *fakeBackend) SplitSignature(ctx context.Context, signature, actor string) (string, error) {
	return "", ErrNotFound
}

func (f *fakeBackend) LinkBucket(ctx context.Context, bucket, article, actor string) error {
	return nil
}

func (f *fakeBackend) KB(ctx context.Context) (*fulltext.Index, error) { return f.ix, nil }

func (f *fakeBackend) Tokens(ctx context.Context) ([]wire.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []wire.Token
	for tok, nr := range f.tokens {
		out = append(out, wire.Token{ID: fakeTokenID(tok), Name: nr[0], Role: nr[1]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// fakeTokenID is a token's id: 16 hex digits.
func fakeTokenID(tok string) string { return fmt.Sprintf("%016x", len(tok)*7919+int(tok[len(tok)-1])) }

func (f *fakeBackend) CreateToken(ctx context.Context, name, role string, ttl time.Duration, actor string) (wire.NewToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := fmt.Sprintf("tok-new-%d", len(f.tokens))
	f.tokens[tok] = [2]string{name, role}
	t := wire.Token{ID: fakeTokenID(tok), Name: name, Role: role, Created: f.now()}
	if ttl > 0 {
		t.Expires = f.now().Add(ttl)
	}
	return wire.NewToken{Token: t, Secret: tok}, nil
}

func (f *fakeBackend) RevokeToken(ctx context.Context, id, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok := range f.tokens {
		if fakeTokenID(tok) == id {
			name := f.tokens[tok][0]
			delete(f.tokens, tok)
			for sid, s := range f.sessions {
				if s.Name == name {
					delete(f.sessions, sid)
				}
			}
			return nil
		}
	}
	return fmt.Errorf("token %s: %w", id, ErrNotFound)
}

// Hostile inputs: each must show as text, never as markup.
const (
	hostileHost = `<img src=x onerror=alert("host")>`
	hostileLog  = `<script>alert("log")</script> & friends`
	hostilePS   = `Kernel panic - not syncing: <b>bold</b>`
)

const hostileArticle = `---
id: hostile
title: 'Hostile <i>article</i>'
lang: en
symptoms: '<script>alert("symptoms")</script>'
cause: a cause with [a link](javascript:alert(1))
resolution: 'fix it <img src=x onerror=alert(2)>'
match:
  title: ['^never matches this']
---
# Body <script>alert("body")</script>

<div onclick="alert(3)">raw html block</div>

[bad](javascript:alert(4)) [tabbed](<java	script:alert(5)>) [good](https://kernel.org/)
`

// hostileMarkers are strings that appear in a page only if escaping failed.
var hostileMarkers = []string{`<script>alert(`, `<img src=x`, `<b>bold`, `<b>with`, `<i>article`, `<div onclick`, `href="javascript:`, `href="java`}

const crashID = "0123456789abcdef"

// addCrash stores a done crash whose log, host name and panic line carry
// markup, with a log of n extra info lines.
func (f *fakeBackend) addCrash(t testing.TB, id string, extra int) *analysis.Document {
	t.Helper()
	date := time.Date(2026, 11, 22, 5, 2, 51, 0, time.UTC)
	a := &analysis.Document{Schema: analysis.Schema,
		System: &analysis.System{Release: "6.1.0-56-amd64", Version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)",
			Nodename: hostileHost, CPUs: 2, Date: &date, Panic: hostilePS},
		Panic: &analysis.Panic{CPU: 1, PID: 122, Comm: "sh"},
		Backtraces: []analysis.Trace{
			{CPU: 0, PID: 0, Comm: "swapper/0", Frames: []analysis.Frame{{Function: "native_safe_halt", Reliable: true}}},
			{CPU: 1, PID: 122, Comm: "sh", Panic: true, Frames: []analysis.Frame{
				{Function: "crashmod_null_deref", Offset: 0x26, Module: "crashmod", File: "kernel/sysrq.c", Line: 158, Reliable: true},
				{Function: "vfs_write", Offset: 0xc7, Reliable: true, Regs: &analysis.Regs{Arch: "x86_64", Names: []string{"ip"}, Values: []analysis.Hex{0xffffffff81000000}}}}},
		},
		Modules:   []analysis.Module{{Name: "crashmod", Taints: "OE"}, {Name: "virtio"}},
		Tasks:     []analysis.Task{{PID: 1, State: "S", Comm: "init"}, {PID: 122, CPU: 1, State: "R", Comm: "sh"}},
		Taint:     &analysis.Taint{Mask: 0x3000, Flags: []analysis.TaintFlag{{Bit: 12, Letter: "O", Description: "externally-built (out-of-tree) module was loaded"}}},
		Debuginfo: analysis.Debuginfo{Source: "btf+kallsyms"},
		Oops:      &analysis.Oops{Title: "BUG: unable to handle kernel NULL pointer dereference in crashmod_null_deref", Type: "NULL pointer dereference"},
		KB: []analysis.Suggestion{{ID: "null-deref-out-of-tree-module", Title: "NULL pointer dereference in an out-of-tree (third-party) module",
			Confidence: 0.95, Evidence: []string{"crashing function `crashmod_null_deref` is in module `crashmod`", "evidence <b>with markup</b>"}}},
		Warnings: []string{"warning <script>alert(1)</script>"},
		Steps:    []analysis.Step{{Name: "log", Seconds: 0.003}},
	}
	for i := 0; i < extra; i++ {
		a.Log = append(a.Log, analysis.Record{Seq: uint64(len(a.Log)), TimeNS: uint64(i) * 1e6, Level: 6,
			Text: fmt.Sprintf("virtio_blk virtio0: [vda] %d 512-byte logical blocks (403 MB/384 MiB) line %d", 786432+i, i)})
	}
	for _, r := range []analysis.Record{
		{Level: 4, Text: hostileLog},
		{Level: 1, Text: "BUG: kernel NULL pointer dereference, address: 0000000000000008"},
		{Level: 1, Text: "#PF: supervisor write access in kernel mode"},
		{Level: 4, Text: "Oops: 0002 [#1] PREEMPT SMP NOPTI"},
		{Level: 4, Text: "RIP: 0010:crashmod_null_deref+0x26/0x40 [crashmod]"},
		{Level: 4, Text: "Call Trace:\n <TASK>\n crashmod_run.cold+0x19/0x1e [crashmod]\n vfs_write+0xc7/0x3f0\n </TASK>"},
		{Level: 0, Text: "Kernel panic - not syncing: Fatal exception"},
		{Level: 7, Text: "control \x01 byte"},
	} {
		r.Seq, r.TimeNS = uint64(len(a.Log)), uint64(len(a.Log))*1e6+5e9
		a.Log = append(a.Log, r)
	}
	doc, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	sig := a.Oops.Title
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dumps[id] = wire.DumpDetail{Dump: wire.Dump{ID: id, Status: "done", Size: 17 << 20, Hostname: hostileHost, Release: "6.1.0-56-amd64",
		CrashTime: date, Run: 1, Signature: sig, OopsType: a.Oops.Type, Panic: hostilePS, Created: date},
		Steps: []wire.Step{{Name: "identify", Status: "ok", Seconds: 0.01}, {Name: "log", Status: "ok", Seconds: 0.02}}}
	f.objects[id+"/0"] = doc
	f.objects[id+"/1"] = []byte(analysis.LogText(a.Log))
	f.buckets = []Bucket{{ID: "b0b0b0b0b0b0b0b0", Title: sig, Signatures: []string{sig}, Count: 1, FirstSeen: date, LastSeen: date,
		Hosts: []string{hostileHost}, Releases: []string{"6.1.0-56-amd64"}}}
	f.history["b0b0b0b0b0b0b0b0"] = []DayCount{{Day: "2026-11-22", Count: 1}}
	return a
}

// client is a browser: a cookie jar and no redirects followed, so tests
// see each answer.
type client struct {
	t    testing.TB
	base string
	http *http.Client
	csrf string // the session's token, read from the last page
}

func newClient(t testing.TB, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// do sends a request and returns the status, the Location and the body.
func (c *client) do(method, path string, form url.Values, hdr map[string]string) (int, string, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(b); m != nil && !strings.HasPrefix(path, "/login") {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func (c *client) get(path string) (int, string) {
	code, _, body := c.do("GET", path, nil, nil)
	return code, body
}

// login logs in through the form, as a browser does.
func (c *client) login(token string) {
	c.t.Helper()
	_, _, body := c.do("GET", "/login", nil, nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF field in the login form:\n%s", body)
	}
	code, loc, body := c.do("POST", "/login", url.Values{"csrf": {m[1]}, "token": {token}, "next": {"/"}}, nil)
	if code != http.StatusSeeOther {
		c.t.Fatalf("login: %d %s\n%s", code, loc, body)
	}
	c.get("/crashes") // read the session's CSRF token
}

type testUI struct {
	ui     *UI
	router *echo.Echo
	b      *fakeBackend
	srv    *httptest.Server
	now    time.Time
	mu     sync.Mutex
}

func (tu *testUI) clock() time.Time {
	tu.mu.Lock()
	defer tu.mu.Unlock()
	return tu.now
}

func (tu *testUI) advance(d time.Duration) {
	tu.mu.Lock()
	defer tu.mu.Unlock()
	tu.now = tu.now.Add(d)
}

func newTestUI(t testing.TB) *testUI {
	t.Helper()
	tu := &testUI{now: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)}
	tu.b = newFakeBackend(t, tu.clock)
	var err error
	tu.ui, err = New(tu.b, Config{Now: tu.clock, Logger: slog.New(slog.NewTextHandler(testLogWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// The UI on a router of its own, as the API registers it on its.
	tu.router = echo.New()
	tu.ui.Register(tu.router, nil)
	tu.srv = httptest.NewServer(tu.router)
	t.Cleanup(tu.srv.Close)
	return tu
}
