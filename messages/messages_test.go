package messages

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/api/wire"
)

// TestCatalogueComplete fails on a message missing in either language:
// both files have the same ids, no text is empty, a plural message has
// its English "one" and "other", and every id the code or the templates
// use, or build from a state's name, is in the catalogue.
func TestCatalogueComplete(t *testing.T) {
	files := map[string]map[string]any{}
	for _, lang := range Languages {
		b, err := os.ReadFile(lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s.json: %v", lang, err)
		}
		files[lang] = m
	}
	for _, a := range Languages {
		for id, v := range files[a] {
			for _, b := range Languages {
				if _, ok := files[b][id]; !ok {
					t.Errorf("%q is in %s.json, not in %s.json", id, a, b)
				}
			}
			switch x := v.(type) {
			case string:
				if strings.TrimSpace(x) == "" {
					t.Errorf("%s: %q is empty", a, id)
				}
			case map[string]any:
				if x["other"] == nil || x["other"] == "" || a == "en" && (x["one"] == nil || x["one"] == "") {
					t.Errorf("%s: plural %q lacks a form: %v", a, id, x)
				}
			default:
				t.Errorf("%s: %q is a %T", a, id, v)
			}
		}
	}
	// Every message parses and prints in both languages.
	for _, lang := range Languages {
		p := New(lang)
		for _, id := range IDs(lang) {
			if s := p.T(id, "Count", 2); strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
				t.Errorf("%s: %q does not print: %s", lang, id, s)
			}
		}
	}
	used := usedIDs(t)
	for _, id := range used {
		for _, lang := range Languages {
			if !For(lang).Has(id) {
				t.Errorf("%q is used but missing in %s.json", id, lang)
			}
		}
	}
	t.Logf("%d messages, %d ids used by name", len(IDs("en")), len(used))
}

// messageCall finds the ids the code and the templates name: t "id" in
// templates, T("id" in Go.
var messageCall = regexp.MustCompile(`(?:\{\{t |\(t |\bT\()"([a-z][a-z0-9_]*(?:\.[a-z0-9_-]+)+)"`)

// usedIDs collects the ids named in the UI, the API and the CLI, and
// those made from a state's name.
func usedIDs(t *testing.T) []string {
	seen := map[string]bool{}
	for _, glob := range []string{"../ui/templates/*.html", "../ui/*.go", "../api/*.go", "../cmd/internal/cli/*.go"} {
		files, err := filepath.Glob(glob)
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: %v", glob, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range messageCall.FindAllSubmatch(b, -1) {
				seen[string(m[1])] = true
			}
		}
	}
	// Ids made from names: states, roles, events, fields, facets.
	for _, s := range wire.TriageStatuses {
		seen["status."+s] = true
	}
	for _, s := range []string{"uploading", "queued", "analyzing", "done", "failed", "running", "ok"} {
		seen["analysis."+s] = true
	}
	for _, s := range []string{"uploader", "viewer", "support", "admin"} {
		seen["role."+s] = true
	}
	for _, s := range wire.WebhookEvents {
		seen["event."+s] = true
	}
	for _, s := range []string{wire.DeliveryPending, wire.DeliveryDelivered, wire.DeliveryFailed} {
		seen["delivery."+s] = true
	}
	for _, s := range []string{wire.FormatJSON, wire.FormatSlack, wire.FormatTeams} {
		seen["webhooks.format_"+s] = true
	}
	for _, s := range []string{"status", "assignee", "link_url", "link_label", "fix_commit", "fix_release", "rule", "upgrade", "regression", "note"} {
		seen["field."+s] = true
	}
	for _, s := range []string{wire.FacetKernel, wire.FacetHost, wire.FacetModule, wire.FacetTaint, wire.FacetType, wire.FacetStatus} {
		seen["facet."+s] = true
	}
	for _, s := range []string{"confirm", "reject", "linked", "merged", "split", "article", "triage", "closed", "ruled", "webhook", "unhooked"} {
		seen["done."+s] = true
	}
	for _, s := range []string{"running", "sleeping", "uninterruptible", "stopped", "traced", "dead", "zombie", "parked", "idle"} {
		seen["task."+s] = true
	}
	var out []string
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		prefs []string
		want  string
	}{
		{[]string{"ja,en-US;q=0.9,en;q=0.8"}, "ja"},
		{[]string{"en-US,en;q=0.9,ja;q=0.8"}, "en"},
		{[]string{"fr-FR,fr;q=0.9"}, "en"},
		{[]string{"ja-JP"}, "ja"},
		{[]string{"", "", "ja_JP.UTF-8"}, "ja"},
		{[]string{"C.UTF-8"}, "en"},
		{[]string{"", "ja_JP.eucJP@euro", "en_US.UTF-8"}, "ja"},
		{[]string{"POSIX", "ja_JP.UTF-8"}, "en"},
		{nil, "en"},
		{[]string{"garbage;;;,"}, "en"},
	} {
		if got := Match(c.prefs...); got != c.want {
			t.Errorf("Match(%q) = %s, want %s", c.prefs, got, c.want)
		}
	}
}

func TestPlural(t *testing.T) {
	en, ja := For("en"), For("ja")
	if got := en.T("kb.count", "Count", 1); got != "1 article." {
		t.Errorf("en one: %q", got)
	}
	if got := en.T("kb.count", "Count", 3); got != "3 articles." {
		t.Errorf("en other: %q", got)
	}
	if got := ja.T("kb.count", "Count", 1); got != "記事 1 件。" {
		t.Errorf("ja: %q", got)
	}
	if got := en.T("no.such.message"); got != "[no.such.message]" {
		t.Errorf("a missing message prints %q", got)
	}
}
