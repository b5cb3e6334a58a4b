package fulltext

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

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
// must not bring bleve's index packages (their init builds Levenshtein
// automata: about 8 ms and 25,000 allocations at every start) nor bleve's
// top-level package, which imports them.
func TestKBLinksNoSearchEngine(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/vmcore/vmcore/kb").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/blevesearch/bleve/v2" || strings.HasPrefix(p, "github.com/blevesearch/bleve/v2/index/") ||
			strings.HasPrefix(p, "github.com/blevesearch/zapx/") || strings.HasPrefix(p, "github.com/blevesearch/vellum") {
			t.Errorf("kb links %s", p)
		}
	}
}
