package ui

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestTokensPage: admins list, make and revoke tokens; the secret is in
// the answer to the form only, never cached; a revoked token's browser
// session ends; viewers and forged forms are refused.
func TestTokensPage(t *testing.T) {
	tu := newTestUI(t)
	viewer, admin := newClient(t, tu.srv.URL), newClient(t, tu.srv.URL)
	viewer.login("tok-viewer")
	admin.login("tok-admin")
	if code, _ := viewer.get("/tokens"); code != http.StatusForbidden {
		t.Errorf("viewer GET /tokens: %d", code)
	}
	code, body := admin.get("/tokens")
	if code != 200 || !strings.Contains(body, fakeTokenID("tok-viewer")) || strings.Contains(body, "tok-viewer") {
		t.Fatalf("admin GET /tokens: %d; the list must show ids, not secrets\n%.500s", code, body)
	}
	form := url.Values{"name": {"rack 12"}, "role": {"uploader"}, "expires": {"30d"}}
	if code, _, _ := admin.do("POST", "/tokens", form, nil); code != http.StatusForbidden {
		t.Errorf("POST /tokens without the CSRF token: %d", code)
	}
	form.Set("csrf", admin.csrf)
	req, _ := http.NewRequest("POST", tu.srv.URL+"/tokens", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := admin.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var secret string
	for tok, nr := range tu.b.tokens {
		if nr[0] == "rack 12" {
			secret = tok
		}
	}
	if secret == "" {
		t.Fatalf("no token made: %v", tu.b.tokens)
	}
	if !strings.Contains(string(page), secret) {
		t.Errorf("the new token's secret is not shown")
	}
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("make a token: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	if code, _, _ := viewer.do("POST", "/tokens/"+fakeTokenID("tok-admin")+"/revoke", url.Values{"csrf": {viewer.csrf}}, nil); code != http.StatusForbidden {
		t.Errorf("viewer revoke: %d", code)
	}
	code, loc, _ := admin.do("POST", "/tokens/"+fakeTokenID("tok-viewer")+"/revoke", url.Values{"csrf": {admin.csrf}}, nil)
	if code != http.StatusSeeOther || loc != "/tokens?done=revoked" {
		t.Errorf("revoke: %d %s", code, loc)
	}
	if code, loc, _ := viewer.do("GET", "/crashes", nil, nil); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
		t.Errorf("the revoked token's session: %d %s", code, loc)
	}
}
