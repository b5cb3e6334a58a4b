package ui

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"github.com/vmcore/vmcore/kb"
)

// markdown renders article Markdown. Raw HTML in an article is not
// rendered (goldmark without WithUnsafe writes a comment in its place),
// and links keep only http, https, mailto and relative destinations:
// articles come from anyone with an admin token, and readers trust the
// page they are on.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.GFM, extension.CJK),
	goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(safeLinks{}, 1000), util.Prioritized(keepLineBreaks{}, 999))),
)

// keepLineBreaks keeps the soft line break at the end of a line of text
// that the next line's inline code, link or emphasis follows. goldmark's
// CJK line breaks decide whether to drop a break from the text node that
// follows, and drop it when what follows is not text: "the" at the end of
// a line and "`Modules linked in:`" at the start of the next rendered as
// "the<code>Modules linked in:</code>". The break is dropped here only
// where goldmark's rule would drop it: between two East Asian wide
// characters.
type keepLineBreaks struct{}

// Transform implements parser.ASTTransformer.
func (keepLineBreaks) Transform(doc *ast.Document, reader text.Reader, _ parser.Context) {
	source := reader.Source()
	var fix []*ast.Text
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		t, ok := n.(*ast.Text)
		if !entering || !ok || !t.SoftLineBreak() || n.NextSibling() == nil || n.NextSibling().Kind() == ast.KindText {
			return ast.WalkContinue, nil
		}
		value := t.Segment.Value(source)
		last, _ := utf8.DecodeLastRune(value)
		first, _ := utf8.DecodeRune(firstText(n.NextSibling(), source))
		if len(value) > 0 && !(util.IsEastAsianWideRune(last) && util.IsEastAsianWideRune(first)) {
			fix = append(fix, t)
		}
		return ast.WalkContinue, nil
	})
	for _, t := range fix {
		t.SetSoftLineBreak(false)
		t.Parent().InsertAfter(t.Parent(), t, ast.NewString([]byte("\n")))
	}
}

// firstText is the source text a node's rendering starts with.
func firstText(n ast.Node, source []byte) []byte {
	for ; n != nil; n = n.FirstChild() {
		if t, ok := n.(*ast.Text); ok {
			return t.Segment.Value(source)
		}
	}
	return nil
}

// safeLinks drops link and image destinations with a scheme other than
// http, https or mailto, on top of goldmark's own check, which a
// destination with control characters in its scheme can slip past in some
// browsers.
type safeLinks struct{}

// Transform implements parser.ASTTransformer.
func (safeLinks) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch l := n.(type) {
		case *ast.Link:
			if !safeURL(l.Destination) {
				l.Destination = nil
			}
		case *ast.Image:
			if !safeURL(l.Destination) {
				l.Destination = nil
			}
		case *ast.AutoLink:
			if !safeURL(l.URL(nil)) {
				n.Parent().ReplaceChild(n.Parent(), n, ast.NewString(l.Label(nil)))
			}
		}
		return ast.WalkContinue, nil
	})
}

// safeURL accepts relative URLs and the schemes http, https and mailto.
func safeURL(u []byte) bool {
	var b []byte
	for _, c := range u {
		if c > 0x20 && c != 0x7f {
			b = append(b, c)
		}
	}
	s := strings.ToLower(string(b))
	i := strings.IndexAny(s, ":/?#")
	if i < 0 || s[i] != ':' {
		return true // no scheme: relative
	}
	switch s[:i] {
	case "http", "https", "mailto":
		return true
	}
	return false
}

// renderMarkdown renders Markdown to HTML that is safe to put in a page.
func renderMarkdown(src string) template.HTML {
	var b bytes.Buffer
	if err := markdown.Convert([]byte(src), &b); err != nil {
		return template.HTML(template.HTMLEscapeString(src))
	}
	return template.HTML(b.String()) // goldmark escapes text and drops raw HTML
}

type kbSearchData struct {
	Query    string
	Hits     []kb.Hit
	Articles []kb.Localized
	Searched bool
}

// localized shows articles in one language.
func localized(arts []*kb.Article, lang string) []kb.Localized {
	out := make([]kb.Localized, len(arts))
	for i, a := range arts {
		out[i] = a.In(lang)
	}
	return out
}

func (u *UI) kbSearch(w http.ResponseWriter, r *http.Request, v *view) error {
	ix, err := u.b.KB(r.Context())
	if ix == nil {
		return err
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := kbSearchData{Query: q, Searched: q != ""}
	if q != "" {
		if d.Hits, err = ix.Search(q, 30, v.Lang); err != nil {
			return badRequest("%s", v.P.T("kb.search_failed", "Error", err.Error()))
		}
	} else {
		d.Articles = localized(ix.Articles(), v.Lang)
	}
	v.Title, v.Nav, v.Data = v.P.T("kb.title"), "kb", d
	if q != "" {
		v.Title = q + " · " + v.P.T("kb.title")
	}
	u.render(w, r, http.StatusOK, "kb", v)
	return nil
}

type articleData struct {
	A          kb.Localized
	Symptoms   template.HTML
	Cause      template.HTML
	Resolution template.HTML
	Body       template.HTML
	Buckets    []Bucket
	// Crashes are the newest crashes the article was suggested for, of
	// Total.
	Crashes []DumpRow
	Total   int
}

func (u *UI) kbArticle(w http.ResponseWriter, r *http.Request, v *view) error {
	ix, err := u.b.KB(r.Context())
	if ix == nil {
		return err
	}
	a, err := ix.Get(r.PathValue("id"))
	if err != nil {
		return ErrNotFound
	}
	l := a.In(v.Lang)
	d := articleData{A: l, Symptoms: renderMarkdown(l.Symptoms), Cause: renderMarkdown(l.Cause),
		Resolution: renderMarkdown(l.Resolution), Body: renderMarkdown(l.Body)}
	bs, err := u.b.Buckets(r.Context())
	if err != nil {
		return err
	}
	for _, b := range bs {
		if b.ArticleID == a.ID {
			d.Buckets = append(d.Buckets, b)
		}
	}
	page, err := u.b.Dumps(r.Context(), DumpQuery{Article: a.ID, Limit: 10, Viewer: v.S.Name})
	if err != nil {
		return err
	}
	d.Crashes, d.Total = page.Dumps, page.Total
	v.Title, v.Nav, v.Data = l.Title, "kb", d
	u.render(w, r, http.StatusOK, "article", v)
	return nil
}
