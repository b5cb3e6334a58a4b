package kb

import (
	"math"
	"sort"
	"strings"
	"unicode"
)

// The text search. An article's text is split into fields, each analysed
// by one of bleve's analyzers (English: stemmed words; Japanese: CJK
// bigrams; keywords: whole values); a query becomes a list of term clauses
// over those fields (a Japanese query also asks for the English words of
// its kernel terms, and an English one for the Japanese: see termMap),
// scored as bleve scores a disjunction of term queries with its default
// TF-IDF model. The analyzers are kb's own replicas of bleve's (see
// Analyze): kb links no part of bleve. kb/fulltext indexes the same fields in bleve and runs the
// same clauses, so the service's search and this one rank alike
// (TestSameRankingAsBleve in kb/fulltext holds them to it).

// Analyzer names of the search fields: the names of bleve's analyzers
// that analyse the same way (see Analyze).
const (
	AnalyzerEnglish = "en"      // words, stop words removed, Porter-stemmed
	AnalyzerCJK     = "cjk"     // CJK bigrams, other words whole, lower case
	AnalyzerKeyword = "keyword" // the value as one term
)

// Field is one search field of an article.
type Field struct {
	Name     string
	Analyzer string // AnalyzerEnglish, AnalyzerCJK or AnalyzerKeyword
}

// The search fields' names.
const (
	FieldTitleEN   = "title_en"
	FieldTextEN    = "text_en" // symptoms, cause, resolution and body in English
	FieldTitleJA   = "title_ja"
	FieldTextJA    = "text_ja"
	FieldRules     = "rules" // the rules' own text: log messages, titles, function names
	FieldFunctions = "functions"
	FieldModules   = "modules"
	FieldTypes     = "types"
	FieldTags      = "tags"
)

// Fields are the search fields, in the order of their index in termDoc.
var Fields = []Field{
	{FieldTitleEN, AnalyzerEnglish}, {FieldTextEN, AnalyzerEnglish},
	{FieldTitleJA, AnalyzerCJK}, {FieldTextJA, AnalyzerCJK},
	{FieldRules, AnalyzerEnglish},
	{FieldFunctions, AnalyzerKeyword}, {FieldModules, AnalyzerKeyword}, {FieldTypes, AnalyzerKeyword}, {FieldTags, AnalyzerKeyword},
}

// fieldNumber is a field's index in Fields, false for an unknown name.
func fieldNumber(name string) (int, bool) {
	for i, f := range Fields {
		if f.Name == name {
			return i, true
		}
	}
	return 0, false
}

// Weights of a query term by field: a title match counts three times a
// text match, an exact keyword twice.
const (
	boostTitle   = 3
	boostText    = 1
	boostKeyword = 2
	// translatedWeight scales the terms a query gains from termMap.
	translatedWeight = 0.5
)

// Limits on a query: a pasted log is not a query.
const (
	maxQuery      = 2000 // bytes of query text analysed
	maxQueryTerms = 64   // distinct terms per analyzer
	maxQueryWords = 32   // whole words tried as keywords
)

// MinScore is the score below which a search hit is noise: a query that
// shares only a word or two of little weight with an article. Search
// leaves such hits out, so a query that fits no article gets no hit
// ("no article matches") instead of a list of unrelated ones.
const MinScore = 0.05

// analyse returns the terms of text under an analyzer, in order.
func analyse(analyzer, text string) []string { return Analyze(analyzer, text) }

// plainName is a rule pattern that is just a name, worth a keyword.
var plainName = &lazyRegexp{src: `^[\w.-]+$`}

// SearchDocument is the article's text as the search sees it: field name
// → values (several for keyword fields). Fields without text are left
// out. kb/fulltext indexes exactly this.
func (a *Article) SearchDocument() map[string][]string {
	c := a.compiled
	if c == nil {
		var err error
		if c, err = a.build(); err != nil {
			return map[string][]string{}
		}
	}
	return a.searchFields(c)
}

func (a *Article) searchFields(c *compiled) map[string][]string {
	d := map[string][]string{}
	set := func(field string, vs ...string) {
		for _, v := range vs {
			if strings.TrimSpace(v) != "" {
				d[field] = append(d[field], v)
			}
		}
	}
	for _, t := range a.Texts {
		prose := strings.Join([]string{t.Symptoms, t.Cause, t.Resolution, t.Body}, "\n")
		switch t.Lang {
		case "en":
			set(FieldTitleEN, t.Title)
			set(FieldTextEN, prose)
		case "ja":
			set(FieldTitleJA, t.Title)
			set(FieldTextJA, prose)
		}
	}
	// The rules' own text (messages, function names) is searchable too:
	// an engineer pastes a log line, not the article's wording.
	var rules []string
	for _, l := range [][]string{a.Match.Title, a.Match.Log, a.Match.Frames, a.Match.Type, a.Match.Modules} {
		rules = append(rules, l...)
	}
	set(FieldRules, strings.Join(rules, "\n"))
	set(FieldFunctions, keywords(a.Match.Frames, c.frameAnchors)...)
	set(FieldModules, keywords(a.Match.Modules, c.moduleAnchors)...)
	set(FieldTypes, c.types...)
	set(FieldTags, a.Tags...)
	return d
}

// keywords are the plain names among patterns plus their whole-word anchors.
func keywords(pats []string, anchors [][]anchor) []string {
	var out []string
	for i, p := range pats {
		if plainName.get().MatchString(p) {
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

// termDoc is one article's analysed fields: per field, its distinct terms
// (sorted) with their occurrences, and its length in terms (bleve's field
// length).
type termDoc struct {
	id     string
	slot   int // its place in termIndex.slots
	terms  [][]string
	tf     [][]uint32
	length []int
	// frozen is the table holding the postings of a shipped article's
	// document (terms and tf are then nil), num its number there.
	frozen *frozenTerms
	num    int
}

func analyseDoc(id string, fields map[string][]string) *termDoc {
	d := &termDoc{id: id, terms: make([][]string, len(Fields)), tf: make([][]uint32, len(Fields)), length: make([]int, len(Fields))}
	for i, f := range Fields {
		var all []string
		for _, v := range fields[f.Name] {
			all = append(all, analyse(f.Analyzer, v)...)
		}
		d.length[i] = len(all)
		sort.Strings(all)
		for j, t := range all {
			if j > 0 && t == all[j-1] {
				d.tf[i][len(d.tf[i])-1]++
				continue
			}
			d.terms[i] = append(d.terms[i], t)
			d.tf[i] = append(d.tf[i], 1)
		}
	}
	return d
}

// termPosting is one document holding a term, and how often.
type termPosting struct {
	doc *termDoc
	tf  uint32
}

// termIndex is the postings of every field: field → term → documents.
type termIndex struct {
	docs  map[string]*termDoc
	post  []map[string][]termPosting
	slots []*termDoc // by termDoc.slot; nil where a document was removed
	free  []int      // slots to reuse
	// frozen holds the postings of the documents in frozenDocs (by their
	// number; nil once removed), the shipped articles.
	frozen     *frozenTerms
	frozenDocs []*termDoc
}

func newTermIndex() *termIndex {
	t := &termIndex{docs: map[string]*termDoc{}, post: make([]map[string][]termPosting, len(Fields))}
	for i := range t.post {
		t.post[i] = map[string][]termPosting{}
	}
	return t
}

func (t *termIndex) add(d *termDoc) {
	if n := len(t.free); n > 0 {
		d.slot, t.free = t.free[n-1], t.free[:n-1]
		t.slots[d.slot] = d
	} else {
		d.slot = len(t.slots)
		t.slots = append(t.slots, d)
	}
	t.docs[d.id] = d
	if d.frozen != nil {
		// One frozen table per index: the shipped articles'.
		t.frozen = d.frozen
		if d.num >= len(t.frozenDocs) {
			t.frozenDocs = append(t.frozenDocs, make([]*termDoc, d.num+1-len(t.frozenDocs))...)
		}
		t.frozenDocs[d.num] = d
		return
	}
	for f, terms := range d.terms {
		for j, term := range terms {
			t.post[f][term] = append(t.post[f][term], termPosting{d, d.tf[f][j]})
		}
	}
}

// postings lists the documents holding term in field f.
func (t *termIndex) postings(f int, term string) []termPosting {
	ps := t.post[f][term]
	fp := t.frozen.find(f, term)
	if len(fp) == 0 {
		return ps
	}
	out := make([]termPosting, 0, len(ps)+len(fp)/8)
	for i := 0; i < len(fp)/8; i++ {
		if num := int(u32At(fp, 2*i)); num < len(t.frozenDocs) && t.frozenDocs[num] != nil {
			out = append(out, termPosting{t.frozenDocs[num], u32At(fp, 2*i+1)})
		}
	}
	return append(out, ps...)
}

// has reports whether document d holds term in field f.
func (t *termIndex) has(d *termDoc, f int, term string) bool {
	if d.frozen != nil {
		return d.frozen.has(d.num, f, term)
	}
	ts := d.terms[f]
	k := sort.SearchStrings(ts, term)
	return k < len(ts) && ts[k] == term
}

func (t *termIndex) remove(id string) {
	d := t.docs[id]
	if d == nil {
		return
	}
	delete(t.docs, id)
	t.slots[d.slot] = nil
	t.free = append(t.free, d.slot)
	if d.frozen != nil {
		t.frozenDocs[d.num] = nil
	}
	for f, terms := range d.terms {
		for _, term := range terms {
			ps := t.post[f][term]
			out := ps[:0]
			for _, p := range ps {
				if p.doc != d {
					out = append(out, p)
				}
			}
			if len(out) == 0 {
				delete(t.post[f], term)
			} else {
				t.post[f][term] = out
			}
		}
	}
}

// Clause is one term a query asks for in one field, with its weight.
type Clause struct {
	Field string
	Term  string // analysed: as the field's analyzer writes it
	Boost float64
}

// Query is a search as term clauses, any of which may match.
type Query struct {
	Clauses []Clause
}

// ParseQuery turns free text (English, Japanese, a log line, a function or
// module name) into clauses: its English words in the English fields, its
// CJK bigrams and other words in the Japanese ones, each whole word in the
// keyword fields. Japanese kernel terms add their English words, and
// English ones their Japanese (termMap), so a query finds an article
// whatever language it is written in. Only the first 2,000 bytes count.
func ParseQuery(q string) Query {
	q = strings.TrimSpace(q)
	if len(q) > maxQuery {
		q = strings.ToValidUTF8(q[:maxQuery], "") // a rune cut in two is dropped
	}
	var qb queryBuilder
	if q == "" {
		return Query{}
	}
	// The query's own words first, then the other language's words of its
	// kernel terms at half weight: for an article written in both
	// languages they only repeat what the query's own words found.
	toEN, toJA := translateTerms(q)
	n := 0
	addEN := func(text string, weight float64) {
		for _, t := range uniqueTerms(analyse(AnalyzerEnglish, text)) {
			if hasCJK(t) || n >= maxQueryTerms {
				continue // Japanese words are the CJK fields' business
			}
			n++
			qb.add(FieldTitleEN, t, boostTitle*weight)
			qb.add(FieldTextEN, t, boostText*weight)
			qb.add(FieldRules, t, boostText*weight)
		}
	}
	m := 0
	addJA := func(text string, weight float64) {
		for _, t := range uniqueTerms(analyse(AnalyzerCJK, text)) {
			if m >= maxQueryTerms {
				break
			}
			m++
			qb.add(FieldTitleJA, t, boostTitle*weight)
			qb.add(FieldTextJA, t, boostText*weight)
		}
	}
	addEN(q, 1)
	addJA(q, 1)
	addEN(strings.Join(toEN, "\n"), translatedWeight)
	addJA(strings.Join(toJA, "\n"), translatedWeight)
	words := []string{strings.ToLower(q)}
	for _, w := range strings.Fields(q) {
		w = strings.Trim(w, "`'\",;:()[]")
		if w != "" && len(words) < 2*maxQueryWords {
			words = append(words, w, strings.ToLower(w))
		}
	}
	words = append(words, toEN...)
	for _, w := range uniqueTerms(words) {
		for _, f := range []string{FieldFunctions, FieldModules, FieldTypes, FieldTags} {
			qb.add(f, w, boostKeyword)
		}
	}
	return Query{Clauses: qb.clauses}
}

type queryBuilder struct {
	clauses []Clause
	seen    map[[2]string]bool
}

// add adds a clause unless the query already asks for the term in the
// field (with the weight it was first given).
func (qb *queryBuilder) add(field, term string, boost float64) {
	k := [2]string{field, term}
	if qb.seen == nil {
		qb.seen = map[[2]string]bool{}
	}
	if term != "" && !qb.seen[k] {
		qb.seen[k] = true
		qb.clauses = append(qb.clauses, Clause{field, term, boost})
	}
}

func uniqueTerms(ts []string) []string {
	seen := map[string]bool{}
	out := ts[:0:0]
	for _, t := range ts {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

func hasCJK(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) {
			return true
		}
	}
	return false
}

// Hit is one search result.
type Hit struct {
	ID    string  `json:"id"`    // the article's id
	Title string  `json:"title"` // the article's title, in the language asked for
	Lang  string  `json:"lang"`  // the title's language
	Score float64 `json:"score"` // relevance: higher is better, comparable within one search; at least MinScore
	// Terms are the indexed terms the query matched, for showing why.
	Terms []string `json:"terms,omitempty"`
}

// scoreDigits rounds scores, so that sums taken in another order (bleve's)
// give the same number and the same ranking.
const scoreDigits = 1e9

// RoundScore rounds a score as Search does.
func RoundScore(s float64) float64 { return math.Round(s*scoreDigits) / scoreDigits }

// SortHits orders hits best first: by score, then by id.
func SortHits(hits []Hit) {
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].ID < hits[j].ID
	})
}

// score runs a query over every document: bleve's TF-IDF for a
// disjunction of term queries. Each clause scores
//
//	sqrt(tf) × fieldNorm × idf × (boost × idf × queryNorm)
//
// with idf = 1 + ln(docs / (docFreq + 1)), fieldNorm = 1/sqrt(field
// length) kept in float32 as bleve's index keeps it, and queryNorm =
// 1/sqrt(Σ (boost × idf)²) over all clauses; a document's score is the
// sum over the clauses it matches times the share of clauses it matches.
// Terms lists the distinct matched terms.
func (t *termIndex) score(q Query, limit int) []Hit {
	n := float64(len(t.docs))
	if n == 0 || len(q.Clauses) == 0 || limit <= 0 {
		return nil
	}
	idfs := make([]float64, len(q.Clauses))
	fields := make([]int, len(q.Clauses))
	posts := make([][]termPosting, len(q.Clauses))
	var sumSq float64
	for i, c := range q.Clauses {
		f, ok := fieldNumber(c.Field)
		fields[i] = f
		if ok {
			posts[i] = t.postings(f, c.Term)
		} else {
			fields[i] = -1
		}
		idfs[i] = 1 + math.Log(n/float64(len(posts[i])+1))
		w := c.Boost * idfs[i]
		sumSq += w * w
	}
	qnorm := 1 / math.Sqrt(sumSq)
	// Accumulate by document slot: with thousands of articles a map per
	// query costs more than the scoring.
	sums := make([]float64, len(t.slots))
	matched := make([]int32, len(t.slots))
	var touched []int
	for i, c := range q.Clauses {
		f := fields[i]
		if f < 0 {
			continue
		}
		weight := c.Boost * idfs[i] * qnorm
		for _, p := range posts[i] {
			d, tf := p.doc, p.tf
			norm := float64(float32(1 / math.Sqrt(float64(d.length[f]))))
			if matched[d.slot] == 0 {
				touched = append(touched, d.slot)
			}
			sums[d.slot] += math.Sqrt(float64(tf)) * norm * idfs[i] * weight
			matched[d.slot]++
		}
	}
	hits := make([]Hit, 0, len(touched))
	total := float64(len(q.Clauses))
	for _, slot := range touched {
		hits = append(hits, Hit{ID: t.slots[slot].id, Score: RoundScore(sums[slot] * float64(matched[slot]) / total)})
	}
	SortHits(hits)
	if len(hits) > limit {
		hits = hits[:limit]
	}
	// The matched terms, for the hits returned only.
	for i := range hits {
		d := t.docs[hits[i].ID]
		var terms []string
		for j, c := range q.Clauses {
			if f := fields[j]; f >= 0 && t.has(d, f, c.Term) {
				terms = append(terms, c.Term)
			}
		}
		hits[i].Terms = MatchedTerms(terms)
	}
	return hits
}

// MatchedTerms lists the distinct terms of a hit, sorted, a term in two
// cases once, leaving out numbers and one- and two-letter terms, which
// explain nothing.
func MatchedTerms(terms []string) []string {
	terms = append([]string(nil), terms...)
	sort.Strings(terms)
	seen := map[string]bool{}
	var out []string
	for _, t := range terms {
		k := strings.ToLower(t)
		if seen[k] || len([]rune(t)) < 2 || !hasCJK(t) && len(t) < 3 || strings.Trim(t, "0123456789") == "" {
			continue
		}
		seen[k] = true
		out = append(out, t)
	}
	return out
}

// Search runs a free-text query (English, Japanese, a log line, a function
// or module name; see ParseQuery) and returns the n best hits scoring at
// least MinScore, their titles in language lang. Cost: proportional to the
// postings of the query's terms, well under a millisecond for the shipped
// articles.
func (ix *Index) Search(q string, n int, lang string) []Hit {
	if n <= 0 {
		return nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	hits := ix.terms.score(ParseQuery(q), n)
	out := hits[:0]
	for _, h := range hits {
		if h.Score < MinScore || len(out) == n {
			break
		}
		out = append(out, ix.localize(h, lang))
	}
	return out
}

// Localize fills hits' titles from their articles in language lang and
// drops the hits whose article is no longer in the index.
func (ix *Index) Localize(hits []Hit, lang string) []Hit {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := hits[:0]
	for _, h := range hits {
		if _, ok := ix.articles[h.ID]; ok {
			out = append(out, ix.localize(h, lang))
		}
	}
	return out
}

// localize fills a hit's title; the caller holds the lock.
func (ix *Index) localize(h Hit, lang string) Hit {
	if a := ix.articles[h.ID]; a != nil {
		t := a.Text(lang)
		h.Title, h.Lang = t.Title, t.Lang
	}
	return h
}
