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
// pays nothing for it. The package reads the format itself (a text is
// plain words and {{.Name}} arguments, the plural rules are English's and
// Japanese's), rather than through go-i18n, whose language tables are
// initialised in every process that links them, whether it prints a
// message or not; TestSameAsGoI18n checks every message against go-i18n's
// rendering.
package messages

import (
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed en.json ja.json
var files embed.FS

// Languages are the catalogue's languages, the default first.
var Languages = []string{"en", "ja"}

// message is one entry of a language's file: a text, or plural forms.
type message struct {
	other string // the text, or the plural form "other"
	one   string // the plural form "one"; "" for a message without forms
}

// UnmarshalJSON reads a text or an object of plural forms.
func (m *message) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &m.other)
	}
	var forms struct{ One, Other string }
	if err := json.Unmarshal(b, &forms); err != nil {
		return err
	}
	if forms.Other == "" {
		return fmt.Errorf("a plural message without its form \"other\"")
	}
	m.one, m.other = forms.One, forms.Other
	if m.one == "" {
		m.one = m.other // a language whose numbers have one form (Japanese)
	}
	return nil
}

// catalogue is the parsed message files, made once on first use.
type catalogue struct {
	messages map[string]map[string]message // language → id → message
}

var load = sync.OnceValues(func() (*catalogue, error) {
	c := &catalogue{messages: map[string]map[string]message{}}
	for _, lang := range Languages {
		name := lang + ".json"
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("messages: %w", err)
		}
		m := map[string]message{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("messages: %s: %w", name, err)
		}
		c.messages[lang] = m
	}
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
	cat  *catalogue
}

// New returns a Printer for a language of the catalogue ("en" or "ja");
// any other is English.
func New(lang string) *Printer {
	if lang != "ja" {
		lang = "en"
	}
	return &Printer{lang: lang, cat: mustLoad()}
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
// "Host", "db1"). An argument named Count, an integer or its decimal
// text, selects the plural form of a message that has them. A message
// missing from the catalogue prints as its id in brackets, which the
// catalogue's tests make sure never happens; an argument the text names
// but the call does not give prints as "<no value>".
func (p *Printer) T(id string, args ...any) string {
	m, ok := p.cat.messages[p.lang][id]
	if !ok {
		if m, ok = p.cat.messages["en"][id]; !ok {
			return "[" + id + "]"
		}
	}
	text := m.other
	for i := 0; i+1 < len(args); i += 2 {
		if k, _ := args[i].(string); k == "Count" && m.one != "" {
			one, err := pluralOne(p.lang, args[i+1])
			if err != nil {
				return "[" + id + "]"
			}
			if one {
				text = m.one
			}
		}
	}
	return expand(text, args)
}

// pluralOne says whether count takes the plural form "one" in lang, by
// CLDR's rules: in English an integer 1 with no fraction digits shown
// ("1", not "1.0"); in Japanese never.
func pluralOne(lang string, count any) (bool, error) {
	var digits string
	switch n := count.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		digits = fmt.Sprint(n)
	case string:
		if _, err := strconv.ParseFloat(n, 64); err != nil {
			return false, fmt.Errorf("messages: count %q is not a number", n)
		}
		digits = n
	default:
		return false, fmt.Errorf("messages: count of type %T: give an integer, or a float formatted as text", count)
	}
	return lang == "en" && strings.TrimPrefix(digits, "-") == "1", nil
}

// expand replaces each {{.Name}} of text with the argument named Name,
// printed as fmt.Print does.
func expand(text string, args []any) string {
	if !strings.Contains(text, "{{") {
		return text
	}
	var b strings.Builder
	for {
		i := strings.Index(text, "{{.")
		if i < 0 {
			break
		}
		j := strings.Index(text[i:], "}}")
		if j < 0 {
			break
		}
		b.WriteString(text[:i])
		name := text[i+3 : i+j]
		v, found := any(nil), false
		for k := 0; k+1 < len(args); k += 2 {
			if s, _ := args[k].(string); s == name {
				v, found = args[k+1], true
			}
		}
		if found {
			fmt.Fprint(&b, v)
		} else {
			b.WriteString("<no value>")
		}
		text = text[i+j+2:]
	}
	b.WriteString(text)
	return b.String()
}

// Has says whether the catalogue has message id in the Printer's
// language.
func (p *Printer) Has(id string) bool {
	_, ok := p.cat.messages[p.lang][id]
	return ok
}

// IDs lists a language's message ids, sorted.
func IDs(lang string) []string {
	return slices.Sorted(maps.Keys(mustLoad().messages[lang]))
}

// Match picks the catalogue language for a browser's Accept-Language
// header ("ja,en-US;q=0.9") or for the locale of a command line
// ("ja_JP.UTF-8", from LC_ALL, LC_MESSAGES or LANG): the first preference
// the catalogue has (by its language subtag; a header's by quality),
// else English.
func Match(prefs ...string) string {
	for _, p := range prefs {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		var tags []string
		if strings.ContainsAny(p, ",;") { // an Accept-Language header
			tags = acceptLanguage(p)
		} else {
			// A POSIX locale: language[_territory][.codeset][@modifier].
			if i := strings.IndexAny(p, ".@"); i >= 0 {
				p = p[:i]
			}
			if p == "C" || p == "POSIX" {
				p = "en"
			}
			tags = []string{p}
		}
		for _, t := range tags {
			base, _, _ := strings.Cut(strings.ReplaceAll(t, "_", "-"), "-")
			for _, l := range Languages {
				if strings.EqualFold(base, l) {
					return l
				}
			}
		}
	}
	return "en"
}

// acceptLanguage returns an Accept-Language header's language ranges,
// most preferred first; those of quality 0 (not acceptable) are left out,
// as are malformed ones.
func acceptLanguage(h string) []string {
	type weighted struct {
		tag string
		q   float64
	}
	var ws []weighted
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.TrimSpace(tag)
		if tag == "" || tag == "*" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if q > 0 {
			ws = append(ws, weighted{tag, q})
		}
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].q > ws[j].q })
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.tag
	}
	return out
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
