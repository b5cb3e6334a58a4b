package kb

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseArticle feeds arbitrary files to ParseArticle. Invariants: it
// never panics; an error is a *ParseError naming the file and a line inside
// it; an article it accepts is valid, indexes, and reads back the same
// from its Markdown.
func FuzzParseArticle(f *testing.F) {
	files, _ := filepath.Glob("articles/*.md")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(goodArticle))
	f.Add([]byte("---\nid: x\n---\n"))
	f.Add([]byte("---\n: [\n---\n"))
	f.Add([]byte("---\nid: a\ntitle: t\nlang: en\nsymptoms: s\ncause: c\nresolution: r\nmatch:\n  log: ['(a|b)c{2,}']\n  kernel: ['>=5 <6']\n---\n"))
	ix := NewIndex()
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseArticle("fuzz.md", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is a %T, not a *ParseError", err, err)
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			if pe.File != "fuzz.md" || pe.Line < 0 || pe.Line > lines+1 {
				t.Fatalf("error %q: line %d of a %d-line file", err, pe.Line, lines)
			}
			if a != nil {
				t.Fatal("an article and an error")
			}
			return
		}
		if a.compiled == nil || !idPattern.get().MatchString(a.ID) || len(a.Texts) == 0 {
			t.Fatalf("accepted an invalid article: %+v", a)
		}
		b, err := ParseArticle("again.md", a.Markdown())
		if err != nil || b.ID != a.ID || !reflect.DeepEqual(b.Texts, a.Texts) || !reflect.DeepEqual(b.Match, a.Match) {
			t.Fatalf("Markdown does not read back: %v", err)
		}
		if err := ix.Add(a); err != nil {
			t.Fatalf("a parsed article does not index: %v", err)
		}
		if _, err := (&Matcher{Index: ix}).MatchLog(string(data)); err != nil {
			t.Fatal(err)
		}
		if err := ix.Delete(a.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzSearch runs arbitrary queries: no panic, hits sorted best first,
// none below MinScore, at most the number asked for.
func FuzzSearch(f *testing.F) {
	for _, q := range []string{"soft lockup", "ソフトロックアップ", "BUG: kernel NULL pointer dereference, address: 0000000000000008", "", "\x00\xff", "ｿﾌﾄ"} {
		f.Add(q)
	}
	ix, err := BuiltinIndex()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		hits := ix.Search(q, 5, "ja")
		if len(hits) > 5 {
			t.Fatalf("%d hits", len(hits))
		}
		for i, h := range hits {
			if h.Score < MinScore || i > 0 && h.Score > hits[i-1].Score {
				t.Fatalf("hits %+v", hits)
			}
		}
	})
}
