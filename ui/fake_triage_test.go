package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmcore/vmcore/api/wire"
)

// fakeTriage is the fake backend's triage: states and changes in memory.
type fakeTriage struct {
	triage  map[string]wire.Triage // kind/id → state
	changes []string               // "actor kind id field=value…"
	seen    map[string]bool        // "dump actor"
	langs   map[string]string
	shares  []string
	hooks   []wire.Webhook
}

func newFakeTriage() fakeTriage {
	return fakeTriage{triage: map[string]wire.Triage{}, seen: map[string]bool{}, langs: map[string]string{}}
}

func (f *fakeBackend) TriageOf(ctx context.Context, kind, id string) (wire.TriageView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.triage[kind+"/"+id]
	if !ok {
		t = wire.Triage{Kind: kind, ID: id}
		if kind == wire.KindBucket {
			t.Status = wire.TriageNew
		}
	}
	return wire.TriageView{Triage: t, Notes: []wire.Note{}, Events: []wire.TriageEvent{}}, nil
}

func (f *fakeBackend) ChangeTriage(ctx context.Context, actor, kind, id string, c wire.TriageChange) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.Status != nil && *c.Status != "" && !wire.ValidTriageStatus(*c.Status) {
		return fmt.Errorf("%w: unknown status %q", ErrInvalid, *c.Status)
	}
	t := f.triage[kind+"/"+id]
	ch := actor + " " + kind + " " + id
	for _, x := range []struct {
		name string
		v    *string
		dst  *string
	}{{"status", c.Status, &t.Status}, {"assignee", c.Assignee, &t.Assignee}, {"rule", c.Rule, &t.Rule}, {"fix_release", c.FixRelease, &t.FixRelease}} {
		if x.v != nil {
			*x.dst = *x.v
			ch += " " + x.name + "=" + *x.v
		}
	}
	if c.Note != "" {
		ch += " note=" + c.Note
	}
	f.triage[kind+"/"+id] = t
	f.changes = append(f.changes, ch)
	return nil
}

func (f *fakeBackend) CountFacets(ctx context.Context, q DumpQuery) (map[string][]wire.FacetCount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	hosts := map[string]int{}
	for _, d := range f.dumps {
		hosts[d.Hostname]++
	}
	out := map[string][]wire.FacetCount{wire.FacetStatus: {{Value: wire.TriageNew, Count: len(f.dumps)}}}
	for h, n := range hosts {
		out[wire.FacetHost] = append(out[wire.FacetHost], wire.FacetCount{Value: h, Count: n})
	}
	return out, nil
}

func (f *fakeBackend) MarkSeen(ctx context.Context, id, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen[id+" "+actor] = true
	return nil
}

func (f *fakeBackend) SetLanguage(ctx context.Context, actor, lang string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.langs[actor] = lang
	for id, s := range f.sessions {
		if s.Name == actor {
			s.Lang = lang
			f.sessions[id] = s
		}
	}
	return nil
}

func (f *fakeBackend) ShareLink(ctx context.Context, session, dumpID string) (string, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[session]
	if !ok {
		return "", time.Time{}, ErrNotFound
	}
	secret := fmt.Sprintf("%064x", len(f.links)+1)
	tok := "tok-viewer-" + s.Name
	f.tokens[tok] = [2]string{s.Name, RoleViewer} // a viewer's session, whoever shared
	f.links[secret] = fakeLink{token: tok, target: "/crashes/" + dumpID, expires: f.now().Add(24 * time.Hour)}
	f.shares = append(f.shares, secret)
	return "/links/" + secret, f.now().Add(24 * time.Hour), nil
}

func (f *fakeBackend) Webhooks(ctx context.Context) ([]wire.Webhook, error) { return f.hooks, nil }

func (f *fakeBackend) AddWebhook(ctx context.Context, w wire.Webhook, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.ID, w.CreatedBy = fmt.Sprintf("%016x", len(f.hooks)+1), actor
	f.hooks = append(f.hooks, w)
	return nil
}

func (f *fakeBackend) DeleteWebhook(ctx context.Context, id, actor string) error { return nil }

func (f *fakeBackend) Deliveries(ctx context.Context, webhook string) ([]wire.Delivery, error) {
	return nil, nil
}

// testLogWriter sends the UI's log to the test's.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
