package kb

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "remake kb/prebuilt.json from kb/articles")

// TestSnapshot: the embedded snapshot is the one the shipped articles
// make (run with -update after editing an article), and an index loaded
// from it answers as one built by parsing the articles does.
func TestSnapshot(t *testing.T) {
	want, err := makeSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("prebuilt.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Skip("prebuilt.json written: rebuild the test to embed it")
	}
	if !bytes.Equal(prebuiltSnapshot, want) {
		t.Fatal("kb/prebuilt.json is not the snapshot of kb/articles: run go test ./kb -run TestSnapshot -update")
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
