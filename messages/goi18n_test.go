package messages

import (
	"regexp"
	"testing"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// TestSameAsGoI18n prints every message of both languages, with and
// without a count and with each count form, through this package and
// through go-i18n, whose format the files are in: the texts must agree.
func TestSameAsGoI18n(t *testing.T) {
	bundle := i18n.NewBundle(language.English)
	for _, lang := range Languages {
		b, err := files.ReadFile(lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.ParseMessageFileBytes(b, lang+".json"); err != nil {
			t.Fatal(err)
		}
	}
	argName := regexp.MustCompile(`{{\.([A-Za-z]+)}}`)
	counts := []any{nil, 0, 1, 2, 21, -1, "1", "1.0", "2.5"}
	n := 0
	for _, lang := range Languages {
		loc := i18n.NewLocalizer(bundle, lang)
		p := New(lang)
		for _, id := range IDs(lang) {
			m := p.cat.messages[lang][id]
			var names []string
			for _, sub := range argName.FindAllStringSubmatch(m.one+m.other, -1) {
				if sub[1] != "Count" {
					names = append(names, sub[1])
				}
			}
			for _, count := range counts {
				args := []any{}
				data := map[string]any{}
				for i, name := range names {
					if i == 0 && len(names) > 1 {
						continue // one argument left out: "<no value>"
					}
					args = append(args, name, "v-"+name)
					data[name] = "v-" + name
				}
				var plural any
				if count != nil {
					args = append(args, "Count", count)
					data["Count"] = count
					if m.one != "" {
						plural = count
					}
				}
				want, err := loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: plural})
				if err != nil {
					want = "[" + id + "]"
				}
				if got := p.T(id, args...); got != want {
					t.Errorf("%s %s %v: %q, go-i18n %q", lang, id, args, got, want)
				}
				n++
			}
		}
	}
	t.Logf("%d renderings agree", n)
}
