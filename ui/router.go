package ui

import (
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"
)

// wildcard is a {name} segment of a route's pattern.
var wildcard = regexp.MustCompile(`\{(\w+)\}`)

// add adds a route: pattern is "METHOD /path/{param}" ("{$}" ends a
// pattern that takes that path alone, as it is in net/http), which
// handlers read with r.PathValue.
func (u *UI) add(pattern string, h http.Handler) {
	method, p, _ := strings.Cut(pattern, " ")
	p = wildcard.ReplaceAllString(strings.TrimSuffix(p, "{$}"), ":$1")
	u.routes = append(u.routes, route{method: method, path: p, h: h, secret: secretRoutes[pattern]})
}

// Register adds the UI to e, the router that also serves the API: every
// route (a GET route also answers HEAD), the 404 page for any other
// method on the UI's paths, and the UI's 404 page (or the login page)
// for every path no route of e takes; the API answers its own unknown
// paths by registering a not-found route under its prefix. limit, when
// not nil, guards the routes that check a secret a person types (the
// login form) against guessing.
func (u *UI) Register(e *echo.Echo, limit echo.MiddlewareFunc) {
	notFound := u.handler(u.notFound)
	seen := map[string]bool{}
	for _, rt := range u.routes {
		if !seen[rt.path] {
			seen[rt.path] = true
			e.Any(rt.path, notFound)
		}
	}
	for _, rt := range u.routes {
		var mw []echo.MiddlewareFunc
		if rt.secret && limit != nil {
			mw = append(mw, limit)
		}
		h := u.handler(rt.h)
		e.Add(rt.method, rt.path, h, mw...)
		if rt.method == http.MethodGet {
			e.Add(http.MethodHead, rt.path, h, mw...)
		}
	}
	e.RouteNotFound("/*", notFound)
}

// handler serves one of the UI's routes on echo: it sets the headers
// every page and asset carries, sends a path with . or .. segments or
// doubled slashes to its clean form (as net/http's ServeMux does: on the
// escaped path, so /a/..%2f.. is a path of its own), and
// hands the path's parameters to the handler as r.PathValue. A parameter
// is one non-empty path segment, unescaped.
func (u *UI) handler(h http.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		w, r := c.Response(), c.Request()
		hdr := w.Header()
		// The pages load nothing from elsewhere and run no inline script
		// or style: an injected <script> or style attribute would not run
		// even if escaping failed somewhere.
		hdr.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Referrer-Policy", "same-origin")
		if p := cleanPath(r.URL.EscapedPath()); p != r.URL.EscapedPath() && r.Method != http.MethodConnect {
			to := url.URL{Path: p, RawQuery: r.URL.RawQuery} // the escaped path re-escaped, as ServeMux does
			http.Redirect(w, r, to.String(), http.StatusTemporaryRedirect)
			return nil
		}
		for i, name := range c.ParamNames() {
			if name == "*" { // the catch-all's rest of the path
				continue
			}
			v := c.ParamValues()[i]
			if r.URL.RawPath != "" {
				var err error
				if v, err = url.PathUnescape(v); err != nil {
					v = ""
				}
			}
			if v == "" || strings.Contains(c.ParamValues()[i], "/") {
				// echo lets a last parameter take the rest of the path.
				u.notFound.ServeHTTP(w, r)
				return nil
			}
			r.SetPathValue(name, v)
		}
		h.ServeHTTP(w, r)
		return nil
	}
}

// cleanPath is p without . and .. segments and doubled slashes, keeping
// a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}
