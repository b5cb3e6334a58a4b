package kb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// The shipped articles' postings are embedded as a table that is searched
// where it lies (prebuilt.terms): filing 32,000 postings of 10,000 terms
// into maps cost each process that matched a crash a third of its
// knowledge-base start-up, in allocations and in fresh memory.
//
// Layout, little-endian:
//
//	magic "KBTERMS1"
//	u32 key length, key (the snapshot's key, so the table goes with its articles)
//	u32 docs, fields, terms, postings, name bytes
//	[fields+1]u32 the first term of each field (terms are sorted by field, then name)
//	[docs][fields]u32 each document's field lengths
//	[terms]u32 name ends, [terms]u32 postings ends
//	names
//	[postings]{u32 document, u32 occurrences}, sorted by document within a term
//
// Documents are numbered as the snapshot lists its articles.

const frozenMagic = "KBTERMS1"

// frozenTerms is a decoded header over the table's bytes.
type frozenTerms struct {
	key                           string
	docs, fields, terms, postings int
	fieldStart                    []uint32
	lengths, nameEnds, postEnds   []byte
	names, posts                  []byte
}

// encodeFrozenTerms writes the postings of docs (numbered by position) as
// a frozen table.
func encodeFrozenTerms(key string, docs []*termDoc) []byte {
	type entry struct {
		term string
		doc  int
		tf   uint32
	}
	le := binary.LittleEndian
	var fieldStart []uint32
	var names []byte
	var nameEnds, postEnds, posts []byte
	terms, postings := 0, 0
	for f := range Fields {
		fieldStart = append(fieldStart, uint32(terms))
		var es []entry
		for i, d := range docs {
			for j, term := range d.terms[f] {
				es = append(es, entry{term, i, d.tf[f][j]})
			}
		}
		sort.Slice(es, func(a, b int) bool {
			if es[a].term != es[b].term {
				return es[a].term < es[b].term
			}
			return es[a].doc < es[b].doc
		})
		for i, e := range es {
			if i == 0 || e.term != es[i-1].term {
				if i > 0 {
					postEnds = le.AppendUint32(postEnds, uint32(postings))
				}
				names = append(names, e.term...)
				nameEnds = le.AppendUint32(nameEnds, uint32(len(names)))
				terms++
			}
			posts = le.AppendUint32(le.AppendUint32(posts, uint32(e.doc)), e.tf)
			postings++
		}
		if len(es) > 0 {
			postEnds = le.AppendUint32(postEnds, uint32(postings))
		}
	}
	fieldStart = append(fieldStart, uint32(terms))
	w := &snapWriter{b: []byte(frozenMagic)}
	w.str(key)
	for _, v := range []int{len(docs), len(Fields), terms, postings, len(names)} {
		w.u32(uint32(v))
	}
	for _, v := range fieldStart {
		w.u32(v)
	}
	for _, d := range docs {
		for f := range Fields {
			w.u32(uint32(d.length[f]))
		}
	}
	for _, col := range [][]byte{nameEnds, postEnds, names, posts} {
		w.b = append(w.b, col...)
	}
	return w.b
}

// decodeFrozenTerms checks a table's header and sizes; the table is then
// read in place.
func decodeFrozenTerms(b []byte) (*frozenTerms, error) {
	if len(b) < len(frozenMagic) || string(b[:len(frozenMagic)]) != frozenMagic {
		return nil, errors.New("the articles' term table: bad magic")
	}
	r := &snapReader{b: b[len(frozenMagic):]}
	t := &frozenTerms{key: r.str()}
	t.docs, t.fields, t.terms, t.postings = int(r.u32()), int(r.u32()), int(r.u32()), int(r.u32())
	nameBytes := int(r.u32())
	if r.err == nil && t.fields != len(Fields) {
		r.fail(fmt.Sprintf("%d fields, want %d", t.fields, len(Fields)))
	}
	starts := r.take(4 * (t.fields + 1))
	t.lengths = r.take(4 * t.docs * t.fields)
	t.nameEnds, t.postEnds = r.take(4*t.terms), r.take(4*t.terms)
	t.names, t.posts = r.take(nameBytes), r.take(8*t.postings)
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Sprintf("%d bytes left over", len(r.b)))
	}
	for i := 0; i <= t.fields && r.err == nil; i++ {
		t.fieldStart = append(t.fieldStart, u32At(starts, i))
		if int(t.fieldStart[i]) > t.terms || i > 0 && t.fieldStart[i] < t.fieldStart[i-1] {
			r.fail("bad field ranges")
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return t, nil
}

// u32At reads entry i of a [n]u32 column (0 for i < 0).
func u32At(col []byte, i int) uint32 {
	if i < 0 {
		return 0
	}
	return binary.LittleEndian.Uint32(col[4*i:])
}

// name is term i's text (nil where the table is damaged).
func (t *frozenTerms) name(i int) []byte {
	lo, hi := u32At(t.nameEnds, i-1), u32At(t.nameEnds, i)
	if lo > hi || int(hi) > len(t.names) {
		return nil
	}
	return t.names[lo:hi]
}

// find returns the postings of term in field f: pairs of document number
// and occurrences.
func (t *frozenTerms) find(f int, term string) []byte {
	if t == nil || f < 0 || f >= t.fields {
		return nil
	}
	lo, hi := int(t.fieldStart[f]), int(t.fieldStart[f+1])
	i := lo + sort.Search(hi-lo, func(i int) bool { return string(t.name(lo+i)) >= term })
	if i == hi || string(t.name(i)) != term {
		return nil
	}
	a, b := u32At(t.postEnds, i-1), u32At(t.postEnds, i)
	if a > b || int(b) > t.postings {
		return nil
	}
	return t.posts[8*a : 8*b]
}

// length is document doc's length in terms of field f.
func (t *frozenTerms) length(doc, f int) int {
	return int(u32At(t.lengths, doc*t.fields+f))
}

// has reports whether document doc holds term in field f.
func (t *frozenTerms) has(doc, f int, term string) bool {
	ps := t.find(f, term)
	n := len(ps) / 8
	i := sort.Search(n, func(i int) bool { return int(u32At(ps, 2*i)) >= doc })
	return i < n && int(u32At(ps, 2*i)) == doc
}

// frozenDocs makes the documents of a frozen table for the articles ids,
// numbered as the table numbers them.
func frozenDocs(t *frozenTerms, ids []string) ([]*termDoc, error) {
	if t.docs != len(ids) {
		return nil, fmt.Errorf("the articles' term table has %d documents for %d articles", t.docs, len(ids))
	}
	docs := make([]*termDoc, len(ids))
	for i, id := range ids {
		d := &termDoc{id: id, frozen: t, num: i, length: make([]int, t.fields)}
		for f := range d.length {
			d.length[f] = t.length(i, f)
		}
		docs[i] = d
	}
	return docs, nil
}
