package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/messages"
)

// TriageBackend is what the triage pages read and change: the state,
// notes and audit trail of buckets and crashes, the crash list's facets
// and seen marks, languages, share links and webhooks. Changes go through
// the service's own functions (package api), which check them, record
// them and notify the webhooks as the REST API does.
type TriageBackend interface {
	// TriageOf returns a bucket's or crash's triage state with its notes
	// and audit trail (kind is wire.KindBucket or wire.KindDump).
	TriageOf(ctx context.Context, kind, id string) (wire.TriageView, error)
	// ChangeTriage applies a change; a malformed one is ErrInvalid.
	ChangeTriage(ctx context.Context, actor, kind, id string, c wire.TriageChange) error
	// CountFacets counts the crashes matching q by kernel, host, module,
	// taint letter, type and triage status.
	CountFacets(ctx context.Context, q DumpQuery) (map[string][]wire.FacetCount, error)
	// MarkSeen records that actor opened a crash.
	MarkSeen(ctx context.Context, id, actor string) error
	// SetLanguage remembers the language actor reads the UI in.
	SetLanguage(ctx context.Context, actor, lang string) error
	// ShareLink makes a one-time link that opens a crash read-only (a
	// viewer's session) for the token of a browser session, and returns
	// its path and when it expires.
	ShareLink(ctx context.Context, session, dumpID string) (string, time.Time, error)
	// Webhooks, AddWebhook, DeleteWebhook and Deliveries manage the
	// webhooks and show their delivery log.
	Webhooks(ctx context.Context) ([]wire.Webhook, error)
	AddWebhook(ctx context.Context, w wire.Webhook, actor string) error
	DeleteWebhook(ctx context.Context, id, actor string) error
	Deliveries(ctx context.Context, webhook string) ([]wire.Delivery, error)
}

func (u *UI) triageRoutes() {
	u.handle("POST /buckets/{id}/triage", triagers, u.bucketTriage)
	u.handle("POST /crashes/{id}/triage", triagers, u.crashTriage)
	u.handle("POST /crashes/{id}/share", readers, u.crashShare)
	u.handle("GET /webhooks", admins, u.webhookList)
	u.handle("POST /webhooks", admins, u.webhookAdd)
	u.handle("POST /webhooks/{id}/delete", admins, u.webhookDelete)
}

// actorName names who made a change: people by their token's name, the
// service by what it did.
func actorName(p *messages.Printer, actor string) string {
	switch actor {
	case "vmcored":
		return p.T("actor.service")
	case "vmcored rule":
		return p.T("actor.rule")
	}
	return actor
}

// formChange reads the triage form: only the fields the form has.
func formChange(r *http.Request) wire.TriageChange {
	var c wire.TriageChange
	for _, f := range []struct {
		name string
		dst  **string
	}{{"status", &c.Status}, {"assignee", &c.Assignee}, {"link_url", &c.LinkURL}, {"link_label", &c.LinkLabel},
		{"fix_commit", &c.FixCommit}, {"fix_release", &c.FixRelease}} {
		if vs, ok := r.PostForm[f.name]; ok {
			v := strings.TrimSpace(vs[0])
			*f.dst = &v
		}
	}
	c.Note = strings.TrimSpace(r.PostFormValue("note"))
	return c
}

func ptr(s string) *string { return &s }

// bucketTriage changes a bucket's state from its page: the form, or one
// of its buttons (a rule for future crashes, set or removed).
func (u *UI) bucketTriage(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	if !idChars.MatchString(id) {
		return ErrNotFound
	}
	r.ParseForm()
	c := formChange(r)
	switch r.PostFormValue("action") {
	case "rule":
		c.Rule = ptr(r.PostFormValue("rule"))
	case "unrule":
		c.Rule = ptr("")
	}
	if err := u.b.ChangeTriage(r.Context(), v.S.Name, wire.KindBucket, id, c); err != nil {
		return err
	}
	http.Redirect(w, r, "/buckets/"+id+"?done=triage#triage", http.StatusSeeOther)
	return nil
}

// crashTriage changes one crash's own state, or closes a test crash (and
// with it, on request, its bucket and the bucket's future crashes).
func (u *UI) crashTriage(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if !idChars.MatchString(id) {
		return ErrNotFound
	}
	r.ParseForm()
	done := "triage"
	switch r.PostFormValue("action") {
	case "close-crash":
		if err := u.b.ChangeTriage(ctx, v.S.Name, wire.KindDump, id, wire.TriageChange{Status: ptr(wire.TriageNotABug)}); err != nil {
			return err
		}
		done = "closed"
	case "close-bucket":
		d, err := u.b.Dump(ctx, id)
		if err != nil {
			return err
		}
		bid, err := u.b.BucketOf(ctx, d.Signature)
		if d.Signature == "" || errors.Is(err, ErrNotFound) {
			return badRequest("%s", v.P.T("triage.no_bucket"))
		} else if err != nil {
			return err
		}
		if err := u.b.ChangeTriage(ctx, v.S.Name, wire.KindBucket, bid, wire.TriageChange{Status: ptr(wire.TriageNotABug), Rule: ptr(wire.TriageNotABug)}); err != nil {
			return err
		}
		done = "ruled"
	default:
		if err := u.b.ChangeTriage(ctx, v.S.Name, wire.KindDump, id, formChange(r)); err != nil {
			return err
		}
	}
	http.Redirect(w, r, "/crashes/"+id+"?done="+done+"#triage", http.StatusSeeOther)
	return nil
}

type shareData struct {
	ID      string
	URL     string
	Expires time.Time
}

// crashShare makes a read-only link to a crash and shows it.
func (u *UI) crashShare(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	if !idChars.MatchString(id) {
		return ErrNotFound
	}
	path, exp, err := u.b.ShareLink(r.Context(), v.S.ID, id)
	if err != nil {
		return err
	}
	scheme := "http"
	if secure(r) {
		scheme = "https"
	}
	v.Title, v.Nav, v.Data = v.P.T("share.title"), "crashes", shareData{ID: id, URL: scheme + "://" + r.Host + path, Expires: exp}
	u.render(w, r, http.StatusOK, "share", v)
	return nil
}

// linkPage is where a one-time login link lands. Opening it spends
// nothing: chat programs fetch a link to preview it, and that must not
// use it up. The page's button posts back, and that logs in.
func (u *UI) linkPage(w http.ResponseWriter, r *http.Request, v *view) error {
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Robots-Tag", "noindex")
	secret := r.PathValue("secret")
	if len(secret) != 64 {
		return u.linkSpent(w, r, v)
	}
	tok := randomID()
	http.SetCookie(w, &http.Cookie{Name: linkCookie, Value: tok, Path: "/links/", MaxAge: 3600, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure(r)})
	v.Title, v.Data = v.P.T("link.title"), loginData{Next: "/links/" + secret, CSRF: tok}
	u.render(w, r, http.StatusOK, "link", v)
	return nil
}

// linkCookie carries the double-submit token of a link page's button: a
// link posted from another site (to log a victim in as someone else) is
// refused.
const linkCookie = "vmcore_link"

type webhookData struct {
	Hooks   []webhookRow
	Events  []string
	Formats []string
}

type webhookRow struct {
	wire.Webhook
	Deliveries []wire.Delivery
}

func (u *UI) webhookList(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx := r.Context()
	hooks, err := u.b.Webhooks(ctx)
	if err != nil {
		return err
	}
	d := webhookData{Events: wire.WebhookEvents, Formats: []string{wire.FormatJSON, wire.FormatSlack, wire.FormatTeams}}
	for _, h := range hooks {
		ds, err := u.b.Deliveries(ctx, h.ID)
		if err != nil {
			return err
		}
		d.Hooks = append(d.Hooks, webhookRow{h, ds[:min(len(ds), 20)]})
	}
	v.Title, v.Nav, v.Data = v.P.T("webhooks.title"), "webhooks", d
	v.Flash = doneMessage(v.P, r.URL.Query().Get("done"))
	u.render(w, r, http.StatusOK, "webhooks", v)
	return nil
}

func (u *UI) webhookAdd(w http.ResponseWriter, r *http.Request, v *view) error {
	r.ParseForm()
	h := wire.Webhook{URL: strings.TrimSpace(r.PostFormValue("url")), Format: r.PostFormValue("format"),
		Events: r.PostForm["events"], Lang: r.PostFormValue("lang")}
	if err := u.b.AddWebhook(r.Context(), h, v.S.Name); err != nil {
		return err
	}
	http.Redirect(w, r, "/webhooks?done=webhook", http.StatusSeeOther)
	return nil
}

func (u *UI) webhookDelete(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	if !idChars.MatchString(id) {
		return ErrNotFound
	}
	if err := u.b.DeleteWebhook(r.Context(), id, v.S.Name); err != nil {
		return err
	}
	http.Redirect(w, r, "/webhooks?done=unhooked", http.StatusSeeOther)
	return nil
}

// setLanguage switches the UI's language: remembered for the person when
// logged in, in a cookie otherwise, and back to the page it came from.
func (u *UI) setLanguage(w http.ResponseWriter, r *http.Request, v *view) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	lang := r.PostFormValue("lang")
	if lang != "en" && lang != "ja" {
		return badRequest("%s", v.P.T("lang.unknown"))
	}
	if v.S != nil {
		if err := checkCSRF(r, v.S, true); err != nil {
			u.errorPage(w, r, v, http.StatusForbidden, v.P.T("error.refused"), v.P.T("error.csrf"))
			return nil
		}
		if err := u.b.SetLanguage(r.Context(), v.S.Name, lang); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	next := safeNext(r.PostFormValue("next"))
	if u, err := url.Parse(next); err != nil || u.Path == "/lang" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}
