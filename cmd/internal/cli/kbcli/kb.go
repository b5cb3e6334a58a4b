package kbcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/cmd/internal/cli"
	"github.com/vmcore/vmcore/cmd/internal/command"
	"github.com/vmcore/vmcore/kb"
	"github.com/vmcore/vmcore/vmcore"
)

// kbDirEnv names the local knowledge-base directory when --kb is not given.
const kbDirEnv = "VMCORE_KB"

const kbUsage = `usage: vmcorectl kb COMMAND [flags] ARGS

commands:
  search QUERY...      search the articles (English or Japanese text, a log line, a function)
  show ID              print an article
  list                 list the articles
  add FILE...          check articles and copy them into the local KB directory
  match DUMP|LOGFILE   suggest articles for a crash dump or a kernel log

The shipped articles are always there; --kb DIR (or $VMCORE_KB) adds a local
directory of articles, which replace shipped ones of the same id.
`

// runKB implements `vmcorectl kb`: the knowledge base, offline, from the
// articles shipped in the binary plus a local directory.
func runKB(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, kbUsage)
		return fmt.Errorf("%w: no kb command given", cli.ErrUsage)
	}
	switch args[0] {
	case "search":
		return runKBSearch(args[1:], stdout, stderr)
	case "show":
		return runKBShow(args[1:], stdout, stderr)
	case "list":
		return runKBList(args[1:], stdout, stderr)
	case "add":
		return runKBAdd(args[1:], stdout, stderr)
	case "match":
		return runKBMatch(args[1:], stdout, stderr)
	case cli.SuggestCommand:
		return runSuggest(os.Stdin, stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stderr, kbUsage)
		return nil
	}
	fmt.Fprint(stderr, kbUsage)
	return fmt.Errorf("%w: unknown kb command %q", cli.ErrUsage, args[0])
}

// kbDirFlag adds --kb, defaulting to $VMCORE_KB.
func kbDirFlag(fs *flag.FlagSet) *string {
	return fs.String("kb", os.Getenv(kbDirEnv), "local knowledge-base directory of articles (default $"+kbDirEnv+")")
}

// openKB indexes the shipped articles and those of dir ("" for none); a
// local article replaces a shipped one with the same id. A broken local
// article is an error naming its file and line: answers from a partial
// knowledge base would look complete. done releases the index.
func openKB(dir string) (ix *kb.Index, done func(), err error) {
	if dir == "" {
		ix, err := kb.BuiltinIndex()
		return ix, func() {}, err
	}
	shipped, err := kb.Builtin()
	if err != nil {
		return nil, nil, err
	}
	local, err := kb.LoadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("local knowledge base %s: %w", dir, err)
	}
	mine := map[string]bool{}
	for _, a := range local {
		mine[a.ID] = true
	}
	all := local
	for _, a := range shipped {
		if !mine[a.ID] {
			all = append(all, a)
		}
	}
	ix, err = kb.NewIndex()
	if err != nil {
		return nil, nil, err
	}
	if err := ix.Add(all...); err != nil {
		ix.Close()
		return nil, nil, err
	}
	return ix, func() { ix.Close() }, nil
}

func runKBSearch(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("kb search", "QUERY...", stderr)
	dir := kbDirFlag(fs)
	srv := cli.AddServerFlags(fs, false)
	asJSON := fs.Bool("json", false, "print the hits as JSON")
	n := fs.Int("n", 10, "at most this many hits")
	words, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(words) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no query given", cli.ErrUsage)
	}
	var hits []kb.Hit
	if srv.Remote() {
		var res struct{ Hits []kb.Hit }
		if err := remoteJSON(srv, "/api/v1/kb/articles?n="+strconv.Itoa(*n)+"&q="+url.QueryEscape(strings.Join(words, " ")), &res); err != nil {
			return err
		}
		hits = res.Hits
	} else {
		ix, done, err := openKB(*dir)
		if err != nil {
			return err
		}
		defer done()
		if hits, err = ix.Search(strings.Join(words, " "), *n); err != nil {
			return err
		}
	}
	if *asJSON {
		if hits == nil {
			hits = []kb.Hit{}
		}
		return writeJSON(stdout, hits)
	}
	if len(hits) == 0 {
		fmt.Fprintln(stderr, "no article matches")
		return nil
	}
	for _, h := range hits {
		fmt.Fprintf(stdout, "%-34s %s %7.3f  %s\n", h.ID, h.Lang, h.Score, h.Title)
	}
	return nil
}

func runKBList(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("kb list", "", stderr)
	dir := kbDirFlag(fs)
	asJSON := fs.Bool("json", false, "print the articles as JSON")
	if _, err := cli.ParseInterspersed(fs, args); err != nil {
		return err
	}
	ix, done, err := openKB(*dir)
	if err != nil {
		return err
	}
	defer done()
	arts := ix.Articles()
	if *asJSON {
		return writeJSON(stdout, arts)
	}
	for _, a := range arts {
		fmt.Fprintf(stdout, "%-34s %s  %s\n", a.ID, a.Lang, a.Title)
	}
	return nil
}

func runKBShow(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("kb show", "ID", stderr)
	dir := kbDirFlag(fs)
	srv := cli.AddServerFlags(fs, false)
	asJSON := fs.Bool("json", false, "print the article as JSON")
	markdown := fs.Bool("markdown", false, "print the article's file (front matter and Markdown)")
	ids, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		fs.Usage()
		return fmt.Errorf("%w: give one article id", cli.ErrUsage)
	}
	var a *kb.Article
	if srv.Remote() {
		var res struct{ Markdown string }
		if err := remoteJSON(srv, "/api/v1/kb/articles/"+url.PathEscape(ids[0]), &res); err != nil {
			return err
		}
		if a, err = kb.ParseArticle(ids[0]+".md", []byte(res.Markdown)); err != nil {
			return err
		}
	} else {
		ix, done, err := openKB(*dir)
		if err != nil {
			return err
		}
		defer done()
		if a, err = ix.Get(ids[0]); err != nil {
			return err
		}
	}
	switch {
	case *asJSON:
		return writeJSON(stdout, a)
	case *markdown:
		_, err := stdout.Write(a.Markdown())
		return err
	}
	printArticle(stdout, a)
	return nil
}

// printArticle lays an article out for a terminal: the short fields, the
// rules, then the long form.
func printArticle(w io.Writer, a *kb.Article) {
	fmt.Fprintf(w, "%s\n%s\n\n", a.Title, strings.Repeat("=", min(len(a.Title), 78)))
	fmt.Fprintf(w, "id:         %s (%s)\n", a.ID, a.Lang)
	field := func(name, v string) {
		if v = strings.TrimSpace(v); v != "" {
			fmt.Fprintf(w, "%-11s %s\n", name+":", wrap(v, 66, strings.Repeat(" ", 12)))
		}
	}
	list := func(name string, l []string) {
		if len(l) > 0 {
			field(name, strings.Join(l, "; "))
		}
	}
	list("affected", a.Affected)
	list("fixed in", a.Fixed)
	list("tags", a.Tags)
	fmt.Fprintln(w)
	field("symptoms", a.Symptoms)
	field("cause", a.Cause)
	field("resolution", a.Resolution)
	fmt.Fprintln(w)
	for _, l := range a.Links {
		fmt.Fprintf(w, "link:       %s\n", l)
	}
	r := a.Match
	list("title", r.Title)
	list("type", r.Type)
	if len(r.Frames) > 0 {
		field("frames", strings.Join(r.Frames, " → "))
	}
	list("log", r.Log)
	list("modules", r.Modules)
	field("taint", r.Taint)
	if r.InModule {
		field("in module", "yes")
	}
	list("kernel", r.Kernel)
	list("require", r.Require)
	if body := strings.TrimSpace(a.Body); body != "" {
		fmt.Fprintf(w, "\n%s\n", body)
	}
}

// wrap breaks text into lines of at most width bytes at spaces (a longer
// word stays whole), indenting the lines after the first. Japanese has no
// spaces and is left to the terminal.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(text) {
		if i > 0 {
			if n+1+len(w) > width {
				b.WriteString("\n" + indent)
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

func runKBAdd(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("kb add", "FILE...", stderr)
	dir := kbDirFlag(fs)
	srv := cli.AddServerFlags(fs, false)
	force := fs.Bool("force", false, "replace an article of the same id already in the directory")
	files, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no article file given", cli.ErrUsage)
	}
	// Every file must parse, and the directory with them must still load
	// and index, before anything is written.
	var arts []*kb.Article
	var sources [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		a, err := kb.ParseArticle(f, b)
		if err != nil {
			return err
		}
		arts, sources = append(arts, a), append(sources, b)
	}
	if srv.Remote() {
		return addRemote(srv, arts, sources, stdout)
	}
	if *dir == "" {
		return fmt.Errorf("%w: no knowledge-base directory: give --kb DIR or set $%s (or --server URL)", cli.ErrUsage, kbDirEnv)
	}
	local, err := kb.LoadDir(*dir)
	if err != nil {
		return fmt.Errorf("local knowledge base %s: %w", *dir, err)
	}
	have := map[string]bool{}
	for _, a := range local {
		have[a.ID] = true
	}
	shipped, err := kb.Builtin()
	if err != nil {
		return err
	}
	builtin := map[string]bool{}
	for _, a := range shipped {
		builtin[a.ID] = true
	}
	check, err := kb.NewIndex()
	if err != nil {
		return err
	}
	defer check.Close()
	var keep []*kb.Article
	adding := map[string]bool{}
	for _, a := range arts {
		adding[a.ID] = true
	}
	for _, a := range local {
		if !adding[a.ID] {
			keep = append(keep, a)
		}
	}
	if err := check.Add(append(keep, arts...)...); err != nil {
		return err
	}
	for _, a := range arts {
		if !have[a.ID] {
			continue
		}
		if !*force {
			return fmt.Errorf("article %q is already in %s: use --force to replace it: %w", a.ID, *dir, kb.ErrExists)
		}
		if _, err := os.Stat(filepath.Join(*dir, a.ID+".md")); err != nil {
			return fmt.Errorf("article %q is in a file of %s not named %s.md: edit that file instead: %w", a.ID, *dir, a.ID, kb.ErrExists)
		}
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	for _, a := range arts {
		path, err := writeArticle(*dir, a)
		if err != nil {
			return err
		}
		note := ""
		if builtin[a.ID] {
			note = " (replaces the shipped article of that id)"
		}
		fmt.Fprintf(stdout, "added %s to %s%s\n", a.ID, path, note)
	}
	return nil
}

// writeArticle writes DIR/ID.md through a temporary file, so a reader of
// the directory never sees half an article.
func writeArticle(dir string, a *kb.Article) (string, error) {
	path := filepath.Join(dir, a.ID+".md")
	tmp, err := os.CreateTemp(dir, "."+a.ID+".*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(a.Markdown()); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}

// kbMatchResult is what `kb match --json` prints.
type kbMatchResult struct {
	Signature   string                  `json:"signature"`
	Source      string                  `json:"source"` // "dump" or "log"
	Suggestions []analyzer.KBSuggestion `json:"suggestions"`
}

func runKBMatch(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("kb match", "DUMP [DUMP...] | LOGFILE", stderr)
	dir := kbDirFlag(fs)
	asJSON := fs.Bool("json", false, "print the signature and suggestions as JSON")
	n := fs.Int("n", kb.DefaultMaxSuggestions, "at most this many suggestions")
	debuginfo := cli.DebuginfoFlag(fs)
	files, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no dump or log file given", cli.ErrUsage)
	}
	ix, done, err := openKB(*dir)
	if err != nil {
		return err
	}
	defer done()
	a, source, err := analyseForKB(files, *debuginfo, stderr)
	if err != nil {
		return err
	}
	m := &kb.Matcher{Index: ix, Max: *n}
	res := kbMatchResult{Signature: kb.Signature(a), Source: source}
	if res.Suggestions, err = m.Match(a); err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "signature: %s\n", res.Signature)
	if len(res.Suggestions) == 0 {
		fmt.Fprintln(stdout, "no matching article")
		return nil
	}
	for i, s := range res.Suggestions {
		fmt.Fprintf(stdout, "\n%d. %s  %.2f  %s\n", i+1, s.ID, s.Confidence, s.Title)
		for _, e := range s.Evidence {
			fmt.Fprintf(stdout, "     - %s\n", e)
		}
	}
	return nil
}

// analyseForKB analyses a dump, or, when the file is not a dump, reads it
// as a kernel log (capped at kb.MaxLogBytes).
func analyseForKB(files []string, debuginfo string, stderr io.Writer) (*analyzer.Analysis, string, error) {
	d, err := command.OpenDumpFiles(files)
	if err == nil {
		defer d.Close()
		v, err := cli.FindVmlinux(d, debuginfo, stderr)
		if err != nil {
			return nil, "", err
		}
		if v != nil {
			defer v.Close()
		}
		a := analyzer.AnalyzeWith(d, v)
		for _, w := range a.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		return a, "dump", nil
	}
	if !errors.Is(err, vmcore.ErrUnknownFormat) || len(files) != 1 {
		return nil, "", err
	}
	f, err := os.Open(files[0])
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	if st.Size() > kb.MaxLogBytes {
		fmt.Fprintf(stderr, "warning: %s is larger than %d MiB: only its first 64 KiB and its end are read\n", files[0], kb.MaxLogBytes>>20)
	}
	text, err := kb.ReadLog(f, st.Size())
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", files[0], err)
	}
	return kb.LogAnalysis(text), "log", nil
}

// Register links the knowledge base into the command line: `kb` runs in
// this process, and so do the suggestions of a local `analyze`.
func Register() {
	cli.RegisterKB(cli.KB{
		Run:     runKB,
		Prepare: func() { go builtinIndex() },
		Suggest: suggestKB,
	})
}

// runSuggest serves vmcorectl's local `analyze`: it reads the analysis
// document from in and prints its suggestions and any warning as JSON.
// The shipped index is built while vmcorectl analyses the dump.
func runSuggest(in io.Reader, stdout io.Writer) error {
	// A run of milliseconds over a small heap: collecting while the index
	// is built would only slow it.
	debug.SetGCPercent(400)
	go builtinIndex()
	var a analyzer.Analysis
	if err := json.NewDecoder(in).Decode(&a); err != nil {
		return fmt.Errorf("reading the analysis document: %w", err)
	}
	a.Warnings = nil
	suggestKB(&a)
	return json.NewEncoder(stdout).Encode(struct {
		Suggestions []analyzer.KBSuggestion `json:"suggestions"`
		Warnings    []string                `json:"warnings"`
	}{a.KB, a.Warnings})
}

// builtinIndex is the shipped articles' index for the suggestions of a
// local analysis, from the cache (kb.BuiltinIndexIn): a run of vmcorectl
// analyze should not spend 30 ms indexing the same articles again.
var builtinIndex = sync.OnceValues(func() (*kb.Index, error) {
	ix, _, err := kb.BuiltinIndexIn(analyzer.CacheDir())
	return ix, err
})

// suggestKB fills an analysis's KB suggestions from the shipped articles;
// a failure becomes a warning of the document, like a failed analysis step.
func suggestKB(a *analyzer.Analysis) {
	ix, err := builtinIndex()
	if err != nil {
		a.Warnings = append(a.Warnings, "kb: "+err.Error())
		return
	}
	s, err := (&kb.Matcher{Index: ix}).Match(a)
	a.KB = s
	if err != nil {
		a.Warnings = append(a.Warnings, "kb: "+err.Error())
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(v)
}

// remoteJSON reads an API path of the server into out.
func remoteJSON(srv *cli.ServerOpts, path string, out any) error {
	c, err := srv.Client()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := c.Get(context.Background(), path, &buf); err != nil {
		return err
	}
	return json.Unmarshal(buf.Bytes(), out)
}

// addRemote stores articles, checked here already, on the server, which
// checks them again.
func addRemote(srv *cli.ServerOpts, arts []*kb.Article, sources [][]byte, stdout io.Writer) error {
	c, err := srv.Client()
	if err != nil {
		return err
	}
	for i, a := range arts {
		if err := c.Put(context.Background(), "/api/v1/kb/articles/"+url.PathEscape(a.ID), sources[i]); err != nil {
			return fmt.Errorf("%s: %w", a.ID, err)
		}
		fmt.Fprintf(stdout, "added %s to %s\n", a.ID, srv.ServerURL())
	}
	return nil
}
