package fulltext

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2/registry"

	"github.com/vmcore/vmcore/kb"
)

func shippedIndex(t testing.TB) *Index {
	t.Helper()
	ix, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	arts, err := kb.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(arts...); err != nil {
		t.Fatal(err)
	}
	return ix
}

// rankingQueries are what engineers search for: every shipped article's
// title in both languages and the first line of its symptoms, the
// Japanese queries of BENCHMARKS.md, log lines and names.
func rankingQueries(t testing.TB) []string {
	arts, err := kb.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	qs := []string{
		"ソフトロックアップ", "ヌルポインタ参照 ドライバ", "読み取り専用 ext4", "スタックオーバーフロー",
		"ウォッチドッグ ハードロックアップ", "メモリ不足 パニック", "デッドロック", "カーネルパニック VFS",
		"BUG: kernel NULL pointer dereference, address: 0000000000000008",
		"kernel BUG at lib/list_debug.c:62!", "Key was rejected by service", "nf_hook_slow",
		"unregister_netdevice: waiting for eth0 to become free", "printer paper jam", "x",
	}
	for _, a := range arts {
		for _, tx := range a.Texts {
			qs = append(qs, tx.Title)
			first, _, _ := strings.Cut(strings.TrimSpace(tx.Symptoms), "\n")
			qs = append(qs, first)
		}
	}
	return qs
}

// TestSameRankingAsBleve: the command line's search (kb's term index,
// no search engine) and the service's (bleve) give every query the same
// hits, scores and order over the shipped articles.
func TestSameRankingAsBleve(t *testing.T) {
	ix := shippedIndex(t)
	mine := kb.NewIndex()
	arts, _ := kb.Builtin()
	if err := mine.Add(arts...); err != nil {
		t.Fatal(err)
	}
	qs := rankingQueries(t)
	differ := 0
	for _, q := range qs {
		for _, n := range []int{1, 5, 20} {
			want := mine.Search(q, n, "en")
			got, err := ix.Search(q, n, "en")
			if err != nil {
				t.Fatal(err)
			}
			if a, b := describe(want), describe(got); a != b {
				differ++
				t.Errorf("%q (n=%d):\nkb       %s\nfulltext %s", q, n, a, b)
			}
		}
	}
	t.Logf("%d queries ranked alike", len(qs)-differ)
}

func describe(hits []kb.Hit) string {
	var b strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&b, "%s %.9f [%s]; ", h.ID, h.Score, strings.Join(h.Terms, " "))
	}
	return b.String()
}

// TestAddReplaceDelete keeps both indexes in step.
func TestAddReplaceDelete(t *testing.T) {
	ix := shippedIndex(t)
	src := `---
id: zebra-article
links: [https://docs.kernel.org/]
match:
  log: ['zebra message']
en:
  title: A zebra crossed the kernel
  symptoms: zebra
  cause: zebra
  resolution: zebra
---
`
	a, err := kb.ParseArticle("z.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(a); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(a); !errors.Is(err, kb.ErrExists) {
		t.Errorf("added twice: %v", err)
	}
	hits, err := ix.Search("zebra", 5, "ja")
	if err != nil || len(hits) != 1 || hits[0].ID != "zebra-article" || hits[0].Lang != "en" {
		t.Errorf("search: %+v %v", hits, err)
	}
	if err := ix.Delete("zebra-article"); err != nil {
		t.Fatal(err)
	}
	if hits, _ := ix.Search("zebra", 5, "en"); len(hits) != 0 {
		t.Errorf("deleted article found: %+v", hits)
	}
	if _, err := ix.Get("zebra-article"); !errors.Is(err, kb.ErrNotFound) {
		t.Errorf("deleted article still in kb: %v", err)
	}
	if err := ix.Delete("zebra-article"); !errors.Is(err, kb.ErrNotFound) {
		t.Errorf("deleted twice: %v", err)
	}
}

// TestKBLinksNoSearchEngine: the knowledge base the command line links
// must not bring any package of bleve: its index packages build
// Levenshtein automata when the process starts (about 8 ms and 25,000
// allocations), and even its analysis packages register themselves in a
// registry whose imports (search, geo, a JSON library) cost hundreds of
// allocations at every start. kb may use the two standalone libraries
// bleve's analyzers are built on (the Unicode segmenter and the Porter
// stemmer).
func TestKBLinksNoSearchEngine(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/vmcore/vmcore/kb").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{"github.com/blevesearch/segment": true, "github.com/blevesearch/go-porterstemmer": true}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/blevesearch/") && !allowed[p] || strings.HasPrefix(p, "github.com/json-iterator/") {
			t.Errorf("kb links %s", p)
		}
	}
}

// TestAnalyzersAgreeWithBleve: kb's analyzers, which the command line
// uses without linking bleve, give the terms bleve's "en" and "cjk"
// analyzers give, over every field of every shipped article, the ranking
// queries, and the corner cases of each filter.
func TestAnalyzersAgreeWithBleve(t *testing.T) {
	cache := registry.NewCache()
	texts := rankingQueries(t)
	arts, _ := kb.Builtin()
	for _, a := range arts {
		for _, vs := range a.SearchDocument() {
			texts = append(texts, vs...)
		}
	}
	texts = append(texts,
		"the kernel's stack, Linus’s tree, ＡＢＣ＇s", // possessives, full width
		"ｿﾌﾄﾛｯｸｱｯﾌﾟ ｶﾞｷﾞ ﾊﾟﾋﾟ",                    // half-width katakana with sound marks
		"ΟΔΥΣΣΕΥΣ Σ σ",                            // final sigma
		"日本語の文章と English words 123 混在テキスト。次の行",
		"a", "", "   ", "x\u200by", "Ⱥ Ⱦ wider lower case", "it's I'm don't",
	)
	for _, name := range []string{kb.AnalyzerEnglish, kb.AnalyzerCJK} {
		an, err := cache.AnalyzerNamed(name)
		if err != nil {
			t.Fatal(err)
		}
		differ := 0
		for _, text := range texts {
			var want []string
			for _, tok := range an.Analyze([]byte(text)) {
				want = append(want, string(tok.Term))
			}
			got := kb.Analyze(name, text)
			if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
				differ++
				if differ <= 5 {
					t.Errorf("%s analyzer on %.80q:\nkb    %q\nbleve %q", name, text, got, want)
				}
			}
		}
		if differ > 0 {
			t.Errorf("%s: %d of %d texts analysed differently", name, differ, len(texts))
		}
		t.Logf("%s: %d texts analysed alike", name, len(texts)-differ)
	}
}

// FuzzAnalyzersAgree feeds arbitrary text to kb's analyzers and bleve's:
// the terms must be the same, and neither may panic.
func FuzzAnalyzersAgree(f *testing.F) {
	for _, s := range []string{"soft lockup watchdog", "ｿﾌﾄﾛｯｸｱｯﾌﾟ", "日本語の文章", "it's ΟΔΥΣΣΕΥΣ", "ＡＢＣ 123 x\u200by", "\xff\xfe"} {
		f.Add(s)
	}
	cache := registry.NewCache()
	f.Fuzz(func(t *testing.T, text string) {
		for _, name := range []string{kb.AnalyzerEnglish, kb.AnalyzerCJK} {
			an, err := cache.AnalyzerNamed(name)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, tok := range an.Analyze([]byte(text)) {
				want = append(want, string(tok.Term))
			}
			if got := kb.Analyze(name, text); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
				t.Fatalf("%s on %q: kb %q, bleve %q", name, text, got, want)
			}
		}
	})
}
