package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/api/wire"
)

// Context keys the authentication sets for the handlers.
const (
	ctxToken   = "token"    // the token's name: who acts, in records
	ctxTokenID = "token_id" // the token's TokenID: who owns an upload
	ctxRole    = "role"
)

// bearer returns the request's bearer token, or "".
func bearer(c echo.Context) string {
	tok, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return tok
}

// auth admits requests whose bearer token is live and has one of the
// roles. A client (IP address) that keeps presenting unknown tokens is
// answered 429 before its token is even looked at, so guessing is slow.
func (s *Server) auth(roles ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			tok := bearer(c)
			if tok == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="vmcored"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "a token is required (Authorization: Bearer …)")
			}
			if err := s.authFail.check(c); err != nil {
				return err
			}
			t, err := s.db.LookupToken(c.Request().Context(), tok)
			if errors.Is(err, store.ErrNotFound) {
				s.authFail.failed(c)
				s.metrics.authFailures.Inc()
				return echo.NewHTTPError(http.StatusUnauthorized, "unknown or expired token")
			} else if err != nil {
				return err
			}
			for _, r := range roles {
				if t.Role == r {
					c.Set(ctxToken, t.Name)
					c.Set(ctxTokenID, t.ID)
					c.Set(ctxRole, t.Role)
					return next(c)
				}
			}
			return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("a %s token may not do this", t.Role))
		}
	}
}

// metricsAuth admits the metrics token or a reader's (viewer, support,
// admin).
func (s *Server) metricsAuth(next echo.HandlerFunc) echo.HandlerFunc {
	tokens := s.auth(store.RoleViewer, store.RoleSupport, store.RoleAdmin)(next)
	return func(c echo.Context) error {
		if mt := s.cfg.MetricsToken; mt != "" && subtle.ConstantTimeCompare([]byte(bearer(c)), []byte(mt)) == 1 {
			return next(c)
		}
		return tokens(c)
	}
}

// failures limits failed authentications per client: a token bucket of
// burst failures, refilled one per every.
type failures struct {
	burst int
	every time.Duration
	mu    sync.Mutex
	by    map[string]*rate.Limiter
}

// maxClients bounds the failure table: past it, clients whose buckets
// are full again are forgotten.
const maxClients = 10000

func newFailures(burst int, every time.Duration) *failures {
	return &failures{burst: burst, every: every, by: map[string]*rate.Limiter{}}
}

func (f *failures) limiter(ip string) *rate.Limiter {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.by[ip]
	if !ok {
		if len(f.by) >= maxClients {
			for k, v := range f.by {
				if v.Tokens() >= float64(f.burst) {
					delete(f.by, k)
				}
			}
		}
		l = rate.NewLimiter(rate.Every(f.every), f.burst)
		f.by[ip] = l
	}
	return l
}

// check refuses a client that has used up its failures, with 429 and the
// time to wait.
func (f *failures) check(c echo.Context) error {
	l := f.limiter(c.RealIP())
	if l.Tokens() >= 1 {
		return nil
	}
	wait := max(time.Duration((1-l.Tokens())*float64(f.every)), time.Second)
	c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second).Seconds())))
	return echo.NewHTTPError(http.StatusTooManyRequests, "too many failed authentications from this address; try again later")
}

// failed counts a failed authentication of the client.
func (f *failures) failed(c echo.Context) { f.limiter(c.RealIP()).Allow() }

// loginLimit applies the failure limit to the web UI's login form, whose
// failures the UI answers with 401.
func (s *Server) loginLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method != http.MethodPost {
			return next(c)
		}
		if err := s.authFail.check(c); err != nil {
			return err
		}
		err := next(c)
		if c.Response().Status == http.StatusUnauthorized {
			s.authFail.failed(c)
			s.metrics.authFailures.Inc()
		}
		return err
	}
}

// clientIP names the client the failure limit counts: the connection's
// address, or the X-Forwarded-For entry a trusted proxy added.
func clientIP(trusted []string) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	var opts []echo.TrustOption
	for _, cidr := range trusted {
		if _, n, err := net.ParseCIDR(cidr); err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// Tokens: made, listed and revoked by admins. A token's secret is shown
// once, in the answer that makes it.

func (s *Server) createToken(c echo.Context) error {
	var req wire.TokenRequest
	if err := c.Bind(&req); err != nil {
		return err
	}
	if !store.ValidRole(req.Role) || req.Name == "" || len(req.Name) > 200 {
		return echo.NewHTTPError(http.StatusBadRequest, "name (at most 200 bytes) and role (uploader, viewer, support, admin) are required")
	}
	if req.ExpiresIn < 0 {
		return echo.NewHTTPError(http.StatusBadRequest, "expires_in is a number of seconds, 0 for never")
	}
	t := store.Token{Name: req.Name, Role: req.Role, Origin: store.OriginAPI}
	if req.ExpiresIn > 0 {
		t.Expires = time.Now().Add(time.Duration(min(req.ExpiresIn, 100*365*86400)) * time.Second).UTC()
	}
	tok, err := s.CreateToken(c.Request().Context(), t)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, tok)
}

// CreateToken makes a token; the UI's token page uses it too.
func (s *Server) CreateToken(ctx context.Context, t store.Token) (wire.NewToken, error) {
	tok := NewToken()
	if err := s.db.AddToken(ctx, tok, t); err != nil {
		return wire.NewToken{}, err
	}
	t.ID = store.TokenID(tok)
	t.Created = time.Now().UTC()
	return wire.NewToken{Token: t, Secret: tok}, nil
}

func (s *Server) listTokens(c echo.Context) error {
	ts, err := s.db.Tokens(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.TokenList{Tokens: ts})
}

func (s *Server) revokeToken(c echo.Context) error {
	t, err := s.db.RevokeToken(c.Request().Context(), c.Param("id"), c.Get(ctxToken).(string))
	if err != nil {
		return err
	}
	s.log.Info("token revoked", "id", t.ID, "name", t.Name, "role", t.Role, "by", c.Get(ctxToken))
	return c.NoContent(http.StatusNoContent)
}
