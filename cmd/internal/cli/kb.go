package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/cmd/internal/env"
	"github.com/vmcore/vmcore/kb"
	"github.com/vmcore/vmcore/vmcore"
)

// kbDirEnv names the local knowledge-base directory when --kb is not given.
const kbDirEnv = "VMCORE_KB"

func newKBCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "kb", Short: "Search, show, list, add and match knowledge-base articles",
		Long: `The knowledge base: articles on known kernel failures, each with the rules that recognise it in a
crash and what to do about it. The articles shipped with vmcorectl are always there; --kb DIR
(or $VMCORE_KB) adds a local directory of articles, which replace shipped ones of the same id;
--server asks vmcored's knowledge base instead.`,
		GroupID: "text", Args: noArgs, RunE: func(c *cobra.Command, args []string) error {
			c.SetOut(s.Err)
			c.Usage()
			return usageError("no kb command given")
		}}
	c.AddCommand(newKBSearchCmd(s), newKBShowCmd(s), newKBListCmd(s), newKBAddCmd(s), newKBMatchCmd(s))
	return c
}

// addKBDirFlag adds --kb, defaulting to $VMCORE_KB.
func addKBDirFlag(fs *pflag.FlagSet) *string {
	return fs.String("kb", os.Getenv(kbDirEnv), "local knowledge-base `directory` of articles (default $"+kbDirEnv+")")
}

// langFlag is --lang: the language articles are shown in.
type langFlag struct{ lang string }

// addLangFlag adds --lang, defaulting to the language of $LC_ALL,
// $LC_MESSAGES or $LANG.
func addLangFlag(fs *pflag.FlagSet) *langFlag {
	l := &langFlag{}
	fs.StringVar(&l.lang, "lang", "", "show articles in this language: `en` or ja (default: from $LC_ALL, $LC_MESSAGES or $LANG)")
	return l
}

// get is the language asked for: --lang, else the locale's.
func (l *langFlag) get() string {
	if l.lang != "" {
		return kb.LocaleLang(l.lang)
	}
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := os.Getenv(k); v != "" {
			return kb.LocaleLang(v)
		}
	}
	return kb.DefaultLang
}

// openKB indexes the shipped articles and those of dir ("" for none); a
// local article replaces a shipped one with the same id. A broken local
// article is an error naming its file and line: answers from a partial
// knowledge base would look complete.
func openKB(dir string) (*kb.Index, error) {
	if dir == "" {
		return kb.BuiltinIndex()
	}
	shipped, err := kb.Builtin()
	if err != nil {
		return nil, err
	}
	local, err := kb.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("local knowledge base %s: %w", dir, err)
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
	ix := kb.NewIndex()
	if err := ix.Add(all...); err != nil {
		return nil, err
	}
	return ix, nil
}

func newKBSearchCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "search QUERY...", Short: "Search the articles (English or Japanese text, a log line, a function)",
		Args: rangeArgs(1, -1, "query")}
	dir := addKBDirFlag(c.Flags())
	srv := addServerFlags(c.Flags(), false)
	asJSON := c.Flags().Bool("json", false, "print the hits as JSON (docs/cli-json.md)")
	n := c.Flags().IntP("max", "n", 10, "at most this many hits")
	lang := addLangFlag(c.Flags())
	c.RunE = func(c *cobra.Command, words []string) error {
		var hits []kb.Hit
		if srv.URL() != "" && srv.server != "" {
			var res struct{ Hits []kb.Hit }
			if err := remoteJSON(c.Context(), srv, "/api/v1/kb/articles?n="+strconv.Itoa(*n)+"&q="+url.QueryEscape(strings.Join(words, " "))+"&lang="+lang.get(), &res); err != nil {
				return err
			}
			hits = res.Hits
		} else {
			ix, err := openKB(*dir)
			if err != nil {
				return err
			}
			hits = ix.Search(strings.Join(words, " "), *n, lang.get())
		}
		if *asJSON {
			if hits == nil {
				hits = []kb.Hit{}
			}
			return writeJSON(s.Out, hits)
		}
		if len(hits) == 0 {
			fmt.Fprintln(s.Err, "no article matches")
			return nil
		}
		for _, h := range hits {
			fmt.Fprintf(s.Out, "%-34s %s %7.3f  %s\n", h.ID, h.Lang, h.Score, h.Title)
		}
		return nil
	}
	return c
}

func newKBListCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "list", Short: "List the articles", Args: noArgs}
	dir := addKBDirFlag(c.Flags())
	asJSON := c.Flags().Bool("json", false, "print the articles as JSON (docs/cli-json.md)")
	lang := addLangFlag(c.Flags())
	c.RunE = func(c *cobra.Command, args []string) error {
		ix, err := openKB(*dir)
		if err != nil {
			return err
		}
		arts := ix.Articles()
		if *asJSON {
			return writeJSON(s.Out, arts)
		}
		for _, a := range arts {
			fmt.Fprintf(s.Out, "%-34s %-5s  %s\n", a.ID, strings.Join(a.Langs(), ","), a.Text(lang.get()).Title)
		}
		return nil
	}
	return c
}

func newKBShowCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "show ID", Short: "Print an article", Args: rangeArgs(1, 1, "article id")}
	dir := addKBDirFlag(c.Flags())
	srv := addServerFlags(c.Flags(), false)
	asJSON := c.Flags().Bool("json", false, "print the article as JSON (docs/cli-json.md)")
	markdown := c.Flags().Bool("markdown", false, "print the article's file (front matter and Markdown)")
	lang := addLangFlag(c.Flags())
	c.RunE = func(c *cobra.Command, ids []string) error {
		var a *kb.Article
		var err error
		if srv.server != "" {
			var res struct{ Markdown string }
			if err := remoteJSON(c.Context(), srv, "/api/v1/kb/articles/"+url.PathEscape(ids[0])+"?lang="+lang.get(), &res); err != nil {
				return err
			}
			if a, err = kb.ParseArticle(ids[0]+".md", []byte(res.Markdown)); err != nil {
				return err
			}
		} else {
			ix, err := openKB(*dir)
			if err != nil {
				return err
			}
			if a, err = ix.Get(ids[0]); err != nil {
				return err
			}
		}
		switch {
		case *asJSON:
			return writeJSON(s.Out, a)
		case *markdown:
			_, err = s.Out.Write(a.Markdown())
			return err
		}
		printArticle(s.Out, a.In(lang.get()))
		return nil
	}
	return c
}

// printArticle lays an article out for a terminal in one language: the
// short fields, the rules, then the long form.
func printArticle(w io.Writer, a kb.Localized) {
	fmt.Fprintf(w, "%s\n%s\n\n", a.Title, strings.Repeat("=", min(len(a.Title), 78)))
	fmt.Fprintf(w, "id:         %s (%s; written in %s)\n", a.ID, a.Lang, strings.Join(a.Langs(), ", "))
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
	list("findings", r.Findings)
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

func newKBAddCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "add FILE...", Short: "Check articles and copy them into the local knowledge base (or vmcored's)",
		Args: rangeArgs(1, -1, "article file")}
	dir := addKBDirFlag(c.Flags())
	srv := addServerFlags(c.Flags(), false)
	force := c.Flags().Bool("force", false, "replace an article of the same id already in the directory")
	c.RunE = func(c *cobra.Command, files []string) error {
		return kbAdd(c.Context(), s, files, *dir, srv, *force)
	}
	return c
}

// kbAdd checks articles and adds them to dir or to the server.
func kbAdd(ctx context.Context, s IO, files []string, dir string, srv *serverFlags, force bool) error {
	stdout := s.Out
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
	if srv.server != "" {
		return addRemote(ctx, srv, arts, sources, stdout)
	}
	if dir == "" {
		return usageError("no knowledge-base directory: give --kb DIR or set $%s (or --server URL)", kbDirEnv)
	}
	local, err := kb.LoadDir(dir)
	if err != nil {
		return fmt.Errorf("local knowledge base %s: %w", dir, err)
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
	check := kb.NewIndex()
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
		if !force {
			return fmt.Errorf("article %q is already in %s: use --force to replace it: %w", a.ID, dir, kb.ErrExists)
		}
		if _, err := os.Stat(filepath.Join(dir, a.ID+".md")); err != nil {
			return fmt.Errorf("article %q is in a file of %s not named %s.md: edit that file instead: %w", a.ID, dir, a.ID, kb.ErrExists)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, a := range arts {
		path, err := writeArticle(dir, a)
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
	Signature   string                `json:"signature"`
	Source      string                `json:"source"` // "dump" or "log"
	Suggestions []analysis.Suggestion `json:"suggestions"`
}

func newKBMatchCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "match DUMP [DUMP...] | LOGFILE | -", Short: "Suggest articles for a crash dump, a kernel log or pasted text",
		Long: `Suggest articles for a crash: a dump (analysed first), or a kernel log, a console capture or
text pasted from a mail or a forum (a file, or standard input for - or a pipe), with the
evidence for each suggestion.`,
		Args: rangeArgs(0, -1, "dump or log file")}
	dir := addKBDirFlag(c.Flags())
	asJSON := c.Flags().Bool("json", false, "print the signature and suggestions as JSON (docs/cli-json.md)")
	n := c.Flags().IntP("max", "n", kb.DefaultMaxSuggestions, "at most this many suggestions")
	lang := addLangFlag(c.Flags())
	f := &dumpFlags{}
	c.Flags().StringVar(&f.debuginfo, "debuginfo", "", "a vmlinux with DWARF for a dump (see vmcorectl analyze --help)")
	c.RunE = func(c *cobra.Command, files []string) error {
		ix, err := openKB(*dir)
		if err != nil {
			return err
		}
		a, source, err := analyseForKB(c.Context(), s, f, files)
		if err != nil {
			return err
		}
		m := &kb.Matcher{Index: ix, Max: *n, Lang: lang.get()}
		res := kbMatchResult{Signature: kb.Signature(a), Source: source}
		if res.Suggestions, err = m.Match(a); err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(s.Out, res)
		}
		fmt.Fprintf(s.Out, "signature: %s\n", res.Signature)
		if len(res.Suggestions) == 0 {
			fmt.Fprintln(s.Out, "no matching article")
			return nil
		}
		for i, sg := range res.Suggestions {
			fmt.Fprintf(s.Out, "\n%d. %s  %.2f  %s\n", i+1, sg.ID, sg.Confidence, sg.Title)
			for _, e := range sg.Evidence {
				fmt.Fprintf(s.Out, "     - %s\n", e)
			}
		}
		return nil
	}
	return c
}

// analyseForKB analyses a dump, or, when the input is not a dump, reads it
// as a kernel log (its head and tail up to kb.MaxLogBytes): a file, or
// standard input for - or a pipe. A file that is not a regular file (a
// FIFO, <(dmesg)) is read as a log stream too.
func analyseForKB(ctx context.Context, s IO, f *dumpFlags, files []string) (*analysis.Document, string, error) {
	if len(files) == 0 || len(files) == 1 && files[0] == "-" {
		if len(files) == 0 && s.InIsTerminal {
			return nil, "", usageError("give a DUMP or LOGFILE, or - to read a log from standard input")
		}
		return logStreamForKB(s.In, "standard input")
	}
	if len(files) == 1 {
		if st, err := os.Stat(files[0]); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
			fh, err := os.Open(files[0])
			if err != nil {
				return nil, "", err
			}
			defer fh.Close()
			return logStreamForKB(fh, files[0])
		}
	}
	d, err := env.OpenOptions().Open(ctx, files...)
	if err == nil {
		d.Close()
		a, err := f.analyzeFiles(ctx, files, 0, s.Err)
		if err != nil {
			return nil, "", err
		}
		warnAll(s.Err, a.Warnings)
		return a, "dump", nil
	}
	if !errors.Is(err, vmcore.ErrUnknownFormat) || len(files) != 1 {
		return nil, "", err
	}
	fh, err := os.Open(files[0])
	if err != nil {
		return nil, "", err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, "", err
	}
	if st.Size() > kb.MaxLogBytes {
		fmt.Fprintf(s.Err, "warning: %s is larger than %d MiB: only its first 64 KiB and its end are read\n", files[0], kb.MaxLogBytes>>20)
	}
	text, err := kb.ReadLog(fh, st.Size())
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", files[0], err)
	}
	return kb.LogAnalysis(text), "log", nil
}

// logStreamForKB reads a kernel log from a stream, keeping its head and
// tail as kb.ReadLogStream does. A dump cannot be analysed from a stream:
// it is refused by name.
func logStreamForKB(r io.Reader, name string) (*analysis.Document, string, error) {
	text, err := kb.ReadLogStream(r)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	if kb.LooksLikeDump(text) {
		return nil, "", fmt.Errorf("%s holds a crash dump, which is read from a file: give its name instead", name)
	}
	return kb.LogAnalysis(text), "log", nil
}

// builtinIndex is the shipped articles' index for the suggestions of a
// local analysis, built once per process (a few milliseconds: kb needs no
// search engine).
var builtinIndex = sync.OnceValues(kb.BuiltinIndex)

// suggest fills an analysis's KB suggestions from the shipped articles;
// a failure becomes a warning of the document, like a failed analysis step.
func suggest(a *analysis.Document) {
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

// printSuggestions prints the first n suggestions of an analysis, one a
// line, titled in language lang when the shipped article has it.
func printSuggestions(w io.Writer, sugs []analysis.Suggestion, n int, lang string) {
	ix, _ := builtinIndex()
	for i, s := range sugs {
		if i == n {
			break
		}
		title := s.Title
		if ix != nil {
			if a, err := ix.Get(s.ID); err == nil {
				title = a.Text(lang).Title
			}
		}
		fmt.Fprintf(w, "kb:    %s (%.2f) %s\n", s.ID, s.Confidence, title)
	}
}

// remoteJSON reads an API path of the server into out.
func remoteJSON(ctx context.Context, srv *serverFlags, path string, out any) error {
	c, err := srv.client()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := c.Get(ctx, path, &buf); err != nil {
		return err
	}
	return json.Unmarshal(buf.Bytes(), out)
}

// addRemote stores articles, checked here already, on the server, which
// checks them again.
func addRemote(ctx context.Context, srv *serverFlags, arts []*kb.Article, sources [][]byte, stdout io.Writer) error {
	c, err := srv.client()
	if err != nil {
		return err
	}
	for i, a := range arts {
		if err := c.Put(ctx, "/api/v1/kb/articles/"+url.PathEscape(a.ID), sources[i]); err != nil {
			return fmt.Errorf("%s: %w", a.ID, err)
		}
		fmt.Fprintf(stdout, "added %s to %s\n", a.ID, srv.URL())
	}
	return nil
}

// writeJSON prints v as JSON indented by two spaces: every --json output
// but log's JSON Lines.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
