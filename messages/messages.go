// Package messages is the one message catalogue of vmcore's people-facing
// text: the web UI's pages, its state names and notices, the webhooks'
// texts and vmcorectl's human-readable output, in English and Japanese.
// The messages live in en.json and ja.json (go-i18n's format: an id maps
// to a text, or to its plural forms "one" and "other"; {{.Name}} is an
// argument), embedded in the binary. Every id is in both files
// (TestCatalogueComplete), so no page falls back to another language.
//
// Nothing happens at package initialisation: the catalogue is parsed the
// first time a Printer is made, so a command that never prints a message
// pays nothing for it.
package messages

import (
	"embed"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed en.json ja.json
var files embed.FS

// Languages are the catalogue's languages, the default first.
var Languages = []string{"en", "ja"}

// catalogue is the parsed message files, made once on first use.
type catalogue struct {
	bundle  *i18n.Bundle
	matcher language.Matcher
	ids     map[string][]string // language → message ids
	plural  map[string]bool     // ids with plural forms
}

var load = sync.OnceValues(func() (*catalogue, error) {
	c := &catalogue{bundle: i18n.NewBundle(language.English), ids: map[string][]string{}, plural: map[string]bool{}}
	var tags []language.Tag
	for _, lang := range Languages {
		name := lang + ".json"
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("messages: %w", err)
		}
		f, err := c.bundle.ParseMessageFileBytes(b, name)
		if err != nil {
			return nil, fmt.Errorf("messages: %s: %w", name, err)
		}
		for _, m := range f.Messages {
			c.ids[lang] = append(c.ids[lang], m.ID)
			if m.One != "" {
				c.plural[m.ID] = true
			}
		}
		sort.Strings(c.ids[lang])
		tags = append(tags, f.Tag)
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
})

func mustLoad() *catalogue {
	c, err := load()
	if err != nil {
		panic(err) // the files are compiled in: TestCatalogueComplete parses them
	}
	return c
}

// Printer prints messages in one language. The zero value is not
// usable; New makes one. A Printer is safe for concurrent use.
type Printer struct {
	lang string
	loc  *i18n.Localizer
}

// New returns a Printer for a language of the catalogue ("en" or "ja");
// any other is English.
func New(lang string) *Printer {
	if lang != "ja" {
		lang = "en"
	}
	return &Printer{lang: lang, loc: i18n.NewLocalizer(mustLoad().bundle, lang)}
}

var printers = sync.OnceValue(func() map[string]*Printer {
	m := map[string]*Printer{}
	for _, l := range Languages {
		m[l] = New(l)
	}
	return m
})

// For returns the shared Printer of a catalogue language (as Match
// returns them).
func For(lang string) *Printer {
	if p, ok := printers()[lang]; ok {
		return p
	}
	return printers()["en"]
}

// Lang is the Printer's language, for lang attributes: "en" or "ja".
func (p *Printer) Lang() string { return p.lang }

// T prints message id with named arguments given as pairs ("Count", 3,
// "Host", "db1"). An argument named Count selects the plural form of a
// message that has them. A
// message missing from the catalogue prints as its id in brackets, which
// the catalogue's tests make sure never happens.
func (p *Printer) T(id string, args ...any) string {
	var data map[string]any
	var count any
	if len(args) > 0 {
		data = make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			k, _ := args[i].(string)
			data[k] = args[i+1]
			if k == "Count" && mustLoad().plural[id] {
				count = args[i+1]
			}
		}
	}
	s, err := p.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil {
		return "[" + id + "]"
	}
	return s
}

// Has says whether the catalogue has message id in the Printer's
// language.
func (p *Printer) Has(id string) bool {
	ids := mustLoad().ids[p.lang]
	i := sort.SearchStrings(ids, id)
	return i < len(ids) && ids[i] == id
}

// IDs lists a language's message ids, sorted.
func IDs(lang string) []string {
	return append([]string(nil), mustLoad().ids[lang]...)
}

// Match picks the catalogue language for a browser's Accept-Language
// header ("ja,en-US;q=0.9") or for the locale of a command line
// ("ja_JP.UTF-8", from LC_ALL, LC_MESSAGES or LANG): the first preference
// the catalogue has, else English.
func Match(prefs ...string) string {
	var tags []language.Tag
	for _, p := range prefs {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.ContainsAny(p, ",;") { // an Accept-Language header
			if ts, _, err := language.ParseAcceptLanguage(p); err == nil {
				tags = append(tags, ts...)
			}
			continue
		}
		// A POSIX locale: language[_territory][.codeset][@modifier].
		if i := strings.IndexAny(p, ".@"); i >= 0 {
			p = p[:i]
		}
		if p == "C" || p == "POSIX" {
			tags = append(tags, language.English)
			continue
		}
		if t, err := language.Parse(strings.ReplaceAll(p, "_", "-")); err == nil {
			tags = append(tags, t)
		}
	}
	if len(tags) == 0 {
		return "en"
	}
	_, i, conf := mustLoad().matcher.Match(tags...)
	if conf == language.No {
		return "en"
	}
	return Languages[i]
}

// Value names a triage field's value for people: statuses by their
// names, nothing as a dash.
func (p *Printer) Value(field, v string) string {
	switch {
	case v == "":
		return "—"
	case field == "status" || field == "rule":
		return p.T("status." + v)
	}
	return v
}

// Change says what one recorded change to a triage field did (an audit
// event: its field, old and new values).
func (p *Printer) Change(field, old, new string) string {
	switch field {
	case "note":
		return p.T("audit.note")
	case "regression":
		return p.T("audit.regression", "Detail", new)
	case "rule":
		if new == "" {
			return p.T("audit.rule_removed", "Old", p.Value(field, old))
		}
		return p.T("audit.rule_set", "New", p.Value(field, new))
	}
	return p.T("audit.change", "Field", p.T("field."+field), "Old", p.Value(field, old), "New", p.Value(field, new))
}
