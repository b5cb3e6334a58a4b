// Package kb is the knowledge base of known kernel failures: articles
// (Markdown with YAML front matter, shipped in kb/articles and editable
// through the API), a bleve index over them, and matching of a crash's
// signature, call traces, modules, taint, kernel version and log against
// the articles' rules, with the evidence for every suggestion.
//
// Matching never reads a dump: it takes the analysis document
// (analysis.Document) or a kernel log, so the worker, the API and the
// offline CLI give the same answer.
//
// # Article files
//
// An article is a Markdown file that starts with YAML front matter:
//
//	---
//	id: soft-lockup                     # lower-case, digits, - . _
//	title: 'Soft lockup: …'
//	lang: en                            # en or ja: the language of the prose
//	symptoms: what the crash looks like
//	cause: why it happens
//	resolution: what to do
//	affected: ['>=5.10 <6.1.76']        # optional version ranges (any of them)
//	fixed: ['6.1.76', '6.6.15']         # optional: releases with the fix
//	links: [https://docs.kernel.org/…]
//	tags: [lockup, watchdog]
//	match:                              # see Rules; regular expressions are RE2
//	  title: ['^BUG: soft lockup']
//	  type: [soft lockup]
//	  frames: [some_function, its_caller]
//	  log: ['BUG: soft lockup - CPU#\d+ stuck for \d+s!']
//	  modules: [nvidia.*]
//	  taint: L
//	  in_module: true
//	  kernel: ['>=4.0']
//	  require: [type]
//	---
//	# The long form, in Markdown
//
// Unknown fields are errors, and every error names the file line. Single
// quotes keep backslashes in regular expressions literal.
package kb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
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

// Article is one known failure: what it looks like, why it happens, what to
// do, and the rules that recognise it in a crash.
type Article struct {
	// ID is the stable name ("hung-task-panic"): lower-case letters,
	// digits, '-', '.' and '_'. Feedback and links refer to it.
	ID    string `yaml:"id" json:"id"`
	Title string `yaml:"title" json:"title"` // one line, in the article's language
	// Lang is the language of the prose: "en" or "ja". Rules are
	// language-neutral; the index analyses the text by language.
	Lang string `yaml:"lang" json:"lang"`
	// Symptoms, Cause and Resolution are the short form an engineer reads
	// first: what the crash looks like, why it happens, what to do.
	Symptoms   string `yaml:"symptoms" json:"symptoms"`
	Cause      string `yaml:"cause" json:"cause"`
	Resolution string `yaml:"resolution" json:"resolution"`
	// Affected lists kernel version ranges that have the bug (any of
	// them), each a space-separated conjunction: ">=5.10 <6.1.76".
	Affected []string `yaml:"affected,omitempty" json:"affected,omitempty"`
	// Fixed lists the releases that carry the fix, one per stable branch
	// ("6.1.76", "6.6.15", "6.8").
	Fixed []string `yaml:"fixed,omitempty" json:"fixed,omitempty"`
	Links []string `yaml:"links,omitempty" json:"links,omitempty"` // http(s) URLs: documentation, fixes, reports
	Tags  []string `yaml:"tags,omitempty" json:"tags,omitempty"`   // search keywords
	Match Rules    `yaml:"match" json:"match"`                     // how to recognise the failure
	// Body is the Markdown after the front matter: the long form.
	Body string `yaml:"-" json:"body"`

	src      []byte // the file as read, kept so a stored article round-trips byte for byte
	compiled *compiled
}

// Rules recognise an article's failure in a crash. Each list is one
// criterion; an article is suggested when one of its key criteria matches
// (title, frames and log when it has any of them, else type, else the
// module and taint criteria) and every criterion in Require matches.
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
	// Kernel holds version ranges (any of them) outside which the article
	// is never suggested, such as messages that only some kernels print.
	// A crash whose kernel version is unknown is not filtered.
	Kernel []string `yaml:"kernel,omitempty" json:"kernel,omitempty"`
	// Require names criteria that must all match: title, type, frames,
	// log, modules, taint, in_module.
	Require []string `yaml:"require,omitempty" json:"require,omitempty"`
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
)

// taintLetters are the kernel's taint flags (Documentation/admin-guide/tainted-kernels.rst).
const taintLetters = "PFSRMBUDAWCIOELKXTNJ"

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)

// ParseError is an article that cannot be loaded: the file, the line in it
// and why. The line is where the problem is; for a YAML error without a
// line, the front matter's first line; 0 when the whole file is wrong (not
// UTF-8, too large).
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

// yamlLine finds the line numbers in yaml.v3's messages ("yaml: line 3:
// …", "line 5: field x not found"), which count from the front matter's
// first line, not the file's.
var yamlLine = regexp.MustCompile(`\bline (\d+)\b`)

// ParseArticle reads one article: front matter between "---" lines, then
// the Markdown body. name is the file name errors carry. It rejects
// unknown fields, missing required fields, malformed ids, versions and
// taint letters, and regular expressions that do not compile or that the
// index cannot anchor; every error is a *ParseError whose line is the
// file's own line.
func ParseArticle(name string, data []byte) (*Article, error) {
	if len(data) > maxArticleSize {
		return nil, &ParseError{File: name, Msg: fmt.Sprintf("article is %d bytes, more than the %d allowed", len(data), maxArticleSize)}
	}
	if !utf8.Valid(data) {
		return nil, &ParseError{File: name, Msg: "article is not UTF-8 text"}
	}
	front, body, first, err := splitFrontMatter(data)
	if err != nil {
		return nil, &ParseError{File: name, Line: 1, Msg: err.Error(), Err: err}
	}
	offset := first - 1 // yaml's line 1 is the file's line `first`
	a := &Article{}
	if err := safeYAML(func() error {
		dec := yaml.NewDecoder(bytes.NewReader(front))
		dec.KnownFields(true)
		return dec.Decode(a)
	}); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ParseError{File: name, Line: first, Msg: "empty front matter"}
		}
		return nil, yamlError(name, front, err, offset, first)
	}
	var root yaml.Node
	if err := safeYAML(func() error { return yaml.Unmarshal(front, &root) }); err != nil { // cannot fail after Decode succeeded, but say so if it does
		return nil, yamlError(name, front, err, offset, first)
	}
	a.Body = string(body)
	a.src = append([]byte(nil), data...)
	if err := a.compile(); err != nil {
		var ve *validationError
		if errors.As(err, &ve) {
			line := first
			if l := nodeLine(&root, ve.path...); l > 0 {
				line = l + offset
			}
			return nil, &ParseError{File: name, Line: line, Msg: ve.msg, Err: ve.err}
		}
		return nil, &ParseError{File: name, Line: first, Msg: err.Error(), Err: err}
	}
	return a, nil
}

// errYAMLPanic is yaml.v3 failing by panicking instead of returning an
// error: the article is rejected, the caller (an API handler) survives.
var errYAMLPanic = errors.New("the YAML decoder failed on this input")

// safeYAML runs a yaml.v3 call, turning a panic into an error.
func safeYAML(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errYAMLPanic, r)
		}
	}()
	return fn()
}

// yamlParserErrors are the messages of yaml.v3's parser (as opposed to
// its scanner) errors: for those it reports a 0-based line.
var yamlParserErrors = regexp.MustCompile(`^line \d+: (?:did not find expected|found undefined tag handle|found duplicate %|found incompatible YAML document)`)

// yamlError turns a yaml.v3 error into a ParseError with the file's line.
func yamlError(name string, front []byte, err error, offset, first int) *ParseError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil && strings.HasPrefix(msg, "line ") {
		// A syntax error: yaml.v3 names a line near the problem, not
		// always the problem's (parser errors count from 0, some
		// errors name the enclosing construct). The first prefix of the
		// front matter that does not parse ends at the problem line or
		// before it, so the later of the two is the better answer.
		n, _ := strconv.Atoi(m[1])
		if yamlParserErrors.MatchString(msg) {
			n++
		}
		n = max(n, firstBadLine(front))
		msg = yamlLine.ReplaceAllString(msg, "")
		msg = strings.TrimPrefix(msg, ": ")
		return &ParseError{File: name, Line: n + offset, Msg: "front matter: " + msg, Err: err}
	}
	msg = yamlLine.ReplaceAllStringFunc(msg, func(s string) string {
		n, _ := strconv.Atoi(yamlLine.FindStringSubmatch(s)[1])
		if line == 0 {
			line = n + offset
		}
		return "line " + strconv.Itoa(n+offset)
	})
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	msg = strings.ReplaceAll(msg, "kb.Article", "article")
	msg = strings.ReplaceAll(msg, "kb.Rules", "match")
	if line == 0 {
		line = first
	}
	return &ParseError{File: name, Line: line, Msg: "front matter: " + msg, Err: err}
}

// firstBadLine finds, by bisection, the fewest leading lines of a front
// matter that YAML cannot parse (0 when the whole of it parses).
func firstBadLine(front []byte) int {
	lines := bytes.SplitAfter(front, []byte("\n"))
	bad := func(k int) bool {
		var n yaml.Node
		return safeYAML(func() error { return yaml.Unmarshal(bytes.Join(lines[:k], nil), &n) }) != nil
	}
	if !bad(len(lines)) {
		return 0
	}
	lo, hi := 1, len(lines) // bad(hi); find the smallest such
	for lo < hi {
		mid := (lo + hi) / 2
		if bad(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi
}

// splitFrontMatter cuts an article into its front matter and body; first
// is the file line of the front matter's first line.
func splitFrontMatter(data []byte) (front, body []byte, first int, err error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	l, rest, _ := cutLine(data)
	if strings.TrimRight(string(l), " \t") != "---" {
		return nil, nil, 0, ErrNoFrontMatter
	}
	start := len(data) - len(rest)
	pos := start
	for len(rest) > 0 {
		l, next, _ := cutLine(rest)
		if t := strings.TrimRight(string(l), " \t"); t == "---" || t == "..." {
			return data[start:pos], next, 2, nil
		}
		pos += len(rest) - len(next)
		rest = next
	}
	return nil, nil, 0, errors.New("front matter is not closed: no --- line after the first")
}

// cutLine returns the first line of b without its "\n" or "\r\n".
func cutLine(b []byte) (line, rest []byte, found bool) {
	line, rest, found = bytes.Cut(b, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), rest, found
}

// nodeLine finds the line of what path names (mapping keys as strings:
// the key's line; sequence indices as ints: the element's line) in a
// parsed YAML document, or the line of the deepest part that exists.
func nodeLine(n *yaml.Node, path ...any) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					line = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return line
			}
		case int:
			if n.Kind != yaml.SequenceNode || k >= len(n.Content) {
				return line
			}
			n = n.Content[k]
			line = n.Line
		}
	}
	return line
}

// validationError is a check that failed, with where in the front matter.
type validationError struct {
	path []any
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
	title    []*regexp.Regexp
	types    []string // lower-case
	frames   []*regexp.Regexp
	log      []*regexp.Regexp
	modules  []*regexp.Regexp
	kernel   []versionRange
	affected []versionRange
	fixed    []Version
	require  map[string]bool
	keys     map[string]bool // see keyCriteria
	// Anchors: the words the index files each pattern under.
	titleAnchors  [][]anchor
	frameAnchors  [][]anchor
	logAnchors    [][]anchor
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
func (a *Article) build() (*compiled, error) {
	switch {
	case a.ID == "":
		return nil, invalid(nil, "id is required")
	case !idPattern.MatchString(a.ID):
		return nil, invalid(nil, fmt.Sprintf("id %q: use lower-case letters, digits, '-', '.' and '_' (at most 100)", a.ID), "id")
	case strings.TrimSpace(a.Title) == "":
		return nil, invalid(nil, "title is required", "title")
	case a.Lang == "":
		return nil, invalid(nil, "lang is required (en or ja)")
	case a.Lang != "en" && a.Lang != "ja":
		return nil, invalid(nil, fmt.Sprintf("lang %q: en or ja", a.Lang), "lang")
	case strings.TrimSpace(a.Symptoms) == "":
		return nil, invalid(nil, "symptoms is required", "symptoms")
	case strings.TrimSpace(a.Cause) == "":
		return nil, invalid(nil, "cause is required", "cause")
	case strings.TrimSpace(a.Resolution) == "":
		return nil, invalid(nil, "resolution is required", "resolution")
	}
	c := &compiled{require: map[string]bool{}}
	r := &a.Match
	for _, l := range []struct {
		name string
		n    int
	}{{"title", len(r.Title)}, {"type", len(r.Type)}, {"frames", len(r.Frames)}, {"log", len(r.Log)},
		{"modules", len(r.Modules)}, {"kernel", len(r.Kernel)}, {"require", len(r.Require)}} {
		if l.n > maxRules {
			return nil, invalid(nil, fmt.Sprintf("match.%s has %d entries, more than %d", l.name, l.n, maxRules), "match", l.name)
		}
	}
	if len(a.Affected) > maxRules || len(a.Fixed) > maxRules || len(a.Links) > maxRules || len(a.Tags) > maxRules {
		return nil, invalid(nil, fmt.Sprintf("affected, fixed, links and tags take at most %d entries each", maxRules))
	}
	var err error
	if c.title, c.titleAnchors, err = compileList(r.Title, "title", false); err != nil {
		return nil, err
	}
	if c.frames, c.frameAnchors, err = compileList(r.Frames, "frames", true); err != nil {
		return nil, err
	}
	if c.log, c.logAnchors, err = compileList(r.Log, "log", false); err != nil {
		return nil, err
	}
	for i, an := range c.logAnchors {
		if an == nil {
			return nil, invalid(nil, fmt.Sprintf("match.log[%d] %q has no literal word of 3 or more characters: the index needs one to find the lines to try", i, r.Log[i]), "match", "log", i)
		}
	}
	if c.modules, c.moduleAnchors, err = compileList(r.Modules, "modules", true); err != nil {
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
		critModules: len(r.Modules) > 0, critTaint: r.Taint != "", critInModule: r.InModule,
	}
	for i, q := range r.Require {
		has, known := present[q]
		switch {
		case !known:
			return nil, invalid(nil, fmt.Sprintf("match.require[%d] %q: one of title, type, frames, log, modules, taint, in_module", i, q), "match", "require", i)
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
		return nil, invalid(nil, "match: an article needs at least one rule (title, type, frames, log, modules, taint or in_module)", "match")
	}
	for i, l := range a.Links {
		if !strings.HasPrefix(l, "https://") && !strings.HasPrefix(l, "http://") {
			return nil, invalid(nil, fmt.Sprintf("links[%d] %q is not an http(s) URL", i, l), "links", i)
		}
	}
	return c, nil
}

// compileList compiles one rule list; whole makes each pattern match a
// whole name (frames, modules).
func compileList(pats []string, field string, whole bool) ([]*regexp.Regexp, [][]anchor, error) {
	var res []*regexp.Regexp
	var anchors [][]anchor
	for i, p := range pats {
		if p == "" {
			return nil, nil, invalid(nil, fmt.Sprintf("match.%s[%d] is empty", field, i), "match", field, i)
		}
		if len(p) > maxPatternLen {
			return nil, nil, invalid(nil, fmt.Sprintf("match.%s[%d] is %d bytes, more than %d", field, i, len(p), maxPatternLen), "match", field, i)
		}
		src := p
		if whole {
			src = `^(?:` + p + `)$`
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, nil, invalid(err, fmt.Sprintf("match.%s[%d] %q: %v", field, i, p, err), "match", field, i)
		}
		tree, err := syntax.Parse(src, syntax.Perl)
		if err != nil { // regexp.Compile accepted it with the same flags
			return nil, nil, invalid(err, fmt.Sprintf("match.%s[%d] %q: %v", field, i, p, err), "match", field, i)
		}
		res = append(res, re)
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
// for an article built in Go, its front matter and body rendered anew.
func (a *Article) Markdown() []byte {
	if a.src != nil {
		return a.src
	}
	fm, err := yaml.Marshal(a)
	if err != nil { // plain strings and lists always marshal
		fm = []byte(fmt.Sprintf("id: %q\n", a.ID))
	}
	var b bytes.Buffer
	b.WriteString("---\n")
	b.Write(fm)
	b.WriteString("---\n")
	b.WriteString(a.Body)
	return b.Bytes()
}
