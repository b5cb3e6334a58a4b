package kb

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// newTestIndex is an in-memory index of the shipped articles that the test
// may change (BuiltinIndex is shared).
func newTestIndex(t *testing.T) *Index {
	t.Helper()
	ix := NewIndex()
	arts, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(arts...); err != nil {
		t.Fatal(err)
	}
	return ix
}

// indexAnswers is what an index answers, to compare before and after a change
// that must not happen.
func indexAnswers(t *testing.T, ix *Index) []string {
	t.Helper()
	var out []string
	for _, a := range ix.Articles() {
		out = append(out, a.ID+"|"+a.Text("en").Title+"|"+a.Text("ja").Title)
	}
	for _, q := range []string{"test message", "kernel BUG", "soft lockup", "メモリ"} {
		for _, h := range ix.Search(q, 50, "en") {
			out = append(out, q+"→"+h.ID)
		}
	}
	m := &Matcher{Index: ix}
	got, err := m.MatchLog("[ 1.0] kernel BUG at fs/test.c:12!\n[ 1.0] invalid opcode: 0000 [#1] SMP\n[ 1.0] RIP: 0010:test_function+0x1/0x2\n[ 1.0] test message number 7\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range got {
		out = append(out, "match→"+s.ID)
	}
	return out
}

func TestIndexAddReplaceDelete(t *testing.T) {
	ix := newTestIndex(t)
	n := ix.Len()
	a, err := ParseArticle("test.md", []byte(goodArticle))
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(a); err != nil {
		t.Fatal(err)
	}
	if ix.Len() != n+1 {
		t.Errorf("Len %d after adding to %d", ix.Len(), n)
	}
	if got, err := ix.Get("test-article"); err != nil || got != a {
		t.Errorf("Get: %v", err)
	}
	hits := ix.Search("test_function", 3, "en")
	if len(hits) == 0 || hits[0].ID != "test-article" {
		t.Errorf("search for a frame keyword: %+v", hits)
	}
	if err := ix.Add(a); !errors.Is(err, ErrExists) {
		t.Errorf("adding twice: %v", err)
	}

	// Replace: the new title is what search finds, the old one is gone.
	b := *a
	b.src, b.compiled = nil, nil
	b.Texts = []Text{a.Texts[0]}
	b.Texts[0].Title = "A renamed zebra article"
	if err := ix.Replace(&b); err != nil {
		t.Fatal(err)
	}
	if hits := ix.Search("zebra", 3, "en"); len(hits) != 1 || hits[0].ID != "test-article" {
		t.Errorf("search after replace: %+v", hits)
	}
	if got, _ := ix.Get("test-article"); got.Text("en").Title != b.Texts[0].Title {
		t.Errorf("Get after replace: %q", got.Text("en").Title)
	}
	missing := b
	missing.ID = "no-such-article"
	if err := ix.Replace(&missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("replacing a missing article: %v", err)
	}

	if err := ix.Delete("test-article"); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Get("test-article"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after delete: %v", err)
	}
	if hits := ix.Search("zebra", 3, "en"); len(hits) != 0 {
		t.Errorf("search after delete: %+v", hits)
	}
	for _, s := range indexAnswers(t, ix) {
		if strings.Contains(s, "test-article") {
			t.Errorf("deleted article still answers: %s", s)
		}
	}
	if err := ix.Delete("test-article"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
}

// TestBrokenArticleLeavesIndexUnchanged adds broken articles every way
// they can arrive and checks that the index answers exactly as before.
func TestBrokenArticleLeavesIndexUnchanged(t *testing.T) {
	ix := newTestIndex(t)
	before := indexAnswers(t, ix)

	// A file with broken front matter never becomes an article; the error
	// names the file line.
	broken := strings.Replace(goodArticle, "lang: en", "lang en: [", 1)
	if _, err := ParseArticle("articles/broken.md", []byte(broken)); err == nil || !strings.Contains(err.Error(), "articles/broken.md:4:") {
		t.Errorf("broken front matter: %v", err)
	}
	// An article built in Go with a bad pattern, alone and in a batch with
	// a good one: neither is added.
	good, _ := ParseArticle("good.md", []byte(goodArticle))
	bad := &Article{ID: "bad-article", Texts: []Text{{Lang: "en", Title: "t", Symptoms: "s", Cause: "c", Resolution: "r"}},
		Match: Rules{Log: []string{"unclosed (group"}}}
	if err := ix.Add(bad); err == nil {
		t.Error("an article with a bad regexp was added")
	}
	if err := ix.Add(good, bad); err == nil {
		t.Error("a batch with a bad article was added")
	}
	// A batch that repeats an id, or takes an existing one.
	if err := ix.Add(good, good); !errors.Is(err, ErrExists) {
		t.Errorf("batch with a repeated id: %v", err)
	}
	dup, _ := ParseArticle("dup.md", []byte(strings.Replace(goodArticle, "id: test-article", "id: soft-lockup", 1)))
	if err := ix.Add(good, dup); !errors.Is(err, ErrExists) {
		t.Errorf("batch with an existing id: %v", err)
	}
	if err := ix.Add(nil); err == nil {
		t.Error("nil article added")
	}
	if after := indexAnswers(t, ix); !reflect.DeepEqual(before, after) {
		t.Errorf("index changed by failed adds:\nbefore %v\nafter  %v", before, after)
	}
}

// TestSearchLanguages: a query in either language finds the article
// whatever language it is written in, and shows it in the language asked
// for; a log line finds the article about it.
func TestSearchLanguages(t *testing.T) {
	ix := builtinIndex(t)
	for _, c := range []struct {
		q, want string
	}{
		{"メモリ不足", "oom-panic-on-oom"},
		{"ハングタスク パニック", "hung-task-panic"},
		{"ルートファイルシステムをマウントできない", "vfs-unable-to-mount-root"},
		{"マシンチェック", "mce-hardware-error"},
		{"署名のないモジュール", "module-unsigned-taint"},
		{"ソフトロックアップ", "soft-lockup"},
		{"soft lockup watchdog", "soft-lockup"},
		{"stack protector canary", "stack-protector"},
		{"Key was rejected by service", "module-signature-rejected"},
		{"nf_hook_slow", "nf-tables-verdict-double-free"},
		{"kdump test crash sysrq", "sysrq-trigger-crash"},
	} {
		for _, lang := range Languages {
			hits := ix.Search(c.q, 5, lang)
			if len(hits) == 0 || hits[0].ID != c.want {
				t.Errorf("%q: hits %+v, want %s first", c.q, hits, c.want)
				break
			}
			if hits[0].Lang != lang {
				t.Errorf("%q: first hit shown in %s, asked for %s", c.q, hits[0].Lang, lang)
			}
			if len(hits[0].Terms) == 0 {
				t.Errorf("%q: hit without matched terms", c.q)
			}
		}
	}
	if hits := ix.Search("", 5, "en"); len(hits) != 0 {
		t.Errorf("empty query: %v", hits)
	}
	ix.Search(strings.Repeat("x ", 100000), 5, "en")
}

// TestSearchNoNoise: a query that is about no article gets no hit, not
// the five least bad ones.
func TestSearchNoNoise(t *testing.T) {
	ix := builtinIndex(t)
	for _, q := range []string{"printer paper jam", "how do I bake bread", "the", "こんにちは", "東京の天気", "user interface colour"} {
		if hits := ix.Search(q, 5, "en"); len(hits) != 0 {
			t.Errorf("%q: %d hits, the first %s at %.3f; want none", q, len(hits), hits[0].ID, hits[0].Score)
		}
	}
}
