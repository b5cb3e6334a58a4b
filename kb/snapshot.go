package kb

import (
	_ "embed" // the prebuilt snapshot
	"encoding/json"
	"fmt"
)

// The shipped articles, parsed and analysed, are embedded in the binary as
// a snapshot: the articles as JSON (prebuilt.json) and their search terms
// as a table read in place (prebuilt.terms, frozen.go). Parsing the
// Markdown and YAML of 65 articles in two languages and analysing their
// text costs each process that matches a crash some 300,000 allocations
// and tens of milliseconds, the snapshot a fraction of it. The snapshot is
// used only while it was made from exactly the embedded article files (its
// key is their hash), so an edited article is never answered from a stale
// snapshot; TestSnapshot fails until `go test ./kb -run TestSnapshot
// -update` remakes it.

//go:embed prebuilt.json
var prebuiltSnapshot []byte

//go:embed prebuilt.terms
var prebuiltTerms []byte

// snapshotFormat changes whenever what a snapshot holds or how the search
// analyses text changes.
const snapshotFormat = "kb-snapshot-2"

// snapshot is the shipped articles, parsed.
type snapshot struct {
	Key      string // snapshotKey of the articles it was made from
	Articles []snapshotArticle
}

// snapshotArticle is one article. (A snapshot is JSON: encoding/gob
// would cost the command line hundreds of allocations at start-up, in its
// package initialisation.)
type snapshotArticle struct {
	File     string // the file in articleFS: its bytes are the article's Markdown
	ID       string
	Texts    []Text
	Affected []string
	Fixed    []string
	Links    []string
	Tags     []string
	Match    Rules
}

// makeSnapshot parses and analyses the shipped articles into a snapshot:
// the articles' JSON and their term table.
func makeSnapshot() (articles, terms []byte, err error) {
	arts, files, err := parseBuiltin()
	if err != nil {
		return nil, nil, err
	}
	s := snapshot{Key: snapshotKey()}
	var docs []*termDoc
	for i, a := range arts {
		c, err := a.build()
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, analyseDoc(a.ID, a.searchFields(c)))
		s.Articles = append(s.Articles, snapshotArticle{File: files[i], ID: a.ID, Texts: a.Texts, Affected: a.Affected,
			Fixed: a.Fixed, Links: a.Links, Tags: a.Tags, Match: a.Match})
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the articles' snapshot: %w", err)
	}
	return b, encodeFrozenTerms(s.Key, docs), nil
}

// snapshotPrepared reads the embedded snapshot as a batch of articles
// ready for an index, or says why it cannot: it was made from other
// article files, or it does not decode.
func snapshotPrepared() (*Prepared, error) {
	var s snapshot
	if err := json.Unmarshal(prebuiltSnapshot, &s); err != nil {
		return nil, fmt.Errorf("decoding the articles' snapshot: %w", err)
	}
	if s.Key != snapshotKey() {
		return nil, fmt.Errorf("the articles' snapshot was made from other articles")
	}
	terms, err := decodeFrozenTerms(prebuiltTerms)
	if err != nil {
		return nil, err
	}
	if terms.key != s.Key {
		return nil, fmt.Errorf("the articles' term table was made from other articles")
	}
	ids := make([]string, len(s.Articles))
	for i, sa := range s.Articles {
		ids[i] = sa.ID
	}
	docs, err := frozenDocs(terms, ids)
	if err != nil {
		return nil, err
	}
	p := &Prepared{docs: docs}
	for _, sa := range s.Articles {
		a := &Article{ID: sa.ID, Texts: sa.Texts, Affected: sa.Affected, Fixed: sa.Fixed, Links: sa.Links,
			Tags: sa.Tags, Match: sa.Match, file: sa.File}
		c, err := a.buildRules(false)
		if err != nil {
			return nil, fmt.Errorf("snapshot article %s: %w", sa.ID, err)
		}
		a.compiled = c
		p.arts, p.cs = append(p.arts, a), append(p.cs, c)
	}
	return p, nil
}
