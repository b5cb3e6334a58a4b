package kb

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/vmcore/vmcore/analysis"
)

// Votes are what engineers said about one article for one signature.
type Votes struct {
	Confirmed int `json:"confirmed"` // times engineers said the article is the answer
	Rejected  int `json:"rejected"`  // times they said it is not
}

// Feedback gives the confirmations and rejections articles received for a
// crash signature. The API keeps them in its database; kb only reads them
// at match time, so it needs no storage of its own.
type Feedback interface {
	// Votes returns, for one signature, each voted article's votes (nil
	// or empty when there are none).
	Votes(signature string) map[string]Votes
}

// FeedbackMap is a Feedback held in memory: signature → article id → votes.
type FeedbackMap map[string]map[string]Votes

// Votes implements Feedback.
func (m FeedbackMap) Votes(signature string) map[string]Votes { return m[signature] }

// Defaults of a Matcher.
const (
	DefaultMaxSuggestions = 5
	DefaultMinConfidence  = 0.1
)

// Matcher matches crashes against an Index and explains each suggestion.
//
// Candidates are the articles whose rules' anchor words occur in the crash
// (its titles, call-trace functions, log lines, modules), whose key type,
// taint, in-module or findings criterion the crash meets, that the text search
// finds, or that engineers voted on for this signature. Each candidate's
// rules are then checked; every criterion that holds adds its weight
// (title 4, frames 3, log 3, type 2, in-module and modules 1.5, taint 1;
// a findings rule its strongest finding's: deadlock 4, slab 2, the others
// 3) and one line of evidence. A findings rule the dump's sections could
// not decide (a log alone) is left out of the total. An article is suggested only when one of its
// key criteria holds (see Rules) and all it requires do. Its confidence is
//
//	(1 − e^(−(matched + extra)/4)) × (0.6 + 0.4 × matched/total)
//
// where matched is the weight of what held, total the weight of all its
// criteria, and extra the text-search similarity (up to 0.5), a named
// module in the call trace (1.5) and an affected kernel version (0.5): the
// first factor rewards strong evidence but saturates, so many weak matches
// never beat a strong one; the second prefers articles whose rules all
// hold. A kernel that has the fix or is outside the affected ranges halves
// it. Votes then move it: each net confirmation keeps 0.6 of the doubt,
// each net rejection keeps half the confidence. An article found only by
// the text search, naming the crashing function, gets at most 0.3.
//
// The zero Max and MinConfidence mean DefaultMaxSuggestions and
// DefaultMinConfidence; a nil Feedback means no votes.
type Matcher struct {
	Index         *Index   // the articles; required
	Feedback      Feedback // votes by signature; may be nil
	Max           int      // suggestions returned at most
	MinConfidence float64  // suggestions below this are dropped
	// Lang is the language of the suggestions' titles ("en" or "ja";
	// DefaultLang when empty or when an article lacks it).
	Lang string
}

// critWeight is how much a match of a criterion says about an article.
// A title or frame sequence names the failure; a log line nearly does; a
// type, module or taint only narrows it down.
func critWeight(crit string) float64 {
	switch crit {
	case critTitle:
		return 4
	case critFrames, critLog:
		return 3
	case critType:
		return 2
	case critInModule, critModules:
		return 1.5
	case critTaint:
		return 1
	}
	return 0
}

// Scoring constants (see Matcher). saturation is the matched weight at
// which the evidence factor reaches 63%: a title alone gives 0.63, a title
// and a log line 0.83, title, type and log 0.89.
const (
	saturation       = 4.0
	textWeight       = 0.5
	versionBonus     = 0.5
	moduleInTrace    = 1.5
	unaffectedFactor = 0.5
	confirmFactor    = 0.6 // each net confirmation keeps this share of the doubt
	rejectFactor     = 0.5 // each net rejection keeps this share of the confidence
	textOnlyFactor   = 0.3 // a text-search hit with no rule matched
	genericFactor    = 0.6 // a generic article next to a specific one
	textCandidates   = 10
	maxEvidence      = 12
)

// Match returns the articles matching an analysed crash, best first, at
// most m.Max of them with a confidence of at least m.MinConfidence; the
// error says only that the Matcher has no index. Cost: one text search
// plus the rules of the candidate articles, a few milliseconds per crash
// with ten thousand articles indexed (BenchmarkMatch10k); logs are read
// only up to MaxLogBytes.
func (m *Matcher) Match(a *analysis.Document) ([]analysis.Suggestion, error) {
	if a == nil {
		return []analysis.Suggestion{}, nil
	}
	return m.match(gatherFacts(a))
}

// MatchLog matches a kernel log alone (see LogAnalysis) like Match.
func (m *Matcher) MatchLog(text string) ([]analysis.Suggestion, error) {
	return m.Match(LogAnalysis(text))
}

// candidate is an article some part of the crash pointed at.
type candidate struct {
	art      *Article
	logLines [][]int32 // per log pattern: the lines holding its anchor
	// titlePats and framePats mark the patterns whose anchor the crash
	// has; nil when none has.
	titlePats, framePats []bool
	text                 float64 // text-search score relative to the best hit, 0..1
	terms                []string
	votes                Votes
	voted                bool
}

// scored is a candidate that made a suggestion.
type scored struct {
	s      analysis.Suggestion
	weight float64
	// generic and byRules say whether the article is a generic one and
	// whether its own rules (not the text search or votes) suggested it.
	generic, byRules bool
}

func (m *Matcher) match(f *facts) ([]analysis.Suggestion, error) {
	ix := m.Index
	if ix == nil {
		return []analysis.Suggestion{}, fmt.Errorf("matching: no index")
	}
	// The text search runs outside the lock: bleve has its own.
	words := queryWords(f.query)
	hits := ix.searchText(textQuery(f, words), f.guilty, textCandidates)
	var votes map[string]Votes
	if m.Feedback != nil {
		votes = m.Feedback.Votes(f.sig)
	}

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	cands := map[*Article]*candidate{}
	get := func(a *Article) *candidate {
		c := cands[a]
		if c == nil {
			c = &candidate{art: a}
			cands[a] = c
		}
		return c
	}
	rs := ix.rules
	touch := func(p posting) { get(p.art) }
	// Title and frame patterns whose anchor the crash has: only those are
	// run (the others cannot match).
	titleHit := func(p posting) {
		c := get(p.art)
		if c.titlePats == nil {
			c.titlePats = make([]bool, len(p.art.compiled.title))
		}
		c.titlePats[p.pat] = true
	}
	frameHit := func(p posting) {
		c := get(p.art)
		if c.framePats == nil {
			c.framePats = make([]bool, len(p.art.compiled.frames))
		}
		c.framePats[p.pat] = true
	}
	var buf []byte
	for _, t := range f.titles {
		buf = forEachWord(t, buf, func(w string) { rs.title.lookup(w, titleHit) })
	}
	for _, p := range rs.title.always {
		titleHit(p)
	}
	seenFn := map[string]bool{}
	for _, t := range f.traces {
		for _, fn := range t.funcs {
			if !seenFn[fn] {
				seenFn[fn] = true
				buf = forEachWord(fn, buf, func(w string) { rs.frames.lookup(w, frameHit) })
			}
		}
	}
	for _, p := range rs.frames.always {
		frameHit(p)
	}
	for w, lines := range f.words {
		rs.log.lookup(w, func(p posting) {
			c := get(p.art)
			if c.logLines == nil {
				c.logLines = make([][]int32, len(p.art.compiled.log))
			}
			c.logLines[p.pat] = append(c.logLines[p.pat], lines...)
		})
	}
	for _, a := range rs.byType[f.typ] {
		get(a)
	}
	for _, mf := range f.mods {
		buf = forEachWord(mf.name, buf, func(w string) { rs.modules.lookup(w, touch) })
	}
	for _, p := range rs.modules.always {
		get(p.art)
	}
	for _, l := range f.taint {
		for _, a := range rs.byTaint[l] {
			get(a)
		}
	}
	for _, i := range f.findings.present() {
		for _, a := range rs.byFinding[i] {
			get(a)
		}
	}
	if f.guiltyMod != "" {
		for _, a := range rs.inModule {
			get(a)
		}
	}
	top := 0.0
	for _, h := range hits {
		top = math.Max(top, h.Score)
	}
	for _, h := range hits {
		if a := ix.articles[h.ID]; a != nil && top > 0 {
			c := get(a)
			c.text, c.terms = h.Score/top, textTerms(a, words)
		}
	}
	for id, v := range votes {
		if a := ix.articles[id]; a != nil {
			c := get(a)
			c.votes, c.voted = v, true
		}
	}

	var out []scored
	for _, c := range cands {
		if s, ok := m.score(f, c, false); ok {
			out = append(out, s)
		}
	}
	if len(out) == 0 && f.noReport {
		for _, c := range cands {
			if s, ok := m.score(f, c, true); ok {
				out = append(out, s)
			}
		}
	}
	demoteGeneric(out)
	sort.Slice(out, func(i, j int) bool {
		if out[i].s.Confidence != out[j].s.Confidence {
			return out[i].s.Confidence > out[j].s.Confidence
		}
		if out[i].weight != out[j].weight {
			return out[i].weight > out[j].weight
		}
		return out[i].s.ID < out[j].s.ID
	})
	limit := m.Max
	if limit <= 0 {
		limit = DefaultMaxSuggestions
	}
	res := []analysis.Suggestion{}
	for _, s := range out {
		if len(res) == limit {
			break
		}
		res = append(res, s.s)
	}
	return res, nil
}

// commonWord says whether w is in nearly every crash report and many articles: as
// query terms they only cost time (their postings list every article) and
// say nothing about which article fits.
func commonWord(w string) bool {
	switch w {
	case "kernel", "panic", "not", "syncing", "bug", "in", "at", "unable", "to", "handle", "cpu", "pid",
		"info", "task", "oops", "the", "of", "for", "and", "is", "on", "a":
		return true
	}
	return false
}

// queryWords are the distinct, uncommon words of the crash's query text.
func queryWords(q string) []string {
	var out []string
	seen := map[string]bool{}
	var buf []byte
	forEachWord(q, buf, func(w string) {
		if len(w) >= minAnchor && !commonWord(w) && !seen[w] && strings.Trim(w, "0123456789") != "" && len(out) < 24 {
			seen[w] = true
			out = append(out, w)
		}
	})
	return out
}

// textQuery is what matching searches for: the crash's uncommon title,
// function and panic-line words, and for a log without a report, its
// Japanese lines as they are (ParseQuery finds their kernel terms).
func textQuery(f *facts, words []string) string {
	q := strings.Join(words, " ")
	if f.noReport {
		for _, l := range strings.Split(f.query, "\n") {
			if hasCJK(l) {
				q += "\n" + l
			}
		}
	}
	return q
}

// searchText is the text search of matching: the query against the
// articles' titles and text, and the crashing function against the
// function keywords. Hits below MinScore are noise and left out.
func (ix *Index) searchText(text, fn string, n int) []Hit {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	q := ParseQuery(text)
	if fn != "" {
		q.Clauses = append(q.Clauses, Clause{Field: FieldFunctions, Term: baseName(fn), Boost: boostKeyword})
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	hits := ix.terms.score(q, n)
	for i, h := range hits {
		if h.Score < MinScore {
			hits = hits[:i]
			break
		}
	}
	if len(hits) > n {
		hits = hits[:n]
	}
	return hits
}

// textTerms are the query words that are words of an article's text:
// what the evidence can show of why the text search found it.
func textTerms(a *Article, words []string) []string {
	want := map[string]bool{}
	for _, w := range words {
		want[w] = true
	}
	found := map[string]bool{}
	var buf []byte
	for _, t := range a.Texts {
		for _, s := range []string{t.Title, t.Symptoms, t.Cause, t.Resolution, t.Body} {
			buf = forEachWord(s, buf, func(w string) {
				if want[w] {
					found[w] = true
				}
			})
		}
	}
	var out []string
	for _, w := range words {
		if found[w] {
			out = append(out, w)
		}
	}
	return out
}

// score checks every rule of a candidate against the crash. The
// confidence grows with the weight of what matched (saturating, so many
// weak matches never equal a strong one) and with the share of the
// article's own rules that matched; the kernel version and the engineers'
// votes then scale it.
func (m *Matcher) score(f *facts, c *candidate, textOnly bool) (scored, bool) {
	a, cr := c.art, c.art.compiled
	if len(cr.kernel) > 0 && f.haveKernel && !anyRange(cr.kernel, f.kernel) {
		return scored{}, false // the article is about other kernels
	}
	if f.anyMatches(cr.unless, cr.unlessAnchors) {
		return scored{}, false // the crash is what another article is about
	}
	matched := map[string]bool{}
	var ev []string
	var total, weight float64
	crit := func(name string, present bool, evidence ...string) {
		if !present {
			return
		}
		total += critWeight(name)
		if len(evidence) > 0 {
			matched[name] = true
			weight += critWeight(name)
			ev = append(ev, evidence...)
		}
	}
	crit(critTitle, len(cr.title) > 0, matchTitle(f, cr, c.titlePats)...)
	crit(critType, len(cr.types) > 0, matchType(f, cr)...)
	// A frame sequence is matched only when all of it is there in order;
	// part of it still adds its share of the weight, so it supports other
	// criteria without being enough on its own ("panic" alone is in every
	// panic's trace).
	fe, share := matchFrames(f, cr, c.framePats)
	if len(cr.frames) > 0 {
		total += critWeight(critFrames)
		if share > 0 {
			matched[critFrames] = share == 1
			weight += critWeight(critFrames) * share
			ev = append(ev, fe)
		}
	}
	crit(critLog, len(cr.log) > 0, matchLog(f, c)...)
	mev, inTrace := matchModules(f, cr)
	crit(critModules, len(cr.modules) > 0, mev...)
	crit(critInModule, a.Match.InModule, matchInModule(f)...)
	crit(critTaint, a.Match.Taint != "", matchTaint(f, a.Match.Taint)...)
	// A findings rule weighs as much as the strongest finding it names
	// that the dump's sections could decide; undecided, it is left out.
	if fev, fw, ft := matchFindings(f.findings, cr.findings); ft > 0 {
		total += ft
		if len(fev) > 0 {
			matched[critFindings] = true
			weight += fw
			ev = append(ev, fev...)
		}
	}

	keyHit := false
	for k := range cr.keys {
		keyHit = keyHit || matched[k]
	}
	for k := range cr.require {
		if !matched[k] {
			keyHit = false
		}
	}
	var conf float64
	switch {
	case keyHit:
		extra := c.text * textWeight
		if inTrace {
			// A named module in the call trace is as specific as a frame.
			extra += moduleInTrace
		}
		factor := 1.0
		vev, vb, vf := versionEvidence(f, cr)
		ev = append(ev, vev...)
		extra += vb
		factor *= vf
		if c.text > 0 && len(c.terms) > 0 {
			ev = append(ev, textEvidence(c.terms))
		}
		strength := 1 - math.Exp(-(weight+extra)/saturation)
		conf = strength * (0.6 + 0.4*weight/total) * factor
	case c.text >= 0.5 && len(cr.require) == 0 && namesFunction(c.terms, f.guilty):
		// Only the text search found it, and it names the crashing
		// function: a hint, never a strong one. Shared common words
		// ("kernel", "panic") are not enough.
		conf = textOnlyFactor * c.text
		ev = append(ev, fmt.Sprintf("the article's text names the crashing function `%s`", f.guilty))
	case c.text >= 0.5 && len(cr.require) == 0 && textOnly:
		// No report was recognised and no rule matched (a translated
		// or hand-typed report): the text search is all there is, and
		// the evidence says so.
		conf = textOnlyFactor * c.text
		ev = append(ev, "no kernel report was recognised and no rule matched: "+textEvidence(c.terms))
	case c.voted && c.votes.Confirmed > c.votes.Rejected:
		conf = 0 // confirmed for this signature before: the votes below decide
	default:
		return scored{}, false
	}
	if c.voted {
		d := c.votes.Confirmed - c.votes.Rejected
		switch {
		case d > 0:
			conf = 1 - (1-conf)*math.Pow(confirmFactor, float64(d))
		case d < 0:
			conf *= math.Pow(rejectFactor, float64(-d))
		}
		ev = append(ev, fmt.Sprintf("engineers confirmed it %d and rejected it %d times for signature `%s`", c.votes.Confirmed, c.votes.Rejected, f.sig))
	}
	conf = math.Round(conf*1000) / 1000
	floor := m.MinConfidence
	if floor <= 0 {
		floor = DefaultMinConfidence
	}
	if conf < floor {
		return scored{}, false
	}
	if len(ev) > maxEvidence {
		ev = ev[:maxEvidence]
	}
	return scored{s: analysis.Suggestion{ID: a.ID, Title: a.Text(m.Lang).Title, Confidence: conf, Evidence: ev}, weight: weight,
		generic: a.Match.Generic, byRules: keyHit}, true
}

// demoteGeneric scales down the generic articles' confidence when a
// specific article's rules matched the same crash: the WARNING a btrfs
// transaction abort prints is better explained by the btrfs article than
// by the one about warnings in general.
func demoteGeneric(out []scored) {
	specific := false
	for _, s := range out {
		specific = specific || s.byRules && !s.generic
	}
	if !specific {
		return
	}
	for i := range out {
		if out[i].generic {
			out[i].s.Confidence = math.Round(out[i].s.Confidence*genericFactor*1000) / 1000
			out[i].s.Evidence = append(out[i].s.Evidence, "a more specific article matches too: this one is about the whole class of report")
		}
	}
}

func anyRange(rs []versionRange, v Version) bool {
	for _, r := range rs {
		if r.contains(v) {
			return true
		}
	}
	return false
}

// quote puts a crash's text in backquotes for evidence, cut to a
// readable length.
func quote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

func matchTitle(f *facts, cr *compiled, hit []bool) []string {
	for k, re := range cr.title {
		if hit == nil || !hit[k] {
			continue
		}
		for i, t := range f.titles {
			if re.MatchString(t) {
				what := "title"
				switch {
				case i == 0:
					what = "signature"
				case strings.HasPrefix(t, "Kernel panic") || strings.HasPrefix(t, "Oops"):
					what = "panic line"
				}
				return []string{fmt.Sprintf("%s %s matches `%s`", what, quote(t), re.String())}
			}
		}
	}
	return nil
}

func matchType(f *facts, cr *compiled) []string {
	for _, t := range cr.types {
		if t == f.typ {
			return []string{fmt.Sprintf("oops type is %s", t)}
		}
	}
	return nil
}

// matchFrames finds the trace that holds the longest run of the frame
// patterns in order (a longest common subsequence, so a missing frame
// costs only its share) and says which frames matched.
func matchFrames(f *facts, cr *compiled, hitPats []bool) (string, float64) {
	n := len(cr.frames)
	if n == 0 || hitPats == nil {
		return "", 0
	}
	best, bestTrace := 0, -1
	var bestFns []string
	for ti, t := range f.traces {
		m := len(t.funcs)
		if m == 0 {
			continue
		}
		// lcs[i][j]: patterns i.. against frames j..
		lcs := make([][]int, n+1)
		for i := range lcs {
			lcs[i] = make([]int, m+1)
		}
		hit := make([][]bool, n)
		for i := range hit {
			hit[i] = make([]bool, m)
			if !hitPats[i] {
				continue
			}
			for j, fn := range t.funcs {
				hit[i][j] = cr.frames[i].MatchString(fn)
			}
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				switch {
				case hit[i][j]:
					lcs[i][j] = lcs[i+1][j+1] + 1
				case lcs[i+1][j] >= lcs[i][j+1]:
					lcs[i][j] = lcs[i+1][j]
				default:
					lcs[i][j] = lcs[i][j+1]
				}
			}
		}
		if lcs[0][0] <= best {
			continue
		}
		best, bestTrace = lcs[0][0], ti
		bestFns = bestFns[:0]
		for i, j := 0, 0; i < n && j < m; {
			switch {
			case hit[i][j] && lcs[i][j] == lcs[i+1][j+1]+1:
				bestFns = append(bestFns, "`"+t.funcs[j]+"`")
				i, j = i+1, j+1
			case lcs[i+1][j] >= lcs[i][j+1]:
				i++
			default:
				j++
			}
		}
		if best == n {
			break
		}
	}
	if best == 0 {
		return "", 0
	}
	where := f.traces[bestTrace].label
	var s string
	if len(bestFns) == 1 {
		s = fmt.Sprintf("frame %s in %s", bestFns[0], where)
	} else {
		s = fmt.Sprintf("frames %s in order in %s", strings.Join(bestFns, " → "), where)
	}
	if best < n {
		s += fmt.Sprintf(" (%d of %d frame rules)", best, n)
	}
	return s, float64(best) / float64(n)
}

// matchLog tries each log pattern on the lines that hold its anchor.
func matchLog(f *facts, c *candidate) []string {
	var out []string
	for i, re := range c.art.compiled.log {
		if c.logLines == nil || i >= len(c.logLines) {
			break
		}
		for _, ln := range c.logLines[i] {
			if l := f.lines[ln]; re.MatchString(l) {
				out = append(out, "log line "+quote(l))
				break
			}
		}
	}
	return out
}

func matchModules(f *facts, cr *compiled) (ev []string, inTrace bool) {
	var out []string
	for _, re := range cr.modules {
		for _, mf := range f.mods {
			if re.MatchString(mf.name) {
				inTrace = inTrace || mf.where == "in the call trace"
				s := fmt.Sprintf("module `%s` %s", mf.name, mf.where)
				if mf.taints != "" {
					s += fmt.Sprintf(" (taint %s)", mf.taints)
				}
				out = append(out, s)
				break
			}
		}
	}
	return out, inTrace
}

func matchInModule(f *facts) []string {
	if f.guiltyMod == "" {
		return nil
	}
	s := fmt.Sprintf("crashing function `%s` is in module `%s`", f.guilty, f.guiltyMod)
	for _, mf := range f.mods {
		if mf.name == f.guiltyMod && mf.taints != "" {
			s += fmt.Sprintf(" (taint %s)", mf.taints)
			break
		}
	}
	return []string{s}
}

// matchTaint names each wanted letter that is set and, when the crash
// says, the module that set it.
func matchTaint(f *facts, want string) []string {
	var out []string
	for _, l := range want {
		if !strings.ContainsRune(f.taint, l) {
			continue
		}
		var by []string
		for _, mf := range f.mods {
			if strings.ContainsRune(mf.taints, l) && len(by) < 3 {
				by = append(by, "`"+mf.name+"`")
			}
		}
		desc := analysis.TaintDescription(string(l))
		if len(by) > 0 {
			out = append(out, fmt.Sprintf("module %s loaded (taint %c: %s)", strings.Join(by, ", "), l, desc))
		} else {
			out = append(out, fmt.Sprintf("kernel tainted %c: %s", l, desc))
		}
	}
	return out
}

// versionEvidence compares the crashed kernel with the article's affected
// ranges and fixed releases: evidence, extra weight and a factor. The two
// say the same thing in two ways, so they reward or penalise once.
func versionEvidence(f *facts, cr *compiled) (ev []string, bonus, factor float64) {
	if !f.haveKernel || len(cr.fixed) == 0 && len(cr.affected) == 0 {
		return nil, 0, 1
	}
	k := f.kernel
	affected, unaffected := false, false
	if len(cr.fixed) > 0 {
		// The fix for the kernel's own stable branch decides; without one,
		// the earliest fix: a kernel of a later branch has it, an earlier
		// branch may never have got the backport.
		var branch, first *Version
		for i := range cr.fixed {
			v := &cr.fixed[i]
			if v.sameBranch(k) {
				branch = v
			}
			if first == nil || v.Compare(*first) < 0 {
				first = v
			}
		}
		switch {
		case branch != nil && k.Compare(*branch) < 0:
			ev = append(ev, fmt.Sprintf("kernel %s < fixed-in %s", f.kernelText, branch))
			affected = true
		case branch != nil:
			ev = append(ev, fmt.Sprintf("kernel %s ≥ fixed-in %s: this kernel should have the fix", f.kernelText, branch))
			unaffected = true
		case k.Compare(*first) < 0:
			ev = append(ev, fmt.Sprintf("kernel %s predates the fix (fixed-in %s; none listed for %d.%d)", f.kernelText, first, k.Major, k.Minor))
			affected = true
		default:
			ev = append(ev, fmt.Sprintf("kernel %s is newer than fixed-in %s: this kernel should have the fix", f.kernelText, first))
			unaffected = true
		}
	}
	if len(cr.affected) > 0 {
		in := ""
		for _, r := range cr.affected {
			if r.contains(k) {
				in = r.text
				break
			}
		}
		if in != "" {
			ev = append(ev, fmt.Sprintf("kernel %s in affected range %s", f.kernelText, in))
			affected = true
		} else {
			ev = append(ev, fmt.Sprintf("kernel %s outside the affected ranges", f.kernelText))
			unaffected = true
		}
	}
	switch {
	case unaffected:
		return ev, 0, unaffectedFactor
	case affected:
		return ev, versionBonus, 1
	}
	return ev, 0, 1
}

// namesFunction reports whether the text search matched the crashing
// function's name (the English analyzer may have stemmed its end).
func namesFunction(terms []string, fn string) bool {
	fn = strings.ToLower(baseName(fn))
	if len(fn) < minAnchor {
		return false
	}
	for _, t := range terms {
		if t == fn || len(t) >= len(fn)-3 && strings.HasPrefix(fn, t) {
			return true
		}
	}
	return false
}

func textEvidence(terms []string) string {
	if len(terms) > 6 {
		terms = terms[:6]
	}
	if len(terms) == 0 {
		return "the article's text matches the report"
	}
	return "the article's text shares " + "`" + strings.Join(terms, "`, `") + "` with the report"
}
