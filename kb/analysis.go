package kb

import (
	"bytes"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	porter "github.com/blevesearch/go-porterstemmer"
	uax29 "github.com/blevesearch/segment"
)

// The text analysis of the search, term for term what bleve's "en" and
// "cjk" analyzers produce (kb/fulltext indexes with bleve's own, and
// TestAnalyzersAgreeWithBleve compares them over every shipped article).
// kb does not import bleve's analysis packages: each registers itself in
// bleve's registry, whose imports (search, geo, a JSON library) cost every
// process that links kb several hundred allocations at start-up, and the
// command line links kb.
//
// Both analyzers split text into words the way Unicode's word boundaries
// (UAX #29) do, through the segmenter bleve's tokenizer uses.
//
//	en:  words, "'s" dropped, lower case, English stop words dropped,
//	     Porter-stemmed
//	cjk: words, full-width ASCII and half-width katakana normalised, lower
//	     case, runs of CJK characters cut into overlapping pairs (a lone
//	     one kept alone)

// Analyze returns the terms text gives under analyzer (AnalyzerEnglish,
// AnalyzerCJK, AnalyzerKeyword), in order: what the search indexes and
// queries.
func Analyze(analyzer, text string) []string {
	switch analyzer {
	case AnalyzerEnglish:
		return analyseEnglish(text)
	case AnalyzerCJK:
		return analyseCJK(text)
	}
	return []string{text}
}

// word is one token of the segmenter: its bytes, where it starts and ends
// in the text, and whether it is CJK (ideographic or kana).
type word struct {
	term       []byte
	start, end int
	cjk        bool
}

// words splits text at Unicode word boundaries, leaving out the pieces
// that are not words (spaces, punctuation).
func words(text []byte) []word {
	var out []word
	seg := uax29.NewWordSegmenterDirect(text)
	start := 0
	for seg.Segment() {
		b := seg.Bytes()
		end := start + len(b)
		if t := seg.Type(); t != uax29.None {
			out = append(out, word{term: b, start: start, end: end, cjk: t == uax29.Ideo || t == uax29.Kana})
		}
		start = end
	}
	return out
}

func analyseEnglish(text string) []string {
	stop := englishStopWords()
	var out []string
	for _, w := range words([]byte(text)) {
		t := lowerCase(dropPossessive(w.term))
		if stop[string(t)] {
			continue
		}
		out = append(out, string(porter.StemWithoutLowerCasing(bytes.Runes(t))))
	}
	return out
}

// dropPossessive removes a trailing 's (with an ASCII, right single or
// full-width apostrophe).
func dropPossessive(t []byte) []byte {
	last, n := utf8.DecodeLastRune(t)
	if last != 's' && last != 'S' {
		return t
	}
	prev, m := utf8.DecodeLastRune(t[:len(t)-n])
	if prev == '\'' || prev == '\u2019' || prev == '\uff07' {
		return t[:len(t)-n-m]
	}
	return t
}

// lowerCase lowers each rune, a capital sigma at the end of a word
// becoming a final sigma; from a rune whose lower case is wider on, it
// lowers the rest as bytes.ToLower does.
func lowerCase(s []byte) []byte {
	ascii, upper := true, false
	for _, c := range s {
		ascii = ascii && c < utf8.RuneSelf
		upper = upper || c >= 'A' && c <= 'Z'
	}
	if ascii && !upper {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		r, wid := utf8.DecodeRune(s[i:])
		l := unicode.ToLower(r)
		if l == r { // unchanged, an invalid byte included
			out = append(out, s[i:i+wid]...)
			i += wid
			continue
		}
		if l == 'σ' && i+2 == len(s) {
			l = 'ς'
		}
		if utf8.RuneLen(l) > wid {
			return append(out, bytes.ToLower(s[i:])...)
		}
		out = utf8.AppendRune(out, l)
		i += wid
	}
	return out
}

func analyseCJK(text string) []string {
	var out []string
	// Runs of CJK characters, adjacent in the text even across words,
	// become overlapping pairs; a run of one character stays alone.
	var prev []byte // the last CJK character of the current run
	prevEnd, inRun, paired := -1, false, false
	flush := func() {
		if inRun && !paired {
			out = append(out, string(prev))
		}
		inRun, paired = false, false
	}
	for _, w := range words([]byte(text)) {
		t := widthNormalise(w.term)
		t = lowerCase(t)
		if !w.cjk {
			flush()
			out = append(out, string(t))
			continue
		}
		// Characters are placed as bleve places them: from the word's
		// start, by the length of each (normalised) character.
		pos := w.start
		for len(t) > 0 {
			r, n := utf8.DecodeRune(t)
			if inRun && pos != prevEnd {
				flush()
			}
			ch := t[:n]
			if inRun {
				out = append(out, string(prev)+string(ch))
				paired = true
			}
			end := pos + utf8.RuneLen(r)
			prev, prevEnd, inRun = ch, end, true
			t, pos = t[n:], end
		}
	}
	flush()
	return out
}

// widthNormalise maps full-width ASCII to ASCII and half-width katakana to
// full-width, folding the half-width voiced sound marks into the kana
// before them.
func widthNormalise(t []byte) []byte {
	// U+FF01..U+FF9F encode as EF BC xx, EF BD xx or EF BE xx. Otherwise
	// the word is unchanged, unless it holds invalid UTF-8, which bleve's
	// filter turns into U+FFFD as it rebuilds the word from its runes.
	if utf8.Valid(t) && !bytes.Contains(t, []byte{0xEF, 0xBC}) && !bytes.Contains(t, []byte{0xEF, 0xBD}) && !bytes.Contains(t, []byte{0xEF, 0xBE}) {
		return t
	}
	runes := bytes.Runes(t)
	for i := 0; i < len(runes); i++ {
		ch := runes[i]
		switch {
		case ch >= 0xFF01 && ch <= 0xFF5E:
			runes[i] -= 0xFEE0
		case ch >= 0xFF65 && ch <= 0xFF9F:
			if (ch == 0xFF9E || ch == 0xFF9F) && i > 0 && combineKana(runes, i, ch) {
				runes = append(runes[:i], runes[i+1:]...)
				i--
			} else {
				runes[i] = rune(kanaNorm[ch-0xFF65])
			}
		}
	}
	return []byte(string(runes))
}

// kanaNorm is the full-width katakana of each half-width one, U+FF65 on.
var kanaNorm = [...]uint16{
	0x30fb, 0x30f2, 0x30a1, 0x30a3, 0x30a5, 0x30a7, 0x30a9, 0x30e3, 0x30e5,
	0x30e7, 0x30c3, 0x30fc, 0x30a2, 0x30a4, 0x30a6, 0x30a8, 0x30aa, 0x30ab,
	0x30ad, 0x30af, 0x30b1, 0x30b3, 0x30b5, 0x30b7, 0x30b9, 0x30bb, 0x30bd,
	0x30bf, 0x30c1, 0x30c4, 0x30c6, 0x30c8, 0x30ca, 0x30cb, 0x30cc, 0x30cd,
	0x30ce, 0x30cf, 0x30d2, 0x30d5, 0x30d8, 0x30db, 0x30de, 0x30df, 0x30e0,
	0x30e1, 0x30e2, 0x30e4, 0x30e6, 0x30e8, 0x30e9, 0x30ea, 0x30eb, 0x30ec,
	0x30ed, 0x30ef, 0x30f3, 0x3099, 0x309A,
}

// kanaVoiced and kanaHalfVoiced say how far a katakana (from U+30A6) moves
// when a voiced or half-voiced sound mark follows it.
var kanaVoiced = [...]uint8{
	78, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
	0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1,
	0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 8, 8, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
}

var kanaHalfVoiced = [...]uint8{
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 2, 0, 0, 2,
	0, 0, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
}

// combineKana folds a half-width sound mark into the katakana before it,
// reporting whether it did.
func combineKana(text []rune, pos int, r rune) bool {
	prev := text[pos-1]
	if prev < 0x30A6 || prev > 0x30FD {
		return false
	}
	if r == 0xFF9F {
		text[pos-1] += rune(kanaHalfVoiced[prev-0x30A6])
	} else {
		text[pos-1] += rune(kanaVoiced[prev-0x30A6])
	}
	return text[pos-1] != prev
}

// englishStopWordList is Snowball's English stop word list
// (snowball.tartarus.org, BSD licence), the one bleve's "en" analyzer
// drops.
const englishStopWordList = `a about above after again against all am an and any are aren't as at be
because been before being below between both but by can't cannot could couldn't did didn't do does
doesn't doing don't down during each few for from further had hadn't has hasn't have haven't having
he he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in
into is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only
or other ought our ours ourselves out over own same shan't she she'd she'll she's should shouldn't so
some such than that that's the their theirs them themselves then there there's these they they'd
they'll they're they've this those through to too under until up very was wasn't we we'd we'll we're
we've were weren't what what's when when's where where's which while who who's whom why why's with
won't would wouldn't you you'd you'll you're you've your yours yourself yourselves`

// englishStopWords is the list as a set, built on first use.
var englishStopWords = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(englishStopWordList) {
		m[w] = true
	}
	return m
})
