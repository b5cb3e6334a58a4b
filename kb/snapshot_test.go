package kb

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "remake kb/prebuilt.articles and kb/prebuilt.terms from kb/articles")

// TestSnapshot: the embedded snapshot is the one the shipped articles
// make (run with -update after editing an article), and an index loaded
// from it answers as one built by parsing the articles does.
func TestSnapshot(t *testing.T) {
	want, wantTerms, err := makeSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("prebuilt.articles", want, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("prebuilt.terms", wantTerms, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Skip("prebuilt.articles and prebuilt.terms written: rebuild the test to embed them")
	}
	if !bytes.Equal(prebuiltSnapshot, want) || !bytes.Equal(prebuiltTerms, wantTerms) {
		t.Fatal("kb/prebuilt.articles and kb/prebuilt.terms are not the snapshot of kb/articles: run go test ./kb -run TestSnapshot -update")
	}
	p, err := snapshotPrepared()
	if err != nil {
		t.Fatal(err)
	}
	parsed, _, err := parseBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.arts) != len(parsed) {
		t.Fatalf("snapshot has %d articles, the files %d", len(p.arts), len(parsed))
	}
	fromFiles := NewIndex()
	if err := fromFiles.Add(parsed...); err != nil {
		t.Fatal(err)
	}
	fromSnapshot := NewIndex()
	if err := fromSnapshot.Commit(p); err != nil {
		t.Fatal(err)
	}
	for i, a := range parsed {
		b := p.arts[i]
		if a.ID != b.ID || !reflect.DeepEqual(a.Texts, b.Texts) || !reflect.DeepEqual(a.Match, b.Match) ||
			!reflect.DeepEqual(a.Links, b.Links) || !bytes.Equal(a.Markdown(), b.Markdown()) {
			t.Errorf("article %s differs in the snapshot", a.ID)
		}
	}
	for _, q := range []string{"soft lockup", "ソフトロックアップ", "unregister_netdevice: waiting for lo to become free", "読み取り専用 ext4"} {
		if x, y := fromFiles.Search(q, 10, "en"), fromSnapshot.Search(q, 10, "en"); !reflect.DeepEqual(x, y) {
			t.Errorf("%q: parsed %v, snapshot %v", q, x, y)
		}
	}
	for _, c := range heldoutCases(t) {
		x, _ := (&Matcher{Index: fromFiles}).MatchLog(c.text)
		y, _ := (&Matcher{Index: fromSnapshot}).MatchLog(c.text)
		if !reflect.DeepEqual(x, y) {
			t.Errorf("%s: matches differ between the parsed and the snapshot index", c.file)
		}
	}
}

// TestSnapshotIndexChanges: shipped articles replaced or deleted in an
// index loaded from the snapshot (whose terms stay in the frozen table)
// are searched as in an index built from the files with the same changes.
func TestSnapshotIndexChanges(t *testing.T) {
	p, err := snapshotPrepared()
	if err != nil {
		t.Fatal(err)
	}
	fromSnapshot := NewIndex()
	if err := fromSnapshot.Commit(p); err != nil {
		t.Fatal(err)
	}
	parsed, _, err := parseBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	fromFiles := NewIndex()
	if err := fromFiles.Add(parsed...); err != nil {
		t.Fatal(err)
	}
	// Replace the first article with one about something else, delete the
	// second, and add a new one.
	edited := func() *Article {
		a, err := ParseArticle("edited.md", parsed[0].Markdown())
		if err != nil {
			t.Fatal(err)
		}
		a.Texts[0].Title = "Zebra stripes in the frobnicator"
		return a
	}
	added := func() *Article {
		a, err := ParseArticle("edited.md", parsed[0].Markdown())
		if err != nil {
			t.Fatal(err)
		}
		a.ID = "zz-added"
		a.Texts[0].Title = "Quokka overflow in the frobnicator"
		return a
	}
	for _, ix := range []*Index{fromFiles, fromSnapshot} {
		if err := ix.Replace(edited()); err != nil {
			t.Fatal(err)
		}
		if err := ix.Delete(parsed[1].ID); err != nil {
			t.Fatal(err)
		}
		if err := ix.Add(added()); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"zebra frobnicator", "quokka", parsed[0].Texts[0].Title, parsed[1].Texts[0].Title, "soft lockup", "ソフトロックアップ"} {
		x, y := fromFiles.Search(q, 10, "en"), fromSnapshot.Search(q, 10, "en")
		if !reflect.DeepEqual(x, y) {
			t.Errorf("%q: parsed %v, snapshot %v", q, x, y)
		}
		for _, h := range y {
			if h.ID == parsed[1].ID {
				t.Errorf("%q: the deleted article %s is found", q, h.ID)
			}
		}
	}
	if hits := fromSnapshot.Search("quokka", 10, "en"); len(hits) == 0 || hits[0].ID != "zz-added" {
		t.Errorf("quokka: %v, want zz-added first", hits)
	}
}
