package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Cookie names. The login cookie carries the double-submit token of the
// login form, which is posted before any session exists.
const (
	sessionCookie = "vmcore_session"
	loginCookie   = "vmcore_login"
)

// CSRFHeader carries the session's CSRF token on requests made by the
// pages' JavaScript (the upload protocol).
const CSRFHeader = "X-CSRF-Token"

// Errors of Authorize.
var (
	// ErrNoSession is a request without a live session.
	ErrNoSession = errors.New("ui: no session: log in")
	// ErrForbidden is a session whose role may not do this, or a request
	// without the session's CSRF token.
	ErrForbidden = errors.New("ui: forbidden")
)

// session returns the request's session, or ErrNotFound.
func (u *UI) session(r *http.Request) (Session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) != 64 {
		return Session{}, ErrNotFound
	}
	s, err := u.b.Session(r.Context(), c.Value)
	if err != nil {
		return Session{}, err
	}
	s.ID = c.Value
	return s, nil
}

// Authorize checks that a request (to an endpoint outside the UI, such as
// the upload protocol driven by the upload page) comes from a session with
// one of roles, and, for unsafe methods, that it carries the session's
// CSRF token in the X-CSRF-Token header. It returns ErrNoSession or an
// error wrapping ErrForbidden otherwise.
func (u *UI) Authorize(r *http.Request, roles ...string) (Session, error) {
	s, err := u.session(r)
	if errors.Is(err, ErrNotFound) {
		return Session{}, ErrNoSession
	} else if err != nil {
		return Session{}, err
	}
	if !hasRole(s.Role, roles) {
		return Session{}, fmt.Errorf("%w: a %s session may not do this", ErrForbidden, s.Role)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := checkCSRF(r, &s, false); err != nil {
			return Session{}, err
		}
	}
	return s, nil
}

// checkCSRF refuses an unsafe request that lacks the session's
// synchronizer token (the X-CSRF-Token header, or with form true the form
// field csrf), or whose Origin is another site. SameSite=Lax already keeps
// the cookie off cross-site POSTs in current browsers; the token covers
// the rest.
func checkCSRF(r *http.Request, s *Session, form bool) error {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if ou, err := url.Parse(o); err != nil || ou.Host != r.Host {
			return fmt.Errorf("%w: the request came from another site (%s)", ErrForbidden, o)
		}
	}
	tok := r.Header.Get(CSRFHeader)
	if tok == "" && form {
		r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
		tok = r.PostFormValue("csrf")
	}
	if s == nil || !equalSecret(tok, s.CSRF) {
		return fmt.Errorf("%w: the form's security token is missing or stale; reload the page and try again", ErrForbidden)
	}
	return nil
}

// secure says whether cookies must be Secure: the request came over TLS,
// directly or through a proxy that says so.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// setSessionCookie gives the browser the session id for as long as the
// session lives. The lifetime goes out as Max-Age, a number of seconds, not
// as an Expires date: the browser counts it on its own clock, so a client
// whose clock differs from the server's (or a test's injected clock) keeps
// the cookie exactly as long as the server keeps the session.
func (u *UI) setSessionCookie(w http.ResponseWriter, r *http.Request, s Session) {
	maxAge := int(s.Expires.Sub(u.cfg.Now()) / time.Second)
	if maxAge <= 0 {
		maxAge = -1 // already over: delete the cookie
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.ID, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure(r)})
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure(r)})
}

func (u *UI) newSession() NewSession {
	return NewSession{ID: randomID(), CSRF: randomID(), Expires: u.cfg.Now().Add(u.cfg.SessionTTL)}
}

// safeNext keeps a post-login redirect on this site: a path, not a URL
// ("//evil.example" and "/\evil" are URLs to browsers).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

type loginData struct {
	Next  string
	CSRF  string
	Error string
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request, v *view) error {
	next := safeNext(r.URL.Query().Get("next"))
	if v.S != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	return u.renderLogin(w, r, v, http.StatusOK, next, "")
}

func (u *UI) renderLogin(w http.ResponseWriter, r *http.Request, v *view, code int, next, msg string) error {
	// A login page open in another tab (or fetched again by the browser
	// on its own) must not void this one's token: keep the cookie's.
	tok := randomID()
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 64 {
		tok = c.Value
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/login", MaxAge: 3600, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure(r)})
	v.Title, v.Nav, v.Data = v.P.T("login.title"), "login", loginData{Next: next, CSRF: tok, Error: msg}
	u.render(w, r, code, "login", v)
	return nil
}

// login checks the token typed in the form and opens a session. A fresh
// session id is made at every login, so an id planted before the login
// (session fixation) is worth nothing after it.
func (u *UI) login(w http.ResponseWriter, r *http.Request, v *view) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := safeNext(r.PostFormValue("next"))
	c, err := r.Cookie(loginCookie)
	if err != nil || !equalSecret(r.PostFormValue("csrf"), c.Value) {
		return u.renderLogin(w, r, v, http.StatusForbidden, next, v.P.T("login.expired"))
	}
	tok := strings.TrimSpace(r.PostFormValue("token"))
	if tok == "" {
		return u.renderLogin(w, r, v, http.StatusBadRequest, next, v.P.T("login.empty"))
	}
	s, err := u.b.Login(r.Context(), tok, u.newSession())
	if errors.Is(err, ErrBadToken) || errors.Is(err, ErrNotFound) {
		return u.renderLogin(w, r, v, http.StatusUnauthorized, next, v.P.T("login.unknown"))
	} else if err != nil {
		return err
	}
	if v.S != nil {
		u.b.Logout(r.Context(), v.S.ID) // the old session of this browser
	}
	clearCookie(w, r, loginCookie)
	u.setSessionCookie(w, r, s)
	if next == "/" && s.Role == RoleUploader {
		next = "/upload"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := u.b.Logout(r.Context(), v.S.ID); err != nil {
		return err
	}
	clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// useLink spends a one-time login link (made by POST /api/v1/login-links,
// which vmcorectl open calls, or by a crash page's share button) when the
// button of its page (linkPage) is pressed, and goes where it leads. The
// secret is in the path, so the page it lands on must not leak it: the
// redirect drops it, and Referrer-Policy covers the rest.
func (u *UI) useLink(w http.ResponseWriter, r *http.Request, v *view) error {
	w.Header().Set("Referrer-Policy", "no-referrer")
	secret := r.PathValue("secret")
	if len(secret) != 64 {
		return u.linkSpent(w, r, v)
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if c, err := r.Cookie(linkCookie); err != nil || !equalSecret(r.PostFormValue("csrf"), c.Value) {
		u.errorPage(w, r, v, http.StatusForbidden, v.P.T("error.refused"), v.P.T("link.expired_form"))
		return nil
	}
	s, target, err := u.b.UseLoginLink(r.Context(), secret, u.newSession())
	if errors.Is(err, ErrNotFound) {
		return u.linkSpent(w, r, v)
	} else if err != nil {
		return err
	}
	if v.S != nil {
		u.b.Logout(r.Context(), v.S.ID)
	}
	u.setSessionCookie(w, r, s)
	http.Redirect(w, r, safeNext(target), http.StatusSeeOther)
	return nil
}

func (u *UI) linkSpent(w http.ResponseWriter, r *http.Request, v *view) error {
	u.errorPage(w, r, v, http.StatusGone, v.P.T("link.spent"), v.P.T("link.spent_text"))
	return nil
}

func (u *UI) home(w http.ResponseWriter, r *http.Request, v *view) error {
	switch {
	case v.S == nil:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case v.S.Role == RoleUploader:
		http.Redirect(w, r, "/upload", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/crashes", http.StatusSeeOther)
	}
	return nil
}
