package kb

import (
	"context"
	"fmt"
	"math/rand"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/vmcore"
)

// variants makes n articles from the shipped ones, the way a grown
// knowledge base looks: one in eight keeps its model's rules (several
// articles about the same kind of failure, for different products or
// releases), the others name other functions, messages and modules.
// Every variant has its own title and text.
func variants(t testing.TB, n int) []*Article {
	t.Helper()
	base, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	words := strings.Fields("driver firmware queue reset timeout controller adapter storage network " +
		"filesystem journal inode cgroup memory scheduler interrupt device bridge tunnel socket " +
		"buffer descriptor ring completion callback workqueue timer hotplug suspend resume")
	ident := regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]{2,}`)
	var out []*Article
	for i := 0; len(out) < n; i++ {
		m := base[i%len(base)]
		v := *m
		v.src = nil
		v.compiled = nil
		v.ID = fmt.Sprintf("%s-v%05d", m.ID, i)
		w1, w2 := words[r.Intn(len(words))], words[r.Intn(len(words))]
		v.Texts = append([]Text(nil), m.Texts...)
		for k := range v.Texts {
			v.Texts[k].Title = fmt.Sprintf("%s (%s %s, case %d)", m.Texts[k].Title, w1, w2, i)
			v.Texts[k].Body = m.Texts[k].Body + fmt.Sprintf("\nSeen with the %s %s of product %d.\n", w1, w2, i)
		}
		if i%8 != 0 {
			suffix := fmt.Sprintf("_%s%d", w1, i)
			mut := func(l []string) []string {
				out := make([]string, len(l))
				for j, p := range l {
					out[j] = ident.ReplaceAllStringFunc(p, func(s string) string { return s + suffix })
				}
				return out
			}
			v.Match.Title = mut(m.Match.Title)
			v.Match.Frames = mut(m.Match.Frames)
			v.Match.Log = mut(m.Match.Log)
			v.Match.Modules = mut(m.Match.Modules)
		}
		out = append(out, &v)
	}
	return out
}

var bench10k struct {
	once sync.Once
	ix   *Index
	err  error
}

// index10k is built once per test binary: indexing 10,000 articles takes
// several seconds.
func index10k(b testing.TB) *Index {
	bench10k.once.Do(func() {
		ix := NewIndex()
		arts := variants(b, 10000)
		builtin, _ := Builtin()
		arts = append(arts, builtin...)
		bench10k.ix, bench10k.err = ix, ix.Add(arts...)
	})
	if bench10k.err != nil {
		b.Fatal(bench10k.err)
	}
	return bench10k.ix
}

// BenchmarkMatch10k measures Signature plus Match per analysis with 10,000
// articles (and the shipped ones) indexed, over the analyses of every
// corpus dump and of every scenario log (as LogAnalysis builds it), made
// outside the timer. Target: under 20 ms per match.
func BenchmarkMatch10k(b *testing.B) {
	ix := index10k(b)
	var docs []*analysis.Document
	for _, d := range scenarioDumps(b) {
		dump, err := vmcore.Open(d.Files...)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, analyzer.Analyze(context.Background(), dump, analyzer.Options{}))
		dump.Close()
	}
	for _, c := range scenarioLogs(b) {
		docs = append(docs, LogAnalysis(c.text))
	}
	m := &Matcher{Index: ix}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := docs[i%len(docs)]
		_ = Signature(a)
		if _, err := m.Match(a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildShippedIndex measures what the first kb command of a
// process pays: parsing the shipped articles and analysing their text
// into the term index.
func BenchmarkBuildShippedIndex(b *testing.B) {
	for i := 0; i < b.N; i++ {
		arts, err := Builtin()
		if err != nil {
			b.Fatal(err)
		}
		if err := NewIndex().Add(arts...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchHeldOut measures LogAnalysis plus Match per report of the
// held-out set (English and Japanese) against the shipped articles.
func BenchmarkMatchHeldOut(b *testing.B) {
	m := &Matcher{Index: builtinIndex(b)}
	cases := heldoutCases(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.MatchLog(cases[i%len(cases)].text); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearch measures a KB search in kb's term index, English and
// Japanese queries alternating.
func BenchmarkSearch(b *testing.B) {
	ix := builtinIndex(b)
	qs := []string{"soft lockup watchdog", "ソフトロックアップ", "BUG: kernel NULL pointer dereference, address: 0000000000000008", "読み取り専用 ext4"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ix.Search(qs[i%len(qs)], 10, "en")
	}
}

// BenchmarkParseShipped measures parsing the shipped articles alone.
func BenchmarkParseShipped(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Builtin(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadShippedIndex measures what the first kb command of a
// process pays with the embedded snapshot: decoding it, compiling the
// rules and filing the terms.
func BenchmarkLoadShippedIndex(b *testing.B) {
	for i := 0; i < b.N; i++ {
		p, err := snapshotPrepared()
		if err != nil {
			b.Fatal(err)
		}
		if err := NewIndex().Commit(p); err != nil {
			b.Fatal(err)
		}
	}
}
