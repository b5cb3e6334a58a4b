package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/kb"
	"github.com/vmcore/vmcore/kb/fulltext"
)

// kbState is this node's knowledge base: the shipped articles plus those
// stored in the database, in memory with a bleve index for search. Every node keeps its
// own and brings it up to date from the database at most every few
// seconds, so an article added through one API node reaches every worker.
type kbState struct {
	mu      sync.Mutex
	ix      *fulltext.Index
	seen    map[string]time.Time // stored article id → version indexed
	checked time.Time
}

// kbRefresh is how often a node looks for articles added elsewhere.
const kbRefresh = 5 * time.Second

// KBIndex returns the node's knowledge base index, up to date with the
// database.
func (s *Server) KBIndex(ctx context.Context) (*fulltext.Index, error) {
	k := &s.kb
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ix == nil {
		arts, err := kb.Builtin()
		if err != nil {
			return nil, err
		}
		ix, err := fulltext.New()
		if err != nil {
			return nil, err
		}
		if err := ix.Add(arts...); err != nil {
			return nil, err
		}
		k.ix, k.seen = ix, map[string]time.Time{}
	}
	if time.Since(k.checked) < kbRefresh {
		return k.ix, nil
	}
	stored, err := s.db.Articles(ctx)
	if err != nil {
		return k.ix, err // the shipped articles still answer
	}
	var changed []*kb.Article
	for _, st := range stored {
		if k.seen[st.ID].Equal(st.Updated) {
			continue
		}
		a, err := kb.ParseArticle(st.ID+".md", []byte(st.Source))
		if err != nil {
			s.log.Warn("a stored article no longer parses", "id", st.ID, "err", err)
			k.seen[st.ID] = st.Updated
			continue
		}
		changed = append(changed, a)
		k.seen[st.ID] = st.Updated
	}
	var added, replaced []*kb.Article
	for _, a := range changed {
		if _, err := k.ix.Get(a.ID); err == nil {
			replaced = append(replaced, a)
		} else {
			added = append(added, a)
		}
	}
	if len(added) > 0 {
		if err := k.ix.Add(added...); err != nil {
			return k.ix, err
		}
	}
	if len(replaced) > 0 {
		if err := k.ix.Replace(replaced...); err != nil {
			return k.ix, err
		}
	}
	k.checked = time.Now()
	return k.ix, nil
}

// votes adapts the database's feedback to kb.Feedback for one signature.
type votes struct {
	signature string
	v         map[string][2]int
}

func (f votes) Votes(signature string) map[string]kb.Votes {
	if signature != f.signature {
		return nil
	}
	out := map[string]kb.Votes{}
	for a, c := range f.v {
		out[a] = kb.Votes{Confirmed: c[0], Rejected: c[1]}
	}
	return out
}

// suggest matches an analysis against the knowledge base with the
// engineers' votes for its signature.
func (s *Server) suggest(ctx context.Context, a *analysis.Document, signature string) ([]analysis.Suggestion, error) {
	ix, err := s.KBIndex(ctx)
	if ix == nil {
		return nil, err
	}
	v, err := s.db.Votes(ctx, signature)
	if err != nil {
		return nil, err
	}
	m := &kb.Matcher{Index: ix.Index, Feedback: votes{signature, v}}
	return m.Match(a)
}

// articleJSON is an article as the API shows it: all its texts, and the
// title, symptoms, cause, resolution and body in the reader's language
// (Accept-Language; lang says which it is).
type articleJSON struct {
	kb.Localized
	Markdown string `json:"markdown"`
}

// readerLang is the article language the request asks for: its lang
// parameter (the CLI's --lang), else its Accept-Language.
func readerLang(c echo.Context) string {
	if l := c.QueryParam("lang"); l != "" {
		return kb.LocaleLang(l)
	}
	return kb.AcceptLanguage(c.Request().Header.Get("Accept-Language"))
}

func (s *Server) searchArticles(c echo.Context) error {
	ix, err := s.KBIndex(c.Request().Context())
	if ix == nil {
		return err
	}
	n, _ := strconv.Atoi(c.QueryParam("n"))
	if n <= 0 || n > 100 {
		n = 20
	}
	q := c.QueryParam("q")
	if q == "" {
		arts := ix.Articles()
		out := make([]kb.Localized, 0, min(len(arts), 1000))
		for _, a := range arts[:min(len(arts), 1000)] {
			out = append(out, a.In(readerLang(c)))
		}
		return c.JSON(http.StatusOK, map[string]any{"articles": out})
	}
	hits, err := ix.Search(q, n, readerLang(c))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	return c.JSON(http.StatusOK, map[string]any{"hits": hits})
}

func (s *Server) getArticle(c echo.Context) error {
	ix, err := s.KBIndex(c.Request().Context())
	if ix == nil {
		return err
	}
	a, err := ix.Get(c.Param("id"))
	if errors.Is(err, kb.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "no such article")
	} else if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, articleJSON{a.In(readerLang(c)), string(a.Markdown())})
}

var articleIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)

// putArticle stores an article sent as Markdown. A broken one is refused
// with the line of the error, and nothing changes.
func (s *Server) putArticle(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	if !articleIDPattern.MatchString(id) {
		return echo.NewHTTPError(http.StatusBadRequest, "an article id is lower-case letters, digits and '-'")
	}
	src, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<20+1))
	if err != nil {
		return err
	}
	if len(src) > 1<<20 {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "an article is at most 1 MiB")
	}
	a, err := kb.ParseArticle(id+".md", src)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	if a.ID != id {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("the front matter says id %q, the URL %q", a.ID, id))
	}
	if err := s.db.PutArticle(ctx, id, string(src), c.Get("token").(string)); err != nil {
		return err
	}
	s.kb.mu.Lock()
	s.kb.checked = time.Time{} // index it now, not in a few seconds
	s.kb.mu.Unlock()
	if _, err := s.KBIndex(ctx); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, articleJSON{a.In(readerLang(c)), string(src)})
}

type matchRequest struct {
	Log string `json:"log"`
}

// matchLog matches a pasted kernel log or console capture.
func (s *Server) matchLog(c echo.Context) error {
	var req matchRequest
	if err := c.Bind(&req); err != nil {
		return err
	}
	ix, err := s.KBIndex(c.Request().Context())
	if ix == nil {
		return err
	}
	m := &kb.Matcher{Index: ix.Index, Lang: readerLang(c)}
	sugg, err := m.MatchLog(req.Log)
	if err != nil && sugg == nil {
		return err
	}
	if sugg == nil {
		sugg = []analysis.Suggestion{}
	}
	return c.JSON(http.StatusOK, map[string]any{"suggestions": sugg})
}

func (s *Server) listBuckets(c echo.Context) error {
	bs, err := s.db.Buckets(c.Request().Context(), "")
	if err != nil {
		return err
	}
	out, err := s.bucketsWithTriage(c.Request().Context(), bs)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"buckets": out})
}

func (s *Server) getBucket(c echo.Context) error {
	ctx := c.Request().Context()
	bs, err := s.db.Buckets(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	hist, err := s.db.BucketHistory(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	out, err := s.bucketsWithTriage(ctx, bs[:1])
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"bucket": out[0], "history": hist})
}

type mergeRequest struct {
	From string `json:"from"`
}

func (s *Server) mergeBucket(c echo.Context) error {
	var req mergeRequest
	if err := c.Bind(&req); err != nil {
		return err
	}
	if err := s.db.MergeBuckets(c.Request().Context(), c.Param("id"), req.From, c.Get("token").(string)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type splitRequest struct {
	Signature string `json:"signature"`
}

func (s *Server) splitBucket(c echo.Context) error {
	var req splitRequest
	if err := c.Bind(&req); err != nil {
		return err
	}
	id, err := s.db.SplitSignature(c.Request().Context(), req.Signature, c.Get("token").(string))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"bucket": id})
}

type linkRequest struct {
	ArticleID string `json:"article_id"`
}

// articleExists refuses links to articles the knowledge base lacks.
func (s *Server) articleExists(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	ix, err := s.KBIndex(ctx)
	if ix == nil {
		return err
	}
	if _, err := ix.Get(id); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("no article %q", id))
	}
	return nil
}

func (s *Server) linkBucket(c echo.Context) error {
	var req linkRequest
	if err := c.Bind(&req); err != nil {
		return err
	}
	if err := s.articleExists(c.Request().Context(), req.ArticleID); err != nil {
		return err
	}
	if err := s.db.LinkBucket(c.Request().Context(), c.Param("id"), req.ArticleID, c.Get("token").(string)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) linkDump(c echo.Context) error {
	id, err := dumpParam(c)
	if err != nil {
		return err
	}
	var req linkRequest
	if err := c.Bind(&req); err != nil {
		return err
	}
	if req.ArticleID == "" {
		return echo.NewHTTPError(http.StatusBadRequest, "article_id is required")
	}
	if err := s.articleExists(c.Request().Context(), req.ArticleID); err != nil {
		return err
	}
	if err := s.db.LinkDump(c.Request().Context(), id, req.ArticleID, c.Get("token").(string)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type feedbackRequest struct {
	ArticleID string `json:"article_id"`
	Verdict   string `json:"verdict"` // confirm or reject
}

// feedback records an engineer's verdict on a suggestion for a dump; it
// counts for every crash with the dump's signature.
func (s *Server) feedback(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := dumpParam(c)
	if err != nil {
		return err
	}
	var req feedbackRequest
	if err := c.Bind(&req); err != nil {
		return err
	}
	v := map[string]int{"confirm": 1, "reject": -1}[req.Verdict]
	if v == 0 || req.ArticleID == "" {
		return echo.NewHTTPError(http.StatusBadRequest, `article_id and verdict ("confirm" or "reject") are required`)
	}
	d, err := s.db.GetDump(ctx, id)
	if err != nil {
		return err
	}
	if d.Signature == "" {
		return echo.NewHTTPError(http.StatusConflict, "the dump has no signature yet")
	}
	if err := s.articleExists(ctx, req.ArticleID); err != nil {
		return err
	}
	if err := s.db.SetFeedback(ctx, d.Signature, req.ArticleID, v, c.Get("token").(string)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getAudit(c echo.Context) error {
	n, _ := strconv.Atoi(c.QueryParam("limit"))
	if n <= 0 || n > 1000 {
		n = 100
	}
	entries, err := s.db.Audit(c.Request().Context(), n)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"audit": entries})
}
