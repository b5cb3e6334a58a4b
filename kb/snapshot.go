package kb

import (
	_ "embed" // the prebuilt snapshot
	"fmt"
)

// The shipped articles, parsed and analysed, are embedded in the binary as
// a snapshot: the articles with their patterns' anchors
// (prebuilt.articles, snapcodec.go) and their search terms
// (prebuilt.terms, frozen.go), both read where they lie. Parsing the
// Markdown and YAML of 65 articles in two languages and analysing their
// text costs each process that matches a crash some 300,000 allocations
// and tens of milliseconds, the snapshot a fraction of it. The snapshot is
// used only while it was made from exactly the embedded article files (its
// key is their hash), so an edited article is never answered from a stale
// snapshot; TestSnapshot fails until `go test ./kb -run TestSnapshot
// -update` remakes it.

//go:embed prebuilt.articles
var prebuiltSnapshot []byte

//go:embed prebuilt.terms
var prebuiltTerms []byte

// snapshotFormat changes whenever what a snapshot holds or how the search
// analyses text changes.
const snapshotFormat = "kb-snapshot-3"

// snapshotArticle is one article of the snapshot.
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
// the articles and their term table.
func makeSnapshot() (articles, terms []byte, err error) {
	arts, files, err := parseBuiltin()
	if err != nil {
		return nil, nil, err
	}
	key := snapshotKey()
	var sas []snapshotArticle
	var anchors []articleAnchors
	var docs []*termDoc
	for i, a := range arts {
		c, err := a.build()
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, analyseDoc(a.ID, a.searchFields(c)))
		sas = append(sas, snapshotArticle{File: files[i], ID: a.ID, Texts: a.Texts, Affected: a.Affected,
			Fixed: a.Fixed, Links: a.Links, Tags: a.Tags, Match: a.Match})
		anchors = append(anchors, articleAnchors{c.titleAnchors, c.frameAnchors, c.logAnchors, c.unlessAnchors, c.moduleAnchors})
	}
	return encodeArticles(key, sas, anchors), encodeFrozenTerms(key, docs), nil
}

// snapshotPrepared reads the embedded snapshot as a batch of articles
// ready for an index, or says why it cannot: it was made from other
// article files, or it does not decode.
func snapshotPrepared() (*Prepared, error) {
	key, sas, anchors, err := decodeArticles(prebuiltSnapshot)
	if err != nil {
		return nil, err
	}
	if key != snapshotKey() {
		return nil, fmt.Errorf("the articles' snapshot was made from other articles")
	}
	terms, err := decodeFrozenTerms(prebuiltTerms)
	if err != nil {
		return nil, err
	}
	if terms.key != key {
		return nil, fmt.Errorf("the articles' term table was made from other articles")
	}
	ids := make([]string, len(sas))
	for i, sa := range sas {
		ids[i] = sa.ID
	}
	docs, err := frozenDocs(terms, ids)
	if err != nil {
		return nil, err
	}
	p := &Prepared{docs: docs}
	for i, sa := range sas {
		a := &Article{ID: sa.ID, Texts: sa.Texts, Affected: sa.Affected, Fixed: sa.Fixed, Links: sa.Links,
			Tags: sa.Tags, Match: sa.Match, file: sa.File}
		c, err := a.buildRules(&anchors[i])
		if err != nil {
			return nil, fmt.Errorf("snapshot article %s: %w", sa.ID, err)
		}
		a.compiled = c
		p.arts, p.cs = append(p.arts, a), append(p.cs, c)
	}
	return p, nil
}
