package kb

import (
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// With thousands of articles, running every article's patterns on every
// log line and frame would cost seconds per crash. Instead each pattern is
// filed under one word that every string it matches must contain (its
// anchor), and a crash only tries the patterns whose anchor appears among
// its words. A word is a run of ASCII letters, digits and '_', compared in
// lower case; the anchor search is a superset filter, the pattern itself
// still decides.

// anchorKind says how an anchor sits in the words of a matching string.
type anchorKind uint8

const (
	wholeWord  anchorKind = iota // the anchor is a whole word
	wordPrefix                   // a word starts with the anchor
	wordSuffix                   // a word ends with the anchor
)

// anchor is one word a pattern's matches contain.
type anchor struct {
	word string
	kind anchorKind
}

// minAnchor is the shortest usable anchor: shorter words are in nearly
// every line and would select every pattern.
const minAnchor = 3

// maxWord bounds the words taken from a crash: longer runs (hex dumps,
// base64) are never an anchor worth indexing.
const maxWord = 64

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// patternAnchors returns anchors such that every match of re contains one
// of them, or nil when there are none (the pattern must then be tried on
// everything).
func patternAnchors(re *syntax.Regexp) []anchor {
	return anchorsIn(re, false, false)
}

// anchorsIn finds anchors of re; closedL and closedR say whether what
// precedes and follows re is known to be a word boundary.
func anchorsIn(re *syntax.Regexp, closedL, closedR bool) []anchor {
	switch re.Op {
	case syntax.OpCapture:
		return anchorsIn(re.Sub[0], closedL, closedR)
	case syntax.OpLiteral:
		if a, ok := literalAnchor(re, closedL, closedR); ok {
			return []anchor{a}
		}
		return nil
	case syntax.OpAlternate:
		var out []anchor
		for _, s := range re.Sub {
			as := anchorsIn(s, closedL, closedR)
			if as == nil {
				return nil // one branch without an anchor: the whole has none
			}
			out = append(out, as...)
		}
		return out
	case syntax.OpPlus:
		return anchorsIn(re.Sub[0], false, false)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return anchorsIn(re.Sub[0], false, false)
		}
		return nil
	case syntax.OpConcat:
		subs := flattenConcat(re.Sub)
		var best []anchor
		bestScore := 0
		for i, s := range subs {
			l := closedL
			if i > 0 {
				l = isBoundary(subs[i-1])
			}
			r := closedR
			if i+1 < len(subs) {
				r = isBoundary(subs[i+1])
			}
			as := anchorsIn(s, l, r)
			if as == nil {
				continue
			}
			if sc := anchorScore(as); sc > bestScore {
				best, bestScore = as, sc
			}
		}
		return best
	}
	return nil
}

// flattenConcat splices captured concatenations into their parent, so
// "(foo) bar" is seen as one run of pieces.
func flattenConcat(subs []*syntax.Regexp) []*syntax.Regexp {
	var out []*syntax.Regexp
	for _, s := range subs {
		for s.Op == syntax.OpCapture {
			s = s.Sub[0]
		}
		if s.Op == syntax.OpConcat {
			out = append(out, flattenConcat(s.Sub)...)
			continue
		}
		out = append(out, s)
	}
	return out
}

// isBoundary reports whether re, next to a literal, ends a word there: a
// line or text edge, \b, or a character that is never a word byte.
func isBoundary(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary:
		return true
	case syntax.OpLiteral:
		// Only the adjacent rune matters, but either end may be adjacent;
		// both must be non-word for the answer to hold on either side.
		if len(re.Rune) == 0 {
			return false
		}
		return !runeIsWord(re.Rune[0]) && !runeIsWord(re.Rune[len(re.Rune)-1])
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if lo <= '9' && hi >= '0' || lo <= 'Z' && hi >= 'A' || lo <= 'z' && hi >= 'a' || lo <= '_' && hi >= '_' {
				return false
			}
		}
		return len(re.Rune) > 0
	case syntax.OpPlus:
		return isBoundary(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min >= 1 && isBoundary(re.Sub[0])
	}
	return false
}

func runeIsWord(r rune) bool { return r < utf8.RuneSelf && isWordByte(byte(r)) }

// literalAnchor picks the best word of a literal: the longest, preferring
// a whole word to a word's start or end.
func literalAnchor(re *syntax.Regexp, closedL, closedR bool) (anchor, bool) {
	s := strings.ToLower(string(re.Rune))
	var best anchor
	bestScore := 0
	wordSpans(s, func(i, j int) {
		l := i > 0 || closedL
		r := j < len(s) || closedR
		if j-i < minAnchor || !(l || r) {
			return
		}
		a := anchor{word: s[i:j]}
		switch {
		case l && r:
			a.kind = wholeWord
		case l:
			a.kind = wordPrefix
		default:
			a.kind = wordSuffix
		}
		if sc := anchorScore([]anchor{a}); sc > bestScore {
			best, bestScore = a, sc
		}
	})
	return best, bestScore > 0
}

// wordSpans calls fn with the bounds [i, j) of each run of word bytes in s.
func wordSpans(s string, fn func(i, j int)) {
	for i := 0; i < len(s); {
		if !isWordByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		fn(i, j)
		i = j
	}
}

// anchorScore rates a set of alternative anchors: long whole words select
// few patterns, a set is as weak as its weakest member.
func anchorScore(as []anchor) int {
	low := 0
	for i, a := range as {
		sc := 2 * len(a.word)
		if a.kind == wholeWord {
			sc += 3
		}
		if i == 0 || sc < low {
			low = sc
		}
	}
	return low
}

// forEachWord calls fn with each word of s (lower-cased into buf, which it
// reuses), skipping words longer than maxWord.
func forEachWord(s string, buf []byte, fn func(w string)) []byte {
	wordSpans(s, func(i, j int) {
		if j-i > maxWord {
			return
		}
		buf = append(buf[:0], s[i:j]...)
		for k, c := range buf {
			if c >= 'A' && c <= 'Z' {
				buf[k] = c + 'a' - 'A'
			}
		}
		fn(string(buf))
	})
	return buf
}

// anchorTable files patterns under their anchors.
type anchorTable struct {
	whole, prefix, suffix map[string][]posting
	always                []posting // patterns without an anchor
}

// posting is one pattern of one article.
type posting struct {
	art *Article
	pat int
}

func newAnchorTable() *anchorTable {
	return &anchorTable{whole: map[string][]posting{}, prefix: map[string][]posting{}, suffix: map[string][]posting{}}
}

func (t *anchorTable) table(k anchorKind) map[string][]posting {
	switch k {
	case wordPrefix:
		return t.prefix
	case wordSuffix:
		return t.suffix
	}
	return t.whole
}

// add files each pattern of an article.
func (t *anchorTable) add(a *Article, anchors [][]anchor) {
	for i, as := range anchors {
		if as == nil {
			t.always = append(t.always, posting{a, i})
			continue
		}
		for _, an := range as {
			m := t.table(an.kind)
			m[an.word] = append(m[an.word], posting{a, i})
		}
	}
}

// remove drops every posting of an article.
func (t *anchorTable) remove(a *Article, anchors [][]anchor) {
	drop := func(ps []posting) []posting {
		out := ps[:0]
		for _, p := range ps {
			if p.art != a {
				out = append(out, p)
			}
		}
		return out
	}
	for _, as := range anchors {
		if as == nil {
			t.always = drop(t.always)
			continue
		}
		for _, an := range as {
			m := t.table(an.kind)
			if ps := drop(m[an.word]); len(ps) == 0 {
				delete(m, an.word)
			} else {
				m[an.word] = ps
			}
		}
	}
}

// lookup calls fn with every posting whose anchor is in word w (lower
// case): w itself, its prefixes and its suffixes. Cost: two map lookups
// per byte of w.
func (t *anchorTable) lookup(w string, fn func(posting)) {
	for _, p := range t.whole[w] {
		fn(p)
	}
	if len(t.prefix) > 0 {
		for n := minAnchor; n <= len(w); n++ {
			for _, p := range t.prefix[w[:n]] {
				fn(p)
			}
		}
	}
	if len(t.suffix) > 0 {
		for n := minAnchor; n <= len(w); n++ {
			for _, p := range t.suffix[w[len(w)-n:]] {
				fn(p)
			}
		}
	}
}
