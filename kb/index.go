package kb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
)

// Index is the searchable knowledge base: a bleve index over the
// articles' text (English analysed with stemming, Japanese with CJK
// bigrams) and keywords (functions, modules, types, tags), plus the
// articles' compiled rules filed by anchor word for matching. It lives in
// memory (NewIndex) or in a directory (OpenIndex). It is safe for
// concurrent use; writes are serialised.
type Index struct {
	mu       sync.RWMutex
	text     bleve.Index
	articles map[string]*Article
	rules    *ruleSet
}

// textDoc is what bleve indexes for one article. Only the language's own
// fields are filled, so each text is analysed by its language's analyzer.
type textDoc struct {
	TitleEN   string   `json:"title_en,omitempty"`
	TextEN    string   `json:"text_en,omitempty"`
	TitleJA   string   `json:"title_ja,omitempty"`
	TextJA    string   `json:"text_ja,omitempty"`
	Functions []string `json:"functions,omitempty"`
	Modules   []string `json:"modules,omitempty"`
	Types     []string `json:"types,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	// Source is the article file, stored but not indexed, so an index
	// directory alone is enough to reload every article's rules.
	Source string `json:"source"`
}

// Field names of textDoc, as bleve sees them.
const (
	fieldTitleEN = "title_en"
	fieldTextEN  = "text_en"
	fieldTitleJA = "title_ja"
	fieldTextJA  = "text_ja"
	fieldSource  = "source"
)

var keywordFields = []string{"functions", "modules", "types", "tags"}

func newMapping() mapping.IndexMapping {
	text := func(analyzer string) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = analyzer
		f.Store = false
		f.IncludeInAll = false
		f.IncludeTermVectors = true // locations, for the terms a hit matched
		return f
	}
	kw := bleve.NewKeywordFieldMapping()
	kw.Store = false
	kw.IncludeInAll = false
	kw.IncludeTermVectors = true
	src := bleve.NewTextFieldMapping()
	src.Index = false
	src.Store = true
	src.IncludeInAll = false
	src.IncludeTermVectors = false
	src.DocValues = false

	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt(fieldTitleEN, text(en.AnalyzerName))
	dm.AddFieldMappingsAt(fieldTextEN, text(en.AnalyzerName))
	dm.AddFieldMappingsAt(fieldTitleJA, text(cjk.AnalyzerName))
	dm.AddFieldMappingsAt(fieldTextJA, text(cjk.AnalyzerName))
	for _, f := range keywordFields {
		dm.AddFieldMappingsAt(f, kw)
	}
	dm.AddFieldMappingsAt(fieldSource, src)

	im := bleve.NewIndexMapping()
	im.DefaultMapping = dm
	im.DefaultAnalyzer = keyword.Name
	im.StoreDynamic = false
	im.IndexDynamic = false
	im.DocValuesDynamic = false
	return im
}

// NewIndex returns an empty index in memory. It uses bleve's scorch
// segments, which search several times faster than the store of
// bleve.NewMemOnly (with ten thousand articles, a whole match took 33 ms
// instead of 133 when this was measured). Each
// Add call becomes one segment that nothing merges in memory, so add
// articles in batches; an index edited one article at a time over a long
// life belongs on disk (OpenIndex), where segments are merged.
func NewIndex() (*Index, error) {
	b, err := bleve.NewUsing("", newMapping(), scorch.Name, scorch.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("creating the in-memory knowledge base index: %w", err)
	}
	return &Index{text: b, articles: map[string]*Article{}, rules: newRuleSet()}, nil
}

// lockWait is how long OpenIndex waits for another process (or Index)
// to release the directory.
var lockWait = 5 * time.Second

// OpenIndex opens the index in directory dir, creating it when dir does
// not exist, and reloads every article's rules from the stored sources.
// A directory holds one open index at a time: OpenIndex fails after
// waiting 5 seconds for another holder to close it.
func OpenIndex(dir string) (*Index, error) {
	var b bleve.Index
	var err error
	cfg := map[string]any{"bolt_timeout": lockWait.String()}
	if _, serr := os.Stat(filepath.Join(dir, "index_meta.json")); errors.Is(serr, os.ErrNotExist) {
		b, err = bleve.NewUsing(dir, newMapping(), scorch.Name, scorch.Name, cfg)
	} else {
		b, err = bleve.OpenUsing(dir, cfg)
	}
	return loadIndex(b, err, dir)
}

// loadIndex wraps the bleve index of directory dir, just opened (with
// openErr), and reloads every article's rules from the stored sources.
func loadIndex(b bleve.Index, openErr error, dir string) (*Index, error) {
	if openErr != nil {
		return nil, fmt.Errorf("opening the knowledge base index %s: %w", dir, openErr)
	}
	ix := &Index{text: b, articles: map[string]*Article{}, rules: newRuleSet()}
	if err := ix.reload(); err != nil {
		b.Close()
		return nil, fmt.Errorf("reloading the articles of %s: %w", dir, err)
	}
	return ix, nil
}

// reload parses every stored article. A stored article that no longer
// parses (the rules got stricter) is an error: the index must not
// silently lose knowledge.
func (ix *Index) reload() error {
	n, err := ix.text.DocCount()
	if err != nil {
		return err
	}
	const page = 1000
	for from := 0; from < int(n); from += page {
		req := bleve.NewSearchRequestOptions(bleve.NewMatchAllQuery(), page, from, false)
		req.Fields = []string{fieldSource}
		req.SortBy([]string{"_id"})
		res, err := ix.text.Search(req)
		if err != nil {
			return err
		}
		for _, h := range res.Hits {
			src, _ := h.Fields[fieldSource].(string)
			a, err := ParseArticle(h.ID+".md", []byte(src))
			if err != nil {
				return err
			}
			if a.ID != h.ID {
				return fmt.Errorf("stored article %q says its id is %q", h.ID, a.ID)
			}
			ix.articles[a.ID] = a
			ix.rules.add(a)
		}
	}
	return nil
}

// Close releases the bleve index (and its directory lock).
func (ix *Index) Close() error { return ix.text.Close() }

// Len is the number of articles.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.articles)
}

// Get returns the article with this id, or ErrNotFound.
func (ix *Index) Get(id string) (*Article, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	a, ok := ix.articles[id]
	if !ok {
		return nil, fmt.Errorf("article %q: %w", id, ErrNotFound)
	}
	return a, nil
}

// Articles returns every article, sorted by id.
func (ix *Index) Articles() []*Article {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]*Article, 0, len(ix.articles))
	for _, a := range ix.articles {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Add indexes new articles, all or none: an invalid article, an id already
// in the index or repeated among them, or a failed index write leaves the
// index as it was. Adding many articles in one call is much faster than
// one by one (one bleve batch).
func (ix *Index) Add(arts ...*Article) error { return ix.put(arts, false) }

// Replace replaces existing articles (by id), all or none; an id the index
// does not hold is ErrNotFound.
func (ix *Index) Replace(arts ...*Article) error { return ix.put(arts, true) }

func (ix *Index) put(arts []*Article, replace bool) error {
	// Check and compile everything before touching the index. The
	// compiled rules are attached under the lock: an article object that
	// is already indexed may be matched against right now.
	seen := map[string]bool{}
	cs := make([]*compiled, len(arts))
	docs := make([]textDoc, len(arts))
	for i, a := range arts {
		if a == nil {
			return errors.New("adding a nil article")
		}
		c, err := a.build()
		if err != nil {
			return fmt.Errorf("article %q: %w", a.ID, err)
		}
		if seen[a.ID] {
			return fmt.Errorf("article %q given twice: %w", a.ID, ErrExists)
		}
		seen[a.ID] = true
		cs[i], docs[i] = c, a.textDoc(c)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, a := range arts {
		_, exists := ix.articles[a.ID]
		switch {
		case replace && !exists:
			return fmt.Errorf("replacing article %q: %w", a.ID, ErrNotFound)
		case !replace && exists:
			return fmt.Errorf("adding article %q: %w", a.ID, ErrExists)
		}
	}
	batch := ix.text.NewBatch()
	for i, a := range arts {
		if err := batch.Index(a.ID, docs[i]); err != nil {
			return fmt.Errorf("indexing article %q: %w", a.ID, err)
		}
	}
	if err := ix.text.Batch(batch); err != nil {
		return fmt.Errorf("writing %d articles to the index: %w", len(arts), err)
	}
	for i, a := range arts {
		if old := ix.articles[a.ID]; old != nil {
			ix.rules.remove(old)
		}
		a.compiled = cs[i]
		ix.articles[a.ID] = a
		ix.rules.add(a)
	}
	return nil
}

// Delete removes an article; an id the index does not hold is ErrNotFound.
func (ix *Index) Delete(id string) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	a, ok := ix.articles[id]
	if !ok {
		return fmt.Errorf("deleting article %q: %w", id, ErrNotFound)
	}
	if err := ix.text.Delete(id); err != nil {
		return fmt.Errorf("deleting article %q: %w", id, err)
	}
	delete(ix.articles, id)
	ix.rules.remove(a)
	return nil
}

// plainName is a rule pattern that is just a name, worth a keyword.
var plainName = regexp.MustCompile(`^[\w.-]+$`)

func (a *Article) textDoc(c *compiled) textDoc {
	var prose strings.Builder
	for _, s := range []string{a.Symptoms, a.Cause, a.Resolution, a.Body} {
		prose.WriteString(s)
		prose.WriteString("\n")
	}
	// The rules' own text (messages, function names) is searchable too:
	// an engineer pastes a log line, not the article's wording.
	for _, l := range [][]string{a.Match.Title, a.Match.Log, a.Match.Frames, a.Match.Type, a.Match.Modules} {
		for _, s := range l {
			prose.WriteString(s)
			prose.WriteString("\n")
		}
	}
	d := textDoc{Source: string(a.Markdown()), Tags: a.Tags}
	if a.Lang == "ja" {
		d.TitleJA, d.TextJA = a.Title, prose.String()
	} else {
		d.TitleEN, d.TextEN = a.Title, prose.String()
	}
	d.Functions = keywords(a.Match.Frames, c.frameAnchors)
	d.Modules = keywords(a.Match.Modules, c.moduleAnchors)
	d.Types = c.types
	return d
}

// keywords are the plain names among patterns plus their whole-word anchors.
func keywords(pats []string, anchors [][]anchor) []string {
	var out []string
	for i, p := range pats {
		if plainName.MatchString(p) {
			out = append(out, p)
		}
		for _, an := range anchors[i] {
			if an.kind == wholeWord && an.word != p {
				out = append(out, an.word)
			}
		}
	}
	return out
}

// Hit is one search result.
type Hit struct {
	ID    string  `json:"id"`    // the article's id
	Title string  `json:"title"` // the article's title
	Lang  string  `json:"lang"`  // the article's language
	Score float64 `json:"score"` // bleve's relevance score: higher is better, comparable within one search
	// Terms are the indexed terms the query matched, for showing why.
	Terms []string `json:"terms,omitempty"`
}

// Search runs a free-text query (English, Japanese, a log line, a function
// or module name) over titles, text and keywords and returns the n best
// hits. Titles count three times as much as text; an exact function,
// module, type or tag name twice.
func (ix *Index) Search(q string, n int) ([]Hit, error) {
	q = strings.TrimSpace(q)
	if q == "" || n <= 0 {
		return nil, nil
	}
	res, err := ix.text.Search(ix.searchRequest(q, n))
	if err != nil {
		return nil, fmt.Errorf("searching the knowledge base for %q: %w", q, err)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var hits []Hit
	for _, h := range res.Hits {
		a, ok := ix.articles[h.ID]
		if !ok {
			continue // deleted between the search and now
		}
		hits = append(hits, Hit{ID: a.ID, Title: a.Title, Lang: a.Lang, Score: h.Score, Terms: matchedTerms(h.Locations)})
	}
	return hits, nil
}

// textQueries matches q in the title and prose fields of both languages,
// titles weighing three times as much.
func textQueries(q string) []query.Query {
	var qs []query.Query
	for _, f := range []struct {
		field string
		boost float64
	}{{fieldTitleEN, 3}, {fieldTextEN, 1}, {fieldTitleJA, 3}, {fieldTextJA, 1}} {
		mq := bleve.NewMatchQuery(q)
		mq.SetField(f.field)
		mq.SetBoost(f.boost)
		qs = append(qs, mq)
	}
	return qs
}

// maxQuery bounds the text sent to bleve: a pasted log is not a query.
const maxQuery = 2000

func (ix *Index) searchRequest(q string, n int) *bleve.SearchRequest {
	if len(q) > maxQuery {
		q = strings.ToValidUTF8(q[:maxQuery], "") // a rune cut in two is dropped
	}
	qs := textQueries(q)
	terms := map[string]bool{strings.ToLower(q): true}
	for _, w := range strings.Fields(q) {
		w = strings.Trim(w, "`'\",;:()[]")
		if w != "" && len(terms) < 32 {
			terms[w] = true
			terms[strings.ToLower(w)] = true
		}
	}
	for t := range terms {
		for _, f := range keywordFields {
			tq := bleve.NewTermQuery(t)
			tq.SetField(f)
			tq.SetBoost(2)
			qs = append(qs, tq)
		}
	}
	req := bleve.NewSearchRequestOptions(bleve.NewDisjunctionQuery(qs...), n, 0, false)
	req.IncludeLocations = true
	return req
}

// matchedTerms lists the distinct terms of a hit's locations, leaving out
// numbers and one- and two-letter terms, which explain nothing.
func matchedTerms(locs search.FieldTermLocationMap) []string {
	seen := map[string]bool{}
	var out []string
	for _, terms := range locs {
		for t := range terms {
			k := strings.ToLower(t)
			if seen[k] || len(t) < 3 || strings.Trim(t, "0123456789") == "" {
				continue
			}
			seen[k] = true
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}
