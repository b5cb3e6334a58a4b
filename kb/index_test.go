package kb

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// newTestIndex is an in-memory index of the shipped articles that the test
// may change (BuiltinIndex is shared).
func newTestIndex(t *testing.T) *Index {
	t.Helper()
	ix, err := NewIndex()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	arts, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(arts...); err != nil {
		t.Fatal(err)
	}
	return ix
}

// snapshot is what an index answers, to compare before and after a change
// that must not happen.
func snapshot(t *testing.T, ix *Index) []string {
	t.Helper()
	var out []string
	for _, a := range ix.Articles() {
		out = append(out, a.ID+"|"+a.Title)
	}
	for _, q := range []string{"test message", "kernel BUG", "soft lockup", "メモリ"} {
		hits, err := ix.Search(q, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
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
	hits, _ := ix.Search("test_function", 3)
	if len(hits) == 0 || hits[0].ID != "test-article" {
		t.Errorf("search for a frame keyword: %+v", hits)
	}
	if err := ix.Add(a); !errors.Is(err, ErrExists) {
		t.Errorf("adding twice: %v", err)
	}

	// Replace: the new title is what search finds, the old one is gone.
	b := *a
	b.src, b.compiled = nil, nil
	b.Title = "A renamed zebra article"
	if err := ix.Replace(&b); err != nil {
		t.Fatal(err)
	}
	if hits, _ := ix.Search("zebra", 3); len(hits) != 1 || hits[0].ID != "test-article" {
		t.Errorf("search after replace: %+v", hits)
	}
	if got, _ := ix.Get("test-article"); got.Title != b.Title {
		t.Errorf("Get after replace: %q", got.Title)
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
	if hits, _ := ix.Search("zebra", 3); len(hits) != 0 {
		t.Errorf("search after delete: %+v", hits)
	}
	for _, s := range snapshot(t, ix) {
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
	before := snapshot(t, ix)

	// A file with broken front matter never becomes an article; the error
	// names the file line.
	broken := strings.Replace(goodArticle, "lang: en", "lang en: [", 1)
	if _, err := ParseArticle("articles/broken.md", []byte(broken)); err == nil || !strings.Contains(err.Error(), "articles/broken.md:4:") {
		t.Errorf("broken front matter: %v", err)
	}
	// An article built in Go with a bad pattern, alone and in a batch with
	// a good one: neither is added.
	good, _ := ParseArticle("good.md", []byte(goodArticle))
	bad := &Article{ID: "bad-article", Title: "t", Lang: "en", Symptoms: "s", Cause: "c", Resolution: "r",
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
	if after := snapshot(t, ix); !reflect.DeepEqual(before, after) {
		t.Errorf("index changed by failed adds:\nbefore %v\nafter  %v", before, after)
	}
}

// TestIndexOnDisk writes an index to a directory, closes it, and checks
// that the reopened index has the articles, their rules and their text.
func TestIndexOnDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kb.bleve")
	ix, err := OpenIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	arts, _ := Builtin()
	if err := ix.Add(arts[:10]...); err != nil {
		t.Fatal(err)
	}
	a, _ := ParseArticle("test.md", []byte(goodArticle))
	if err := ix.Add(a); err != nil {
		t.Fatal(err)
	}
	if err := ix.Delete(arts[0].ID); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, ix)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix, err = OpenIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	defer func(w time.Duration) { lockWait = w }(lockWait)
	lockWait = 100 * time.Millisecond
	if second, err := OpenIndex(dir); err == nil {
		second.Close()
		t.Error("a directory opened twice")
	}
	if ix.Len() != 10 {
		t.Errorf("reopened index has %d articles, want 10", ix.Len())
	}
	if got, err := ix.Get("test-article"); err != nil || string(got.Markdown()) != goodArticle {
		t.Errorf("reopened article: %v", err)
	}
	if after := snapshot(t, ix); !reflect.DeepEqual(before, after) {
		t.Errorf("reopened index answers differently:\nbefore %v\nafter  %v", before, after)
	}
	found := false
	for _, s := range before {
		found = found || s == "match→test-article"
	}
	if !found {
		t.Errorf("the test article's rules did not match: %v", before)
	}
}

// TestSearchLanguages: a Japanese query finds the Japanese article, an
// English query English ones, a log line the article about it.
func TestSearchLanguages(t *testing.T) {
	ix := builtinIndex(t)
	for _, c := range []struct {
		q, want, lang string
	}{
		{"メモリ不足", "oom-panic-on-oom", "ja"},
		{"ハングタスク パニック", "hung-task-panic", "ja"},
		{"ルートファイルシステムをマウントできない", "vfs-unable-to-mount-root", "ja"},
		{"マシンチェック", "mce-hardware-error", "ja"},
		{"署名のないモジュール", "module-unsigned-taint", "ja"},
		{"soft lockup watchdog", "soft-lockup", "en"},
		{"stack protector canary", "stack-protector", "en"},
		{"Key was rejected by service", "module-signature-rejected", "en"},
		{"nf_hook_slow", "nf-tables-verdict-double-free", "en"},
		{"kdump test crash sysrq", "sysrq-trigger-crash", "en"},
	} {
		hits, err := ix.Search(c.q, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) == 0 || hits[0].ID != c.want {
			t.Errorf("%q: hits %+v, want %s first", c.q, hits, c.want)
			continue
		}
		if hits[0].Lang != c.lang {
			t.Errorf("%q: first hit in %s", c.q, hits[0].Lang)
		}
		if c.lang == "en" {
			// An English query is about English prose; a Japanese article may
			// follow on shared technical words, never lead.
			if hits[0].Lang != "en" {
				t.Errorf("%q: English query led by a %s article", c.q, hits[0].Lang)
			}
		}
		if len(hits[0].Terms) == 0 {
			t.Errorf("%q: hit without matched terms", c.q)
		}
	}
	if hits, err := ix.Search("", 5); err != nil || len(hits) != 0 {
		t.Errorf("empty query: %v %v", hits, err)
	}
	if _, err := ix.Search(strings.Repeat("x ", 100000), 5); err != nil {
		t.Errorf("huge query: %v", err)
	}
}
