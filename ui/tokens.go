package ui

import (
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/vmcore/vmcore/api/wire"
)

// The tokens page: an admin lists the API tokens, makes one (its secret
// shown once, in the answer to the form, never in a URL) and revokes one,
// which ends its browser sessions too.

// tokenLifetimes are the lifetimes the form offers.
var tokenLifetimes = []struct {
	Value string
	Label string
	TTL   time.Duration
}{
	{"0", "never expires", 0},
	{"1d", "1 day", 24 * time.Hour},
	{"30d", "30 days", 30 * 24 * time.Hour},
	{"90d", "90 days", 90 * 24 * time.Hour},
	{"365d", "1 year", 365 * 24 * time.Hour},
}

type tokensData struct {
	Tokens    []wire.Token
	Now       time.Time
	New       *wire.NewToken // the token just made, with its secret
	Lifetimes any
	Roles     []string
}

func (u *UI) tokensPage(w http.ResponseWriter, r *http.Request, v *view, made *wire.NewToken) error {
	ts, err := u.b.Tokens(r.Context())
	if err != nil {
		return err
	}
	v.Title, v.Nav = "API tokens", "tokens"
	v.Data = tokensData{Tokens: ts, Now: u.cfg.Now(), New: made, Lifetimes: tokenLifetimes, Roles: []string{RoleUploader, RoleViewer, RoleAdmin}}
	w.Header().Set("Cache-Control", "no-store") // the page may hold a secret
	u.render(w, r, http.StatusOK, "tokens", v)
	return nil
}

func (u *UI) tokenList(w http.ResponseWriter, r *http.Request, v *view) error {
	switch r.URL.Query().Get("done") {
	case "revoked":
		v.Flash = "Token revoked; its browser sessions are closed."
	}
	return u.tokensPage(w, r, v, nil)
}

func (u *UI) tokenCreate(w http.ResponseWriter, r *http.Request, v *view) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	role := r.PostFormValue("role")
	if name == "" || len(name) > 200 {
		return badRequest("a token needs a name (at most 200 bytes): who or what it is for")
	}
	if role != RoleUploader && role != RoleViewer && role != RoleAdmin {
		return badRequest("choose a role: uploader, viewer or admin")
	}
	var ttl time.Duration
	found := false
	for _, l := range tokenLifetimes {
		if l.Value == r.PostFormValue("expires") {
			ttl, found = l.TTL, true
		}
	}
	if !found {
		return badRequest("choose a lifetime")
	}
	t, err := u.b.CreateToken(r.Context(), name, role, ttl, v.S.Name)
	if err != nil {
		return err
	}
	v.Flash = "Token made. Copy it now: it is not shown again."
	return u.tokensPage(w, r, v, &t)
}

// tokenIDChars are a token id's: hex digits.
var tokenIDChars = regexp.MustCompile(`^[0-9a-f]{16}$`)

func (u *UI) tokenRevoke(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	if !tokenIDChars.MatchString(id) {
		return ErrNotFound
	}
	if err := u.b.RevokeToken(r.Context(), id, v.S.Name); err != nil {
		return err
	}
	http.Redirect(w, r, "/tokens?done=revoked", http.StatusSeeOther)
	return nil
}
