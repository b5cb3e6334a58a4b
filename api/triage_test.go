package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/api/wire"
)

// fakeClock is the service's clock in tests: it moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// triageServer is an API process on the embedded default with a fake
// clock, its handler on loopback, and its log kept.
type triageServer struct {
	s     *Server
	ts    *httptest.Server
	clock *fakeClock
	log   *bytes.Buffer
	mu    *sync.Mutex
}

func newTriageServer(t *testing.T) *triageServer {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	buf, mu := &bytes.Buffer{}, &sync.Mutex{}
	s, err := New(context.Background(), Config{DataDir: t.TempDir(), AdminToken: testAdmin, Role: RoleAPI, Now: clock.Now,
		PublicURL: "https://vmcore.example", Logger: slog.New(slog.NewTextHandler(lockedWriter{buf, mu}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close(context.Background())
	})
	return &triageServer{s: s, ts: ts, clock: clock, log: buf, mu: mu}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (ts *triageServer) logText() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.log.String()
}

// token makes a token of a role.
func (ts *triageServer) token(t *testing.T, role string) string {
	var tok struct{ Token string }
	if code, body := do(t, ts.ts, "POST", "/api/v1/tokens", jsonBody(map[string]string{"name": role + "-person", "role": role}), nil, &tok); code != 201 {
		t.Fatalf("token %s: %d %s", role, code, body)
	}
	return tok.Token
}

// crash stores an analysed crash as the worker leaves it, and lets the
// triage weigh its arrival; it returns the crash's bucket.
func (ts *triageServer) crash(t *testing.T, id, sig, release, version string) string {
	t.Helper()
	ctx := context.Background()
	db := ts.s.db
	if err := db.CreateDump(ctx, store.Dump{ID: id, Status: store.StatusUploading, Size: 1, Hostname: "db-" + id[12:], Release: release}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CompleteUpload(ctx, id, "sha-"+id); err != nil {
		t.Fatal(err)
	}
	_, err := db.BucketOf(ctx, sig)
	isNew := err != nil
	if _, err := db.EnsureBucket(ctx, sig); err != nil {
		t.Fatal(err)
	}
	if err := db.SetResult(ctx, id, 1, store.Result{Status: store.StatusDone, Signature: sig, Release: release}); err != nil {
		t.Fatal(err)
	}
	doc := &analysis.Document{System: &analysis.System{Release: release, Version: version},
		Modules: []analysis.Module{{Name: "crashmod"}}, Taint: &analysis.Taint{Flags: []analysis.TaintFlag{{Letter: "O"}, {Letter: "E"}}},
		KB: []analysis.Suggestion{{ID: "sysrq-trigger-crash"}}}
	d, _ := db.GetDump(ctx, id)
	ts.s.arrived(ctx, arrival{dump: d, signature: sig, release: release, newBucket: isNew, doc: doc})
	return store.BucketID(sig)
}

const debian192 = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"

// TestTriageAPI drives triage through the REST API with the roles
// enforced: support and admin change state, a viewer reads, an uploader
// sees nothing; a rule closes a bucket's next crash; a fixed bucket
// reopens as a regression on a kernel with the fix and marks a crash on
// an older one for an upgrade; every change is in the audit trail.
func TestTriageAPI(t *testing.T) {
	ts := newTriageServer(t)
	support, viewer, uploader := ts.token(t, "support"), ts.token(t, "viewer"), ts.token(t, "uploader")
	bucket := ts.crash(t, "00000000000000a1", "sysrq: Trigger a crash", "6.1.0-56-amd64", debian192)
	as := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	path := "/api/v1/buckets/" + bucket + "/triage"

	if code, _ := do(t, ts.ts, "GET", path, nil, as(uploader), nil); code != 403 {
		t.Errorf("an uploader reads triage: %d", code)
	}
	if code, _ := do(t, ts.ts, "GET", "/api/v1/dumps?triage=new", nil, as(uploader), nil); code != 403 {
		t.Errorf("an uploader lists dumps: %d", code)
	}
	change := jsonBody(map[string]any{"status": "not-a-bug", "rule": "not-a-bug", "note": "SysRq test crash", "assignee": "sam"})
	if code, _ := do(t, ts.ts, "PATCH", path, change, as(viewer), nil); code != 403 {
		t.Errorf("a viewer changes triage: %d", code)
	}
	if code, body := do(t, ts.ts, "PATCH", path, jsonBody(map[string]any{"status": "closed"}), as(support), nil); code != 400 || !strings.Contains(body, "unknown status") {
		t.Errorf("a bad status: %d %s", code, body)
	}
	var tr wire.Triage
	if code, body := do(t, ts.ts, "PATCH", path, change, as(support), &tr); code != 200 || tr.Status != "not-a-bug" || tr.Rule != "not-a-bug" || tr.RuleBy != "support-person" {
		t.Fatalf("support's change: %d %s", code, body)
	}
	var view wire.TriageView
	if code, _ := do(t, ts.ts, "GET", path, nil, as(viewer), &view); code != 200 || len(view.Notes) != 1 || view.Notes[0].Author != "support-person" || len(view.Events) != 4 {
		t.Errorf("a viewer reads the triage: %d %+v", code, view)
	}
	// The rule closes the bucket's next crash, and says so.
	ts.crash(t, "00000000000000a2", "sysrq: Trigger a crash", "6.1.0-56-amd64", debian192)
	var dv wire.TriageView
	do(t, ts.ts, "GET", "/api/v1/dumps/00000000000000a2/triage", nil, as(viewer), &dv)
	if dv.Triage.Status != "not-a-bug" || len(dv.Events) != 1 || dv.Events[0].Actor != ActorRule || dv.Bucket == nil || dv.Bucket.Status != "not-a-bug" {
		t.Errorf("the rule did not close the new crash: %+v", dv)
	}
	// Reversible: without the rule the next crash follows the bucket.
	do(t, ts.ts, "PATCH", path, jsonBody(map[string]any{"rule": ""}), as(support), nil)
	ts.crash(t, "00000000000000a3", "sysrq: Trigger a crash", "6.1.0-56-amd64", debian192)
	do(t, ts.ts, "GET", "/api/v1/dumps/00000000000000a3/triage", nil, as(viewer), &dv)
	if dv.Triage.Status != "" {
		t.Errorf("a crash after the rule's removal: %+v", dv.Triage)
	}

	// Fixes and regressions, with Debian kernels compared by their
	// package version: 6.1.0-56-amd64 is 6.1.192-2.
	bug := ts.crash(t, "00000000000000b1", "BUG: kernel NULL pointer dereference in crashmod_null_deref", "6.1.0-55-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.190-1 (2026-10-01)")
	bugPath := "/api/v1/buckets/" + bug + "/triage"
	if code, body := do(t, ts.ts, "PATCH", bugPath, jsonBody(map[string]any{"status": "fixed", "fix_commit": "https://git.kernel.org/linus/0123abcd", "fix_release": "6.1.192-2"}), as(support), nil); code != 200 {
		t.Fatalf("fix: %d %s", code, body)
	}
	// An older kernel: "fixed in 6.1.192-2, upgrade"; the bucket stays fixed.
	ts.crash(t, "00000000000000b2", "BUG: kernel NULL pointer dereference in crashmod_null_deref", "6.1.0-55-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.190-1 (2026-10-01)")
	do(t, ts.ts, "GET", "/api/v1/dumps/00000000000000b2/triage", nil, as(viewer), &dv)
	if dv.Triage.Upgrade != "6.1.192-2" || dv.Triage.Status != "fixed" || dv.Bucket.Status != "fixed" || dv.Bucket.Regression != nil {
		t.Errorf("a crash on an older kernel: %+v, bucket %+v", dv.Triage, dv.Bucket)
	}
	// The fix's kernel: a regression, and the bucket says so.
	ts.clock.advance(time.Hour)
	ts.crash(t, "00000000000000b3", "BUG: kernel NULL pointer dereference in crashmod_null_deref", "6.1.0-56-amd64", debian192)
	do(t, ts.ts, "GET", bugPath, nil, as(viewer), &view)
	if view.Triage.Status != "new" || view.Triage.Regression == nil || view.Triage.Regression.DumpID != "00000000000000b3" ||
		view.Triage.Regression.Release != "6.1.0-56-amd64" || !view.Triage.Regression.At.Equal(ts.clock.Now()) || view.Events[0].Actor != ActorService {
		t.Errorf("no regression: %+v", view.Triage)
	}
	// The list filters on triage, module and taint, and counts facets.
	var list wire.DumpList
	do(t, ts.ts, "GET", "/api/v1/dumps?triage=new&sort=arrival", nil, as(viewer), &list)
	if list.Total != 2 || list.Dumps[0].ID != "00000000000000b3" || list.Dumps[1].ID != "00000000000000b1" {
		t.Errorf("new crashes, latest first: %+v", list)
	}
	if code, _ := do(t, ts.ts, "GET", "/api/v1/dumps?triage=nonsense", nil, as(viewer), nil); code != 400 {
		t.Errorf("a bad triage filter: %d", code)
	}
	var facets struct{ Facets map[string][]wire.FacetCount }
	do(t, ts.ts, "GET", "/api/v1/facets?module=crashmod&taint=E", nil, as(viewer), &facets)
	if f := facets.Facets["triage"]; len(f) != 3 || f[0] != (wire.FacetCount{Value: "not-a-bug", Count: 3}) {
		t.Errorf("status facet: %+v", f)
	}
	// Share links are a viewer's, whoever asks.
	var link struct{ Path string }
	if code, body := do(t, ts.ts, "POST", "/api/v1/login-links", jsonBody(map[string]any{"dump_id": "00000000000000b3", "ttl_seconds": 3600}), nil, &link); code != 201 {
		t.Fatalf("an admin's link: %d %s", code, body)
	}
	sess, target, err := ts.s.db.UseLoginLink(context.Background(), strings.TrimPrefix(link.Path, "/links/"), strings.Repeat("5", 64), strings.Repeat("6", 64), time.Now().Add(time.Hour))
	if err != nil || sess.Role != store.RoleViewer || target != "/crashes/00000000000000b3" {
		t.Errorf("the admin's link opens a %q session to %s (%v), want a viewer's", sess.Role, target, err)
	}
}

// TestRequestLog: vmcored logged no HTTP status per request at its
// default level, so failures could not be found in its log.
func TestRequestLog(t *testing.T) {
	ts := newTriageServer(t)
	do(t, ts.ts, "GET", "/api/v1/dumps/0123456789abcdef", nil, nil, nil)
	do(t, ts.ts, "GET", "/api/v1/dumps", nil, map[string]string{"Authorization": "Bearer nope"}, nil)
	do(t, ts.ts, "GET", "/healthz", nil, nil, nil)
	log := ts.logText()
	for _, want := range []string{`uri=/api/v1/dumps/0123456789abcdef status=404`, `uri=/api/v1/dumps status=401`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "uri=/healthz") {
		t.Errorf("the health probe fills the log")
	}
}

// receiver is a webhook endpoint on loopback that fails its first
// answers as told, and keeps what it got.
type receiver struct {
	mu     sync.Mutex
	fail   int
	bodies []string
	srv    *httptest.Server
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if req.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "json only", http.StatusUnsupportedMediaType)
			return
		}
		if r.fail > 0 {
			r.fail--
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		r.bodies = append(r.bodies, string(b))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// TestWebhooks sends notifications to real HTTP receivers on loopback:
// a new bucket, a state change and a regression, as vmcore's JSON, as
// Slack's and as a Teams card, in English and Japanese; a receiver that
// fails is tried again after the backoff (the clock is moved, nothing
// waits) and the delivery log keeps each answer; one that never answers
// well is given up after the last attempt.
func TestWebhooks(t *testing.T) {
	ts := newTriageServer(t)
	ctx := context.Background()
	generic, slack, teams, dead := newReceiver(t, 2), newReceiver(t, 0), newReceiver(t, 0), newReceiver(t, 1000)
	as := map[string]string{"Authorization": "Bearer " + ts.token(t, "viewer")}
	if code, _ := do(t, ts.ts, "POST", "/api/v1/webhooks", jsonBody(map[string]any{"url": generic.srv.URL, "events": []string{"new_bucket"}}), as, nil); code != 403 {
		t.Errorf("a viewer adds a webhook: %d", code)
	}
	hook := func(url, format, lang string, events ...string) string {
		var w wire.Webhook
		if code, body := do(t, ts.ts, "POST", "/api/v1/webhooks", jsonBody(map[string]any{"url": url, "format": format, "lang": lang, "events": events}), nil, &w); code != 201 {
			t.Fatalf("add %s: %d %s", format, code, body)
		}
		return w.ID
	}
	if code, _ := do(t, ts.ts, "POST", "/api/v1/webhooks", jsonBody(map[string]any{"url": "ftp://x", "events": []string{"new_bucket"}}), nil, nil); code != 400 {
		t.Errorf("a webhook to ftp: %d", code)
	}
	gid := hook(generic.srv.URL, "json", "en", "new_bucket", "regression", "state_change")
	hook(slack.srv.URL, "slack", "ja", "new_bucket")
	hook(teams.srv.URL, "teams", "en", "regression")
	did := hook(dead.srv.URL, "json", "en", "new_bucket")

	bucket := ts.crash(t, "00000000000000c1", "BUG: kernel NULL pointer dereference in crashmod_null_deref", "6.1.0-55-amd64", "")
	if n := ts.s.deliverDue(ctx); n != 3 {
		t.Fatalf("%d deliveries due after a new bucket, want 3", n)
	}
	if len(slack.got()) != 1 || len(generic.got()) != 0 {
		t.Fatalf("after one round: slack %d, generic %d", len(slack.got()), len(generic.got()))
	}
	var sl struct{ Text string }
	json.Unmarshal([]byte(slack.got()[0]), &sl)
	if !strings.HasPrefix(sl.Text, "新しいクラッシュのバケット：BUG: kernel NULL pointer dereference in crashmod_null_deref") ||
		!strings.Contains(sl.Text, "<https://vmcore.example/crashes/00000000000000c1|vmcore で開く>") {
		t.Errorf("Slack text: %q", sl.Text)
	}
	// Nothing is due until the backoff has passed.
	if n := ts.s.deliverDue(ctx); n != 0 {
		t.Errorf("%d deliveries retried at once", n)
	}
	ts.clock.advance(deliveryBackoff(1))
	ts.s.deliverDue(ctx) // the generic receiver fails a second time
	ts.clock.advance(deliveryBackoff(2))
	ts.s.deliverDue(ctx)
	if got := generic.got(); len(got) != 1 {
		t.Fatalf("generic receiver: %d deliveries after two failures and a retry", len(got))
	}
	var p webhookPayload
	json.Unmarshal([]byte(generic.got()[0]), &p)
	if p.Event != "new_bucket" || p.Bucket.ID != bucket || p.Bucket.Status != "new" || p.Dump == nil || p.Dump.URL != "https://vmcore.example/crashes/00000000000000c1" {
		t.Errorf("generic payload: %+v", p)
	}
	var log struct{ Deliveries []wire.Delivery }
	do(t, ts.ts, "GET", "/api/v1/webhooks/"+gid+"/deliveries", nil, nil, &log)
	if len(log.Deliveries) != 1 || log.Deliveries[0].Status != "delivered" || log.Deliveries[0].Attempts != 3 || log.Deliveries[0].LastCode != 200 {
		t.Errorf("delivery log: %+v", log.Deliveries)
	}

	// A state change, then a regression.
	if _, err := ts.s.ChangeTriage(ctx, "sam", store.KindBucket, bucket, store.TriageChange{Status: ptr("fixed"), FixRelease: ptr("6.1.192")}); err != nil {
		t.Fatal(err)
	}
	ts.crash(t, "00000000000000c2", "BUG: kernel NULL pointer dereference in crashmod_null_deref", "6.1.0-56-amd64", debian192)
	ts.clock.advance(time.Hour)
	ts.s.deliverDue(ctx)
	got := strings.Join(generic.got(), "\n")
	if len(generic.got()) != 3 || !strings.Contains(got, `"event":"state_change","text":"sam changed BUG: kernel NULL pointer dereference in crashmod_null_deref: Status new → fixed, First release with the fix — → 6.1.192"`) ||
		!strings.Contains(got, `"event":"regression","text":"Regression: BUG: kernel NULL pointer dereference in crashmod_null_deref crashed again on 6.1.0-56-amd64, which has the fix (fixed in 6.1.192)"`) {
		t.Errorf("generic receiver: %q", got)
	}
	if tg := teams.got(); len(tg) != 1 || !strings.Contains(tg[0], `"@type":"MessageCard"`) || !strings.Contains(tg[0], `"uri":"https://vmcore.example/crashes/00000000000000c2"`) {
		t.Errorf("Teams card: %q", tg)
	}
	// A receiver that never answers well is given up after the last try.
	for range maxDeliveryAttempts {
		ts.clock.advance(6 * time.Hour)
		ts.s.deliverDue(ctx)
	}
	do(t, ts.ts, "GET", "/api/v1/webhooks/"+did+"/deliveries", nil, nil, &log)
	if len(log.Deliveries) != 1 || log.Deliveries[0].Status != "failed" || log.Deliveries[0].Attempts != maxDeliveryAttempts ||
		log.Deliveries[0].LastCode != 503 || !strings.Contains(log.Deliveries[0].LastError, "down for maintenance") {
		t.Errorf("dead receiver's log: %+v", log.Deliveries)
	}
}

func ptr(s string) *string { return &s }

func TestDeliveryBackoff(t *testing.T) {
	want := []time.Duration{30 * time.Second, 2 * time.Minute, 8 * time.Minute, 32 * time.Minute, 128 * time.Minute, 6 * time.Hour, 6 * time.Hour}
	for i, w := range want {
		if got := deliveryBackoff(i + 1); got != w {
			t.Errorf("after attempt %d: %s, want %s", i+1, got, w)
		}
	}
}
