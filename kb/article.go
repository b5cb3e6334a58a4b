// Package kb is the knowledge base of known kernel failures: articles
// (Markdown with YAML front matter, shipped in kb/articles and editable
// through the API), each in English and Japanese; matching of a crash's
// signature, call traces, modules, taint, kernel version and log against
// the articles' rules, with the evidence for every suggestion; and a text
// search over the articles in either language.
//
// kb links no search engine: its text search scores a term index of its
// own, analysed with bleve's English and CJK analyzers (whose packages
// cost nothing to start), so the command line pays no index start-up.
// Package kb/fulltext keeps the same articles in a bleve index for the
// service and ranks a query as this package does.
//
// Matching never reads a dump: it takes the analysis document
// (analysis.Document) or a kernel log, so the worker, the API and the
// offline CLI give the same answer.
//
// # Article files
//
// An article is a Markdown file that starts with YAML front matter. The
// rules and references are the article's; the prose is given once per
// language, in the front matter's en and ja sections and in the body,
// whose part for each language starts with a line "<!-- en -->" or
// "<!-- ja -->":
//
//	---
//	id: soft-lockup                     # lower-case, digits, - . _
//	affected: ['>=5.10 <6.1.76']        # optional version ranges (any of them)
//	fixed: ['6.1.76', '6.6.15']         # optional: releases with the fix
//	links: [https://docs.kernel.org/…]
//	tags: [lockup, watchdog, ソフトロックアップ]
//	match:                              # see Rules; regular expressions are RE2
//	  title: ['^BUG: soft lockup']
//	  type: [soft lockup]
//	  frames: [some_function, its_caller]
//	  log: ['BUG: soft lockup - CPU#\d+ stuck for \d+s!']
//	  modules: [nvidia.*]
//	  taint: L
//	  in_module: true
//	  findings: [starved]               # facts the dump's sections establish
//	  kernel: ['>=4.0']
//	  require: [type]
//	  unless: ['hung_task: blocked tasks']  # never suggested when one matches
//	  generic: true                       # specific articles come first
//	en:
//	  title: 'Soft lockup: …'
//	  symptoms: what the crash looks like
//	  cause: why it happens
//	  resolution: what to do
//	ja:
//	  title: ソフトロックアップ …
//	  symptoms: …
//	  cause: …
//	  resolution: …
//	---
//	<!-- en -->
//	# The long form, in Markdown
//	<!-- ja -->
//	# 日本語の本文
//
// An article of one language may also be written the older way, with
// lang, title, symptoms, cause and resolution at the top and the whole
// body in that language. Unknown fields are errors, and every error names
// the file line. Single quotes keep backslashes in regular expressions
// literal.
package kb

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Errors callers match with errors.Is.
var (
	// ErrNoFrontMatter is returned for a file that does not start with a
	// "---" line: it is not an article at all.
	ErrNoFrontMatter = errors.New("no front matter: an article starts with a --- line")
	// ErrNotFound is returned for an article id the index does not hold.
	ErrNotFound = errors.New("no such article")
	// ErrExists is returned when adding an article whose id is taken.
	ErrExists = errors.New("article already exists")
)

// Limits on one article. They keep a hostile upload (the API accepts
// articles) from costing more than a normal article does at match time.
const (
	maxArticleSize = 256 << 10
	maxRules       = 64   // entries in one rule list
	maxPatternLen  = 1000 // bytes of one regular expression
)

// Languages are the languages an article's prose may be written in, in
// the order an article lists them; the first is the default.
var Languages = []string{"en", "ja"}

// DefaultLang is the language shown when the reader's is not known or the
// article lacks it.
const DefaultLang = "en"

// Article is one known failure: what it looks like, why it happens, what to
// do (in each language it is written in), and the rules that recognise it
// in a crash.
type Article struct {
	// ID is the stable name ("hung-task-panic"): lower-case letters,
	// digits, '-', '.' and '_'. Feedback and links refer to it.
	ID string `json:"id"`
	// Texts holds the prose, one Text per language, in the order of
	// Languages. Rules are language-neutral.
	Texts []Text `json:"texts"`
	// Affected lists kernel version ranges that have the bug (any of
	// them), each a space-separated conjunction: ">=5.10 <6.1.76".
	Affected []string `json:"affected,omitempty"`
	// Fixed lists the releases that carry the fix, one per stable branch
	// ("6.1.76", "6.6.15", "6.8").
	Fixed []string `json:"fixed,omitempty"`
	Links []string `json:"links,omitempty"` // http(s) URLs: documentation, fixes, reports
	Tags  []string `json:"tags,omitempty"`  // search keywords, in any language
	Match Rules    `json:"match"`           // how to recognise the failure

	src      []byte // the file as read, kept so a stored article round-trips byte for byte
	file     string // or the shipped file in articleFS it is, read when asked for
	compiled *compiled
}

// Text is an article's prose in one language.
type Text struct {
	Lang  string `yaml:"-" json:"lang"`      // "en" or "ja"
	Title string `yaml:"title" json:"title"` // one line
	// Symptoms, Cause and Resolution are the short form an engineer reads
	// first: what the crash looks like, why it happens, what to do.
	Symptoms   string `yaml:"symptoms" json:"symptoms"`
	Cause      string `yaml:"cause" json:"cause"`
	Resolution string `yaml:"resolution" json:"resolution"`
	// Body is the Markdown long form: the body's part in this language.
	Body string `yaml:"-" json:"body"`
}

// Text returns the article's prose in language lang, or, when it is not
// written in lang, in DefaultLang, or else in the language it has.
func (a *Article) Text(lang string) Text {
	for _, want := range []string{lang, DefaultLang} {
		for _, t := range a.Texts {
			if t.Lang == want {
				return t
			}
		}
	}
	if len(a.Texts) > 0 {
		return a.Texts[0]
	}
	return Text{}
}

// Langs lists the languages the article is written in.
func (a *Article) Langs() []string {
	out := make([]string, len(a.Texts))
	for i, t := range a.Texts {
		out[i] = t.Lang
	}
	return out
}

// Localized is an article seen in one language: its fields and those of
// its Text in that language, side by side, for pages and JSON that show
// one language.
type Localized struct {
	*Article
	Text
}

// In returns the article in language lang (see Text).
func (a *Article) In(lang string) Localized { return Localized{a, a.Text(lang)} }

// Rules recognise an article's failure in a crash. Each list is one
// criterion; an article is suggested when one of its key criteria matches
// (title, frames and log when it has any of them, else findings, else
// type, else the module and taint criteria) and every criterion in Require
// matches.
type Rules struct {
	// Title holds regular expressions matched against the crash
	// signature, the oops title, its alternative titles and the panic line.
	Title []string `yaml:"title,omitempty" json:"title,omitempty"`
	// Type holds oops types ("soft lockup", "NULL pointer dereference"),
	// compared without regard to case.
	Type []string `yaml:"type,omitempty" json:"type,omitempty"`
	// Frames is an ordered sequence of function-name regular expressions
	// (each must match the whole name; clone suffixes such as .cold are
	// ignored) that appear in this order, innermost first as the kernel
	// prints them, in one call trace. Gaps are allowed.
	Frames []string `yaml:"frames,omitempty" json:"frames,omitempty"`
	// Log holds regular expressions matched against each kernel log
	// line; any one matching is the criterion. Each must contain a literal
	// word of three or more characters, which is how the index finds the
	// lines to try without running every pattern on every line.
	Log []string `yaml:"log,omitempty" json:"log,omitempty"`
	// Modules holds module-name regular expressions (whole name) matched
	// against loaded modules, "Modules linked in:" and call-trace modules.
	Modules []string `yaml:"modules,omitempty" json:"modules,omitempty"`
	// Taint holds taint letters ("OE"); any one set in the crashed kernel
	// is the criterion.
	Taint string `yaml:"taint,omitempty" json:"taint,omitempty"`
	// InModule, when true, is the criterion "the crashing function is in a
	// loadable module".
	InModule bool `yaml:"in_module,omitempty" json:"in_module,omitempty"`
	// Findings names facts the dump's sections establish, by their names
	// in the analysis document's findings: oom (the process and memory
	// cgroup holding the memory in an out-of-memory), slab (unreclaimable
	// slab over analysis.SlabUnreclaimableThreshold of memory), deadlock (a
	// cycle of lock owners), wait_chain (the chain of lock owners holding
	// the most blocked tasks, with its head), blocked_io (blocked tasks
	// waiting for I/O), stuck_io (a disk's request in flight for
	// analysis.StuckIOThresholdNS or more), starved (a CPU whose queued
	// tasks waited analysis.StarvedThresholdNS or more). Any one that
	// holds is the criterion, and each that holds is cited as evidence.
	// A kernel log alone, or a dump whose sections could not be read, has
	// no findings: the criterion is then undecided, counting neither for
	// nor against the article, and never met for Require.
	Findings []string `yaml:"findings,omitempty" json:"findings,omitempty"`
	// Kernel holds version ranges (any of them) outside which the article
	// is never suggested, such as messages that only some kernels print.
	// A crash whose kernel version is unknown is not filtered.
	Kernel []string `yaml:"kernel,omitempty" json:"kernel,omitempty"`
	// Require names criteria that must all match: title, type, frames,
	// log, modules, taint, in_module, findings.
	Require []string `yaml:"require,omitempty" json:"require,omitempty"`
	// Unless holds regular expressions matched against the crash's titles
	// and log lines; any one matching keeps the article from being
	// suggested: the crash is the kind another article is about ("hung
	// task" without the panic that hung_task_panic makes). Like Log, each
	// needs a literal word of three or more characters.
	Unless []string `yaml:"unless,omitempty" json:"unless,omitempty"`
	// Generic marks an article about a whole class of reports ("a
	// WARNING", "a BUG()"): when a more specific article is suggested for
	// the same crash on the strength of its rules, the generic one's
	// confidence is scaled down so that the specific one comes first.
	Generic bool `yaml:"generic,omitempty" json:"generic,omitempty"`
}

// criterion names, as Require spells them.
const (
	critTitle    = "title"
	critType     = "type"
	critFrames   = "frames"
	critLog      = "log"
	critModules  = "modules"
	critTaint    = "taint"
	critInModule = "in_module"
	critFindings = "findings"
)

// taintLetters are the kernel's taint flags (Documentation/admin-guide/tainted-kernels.rst).
const taintLetters = "PFSRMBUDAWCIOELKXTNJ"

var idPattern = &lazyRegexp{src: `^[a-z0-9][a-z0-9._-]{0,99}$`}

// ParseError is an article that cannot be loaded: the file, the line in it
// and why. The line is where the problem is; 0 when the whole file is
// wrong (not UTF-8, too large) or a required field is missing.
type ParseError struct {
	File string // the name given to ParseArticle
	Line int    // 1-based line in the file; 0 when the whole file is wrong
	Msg  string // what is wrong
	Err  error  // the underlying error (yaml, regexp), if any
}

// Error is "file:line: message".
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap returns the yaml or regexp error behind the message, if any.
func (e *ParseError) Unwrap() error { return e.Err }

// frontMatter is the YAML of an article file.
type frontMatter struct {
	ID string `yaml:"id"`
	// The one-language form: the prose at the top.
	Lang       string `yaml:"lang,omitempty"`
	Title      string `yaml:"title,omitempty"`
	Symptoms   string `yaml:"symptoms,omitempty"`
	Cause      string `yaml:"cause,omitempty"`
	Resolution string `yaml:"resolution,omitempty"`

	Affected []string `yaml:"affected,omitempty"`
	Fixed    []string `yaml:"fixed,omitempty"`
	Links    []string `yaml:"links,omitempty"`
	Tags     []string `yaml:"tags,omitempty"`
	Match    Rules    `yaml:"match"`

	// The prose per language.
	EN *Text `yaml:"en,omitempty"`
	JA *Text `yaml:"ja,omitempty"`
}

// bodyMarker is a line that starts a language's part of the body.
var bodyMarker = &lazyRegexp{src: `^<!--\s*([a-z]{2})\s*-->\s*$`}

// ParseArticle reads one article: front matter between "---" lines, then
// the Markdown body. name is the file name errors carry. It rejects
// unknown fields, missing required fields, malformed ids, versions and
// taint letters, YAML anchors and aliases, and regular expressions that do
// not compile or that the index cannot anchor; every error is a
// *ParseError whose line is the file's own line.
func ParseArticle(name string, data []byte) (*Article, error) {
	if len(data) > maxArticleSize {
		return nil, &ParseError{File: name, Msg: fmt.Sprintf("article is %d bytes, more than the %d allowed", len(data), maxArticleSize)}
	}
	if !utf8.Valid(data) {
		return nil, &ParseError{File: name, Msg: "article is not UTF-8 text"}
	}
	front, body, bodyLine, err := splitFrontMatter(data)
	if err != nil {
		return nil, &ParseError{File: name, Line: 1, Msg: err.Error(), Err: err}
	}
	const first = 2 // the front matter's first line: YAML's line 1
	if strings.TrimSpace(string(front)) == "" {
		return nil, &ParseError{File: name, Line: first, Msg: "empty front matter"}
	}
	var file *ast.File
	var fm frontMatter
	err = safeYAML(func() error {
		var err error
		if file, err = parser.ParseBytes(front, 0); err != nil {
			return err
		}
		if len(file.Docs) != 1 || file.Docs[0].Body == nil {
			return errors.New("the front matter must be one YAML mapping")
		}
		if n := aliasOrAnchor(file.Docs[0].Body); n != nil {
			return &yaml.SyntaxError{Message: "anchors and aliases are not allowed in an article", Token: n.GetToken()}
		}
		return yaml.NodeToValue(file.Docs[0].Body, &fm, yaml.DisallowUnknownField())
	})
	if err != nil {
		return nil, yamlError(name, err, first)
	}
	a, verr := fm.article()
	if verr == nil {
		verr = a.splitBody(string(body), bodyLine)
	}
	if verr == nil {
		a.src = append([]byte(nil), data...)
		verr = a.compile()
	}
	if verr != nil {
		var ve *validationError
		if !errors.As(verr, &ve) {
			return nil, &ParseError{File: name, Msg: verr.Error(), Err: verr}
		}
		line := ve.line
		if line == 0 && len(ve.path) > 0 {
			n, ok := nodeLine(file.Docs[0].Body, ve.path...)
			if m, altOK := nodeLine(file.Docs[0].Body, ve.alt...); !ok && altOK && len(ve.alt) > 0 {
				n = m
			}
			line = n + first - 1
		}
		return nil, &ParseError{File: name, Line: line, Msg: ve.msg, Err: ve.err}
	}
	return a, nil
}

// article builds the Article of a front matter, its texts in the order of
// Languages, without the body.
func (fm *frontMatter) article() (*Article, error) {
	a := &Article{ID: fm.ID, Affected: fm.Affected, Fixed: fm.Fixed, Links: fm.Links, Tags: fm.Tags, Match: fm.Match}
	oneLang := fm.Lang != "" || fm.Title != "" || fm.Symptoms != "" || fm.Cause != "" || fm.Resolution != ""
	switch {
	case oneLang && (fm.EN != nil || fm.JA != nil):
		return nil, invalid(nil, "give the prose either at the top (lang, title, …) or per language (en, ja), not both", "lang")
	case oneLang:
		if fm.Lang == "" {
			return nil, invalid(nil, "lang is required (en or ja) when the prose is at the top")
		}
		if fm.Lang != "en" && fm.Lang != "ja" {
			return nil, invalid(nil, fmt.Sprintf("lang %q: en or ja", fm.Lang), "lang")
		}
		a.Texts = []Text{{Lang: fm.Lang, Title: fm.Title, Symptoms: fm.Symptoms, Cause: fm.Cause, Resolution: fm.Resolution}}
		return a, nil
	}
	for _, t := range []struct {
		lang string
		t    *Text
	}{{"en", fm.EN}, {"ja", fm.JA}} {
		if t.t != nil {
			tx := *t.t
			tx.Lang = t.lang
			a.Texts = append(a.Texts, tx)
		}
	}
	if len(a.Texts) == 0 {
		return nil, invalid(nil, "the prose is missing: give an en and a ja section (title, symptoms, cause, resolution)")
	}
	return a, nil
}

// splitBody hands each language its part of the body. A body without
// markers belongs to an article's one language.
func (a *Article) splitBody(body string, line int) error {
	var cur *Text
	var b strings.Builder
	flush := func() {
		if cur != nil {
			cur.Body = b.String()
		}
		b.Reset()
	}
	seen := map[string]bool{}
	for rest := body; rest != ""; line++ {
		l, next, _ := strings.Cut(rest, "\n")
		rest = next
		m := bodyMarker.get().FindStringSubmatch(strings.TrimRight(l, "\r"))
		if m == nil {
			if cur == nil && strings.TrimSpace(l) != "" {
				if len(a.Texts) != 1 {
					return &validationError{line: line, msg: "body text before the first language marker (<!-- en --> or <!-- ja -->)"}
				}
				cur = &a.Texts[0]
				seen[cur.Lang] = true
			}
			if cur != nil {
				b.WriteString(l)
				b.WriteByte('\n')
			}
			continue
		}
		flush()
		cur = nil
		for i := range a.Texts {
			if a.Texts[i].Lang == m[1] {
				cur = &a.Texts[i]
			}
		}
		switch {
		case cur == nil:
			return &validationError{line: line, msg: fmt.Sprintf("body marker for language %q, which the front matter has no section for", m[1])}
		case seen[m[1]]:
			return &validationError{line: line, msg: fmt.Sprintf("a second body part for language %q", m[1])}
		}
		seen[m[1]] = true
	}
	flush()
	return nil
}

// errYAMLPanic is the YAML decoder failing by panicking instead of
// returning an error: the article is rejected, the caller (an API
// handler) survives.
var errYAMLPanic = errors.New("the YAML decoder failed on this input")

// safeYAML runs a YAML call, turning a panic into an error.
func safeYAML(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errYAMLPanic, r)
		}
	}()
	return fn()
}

// yamlError turns a YAML error into a ParseError with the file's line:
// the decoder's errors carry the token they stopped at.
func yamlError(name string, err error, first int) *ParseError {
	var ye yaml.Error
	if errors.As(err, &ye) {
		line := first
		if tk := ye.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line > 0 {
			line = tk.Position.Line + first - 1
		}
		msg := ye.GetMessage()
		msg = strings.ReplaceAll(msg, "kb.frontMatter", "article")
		msg = strings.ReplaceAll(msg, "kb.Rules", "match")
		msg = strings.ReplaceAll(msg, "kb.Text", "language section")
		return &ParseError{File: name, Line: line, Msg: "front matter: " + msg, Err: err}
	}
	return &ParseError{File: name, Line: first, Msg: "front matter: " + err.Error(), Err: err}
}

// aliasOrAnchor finds an anchor or alias in a YAML tree: an article has
// no use for them, and aliases can multiply a small file into a huge value.
func aliasOrAnchor(n ast.Node) ast.Node {
	var found ast.Node
	ast.Walk(visitFunc(func(n ast.Node) bool {
		switch n.(type) {
		case *ast.AnchorNode, *ast.AliasNode:
			if found == nil {
				found = n
			}
			return false
		}
		return found == nil
	}), n)
	return found
}

type visitFunc func(ast.Node) bool

// Visit implements ast.Visitor.
func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	if f(n) {
		return f
	}
	return nil
}

// splitFrontMatter cuts an article into its front matter, which starts on
// the file's second line, and its body, which starts on line bodyLine.
func splitFrontMatter(data []byte) (front, body []byte, bodyLine int, err error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	l, rest, _ := cutLine(data)
	if strings.TrimRight(string(l), " \t") != "---" {
		return nil, nil, 0, ErrNoFrontMatter
	}
	start := len(data) - len(rest)
	pos := start
	line := 2
	for len(rest) > 0 {
		l, next, _ := cutLine(rest)
		if t := strings.TrimRight(string(l), " \t"); t == "---" || t == "..." {
			return data[start:pos], next, line + 1, nil
		}
		pos += len(rest) - len(next)
		rest = next
		line++
	}
	return nil, nil, 0, errors.New("front matter is not closed: no --- line after the first")
}

// cutLine returns the first line of b without its "\n" or "\r\n".
func cutLine(b []byte) (line, rest []byte, found bool) {
	line, rest, found = bytes.Cut(b, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), rest, found
}

// nodeLine finds the YAML line of what path names (mapping keys as
// strings: the key's line; sequence indices as ints: the element's line),
// or, with found false, the line of the deepest part that exists.
func nodeLine(n ast.Node, path ...any) (line int, found bool) {
	line = tokenLine(n)
	for _, p := range path {
		switch k := p.(type) {
		case string:
			var values []*ast.MappingValueNode
			switch m := n.(type) {
			case *ast.MappingNode:
				values = m.Values
			case *ast.MappingValueNode:
				values = []*ast.MappingValueNode{m}
			default:
				return line, false
			}
			found = false
			for _, v := range values {
				if v.Key != nil && v.Key.GetToken() != nil && v.Key.GetToken().Value == k {
					line, n, found = tokenLine(v.Key), v.Value, true
					break
				}
			}
			if !found {
				return line, false
			}
		case int:
			s, ok := n.(*ast.SequenceNode)
			if !ok || k >= len(s.Values) {
				return line, false
			}
			n = s.Values[k]
			line = tokenLine(n)
		}
	}
	return line, true
}

func tokenLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// validationError is a check that failed, with where in the front matter
// (path) or the file (line).
type validationError struct {
	path []any
	alt  []any // where to look when path is not in the front matter
	line int
	msg  string
	err  error
}

// Error is the message without a position: ParseArticle adds the line.
func (e *validationError) Error() string { return e.msg }

// Unwrap returns the regexp or version error behind the message, if any.
func (e *validationError) Unwrap() error { return e.err }

func invalid(err error, format string, path ...any) error {
	return &validationError{path: path, msg: format, err: err}
}

// compiled is an article's rules ready to run.
type compiled struct {
	title    []*lazyRegexp
	types    []string // lower-case
	frames   []*lazyRegexp
	log      []*lazyRegexp
	modules  []*lazyRegexp
	kernel   []versionRange
	affected []versionRange
	fixed    []Version
	findings []int // positions in findingKinds
	require  map[string]bool
	keys     map[string]bool // see keyCriteria
	// Anchors: the words the index files each pattern under.
	titleAnchors  [][]anchor
	frameAnchors  [][]anchor
	logAnchors    [][]anchor
	unless        []*lazyRegexp
	unlessAnchors [][]anchor
	moduleAnchors [][]anchor
}

// Validate checks an article built in Go (not read by ParseArticle) the
// way ParseArticle checks a file, and compiles its rules. Index.Add checks
// every article it is given the same way.
func (a *Article) Validate() error {
	if err := a.compile(); err != nil {
		return fmt.Errorf("article %q: %w", a.ID, err)
	}
	return nil
}

func (a *Article) compile() error {
	c, err := a.build()
	if err != nil {
		return err
	}
	a.compiled = c
	return nil
}

// build checks an article and compiles its rules, without changing it.
func (a *Article) build() (*compiled, error) { return a.buildRules(nil) }

// buildRules checks and compiles the article. An article of the snapshot,
// checked when the snapshot was made, comes with its patterns' anchors
// (pre): its patterns are then compiled when a crash first tries them.
func (a *Article) buildRules(pre *articleAnchors) (*compiled, error) {
	switch {
	case a.ID == "":
		return nil, invalid(nil, "id is required")
	case !idPattern.get().MatchString(a.ID):
		return nil, invalid(nil, fmt.Sprintf("id %q: use lower-case letters, digits, '-', '.' and '_' (at most 100)", a.ID), "id")
	case len(a.Texts) == 0:
		return nil, invalid(nil, "the prose is missing: give an en and a ja section (title, symptoms, cause, resolution)")
	}
	langs := map[string]bool{}
	for _, t := range a.Texts {
		if t.Lang != "en" && t.Lang != "ja" {
			return nil, invalid(nil, fmt.Sprintf("lang %q: en or ja", t.Lang), "lang")
		}
		if langs[t.Lang] {
			return nil, invalid(nil, fmt.Sprintf("two texts in language %q", t.Lang), t.Lang)
		}
		langs[t.Lang] = true
		// The one-language form has its fields at the top; the path
		// finds them there when the section is absent.
		for _, f := range []struct{ name, v string }{{"title", t.Title}, {"symptoms", t.Symptoms}, {"cause", t.Cause}, {"resolution", t.Resolution}} {
			if strings.TrimSpace(f.v) == "" {
				return nil, &validationError{path: []any{t.Lang, f.name}, msg: fmt.Sprintf("%s.%s is required", t.Lang, f.name), alt: []any{f.name}}
			}
		}
		if strings.ContainsAny(t.Title, "\n\r") {
			return nil, invalid(nil, fmt.Sprintf("%s.title is one line", t.Lang), t.Lang, "title")
		}
	}
	c := &compiled{require: map[string]bool{}}
	r := &a.Match
	for _, l := range []struct {
		name string
		n    int
	}{{"title", len(r.Title)}, {"type", len(r.Type)}, {"frames", len(r.Frames)}, {"log", len(r.Log)},
		{"modules", len(r.Modules)}, {"kernel", len(r.Kernel)}, {"require", len(r.Require)}, {"unless", len(r.Unless)},
		{"findings", len(r.Findings)}} {
		if l.n > maxRules {
			return nil, invalid(nil, fmt.Sprintf("match.%s has %d entries, more than %d", l.name, l.n, maxRules), "match", l.name)
		}
	}
	if len(a.Affected) > maxRules || len(a.Fixed) > maxRules || len(a.Links) > maxRules || len(a.Tags) > maxRules {
		return nil, invalid(nil, fmt.Sprintf("affected, fixed, links and tags take at most %d entries each", maxRules))
	}
	var pa articleAnchors
	trusted := pre != nil
	if trusted {
		pa = *pre
	}
	var err error
	if c.title, c.titleAnchors, err = compileList(r.Title, "title", false, trusted, pa.title); err != nil {
		return nil, err
	}
	if c.frames, c.frameAnchors, err = compileList(r.Frames, "frames", true, trusted, pa.frames); err != nil {
		return nil, err
	}
	if c.log, c.logAnchors, err = compileList(r.Log, "log", false, trusted, pa.log); err != nil {
		return nil, err
	}
	if c.unless, c.unlessAnchors, err = compileList(r.Unless, "unless", false, trusted, pa.unless); err != nil {
		return nil, err
	}
	for i, an := range c.unlessAnchors {
		if an == nil {
			return nil, invalid(nil, fmt.Sprintf("match.unless[%d] %q has no literal word of 3 or more characters", i, r.Unless[i]), "match", "unless", i)
		}
	}
	for i, an := range c.logAnchors {
		if an == nil {
			return nil, invalid(nil, fmt.Sprintf("match.log[%d] %q has no literal word of 3 or more characters: the index needs one to find the lines to try", i, r.Log[i]), "match", "log", i)
		}
	}
	if c.modules, c.moduleAnchors, err = compileList(r.Modules, "modules", true, trusted, pa.modules); err != nil {
		return nil, err
	}
	for i, t := range r.Type {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			return nil, invalid(nil, fmt.Sprintf("match.type[%d] is empty", i), "match", "type", i)
		}
		c.types = append(c.types, t)
	}
	for _, ch := range r.Taint {
		if !strings.ContainsRune(taintLetters, ch) {
			return nil, invalid(nil, fmt.Sprintf("match.taint %q: %q is not a taint letter (%s)", r.Taint, ch, taintLetters), "match", "taint")
		}
	}
	for i, name := range r.Findings {
		k := findingIndex(name)
		if k < 0 {
			return nil, invalid(nil, fmt.Sprintf("match.findings[%d] %q: one of %s", i, name, findingNames()), "match", "findings", i)
		}
		c.findings = append(c.findings, k)
	}
	if c.kernel, err = parseRanges(r.Kernel, "match", "kernel"); err != nil {
		return nil, err
	}
	if c.affected, err = parseRanges(a.Affected, "affected"); err != nil {
		return nil, err
	}
	for i, f := range a.Fixed {
		v, ok := ParseVersion(f)
		if !ok {
			return nil, invalid(nil, fmt.Sprintf("fixed[%d] %q is not a kernel version", i, f), "fixed", i)
		}
		c.fixed = append(c.fixed, v)
	}
	present := map[string]bool{
		critTitle: len(r.Title) > 0, critType: len(r.Type) > 0, critFrames: len(r.Frames) > 0, critLog: len(r.Log) > 0,
		critModules: len(r.Modules) > 0, critTaint: r.Taint != "", critInModule: r.InModule, critFindings: len(r.Findings) > 0,
	}
	for i, q := range r.Require {
		has, known := present[q]
		switch {
		case !known:
			return nil, invalid(nil, fmt.Sprintf("match.require[%d] %q: one of title, type, frames, log, modules, taint, in_module, findings", i, q), "match", "require", i)
		case !has:
			return nil, invalid(nil, fmt.Sprintf("match.require[%d] %q names a criterion the article does not have", i, q), "match", "require", i)
		}
		c.require[q] = true
	}
	c.keys = a.keyCriteria()
	some := false
	for _, has := range present {
		some = some || has
	}
	if !some {
		return nil, invalid(nil, "match: an article needs at least one rule (title, type, frames, log, modules, taint, in_module or findings)", "match")
	}
	for i, l := range a.Links {
		if !strings.HasPrefix(l, "https://") && !strings.HasPrefix(l, "http://") {
			return nil, invalid(nil, fmt.Sprintf("links[%d] %q is not an http(s) URL", i, l), "links", i)
		}
	}
	return c, nil
}

// patternSource is the expression a rule pattern compiles to: whole
// anchors it to match a whole name.
func patternSource(p string, whole bool) string {
	if whole {
		return `^(?:` + p + `)$`
	}
	return p
}

// compileList compiles one rule list; whole makes each pattern match a
// whole name (frames, modules). A trusted list (the snapshot's) comes with
// its anchors, pre, and its patterns compile when first tried.
func compileList(pats []string, field string, whole, trusted bool, pre [][]anchor) ([]*lazyRegexp, [][]anchor, error) {
	if trusted {
		if len(pre) != len(pats) {
			return nil, nil, fmt.Errorf("match.%s: %d anchor lists for %d patterns", field, len(pre), len(pats))
		}
		res := make([]*lazyRegexp, len(pats))
		for i, p := range pats {
			res[i] = &lazyRegexp{src: patternSource(p, whole), orNever: true}
		}
		return res, pre, nil
	}
	var res []*lazyRegexp
	var anchors [][]anchor
	for i, p := range pats {
		if p == "" {
			return nil, nil, invalid(nil, fmt.Sprintf("match.%s[%d] is empty", field, i), "match", field, i)
		}
		if len(p) > maxPatternLen {
			return nil, nil, invalid(nil, fmt.Sprintf("match.%s[%d] is %d bytes, more than %d", field, i, len(p), maxPatternLen), "match", field, i)
		}
		src := patternSource(p, whole)
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, nil, invalid(err, fmt.Sprintf("match.%s[%d] %q: %v", field, i, p, err), "match", field, i)
		}
		tree, err := syntax.Parse(src, syntax.Perl)
		if err != nil { // regexp.Compile accepted it with the same flags
			return nil, nil, invalid(err, fmt.Sprintf("match.%s[%d] %q: %v", field, i, p, err), "match", field, i)
		}
		res = append(res, compiledRegexp(re))
		anchors = append(anchors, patternAnchors(tree.Simplify()))
	}
	return res, anchors, nil
}

func parseRanges(rs []string, path ...any) ([]versionRange, error) {
	var out []versionRange
	for i, s := range rs {
		vr, err := parseRange(s)
		if err != nil {
			name := path[0].(string)
			if len(path) > 1 {
				name += "." + path[1].(string)
			}
			return nil, invalid(err, fmt.Sprintf("%s[%d] %q: %v", name, i, s, err), append(path, i)...)
		}
		out = append(out, vr)
	}
	return out, nil
}

// Markdown returns the article as a file: the bytes it was read from, or,
// for an article built in Go, its front matter and body rendered anew in
// the per-language form.
func (a *Article) Markdown() []byte {
	if a.src != nil {
		return a.src
	}
	if a.file != "" {
		if b, err := articleFS.ReadFile(a.file); err == nil {
			return b
		}
	}
	fm := frontMatter{ID: a.ID, Affected: a.Affected, Fixed: a.Fixed, Links: a.Links, Tags: a.Tags, Match: a.Match}
	for i := range a.Texts {
		t := a.Texts[i]
		switch t.Lang {
		case "en":
			fm.EN = &t
		case "ja":
			fm.JA = &t
		}
	}
	y, err := yaml.MarshalWithOptions(fm, yaml.UseLiteralStyleIfMultiline(true))
	if err != nil { // plain strings and lists always marshal
		y = []byte(fmt.Sprintf("id: %q\n", a.ID))
	}
	var b bytes.Buffer
	b.WriteString("---\n")
	b.Write(y)
	b.WriteString("---\n")
	for _, t := range a.Texts {
		if strings.TrimSpace(t.Body) == "" {
			continue
		}
		fmt.Fprintf(&b, "<!-- %s -->\n", t.Lang)
		b.WriteString(t.Body)
		if !strings.HasSuffix(t.Body, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
