// Package ui is the web UI for support engineers: server-rendered pages
// (html/template, assets embedded in the binary, no framework and no CDN)
// to find a crash, read it — summary, knowledge-base suggestions with their
// evidence, kernel log, backtraces, modules, tasks, analysis steps — and
// learn whether it is known: buckets of crashes with one signature and the
// knowledge base. Pages work without JavaScript; a little of it filters
// the log in place, follows an analysis in progress and drives the upload
// protocol from the browser.
//
// The UI reads and changes everything through a Backend (package api
// implements it), so it knows nothing of the stores. Its routes go on the
// API's echo router (Register): one router serves the API and the pages.
//
// Browsers log in with an API token; the session is a random cookie
// (HttpOnly, SameSite=Lax, Secure over TLS) whose state the backend keeps
// in the database, so every API node knows it. Every form carries the
// session's synchronizer token (CSRF), and every request is checked
// against the session's role: an uploader reaches the upload page only, a
// viewer reads and votes, an admin also links, merges, splits and
// downloads dumps.
package ui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzhttp"

	"github.com/vmcore/vmcore/messages"
)

// Config configures the UI. The zero value is usable.
type Config struct {
	// SessionTTL is how long a browser session lasts; 0 means 12 hours.
	SessionTTL time.Duration
	// SourceURL, when set, makes a frame's file:line a link: {version}
	// (the upstream kernel version, "6.1.192"), {file} and {line} are
	// replaced. Empty means DefaultSourceURL; "-" means no links.
	SourceURL string
	// Logger receives errors that become 500 pages.
	Logger *slog.Logger
	// Now is the clock (tests move it); nil means time.Now.
	Now func() time.Time
}

// DefaultSourceURL links frames to the kernel's source on Bootlin's Elixir.
const DefaultSourceURL = "https://elixir.bootlin.com/linux/v{version}/source/{file}#L{line}"

// UI is the web UI: its routes, which Register puts on a router.
type UI struct {
	b      Backend
	cfg    Config
	log    *slog.Logger
	routes []route
	// notFound answers every path no route takes: the 404 page, or the
	// login page for a browser without a session.
	notFound http.Handler
	pages    *pages
	docs     docCache
	gz       func(http.Handler) http.HandlerFunc
}

// route is one page, action or asset of the UI.
type route struct {
	method string
	path   string // in echo's syntax: /crashes/:id
	h      http.Handler
	// secret: the route checks a secret a person types (a token in the
	// login form), so the server limits its failures.
	secret bool
}

// secretRoutes are the routes that take a typed secret.
var secretRoutes = map[string]bool{"POST /login": true}

// New makes the UI on a backend.
func New(b Backend, cfg Config) (*UI, error) {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.SourceURL == "" {
		cfg.SourceURL = DefaultSourceURL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	u := &UI{b: b, cfg: cfg, log: cfg.Logger, docs: docCache{max: 4}}
	var err error
	if u.pages, err = parsePages(); err != nil {
		return nil, err
	}
	// Pages and the log compress well (a 1 MB log is ~100 kB on the wire);
	// downloads are served as they are, so that ranges work on a dump.
	if u.gz, err = gzhttp.NewWrapper(gzhttp.MinSize(1024), gzhttp.ContentTypes([]string{"text/html", "text/css", "text/javascript", "image/svg+xml"})); err != nil {
		return nil, err
	}
	u.addRoutes()
	return u, nil
}

// anyone, readers, admins and uploaders are the roles a route admits.
var (
	anyone    []string // no session needed
	readers   = []string{RoleViewer, RoleSupport, RoleAdmin}
	triagers  = []string{RoleSupport, RoleAdmin}
	admins    = []string{RoleAdmin}
	uploaders = []string{RoleUploader, RoleAdmin}
	everyone  = []string{RoleUploader, RoleViewer, RoleSupport, RoleAdmin}
)

func (u *UI) addRoutes() {
	u.handle("GET /{$}", nil, u.home)
	u.handle("GET /login", anyone, u.loginPage)
	u.handle("POST /login", anyone, u.login)
	u.handle("POST /logout", everyone, u.logout)
	u.handle("GET /links/{secret}", anyone, u.linkPage)
	u.handle("POST /links/{secret}", anyone, u.useLink)
	u.handle("POST /lang", anyone, u.setLanguage)
	u.add("GET /static/{name}", http.HandlerFunc(u.static))
	u.add("GET /favicon.ico", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.SetPathValue("name", "favicon.svg")
		u.static(w, r)
	}))

	u.handle("GET /crashes", readers, u.crashList)
	u.handle("GET /crashes/{id}", readers, u.crashSummary)
	u.handle("GET /crashes/{id}/log", readers, u.crashLog)
	u.handle("GET /crashes/{id}/backtraces", readers, u.crashBacktraces)
	u.handle("GET /crashes/{id}/modules", readers, u.crashModules)
	u.handle("GET /crashes/{id}/tasks", readers, u.crashTasks)
	u.handle("GET /crashes/{id}/state", readers, u.crashState)
	u.handle("GET /crashes/{id}/steps", readers, u.crashSteps)
	u.handle("GET /crashes/{id}/status", readers, u.crashStatus)
	u.download("GET /crashes/{id}/log.txt", readers, ArtifactLog)
	u.download("GET /crashes/{id}/vmcore-dmesg.txt", readers, ArtifactDmesg)
	u.download("GET /crashes/{id}/analysis.json", readers, ArtifactAnalysis)
	u.download("GET /crashes/{id}/vmcore", admins, ArtifactDump)
	u.handle("POST /crashes/{id}/feedback", readers, u.crashFeedback)
	u.handle("POST /crashes/{id}/articles", admins, u.crashLink)

	u.handle("GET /buckets", readers, u.bucketList)
	u.handle("GET /buckets/{id}", readers, u.bucketPage)
	u.handle("POST /buckets/{id}/article", admins, u.bucketLink)
	u.handle("POST /buckets/{id}/merge", admins, u.bucketMerge)
	u.handle("POST /buckets/{id}/split", admins, u.bucketSplit)

	u.handle("GET /kb", readers, u.kbSearch)
	u.handle("GET /kb/{id}", readers, u.kbArticle)

	u.handle("GET /upload", uploaders, u.uploadPage)
	u.triageRoutes()

	u.handle("GET /tokens", admins, u.tokenList)
	u.handle("POST /tokens", admins, u.tokenCreate)
	u.handle("POST /tokens/{id}/revoke", admins, u.tokenRevoke)

	// Anything else is a 404 page (for a logged-in browser) or the login.
	u.handle("/", nil, func(w http.ResponseWriter, r *http.Request, v *view) error {
		return fmt.Errorf("no page %s: %w", r.URL.Path, ErrNotFound)
	})
}

// view is what every page template gets: the session and the page's own
// data.
type view struct {
	S *Session
	// P prints the page's messages in its language, Lang.
	P     *messages.Printer
	Lang  string
	Title string
	Nav   string // the main navigation entry that is current
	Flash string
	// Refresh, when set, is the URL app.js polls to reload a page whose
	// crash is still being analysed, when the state it answers is no
	// longer RefreshState.
	Refresh      string
	RefreshState string
	Data         any
	// Next is the page itself, where the language switch comes back to.
	Next string
}

// CanRead, CanTriage, CanAdmin and CanUpload say what the session's role
// allows, for templates that show or hide actions.
func (v *view) CanRead() bool   { return v.S != nil && hasRole(v.S.Role, readers) }
func (v *view) CanTriage() bool { return v.S != nil && hasRole(v.S.Role, triagers) }
func (v *view) CanAdmin() bool  { return v.S != nil && v.S.Role == RoleAdmin }
func (v *view) CanUpload() bool {
	return v.S != nil && (v.S.Role == RoleUploader || v.S.Role == RoleAdmin)
}

// pageFunc handles one route; it renders the page itself or returns an
// error, which becomes an error page.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *view) error

// handle adds a page's route: pattern is "METHOD /path/{param}", or "/"
// for the page of every path no route takes. roles nil (anyone) needs no
// session (though one is loaded when present); otherwise the session's
// role must be one of roles. Unsafe methods must carry the session's CSRF
// token.
func (u *UI) handle(pattern string, roles []string, h pageFunc) {
	page := u.gz(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.serve(w, r, roles, pattern == "/", h)
	}))
	if pattern == "/" {
		u.notFound = page
		return
	}
	u.add(pattern, page)
}

func (u *UI) serve(w http.ResponseWriter, r *http.Request, roles []string, catchAll bool, h pageFunc) {
	w.Header().Set("Cache-Control", "no-store") // crash data is private
	v := u.newView(r, nil)
	if s, err := u.session(r); err == nil {
		v = u.newView(r, &s)
	} else if !errors.Is(err, ErrNotFound) {
		u.fail(w, r, v, err)
		return
	}
	if v.S == nil && (roles != nil || catchAll) {
		u.toLogin(w, r)
		return
	}
	if v.S != nil && roles != nil && !hasRole(v.S.Role, roles) {
		u.forbidden(w, r, v)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && roles != nil {
		if err := checkCSRF(r, v.S, true); err != nil {
			u.errorPage(w, r, v, http.StatusForbidden, v.P.T("error.refused"), v.P.T("error.csrf"))
			return
		}
	}
	if err := h(w, r, v); err != nil {
		u.fail(w, r, v, err)
	}
}

func hasRole(role string, roles []string) bool {
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}

// errBadRequest is a request the user can fix: its message is shown.
type errBadRequest struct{ msg string }

func (e errBadRequest) Error() string { return e.msg }

func badRequest(format string, args ...any) error { return errBadRequest{fmt.Sprintf(format, args...)} }

// fail turns a handler's error into an error page.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	var br errBadRequest
	switch {
	case errors.Is(err, ErrNotFound):
		u.errorPage(w, r, v, http.StatusNotFound, v.P.T("error.not_found"), v.P.T("error.not_found_text", "Path", r.URL.Path))
	case errors.Is(err, ErrConflict):
		u.errorPage(w, r, v, http.StatusConflict, v.P.T("error.not_done"), strings.TrimPrefix(err.Error(), "ui: conflict: "))
	case errors.Is(err, ErrInvalid):
		u.errorPage(w, r, v, http.StatusBadRequest, v.P.T("error.bad_request"), strings.TrimPrefix(err.Error(), "ui: invalid: "))
	case errors.As(err, &br):
		u.errorPage(w, r, v, http.StatusBadRequest, v.P.T("error.bad_request"), br.msg)
	case errors.Is(err, context.Canceled):
		// The browser went away.
	default:
		u.log.Error("ui: page failed", "path", r.URL.Path, "err", err)
		u.errorPage(w, r, v, http.StatusInternalServerError, v.P.T("error.broke"), v.P.T("error.broke_text"))
	}
}

func (u *UI) forbidden(w http.ResponseWriter, r *http.Request, v *view) {
	msg := v.P.T("error.forbidden_text", "Name", v.S.Name, "Role", v.P.T("role."+v.S.Role))
	if v.S.Role == RoleUploader {
		msg += " " + v.P.T("error.forbidden_uploader")
	}
	u.errorPage(w, r, v, http.StatusForbidden, v.P.T("error.forbidden"), msg)
}

type errorData struct {
	Code    int
	Heading string
	Message string
	// Back is the page the user came from on this site, to return to.
	Back string
}

func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, v *view, code int, heading, msg string) {
	v.Title, v.Data = heading, errorData{code, heading, msg, backLink(r)}
	u.render(w, r, code, "error", v)
}

// backLink is the same-site page a request came from (its Referer), so
// that an error page after a form leads back to the form; "" when there
// is none, or it is this very page.
func backLink(r *http.Request) string {
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || ref.Path == "" {
		return ""
	}
	back := safeNext(ref.RequestURI())
	if back == "/" || (ref.Path == r.URL.Path && r.Method == http.MethodGet) {
		return ""
	}
	return back
}

// toLogin sends a browser without a session to the login page, which
// brings it back here afterwards.
func (u *UI) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		v := u.newView(r, nil)
		u.errorPage(w, r, v, http.StatusUnauthorized, v.P.T("error.logged_out"), v.P.T("error.logged_out_text"))
		return
	}
	http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

// langCookie remembers the language chosen on a browser without a
// session (the login page); a session's person has it in the database.
const langCookie = "vmcore_lang"

// newView starts a page's data: the session, and the language of the
// page: the person's choice, else the browser's cookie, else its
// Accept-Language.
func (u *UI) newView(r *http.Request, s *Session) *view {
	lang := ""
	if s != nil {
		lang = s.Lang
	}
	if lang == "" {
		if c, err := r.Cookie(langCookie); err == nil && (c.Value == "en" || c.Value == "ja") {
			lang = c.Value
		}
	}
	if lang == "" {
		lang = messages.Match(r.Header.Get("Accept-Language"))
	}
	p := messages.For(lang)
	next := r.URL.RequestURI()
	if r.Method != http.MethodGet {
		next = backLink(r)
	}
	return &view{S: s, P: p, Lang: p.Lang(), Next: next}
}

// randomID returns 32 random bytes in hex: session ids, CSRF tokens.
func randomID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func equalSecret(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// docCache keeps the last few decoded analysis documents: decoding a
// document with a 1 MB log costs tens of milliseconds, and an engineer
// moves between the tabs of one crash.
type docCache struct {
	mu      sync.Mutex
	max     int
	entries []*crashDoc
}

func (c *docCache) get(key string) *crashDoc {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.key == key {
			copy(c.entries[1:i+1], c.entries[:i])
			c.entries[0] = e
			return e
		}
	}
	return nil
}

func (c *docCache) put(d *crashDoc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = append([]*crashDoc{d}, c.entries...)
	if len(c.entries) > c.max {
		c.entries = c.entries[:c.max]
	}
}
