package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/messages"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds one template set per language and page: the layout plus the
// page's file, which defines "content", with the language's messages
// bound to the templates' t function.
type pages struct {
	byName map[string]map[string]*template.Template // language → page → set
}

// staticHash maps an asset's name to a short hash of its bytes: asset URLs
// carry it (?v=…), so browsers may cache assets for a year and still get a
// new version at once.
var staticHash = map[string]string{}

func init() {
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, _ := fs.ReadFile(staticFS, "static/"+e.Name())
		h := sha256.Sum256(b)
		staticHash[e.Name()] = hex.EncodeToString(h[:6])
	}
}

var funcs = template.FuncMap{
	"static":    func(name string) string { return "/static/" + name + "?v=" + staticHash[name] },
	"when":      formatTime,
	"day":       func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"iso":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"bytes":     formatBytes,
	"secs":      formatSeconds,
	"nsecs":     func(ns uint64) float64 { return float64(ns) / 1e9 },
	"hex":       func(v any) string { return fmt.Sprintf("%#x", v) },
	"pct":       func(f float64) string { return strconv.Itoa(int(f*100+0.5)) + "%" },
	"join":      strings.Join,
	"hasPrefix": strings.HasPrefix,
	"path": func(parts ...string) string {
		for i, p := range parts {
			parts[i] = url.PathEscape(p)
		}
		return "/" + strings.Join(parts, "/")
	},
	"query": func(base string, kv ...string) string {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		if len(q) == 0 {
			return base
		}
		return base + "?" + q.Encode()
	},
	"statusClass": func(s string) string { return "st-" + s },
	"add":         func(a, b int) int { return a + b },
	"codeSpans":   codeSpans,
}

// span is a piece of text that is, or is not, code.
type span struct {
	Text string
	Code bool
}

// codeSpans splits text on backticks, as the KB's evidence marks names
// ("frame `f` in the call trace"), so templates set the names as code.
func codeSpans(s string) []span {
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 { // an odd number of backticks: not markup
		return []span{{s, false}}
	}
	out := make([]span, 0, len(parts))
	for i, p := range parts {
		if p != "" {
			out = append(out, span{p, i%2 == 1})
		}
	}
	return out
}

// langFuncs are the functions that speak a language: t prints a message
// of the catalogue (package messages), the others name states.
func langFuncs(p *messages.Printer) template.FuncMap {
	return template.FuncMap{
		"t":            p.T,
		"statusName":   func(s string) string { return p.T("status." + s) },
		"stateName":    func(s string) string { return p.T("analysis." + s) },
		"roleName":     func(s string) string { return p.T("role." + s) },
		"fieldName":    func(s string) string { return p.T("field." + s) },
		"actorName":    func(s string) string { return actorName(p, s) },
		"stepsSummary": func(steps []wire.Step) string { return stepsSummary(p, steps) },
		"levelName":    analysis.LevelName,
		"taintText": func(letter, description string) string {
			if p.Has("taint." + letter) {
				return p.T("taint." + letter)
			}
			return description
		},
		"eventText": func(e wire.TriageEvent) string { return p.Change(e.Field, e.Old, e.New) },
	}
}

func parsePages() (*pages, error) {
	p := &pages{byName: map[string]map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, lang := range messages.Languages {
		base, err := template.New("layout.html").Funcs(funcs).Funcs(langFuncs(messages.For(lang))).
			ParseFS(templateFS, "templates/layout.html", "templates/parts.html")
		if err != nil {
			return nil, fmt.Errorf("ui: templates: %w", err)
		}
		p.byName[lang] = map[string]*template.Template{}
		for _, n := range names {
			name := strings.TrimSuffix(path.Base(n), ".html")
			if name == "layout" || name == "parts" {
				continue
			}
			t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
			if err != nil {
				return nil, fmt.Errorf("ui: template %s: %w", n, err)
			}
			p.byName[lang][name] = t
		}
	}
	return p, nil
}

// render executes a page into a buffer first, so that a template error
// becomes a clean 500 page instead of half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, code int, name string, v *view) {
	t := u.pages.byName[v.Lang][name]
	var buf bytes.Buffer
	buf.Grow(16 << 10)
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		u.log.Error("ui: template", "page", name, "err", err)
		code = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error</title><p>The page could not be made; the error is in the service's log.</p>")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// static serves the embedded CSS and JavaScript.
func (u *UI) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, err := fs.ReadFile(staticFS, "static/"+name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if path.Ext(name) == ".js" {
		ct = "text/javascript; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	if r.URL.Query().Get("v") == staticHash[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	u.gz(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(b) })).ServeHTTP(w, r)
}

// formatTime writes a time in UTC, as the kernel and the dump's VMCOREINFO
// give it; the zero time is "—".
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func formatBytes(n any) string {
	var v float64
	switch x := n.(type) {
	case int64:
		v = float64(x)
	case uint64:
		v = float64(x)
	case int:
		v = float64(x)
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", v)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

func formatSeconds(s float64) string {
	switch {
	case s == 0:
		return "—"
	case s < 0.001:
		return fmt.Sprintf("%.0f µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.0f ms", s*1e3)
	}
	return fmt.Sprintf("%.2f s", s)
}
