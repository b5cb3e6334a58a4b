package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/vmcore/vmcore/api/blob"
	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/kb"
	"github.com/vmcore/vmcore/kb/fulltext"
	"github.com/vmcore/vmcore/ui"
)

// mountUI adds the web UI (package ui) to the API's router: its pages
// and the UI's 404 page for every path outside the API (ui.Register), a
// JSON 404 for unknown API paths, the login-link endpoint behind
// vmcorectl open, and the upload protocol authorized by a browser session
// for the upload page.
func (s *Server) mountUI(e *echo.Echo) {
	u, err := ui.New(uiBackend{s}, ui.Config{Logger: s.log})
	if err != nil {
		panic(err) // the templates are compiled into the binary: a broken one is a build error
	}
	u.Register(e, s.loginLimit) // guessing tokens in the login form is limited too
	e.RouteNotFound("/api/*", func(echo.Context) error { return echo.ErrNotFound })

	small := middleware.BodyLimit("1M")
	e.POST("/api/v1/login-links", s.createLoginLink, s.auth(store.RoleViewer, store.RoleSupport, store.RoleAdmin), small)

	sess := s.sessionAuth(u, store.RoleUploader, store.RoleAdmin)
	up := ui.UploadAPI
	e.POST(up, s.createUpload, sess, small)
	e.GET(up+"/:id", s.getUpload, sess)
	e.PUT(up+"/:id/parts/:n", s.putPart, sess)
	e.PUT(up+"/:id/dmesg", s.putDmesg, sess, middleware.BodyLimit("64M"))
	e.POST(up+"/:id/complete", s.completeUpload, sess, small)
}

// sessionAuth admits requests from a browser session with one of the
// roles that carry the session's CSRF token, and names the actor as the
// bearer-token check does, so the upload handlers serve both.
func (s *Server) sessionAuth(u *ui.UI, roles ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			sess, err := u.Authorize(c.Request(), roles...)
			switch {
			case errors.Is(err, ui.ErrNoSession):
				return echo.NewHTTPError(http.StatusUnauthorized, "log in first")
			case errors.Is(err, ui.ErrForbidden):
				return echo.NewHTTPError(http.StatusForbidden, strings.TrimPrefix(err.Error(), "ui: forbidden: "))
			case err != nil:
				return err
			}
			// The session names its token's owner id in the database.
			st, err := s.db.Session(c.Request().Context(), sess.ID)
			if err != nil {
				return echo.NewHTTPError(http.StatusUnauthorized, "log in first")
			}
			c.Set(ctxToken, sess.Name)
			c.Set(ctxTokenID, st.TokenID)
			c.Set(ctxRole, sess.Role)
			return next(c)
		}
	}
}

// Login links: vmcorectl open asks for one and hands it to a browser.
const (
	loginLinkTTL    = 2 * time.Minute
	maxLoginLinkTTL = 24 * time.Hour
)

type loginLinkRequest struct {
	// DumpID is the crash the link leads to; empty means the crash list.
	DumpID string `json:"dump_id"`
	// TTLSeconds is how long the link works: default 120, at most 600.
	TTLSeconds int `json:"ttl_seconds"`
}

type loginLinkResponse struct {
	URL     string    `json:"url"`  // as this request reached the API
	Path    string    `json:"path"` // to join to the server URL the client knows
	Expires time.Time `json:"expires"`
}

// createLoginLink makes a one-time login link for the caller's own token:
// the browser that opens it gets a viewer's session (read-only, whoever
// made the link: a link pasted in a chat must not hand out an admin's
// powers), once, within the link's lifetime. Opening the link shows a
// page; only its button spends the link, so the fetches of chat
// previews do not.
func (s *Server) createLoginLink(c echo.Context) error {
	ctx := c.Request().Context()
	var req loginLinkRequest
	if err := c.Bind(&req); err != nil {
		return err
	}
	ttl := loginLinkTTL
	if req.TTLSeconds < 0 || time.Duration(req.TTLSeconds)*time.Second > maxLoginLinkTTL {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("ttl_seconds is 1..%d", int(maxLoginLinkTTL.Seconds())))
	} else if req.TTLSeconds > 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	target := "/crashes"
	if req.DumpID != "" {
		if !idPattern.MatchString(req.DumpID) {
			return echo.NewHTTPError(http.StatusNotFound, "no such dump")
		}
		if _, err := s.db.GetDump(ctx, req.DumpID); err != nil {
			return err
		}
		target = "/crashes/" + req.DumpID
	}
	tok, _ := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ") // s.auth checked it
	var b [32]byte
	rand.Read(b[:])
	secret := hex.EncodeToString(b[:])
	exp := time.Now().Add(ttl)
	if err := s.db.CreateLoginLink(ctx, secret, tok, target, store.RoleViewer, exp); err != nil {
		return err
	}
	path := "/links/" + secret
	return c.JSON(http.StatusCreated, loginLinkResponse{URL: c.Scheme() + "://" + c.Request().Host + path, Path: path, Expires: exp.UTC()})
}

// uiBackend is the UI's view of the server: the database, the object
// store and the knowledge base. It maps the stores' not-found errors to
// ui.ErrNotFound and refusals to ui.ErrConflict.
type uiBackend struct{ s *Server }

var _ ui.Backend = uiBackend{}

// uiErr maps store, blob and kb errors to the UI's.
func uiErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, blob.ErrNotFound), errors.Is(err, kb.ErrNotFound):
		return fmt.Errorf("%w: %w", ui.ErrNotFound, err)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w: %s", ui.ErrConflict, strings.TrimPrefix(err.Error(), "store: "))
	case errors.Is(err, store.ErrInvalid):
		return fmt.Errorf("%w: %s", ui.ErrInvalid, strings.TrimPrefix(err.Error(), "store: invalid: "))
	}
	return err
}

func uiSession(id string, s store.Session) ui.Session {
	return ui.Session{ID: id, Name: s.Name, Role: s.Role, CSRF: s.CSRF, Expires: s.Expires}
}

func (b uiBackend) Login(ctx context.Context, token string, n ui.NewSession) (ui.Session, error) {
	s, err := b.s.db.CreateSession(ctx, n.ID, token, n.CSRF, n.Expires)
	if errors.Is(err, store.ErrNotFound) {
		return ui.Session{}, ui.ErrBadToken
	}
	return uiSession(n.ID, s), uiErr(err)
}

func (b uiBackend) UseLoginLink(ctx context.Context, secret string, n ui.NewSession) (ui.Session, string, error) {
	s, target, err := b.s.db.UseLoginLink(ctx, secret, n.ID, n.CSRF, n.Expires)
	return uiSession(n.ID, s), target, uiErr(err)
}

func (b uiBackend) Session(ctx context.Context, id string) (ui.Session, error) {
	s, err := b.s.db.Session(ctx, id)
	if err != nil {
		return ui.Session{}, uiErr(err)
	}
	us := uiSession(id, s)
	us.Lang, err = b.s.db.Language(ctx, s.Name)
	return us, err
}

func (b uiBackend) Logout(ctx context.Context, id string) error { return b.s.db.DeleteSession(ctx, id) }

func (b uiBackend) Dumps(ctx context.Context, q ui.DumpQuery) (ui.DumpPage, error) {
	dumps, total, err := b.s.db.SearchDumps(ctx, storeQuery(q))
	if err != nil {
		return ui.DumpPage{}, err
	}
	ids := make([]string, len(dumps))
	for i, d := range dumps {
		ids[i] = d.ID
	}
	steps, err := b.s.db.LatestSteps(ctx, ids)
	if err != nil {
		return ui.DumpPage{}, err
	}
	page := ui.DumpPage{Total: total, Dumps: make([]ui.DumpRow, len(dumps))}
	for i, d := range dumps {
		page.Dumps[i] = ui.DumpRow{Dump: d, Steps: steps[d.ID]}
	}
	err = b.s.rowTriage(ctx, page.Dumps, q.Viewer)
	return page, err
}

func (b uiBackend) Facets(ctx context.Context) (ui.Facets, error) {
	h, r, t, err := b.s.db.Facets(ctx, 200)
	return ui.Facets{Hosts: h, Releases: r, Types: t}, err
}

func (b uiBackend) Dump(ctx context.Context, id string) (wire.DumpDetail, error) {
	if !idPattern.MatchString(id) {
		return wire.DumpDetail{}, fmt.Errorf("dump %q: %w", id, ui.ErrNotFound)
	}
	d, err := b.s.Detail(ctx, id)
	return d, uiErr(err)
}

func (b uiBackend) Open(ctx context.Context, id string, a ui.Artifact) (ui.Object, error) {
	if !idPattern.MatchString(id) {
		return nil, fmt.Errorf("dump %q: %w", id, ui.ErrNotFound)
	}
	var o blob.Object
	var err error
	switch a {
	case ui.ArtifactAnalysis:
		o, err = b.s.Result(ctx, id, analysisKey)
	case ui.ArtifactLog:
		o, err = b.s.Result(ctx, id, logKey)
	case ui.ArtifactDmesg:
		o, err = b.s.blobs.Open(ctx, dmesgKey(id))
	case ui.ArtifactDump:
		var d store.Dump
		if d, err = b.s.db.GetDump(ctx, id); err == nil && d.Status == store.StatusUploading {
			err = fmt.Errorf("dump %s is still being uploaded: %w", id, blob.ErrNotFound)
		} else if err == nil {
			o, err = b.s.blobs.Open(ctx, dumpKey(id))
		}
	default:
		err = fmt.Errorf("artifact %d: %w", a, blob.ErrNotFound)
	}
	if err != nil {
		return nil, uiErr(err)
	}
	return o, nil
}

func (b uiBackend) DumpArticles(ctx context.Context, id string) ([]string, error) {
	return b.s.db.DumpArticles(ctx, id)
}

// article refuses ids the knowledge base does not hold.
func (b uiBackend) article(ctx context.Context, id string) error {
	ix, err := b.s.KBIndex(ctx)
	if ix == nil {
		return err
	}
	if _, err := ix.Get(id); err != nil {
		return fmt.Errorf("%w: the knowledge base has no article %q", ui.ErrConflict, id)
	}
	return nil
}

func (b uiBackend) LinkDump(ctx context.Context, id, article, actor string) error {
	if err := b.article(ctx, article); err != nil {
		return err
	}
	return uiErr(b.s.db.LinkDump(ctx, id, article, actor))
}

func (b uiBackend) Feedback(ctx context.Context, id, article string, verdict int, actor string) error {
	d, err := b.s.db.GetDump(ctx, id)
	if err != nil {
		return uiErr(err)
	}
	if d.Signature == "" {
		return fmt.Errorf("%w: the crash has no signature yet", ui.ErrConflict)
	}
	if err := b.article(ctx, article); err != nil {
		return err
	}
	return uiErr(b.s.db.SetFeedback(ctx, d.Signature, article, verdict, actor))
}

func (b uiBackend) Votes(ctx context.Context, signature string) (map[string]kb.Votes, error) {
	v, err := b.s.db.Votes(ctx, signature)
	if err != nil {
		return nil, err
	}
	out := make(map[string]kb.Votes, len(v))
	for a, c := range v {
		out[a] = kb.Votes{Confirmed: c[0], Rejected: c[1]}
	}
	return out, nil
}

func uiBucket(b store.Bucket) ui.Bucket {
	return ui.Bucket{ID: b.ID, Title: b.Title, Signatures: b.Signatures, Count: b.Count, FirstSeen: b.FirstSeen,
		LastSeen: b.LastSeen, Hosts: b.Hosts, Releases: b.Releases, ArticleID: b.ArticleID, Own: ownSignature(b)}
}

func (b uiBackend) Buckets(ctx context.Context) ([]ui.Bucket, error) {
	bs, err := b.s.db.Buckets(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]ui.Bucket, len(bs))
	for i, x := range bs {
		out[i] = uiBucket(x)
	}
	err = b.s.withTriage(ctx, out)
	return out, err
}

func (b uiBackend) Bucket(ctx context.Context, id string) (ui.Bucket, error) {
	bs, err := b.s.db.Buckets(ctx, id)
	if err != nil {
		return ui.Bucket{}, uiErr(err)
	}
	out := []ui.Bucket{uiBucket(bs[0])}
	err = b.s.withTriage(ctx, out)
	return out[0], err
}

func (b uiBackend) BucketHistory(ctx context.Context, id string) ([]ui.DayCount, error) {
	h, err := b.s.db.BucketHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]ui.DayCount, len(h))
	for i, d := range h {
		out[i] = ui.DayCount{Day: d.Day, Count: d.Count}
	}
	return out, nil
}

func (b uiBackend) BucketOf(ctx context.Context, signature string) (string, error) {
	id, err := b.s.db.BucketOf(ctx, signature)
	return id, uiErr(err)
}

func (b uiBackend) MergeBuckets(ctx context.Context, into, from, actor string) error {
	return uiErr(b.s.db.MergeBuckets(ctx, into, from, actor))
}

func (b uiBackend) SplitSignature(ctx context.Context, signature, actor string) (string, error) {
	id, err := b.s.db.SplitSignature(ctx, signature, actor)
	return id, uiErr(err)
}

func (b uiBackend) LinkBucket(ctx context.Context, bucket, article, actor string) error {
	if article != "" {
		if err := b.article(ctx, article); err != nil {
			return err
		}
	}
	return uiErr(b.s.db.LinkBucket(ctx, bucket, article, actor))
}

func (b uiBackend) KB(ctx context.Context) (*fulltext.Index, error) { return b.s.KBIndex(ctx) }

func (b uiBackend) Tokens(ctx context.Context) ([]wire.Token, error) { return b.s.db.Tokens(ctx) }

func (b uiBackend) CreateToken(ctx context.Context, name, role string, ttl time.Duration, actor string) (wire.NewToken, error) {
	t := store.Token{Name: name, Role: role, Origin: store.OriginAPI}
	if ttl > 0 {
		t.Expires = time.Now().Add(ttl).UTC()
	}
	nt, err := b.s.CreateToken(ctx, t)
	if err == nil {
		b.s.log.Info("token made", "id", nt.ID, "name", name, "role", role, "by", actor)
	}
	return nt, uiErr(err)
}

func (b uiBackend) RevokeToken(ctx context.Context, id, actor string) error {
	_, err := b.s.db.RevokeToken(ctx, id, actor)
	return uiErr(err)
}
