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

// tokenLifetimes are the lifetimes the form offers, by their form value
// (the catalogue has tokens.lifetime_VALUE for each).
var tokenLifetimes = map[string]time.Duration{"0": 0, "1d": 24 * time.Hour, "30d": 30 * 24 * time.Hour,
	"90d": 90 * 24 * time.Hour, "365d": 365 * 24 * time.Hour}

type tokensData struct {
	Tokens    []wire.Token
	Now       time.Time
	New       *wire.NewToken // the token just made, with its secret
	Lifetimes []string
	Roles     []string
}

func (u *UI) tokensPage(w http.ResponseWriter, r *http.Request, v *view, made *wire.NewToken) error {
	ts, err := u.b.Tokens(r.Context())
	if err != nil {
		return err
	}
	v.Title, v.Nav = v.P.T("tokens.title"), "tokens"
	v.Data = tokensData{Tokens: ts, Now: u.cfg.Now(), New: made, Lifetimes: []string{"0", "1d", "30d", "90d", "365d"},
		Roles: []string{RoleUploader, RoleViewer, RoleSupport, RoleAdmin}}
	w.Header().Set("Cache-Control", "no-store") // the page may hold a secret
	u.render(w, r, http.StatusOK, "tokens", v)
	return nil
}

func (u *UI) tokenList(w http.ResponseWriter, r *http.Request, v *view) error {
	if r.URL.Query().Get("done") == "revoked" {
		v.Flash = v.P.T("tokens.revoked")
	}
	return u.tokensPage(w, r, v, nil)
}

func (u *UI) tokenCreate(w http.ResponseWriter, r *http.Request, v *view) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	role := r.PostFormValue("role")
	if name == "" || len(name) > 200 {
		return badRequest("%s", v.P.T("tokens.bad_name"))
	}
	if role != RoleUploader && role != RoleViewer && role != RoleSupport && role != RoleAdmin {
		return badRequest("%s", v.P.T("tokens.bad_role"))
	}
	ttl, ok := tokenLifetimes[r.PostFormValue("expires")]
	if !ok {
		return badRequest("%s", v.P.T("tokens.bad_lifetime"))
	}
	t, err := u.b.CreateToken(r.Context(), name, role, ttl, v.S.Name)
	if err != nil {
		return err
	}
	v.Flash = v.P.T("tokens.made")
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
