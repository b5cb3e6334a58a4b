package kb

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Index is the knowledge base in memory: the articles, their compiled
// rules filed by anchor word for matching, and a term index of their text
// for search (see Search). It is safe for concurrent use; writes are
// serialised. It needs no search engine: package kb/fulltext keeps the
// same articles in a bleve index for the service.
type Index struct {
	mu       sync.RWMutex
	articles map[string]*Article
	rules    *ruleSet
	terms    *termIndex
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{articles: map[string]*Article{}, rules: newRuleSet(), terms: newTermIndex()}
}

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

// Add indexes new articles, all or none: an invalid article, or an id
// already in the index or repeated among them, leaves the index as it was.
func (ix *Index) Add(arts ...*Article) error { return ix.put(arts, false) }

// Replace replaces existing articles (by id), all or none; an id the index
// does not hold is ErrNotFound.
func (ix *Index) Replace(arts ...*Article) error { return ix.put(arts, true) }

// Prepared is a batch of articles checked and analysed for an index, so
// that an index kept beside another (kb/fulltext's bleve index) can be
// written first and this one after, without a step that fails.
type Prepared struct {
	arts    []*Article
	cs      []*compiled
	docs    []*termDoc
	replace bool
}

// Prepare checks and compiles articles for Add (replace false) or Replace
// without changing the index; Commit then applies them.
func (ix *Index) Prepare(arts []*Article, replace bool) (*Prepared, error) {
	seen := map[string]bool{}
	p := &Prepared{arts: arts, cs: make([]*compiled, len(arts)), docs: make([]*termDoc, len(arts)), replace: replace}
	for i, a := range arts {
		if a == nil {
			return nil, errors.New("adding a nil article")
		}
		c, err := a.build()
		if err != nil {
			return nil, fmt.Errorf("article %q: %w", a.ID, err)
		}
		if seen[a.ID] {
			return nil, fmt.Errorf("article %q given twice: %w", a.ID, ErrExists)
		}
		seen[a.ID] = true
		p.cs[i], p.docs[i] = c, analyseDoc(a.ID, a.searchFields(c))
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return p, ix.checkIDs(p)
}

func (ix *Index) checkIDs(p *Prepared) error {
	for _, a := range p.arts {
		_, exists := ix.articles[a.ID]
		switch {
		case p.replace && !exists:
			return fmt.Errorf("replacing article %q: %w", a.ID, ErrNotFound)
		case !p.replace && exists:
			return fmt.Errorf("adding article %q: %w", a.ID, ErrExists)
		}
	}
	return nil
}

// Commit applies a prepared batch. It fails only when the index changed
// since Prepare so that an id is now taken (Add) or gone (Replace).
func (ix *Index) Commit(p *Prepared) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ix.checkIDs(p); err != nil {
		return err
	}
	for i, a := range p.arts {
		if old := ix.articles[a.ID]; old != nil {
			ix.rules.remove(old)
			ix.terms.remove(a.ID)
		}
		// The compiled rules are attached under the lock: an article
		// object that is already indexed may be matched against now.
		a.compiled = p.cs[i]
		ix.articles[a.ID] = a
		ix.rules.add(a)
		ix.terms.add(p.docs[i])
	}
	return nil
}

func (ix *Index) put(arts []*Article, replace bool) error {
	p, err := ix.Prepare(arts, replace)
	if err != nil {
		return err
	}
	return ix.Commit(p)
}

// Delete removes an article; an id the index does not hold is ErrNotFound.
func (ix *Index) Delete(id string) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	a, ok := ix.articles[id]
	if !ok {
		return fmt.Errorf("deleting article %q: %w", id, ErrNotFound)
	}
	delete(ix.articles, id)
	ix.rules.remove(a)
	ix.terms.remove(id)
	return nil
}
