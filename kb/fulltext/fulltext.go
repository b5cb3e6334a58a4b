// Package fulltext keeps the knowledge base's articles in a bleve index
// for the service's search (the API's and the UI's KB search). It indexes
// the fields kb.Article.SearchDocument gives, with the analyzers kb names,
// and runs the term clauses of kb.ParseQuery, so a query ranks the
// articles as kb's own search does (TestSameRankingAsBleve). Matching
// crashes is kb's: use kb.Matcher with the embedded kb.Index.
//
// Only the service links this package: bleve's index packages build
// automata when the process starts, which the command line must not pay.
package fulltext

import (
	"fmt"
	"sync"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/cjk" // registers kb.AnalyzerCJK
	_ "github.com/blevesearch/bleve/v2/analysis/lang/en"  // registers kb.AnalyzerEnglish
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/vmcore/vmcore/kb"
)

// Index is a kb.Index with a bleve index of the same articles beside it.
// Add, Replace and Delete change both; everything else is the kb.Index's.
// It is safe for concurrent use; writes are serialised.
type Index struct {
	*kb.Index
	mu   sync.Mutex // serialises writes, so both indexes change in one order
	text bleve.Index
}

// New returns an empty index in memory. It uses bleve's scorch segments;
// each Add call becomes one segment that nothing merges in memory, so add
// articles in batches.
func New() (*Index, error) {
	b, err := bleve.NewUsing("", newMapping(), scorch.Name, scorch.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("creating the knowledge base's full-text index: %w", err)
	}
	return &Index{Index: kb.NewIndex(), text: b}, nil
}

func newMapping() mapping.IndexMapping {
	dm := bleve.NewDocumentStaticMapping()
	for _, f := range kb.Fields {
		fm := bleve.NewTextFieldMapping()
		if f.Analyzer == kb.AnalyzerKeyword {
			fm = bleve.NewKeywordFieldMapping()
		} else {
			fm.Analyzer = f.Analyzer
		}
		fm.Store = false
		fm.IncludeInAll = false
		fm.IncludeTermVectors = true // locations: the terms a hit matched
		fm.DocValues = false
		dm.AddFieldMappingsAt(f.Name, fm)
	}
	im := bleve.NewIndexMapping()
	im.DefaultMapping = dm
	im.DefaultAnalyzer = keyword.Name
	im.StoreDynamic = false
	im.IndexDynamic = false
	im.DocValuesDynamic = false
	return im
}

// Close releases the bleve index.
func (ix *Index) Close() error { return ix.text.Close() }

// Add indexes new articles, all or none (see kb.Index.Add).
func (ix *Index) Add(arts ...*kb.Article) error { return ix.put(arts, false) }

// Replace replaces existing articles, all or none (see kb.Index.Replace).
func (ix *Index) Replace(arts ...*kb.Article) error { return ix.put(arts, true) }

func (ix *Index) put(arts []*kb.Article, replace bool) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	p, err := ix.Index.Prepare(arts, replace)
	if err != nil {
		return err
	}
	batch := ix.text.NewBatch()
	for _, a := range arts {
		doc := map[string]any{}
		for f, vs := range a.SearchDocument() {
			doc[f] = vs
		}
		if err := batch.Index(a.ID, doc); err != nil {
			return fmt.Errorf("indexing article %q: %w", a.ID, err)
		}
	}
	if err := ix.text.Batch(batch); err != nil {
		return fmt.Errorf("writing %d articles to the full-text index: %w", len(arts), err)
	}
	return ix.Index.Commit(p) // writes are serialised: the ids are as Prepare saw them
}

// Delete removes an article; an id the index does not hold is
// kb.ErrNotFound.
func (ix *Index) Delete(id string) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, err := ix.Index.Get(id); err != nil {
		return fmt.Errorf("deleting article %q: %w", id, kb.ErrNotFound)
	}
	if err := ix.text.Delete(id); err != nil {
		return fmt.Errorf("deleting article %q: %w", id, err)
	}
	return ix.Index.Delete(id)
}

// Search runs a free-text query through bleve and returns the n best
// hits scoring at least kb.MinScore, titles in language lang: the same
// hits, scores and order as kb.Index.Search.
func (ix *Index) Search(q string, n int, lang string) ([]kb.Hit, error) {
	if n <= 0 {
		return nil, nil
	}
	pq := kb.ParseQuery(q)
	if len(pq.Clauses) == 0 {
		return nil, nil
	}
	qs := make([]query.Query, len(pq.Clauses))
	for i, c := range pq.Clauses {
		tq := bleve.NewTermQuery(c.Term)
		tq.SetField(c.Field)
		tq.SetBoost(c.Boost)
		qs[i] = tq
	}
	// A few more than asked for: scores that differ in the last bits
	// are equal after rounding, and the id then decides.
	req := bleve.NewSearchRequestOptions(bleve.NewDisjunctionQuery(qs...), n+16, 0, false)
	req.IncludeLocations = true
	res, err := ix.text.Search(req)
	if err != nil {
		return nil, fmt.Errorf("searching the knowledge base for %q: %w", q, err)
	}
	var hits []kb.Hit
	for _, h := range res.Hits {
		s := kb.RoundScore(h.Score)
		if s >= kb.MinScore {
			hits = append(hits, kb.Hit{ID: h.ID, Score: s, Terms: kb.MatchedTerms(locationTerms(h.Locations))})
		}
	}
	kb.SortHits(hits)
	if len(hits) > n {
		hits = hits[:n]
	}
	return ix.Index.Localize(hits, lang), nil
}

// locationTerms lists the terms of a hit's locations.
func locationTerms(locs search.FieldTermLocationMap) []string {
	var out []string
	for _, terms := range locs {
		for t := range terms {
			out = append(out, t)
		}
	}
	return out
}
