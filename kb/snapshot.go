package kb

import (
	_ "embed" // the prebuilt snapshot
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
)

// The shipped articles, parsed and analysed, are embedded in the binary as
// a snapshot (prebuilt.json): parsing the Markdown and YAML of 65 articles
// in two languages and analysing their text costs each process that
// matches a crash some 300,000 allocations and tens of milliseconds, the
// snapshot a fraction of it. The snapshot is used only while it was made
// from exactly the embedded article files (its key is their hash), so an
// edited article is never answered from a stale snapshot; TestSnapshot
// fails until `go test ./kb -run TestSnapshot -update` remakes it.

//go:embed prebuilt.json
var prebuiltSnapshot []byte

// snapshotFormat changes whenever what a snapshot holds or how the search
// analyses text changes.
const snapshotFormat = "kb-snapshot-1"

// snapshot is the shipped articles, parsed and analysed.
type snapshot struct {
	Key      string // snapshotKey of the articles it was made from
	Articles []snapshotArticle
}

// snapshotArticle is one article and its analysed search fields.
type snapshotArticle struct {
	File     string // the file in articleFS: its bytes are the article's Markdown
	ID       string
	Texts    []Text
	Affected []string
	Fixed    []string
	Links    []string
	Tags     []string
	Match    Rules
	Terms    []string // per search field: the distinct terms, sorted, joined by NUL
	TF       []byte   // per field, per term: its occurrences, as uvarints
	Length   []int
}

// A snapshot is JSON (encoding/gob would cost the command line hundreds
// of allocations at start-up, in its package initialisation); the term
// counts, most of its numbers, are packed as uvarints in one byte string.

func packCounts(tf [][]uint32) []byte {
	var b []byte
	for _, field := range tf {
		for _, n := range field {
			b = binary.AppendUvarint(b, uint64(n))
		}
	}
	return b
}

// unpackCounts reads the counts of terms[f] for each field.
func unpackCounts(b []byte, terms [][]string) ([][]uint32, error) {
	out := make([][]uint32, len(terms))
	all := make([]uint32, 0, len(b))
	for f, ts := range terms {
		start := len(all)
		for range ts {
			n, k := binary.Uvarint(b)
			if k <= 0 || n > 1<<31 {
				return nil, fmt.Errorf("bad term counts")
			}
			all = append(all, uint32(n))
			b = b[k:]
		}
		out[f] = all[start:len(all):len(all)]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes of term counts left over", len(b))
	}
	return out, nil
}

// makeSnapshot parses and analyses the shipped articles into a snapshot.
func makeSnapshot() ([]byte, error) {
	arts, files, err := parseBuiltin()
	if err != nil {
		return nil, err
	}
	s := snapshot{Key: snapshotKey()}
	for i, a := range arts {
		c, err := a.build()
		if err != nil {
			return nil, err
		}
		d := analyseDoc(a.ID, a.searchFields(c))
		sa := snapshotArticle{File: files[i], ID: a.ID, Texts: a.Texts, Affected: a.Affected, Fixed: a.Fixed,
			Links: a.Links, Tags: a.Tags, Match: a.Match, TF: packCounts(d.tf), Length: d.length}
		for _, ts := range d.terms {
			sa.Terms = append(sa.Terms, strings.Join(ts, "\x00"))
		}
		s.Articles = append(s.Articles, sa)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding the articles' snapshot: %w", err)
	}
	return b, nil
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
	p := &Prepared{}
	for _, sa := range s.Articles {
		src, err := articleFS.ReadFile(sa.File)
		if err != nil {
			return nil, fmt.Errorf("snapshot article %s: %w", sa.File, err)
		}
		a := &Article{ID: sa.ID, Texts: sa.Texts, Affected: sa.Affected, Fixed: sa.Fixed, Links: sa.Links,
			Tags: sa.Tags, Match: sa.Match, src: src}
		c, err := a.build()
		if err != nil {
			return nil, fmt.Errorf("snapshot article %s: %w", sa.ID, err)
		}
		a.compiled = c
		if len(sa.Terms) != len(Fields) || len(sa.Length) != len(Fields) {
			return nil, fmt.Errorf("snapshot article %s: %d fields, want %d", sa.ID, len(sa.Terms), len(Fields))
		}
		d := &termDoc{id: sa.ID, terms: make([][]string, len(Fields)), length: sa.Length}
		for f, joined := range sa.Terms {
			if joined != "" {
				d.terms[f] = strings.Split(joined, "\x00")
			}
		}
		if d.tf, err = unpackCounts(sa.TF, d.terms); err != nil {
			return nil, fmt.Errorf("snapshot article %s: %w", sa.ID, err)
		}
		p.arts, p.cs, p.docs = append(p.arts, a), append(p.cs, c), append(p.docs, d)
	}
	return p, nil
}
