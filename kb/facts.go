package kb

import (
	"strconv"
	"strings"

	"github.com/vmcore/vmcore/analysis"
)

// facts is what matching needs from one crash, gathered once: every rule
// of every candidate article is checked against these.
type facts struct {
	sig    string
	titles []string // signature, oops title, alternative titles, panic line
	typ    string   // oops type, lower case
	traces []trace
	mods   []modFact
	taint  string // taint letters set (never G)
	// guilty is the crashing function and guiltyMod its module ("" when
	// built in or unknown).
	guilty, guiltyMod string
	kernel            Version
	kernelText        string
	haveKernel        bool
	lines             []string           // log lines scanned, capped
	words             map[string][]int32 // word (lower case) → lines holding it
	query             string             // the text search
	findings          findingFacts
	// noReport says no oops report could be read: none was found, or the
	// log is a translation (a machine-translated report whose panic
	// header alone the parser knows). The text search alone may then
	// suggest articles.
	noReport bool
}

// trace is one call trace, innermost frame first.
type trace struct {
	label string   // "the oops call trace", "the panic task's stack"…
	funcs []string // function names without clone suffixes
	mods  []string // module of each frame, "" for the kernel
}

// modFact is one module the crash mentions.
type modFact struct {
	name   string
	where  string // "in the call trace", "loaded", "linked in"
	taints string
}

// Bounds on what is scanned from one crash, so a huge or hostile log costs
// at most a few tens of milliseconds: the head of a log holds the version
// banner, its tail the crash.
const (
	maxHeadLines  = 500
	maxTailLines  = 20000
	maxLineLen    = 1024
	maxTraces     = 64
	maxTraceDepth = 128
	maxModules    = 1024
)

var (
	panicPrefix = &lazyRegexp{src: `(?i)^Kernel panic - not syncing: ?`}
	numberRE    = &lazyRegexp{src: `\b0x[0-9a-fA-F]+\b|\b\d+\b`}
	spaceRE     = &lazyRegexp{src: `\s+`}
)

// unknownSignature is the signature of a crash with neither an oops
// report nor a panic line.
const unknownSignature = "unknown crash"

// Signature is a crash's bucket key: crashes with the same signature are
// the same problem. It is the oops title (addresses, offsets and numbers
// already removed by the analyzer); without an oops report, the panic line
// with its numbers replaced by N; with neither, "unknown crash".
func Signature(a *analysis.Document) string {
	if a == nil {
		return unknownSignature
	}
	if a.Oops != nil && strings.TrimSpace(a.Oops.Title) != "" {
		return strings.TrimSpace(a.Oops.Title)
	}
	if a.System != nil {
		if s := normalisePanic(a.System.Panic); s != "" {
			return s
		}
	}
	return unknownSignature
}

// normalisePanic writes a panic line the way the analyzer writes panic
// titles: "Kernel panic - not syncing: X" becomes "kernel panic: X", and
// numbers (addresses, CPU and PID numbers, exit codes) become N.
func normalisePanic(p string) string {
	p = strings.TrimSpace(p)
	if p == "" {
		return ""
	}
	if loc := panicPrefix.get().FindStringIndex(p); loc != nil {
		p = "kernel panic: " + p[loc[1]:]
	}
	for strings.HasPrefix(p, "Oops: Oops: ") { // 6.12 prints the word twice
		p = strings.TrimPrefix(p, "Oops: ")
	}
	p = numberRE.get().ReplaceAllString(p, "N")
	p = spaceRE.get().ReplaceAllString(p, " ")
	if len(p) > 200 {
		p = p[:200]
	}
	return strings.TrimSpace(p)
}

// kernelLine finds the release and version string in "Linux version R
// (…) #1 SMP …" and in an oops's "Tainted: G OE R #1 Debian 6.1.192-2".
var (
	linuxVersionLine = &lazyRegexp{src: `Linux version (\S+) .*?(#\d+.*)$`}
	taintedLine      = &lazyRegexp{src: `(?:Not tainted|Tainted: [A-Z ]+?)\s+(\d+\.\d+\S*) (#\d+.*)$`}
)

func gatherFacts(a *analysis.Document) *facts {
	f := &facts{sig: Signature(a)}
	seen := map[string]bool{}
	addTitle := func(t string) {
		t = strings.TrimSpace(t)
		if t != "" && !seen[t] && len(f.titles) < 16 {
			seen[t] = true
			f.titles = append(f.titles, t)
		}
	}
	addTitle(f.sig)
	if o := a.Oops; o != nil {
		addTitle(o.Title)
		for _, t := range o.AltTitles {
			addTitle(t)
		}
		f.typ = strings.ToLower(o.Type)
		f.guilty = o.Function
	}
	panicLine := ""
	if a.System != nil {
		panicLine = strings.TrimSpace(a.System.Panic)
		addTitle(panicLine)
	}
	f.gatherTraces(a)
	f.gatherModules(a)
	f.gatherTaint(a)
	f.gatherLog(a)
	f.findings = gatherFindings(a)
	release, version := "", ""
	if a.System != nil {
		release, version = a.System.Release, a.System.Version
	}
	if release == "" || version == "" {
		r, v := versionFromLog(f.lines)
		if release == "" {
			release = r
		}
		if version == "" {
			version = v
		}
	}
	f.kernel, f.kernelText, f.haveKernel = kernelVersion(release, version)
	var q []string
	if f.sig != unknownSignature {
		q = append(q, f.sig)
	}
	if f.guilty != "" {
		q = append(q, f.guilty)
	}
	if panicLine != "" && panicLine != f.sig {
		q = append(q, panicLine)
	}
	f.noReport = a.Oops == nil || translated(f.lines)
	if f.noReport {
		// A report the parser did not recognise: a translation, a
		// hand-typed panic, a paste of a few lines. Its words are the
		// query, Japanese lines first.
		q = append(q, reportText(f.lines, maxReportQuery))
	}
	f.query = strings.Join(q, " ")
	return f
}

// gatherTraces collects the call traces: the oops report's, the panic
// task's and every other CPU's from the dump, then the blocked tasks'.
// Frames the unwinder or the kernel marked unreliable ('?') are left out
// when a trace has reliable ones: they are stale stack contents.
func (f *facts) gatherTraces(a *analysis.Document) {
	if a.Oops != nil && len(a.Oops.Frames) > 0 {
		t := trace{label: "the oops call trace"}
		reliable := 0
		for _, fr := range a.Oops.Frames {
			if !fr.Unreliable {
				reliable++
			}
		}
		for _, fr := range a.Oops.Frames {
			if (!fr.Unreliable || reliable == 0) && len(t.funcs) < maxTraceDepth {
				t.funcs = append(t.funcs, baseName(fr.Function))
				t.mods = append(t.mods, fr.Module)
			}
		}
		f.traces = append(f.traces, t)
	}
	add := func(td analysis.Trace, label string) {
		if len(f.traces) >= maxTraces {
			return
		}
		t := trace{label: label}
		reliable := 0
		for _, fr := range td.Frames {
			if fr.Reliable && !fr.User {
				reliable++
			}
		}
		for _, fr := range td.Frames {
			if fr.User || fr.Function == "" || (!fr.Reliable && reliable > 0) || len(t.funcs) >= maxTraceDepth {
				continue
			}
			t.funcs = append(t.funcs, baseName(fr.Function))
			t.mods = append(t.mods, fr.Module)
		}
		if len(t.funcs) > 0 {
			f.traces = append(f.traces, t)
		}
	}
	for _, td := range a.Backtraces {
		if td.Panic {
			add(td, "the panic task's stack")
		}
	}
	for _, td := range a.Backtraces {
		if !td.Panic {
			add(td, "the stack of CPU "+strconv.Itoa(td.CPU))
		}
	}
	for _, g := range a.BlockedGroups {
		add(g.Trace, "a blocked task's stack")
	}
	// The guilty function's module: where a trace shows it.
	if f.guilty != "" {
		g := baseName(f.guilty)
		for _, t := range f.traces {
			for i, fn := range t.funcs {
				if fn == g && t.mods[i] != "" {
					f.guiltyMod = t.mods[i]
					return
				}
			}
		}
	}
}

// baseName drops compiler clone suffixes: foo.cold, foo.isra.0, foo.constprop.0.
func baseName(fn string) string {
	if i := strings.IndexByte(fn, '.'); i > 0 {
		return fn[:i]
	}
	return fn
}

// gatherModules lists the modules the crash names: in a call trace first
// (the strongest sign), then loaded, then "Modules linked in:".
func (f *facts) gatherModules(a *analysis.Document) {
	idx := map[string]int{}
	add := func(name, where, taints string) {
		if name == "" || len(f.mods) >= maxModules {
			return
		}
		if i, ok := idx[name]; ok {
			if f.mods[i].taints == "" {
				f.mods[i].taints = taints
			}
			return
		}
		idx[name] = len(f.mods)
		f.mods = append(f.mods, modFact{name: name, where: where, taints: taints})
	}
	for _, t := range f.traces {
		for _, m := range t.mods {
			add(m, "in the call trace", "")
		}
	}
	for _, m := range a.Modules {
		add(m.Name, "loaded", m.Taints)
	}
	if a.Oops != nil {
		for _, m := range linkedModules(a.Oops.Modules) {
			add(m[0], "linked in", m[1])
		}
	}
}

// linkedModules reads the words of "Modules linked in:" as module names
// and taint letters ("crashmod(OE)"), up to the "[last unloaded: x]" note,
// which names a module that is gone.
func linkedModules(words []string) [][2]string {
	var out [][2]string
	for _, w := range words {
		if strings.HasPrefix(w, "[") {
			break
		}
		name, taints := w, ""
		if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
			name, taints = w[:i], w[i+1:len(w)-1]
		}
		if name != "" {
			out = append(out, [2]string{name, taints})
		}
	}
	return out
}

// gatherTaint reads the taint letters from the dump's mask, or from the
// oops's "Tainted:" field when the dump gave none.
func (f *facts) gatherTaint(a *analysis.Document) {
	var b strings.Builder
	if a.Taint != nil && len(a.Taint.Flags) > 0 {
		for _, fl := range a.Taint.Flags {
			b.WriteString(fl.Letter)
		}
	} else if a.Oops != nil {
		for _, c := range a.Oops.Taint {
			if strings.ContainsRune(taintLetters, c) {
				b.WriteRune(c)
			}
		}
	}
	f.taint = b.String()
}

// gatherLog keeps the head and tail of the log, splits records into
// lines, and files each line under its words.
func (f *facts) gatherLog(a *analysis.Document) {
	n := len(a.Log)
	take := func(r analysis.Record) {
		for _, l := range strings.Split(r.Text, "\n") {
			if len(l) > maxLineLen {
				l = l[:maxLineLen]
			}
			if strings.TrimSpace(l) != "" {
				f.lines = append(f.lines, l)
			}
		}
	}
	if n <= maxHeadLines+maxTailLines {
		for _, r := range a.Log {
			take(r)
		}
	} else {
		for _, r := range a.Log[:maxHeadLines] {
			take(r)
		}
		for _, r := range a.Log[n-maxTailLines:] {
			take(r)
		}
	}
	if len(f.lines) > maxHeadLines+maxTailLines { // records of many lines each
		f.lines = append(f.lines[:maxHeadLines], f.lines[len(f.lines)-maxTailLines:]...)
	}
	f.words = map[string][]int32{}
	var buf []byte
	for i, l := range f.lines {
		buf = forEachWord(l, buf, func(w string) {
			ls := f.words[w]
			if len(ls) == 0 || ls[len(ls)-1] != int32(i) {
				f.words[w] = append(ls, int32(i))
			}
		})
	}
}

// versionFromLog finds the release and version string in the log.
func versionFromLog(lines []string) (release, version string) {
	for _, l := range lines {
		if m := linuxVersionLine.get().FindStringSubmatch(l); m != nil {
			return m[1], m[2]
		}
	}
	for _, l := range lines {
		if !strings.Contains(l, "ainted") {
			continue
		}
		if m := taintedLine.get().FindStringSubmatch(l); m != nil {
			return m[1], m[2]
		}
	}
	return "", ""
}

// anyMatches reports whether any of the patterns matches a title or a log
// line holding the pattern's anchor.
func (f *facts) anyMatches(res []*lazyRegexp, anchors [][]anchor) bool {
	for i, re := range res {
		for _, t := range f.titles {
			if re.MatchString(t) {
				return true
			}
		}
		for _, an := range anchors[i] {
			for _, ln := range f.linesWith(an) {
				if re.MatchString(f.lines[ln]) {
					return true
				}
			}
		}
	}
	return false
}

// linesWith lists the log lines holding a word the anchor fits.
func (f *facts) linesWith(an anchor) []int32 {
	if an.kind == wholeWord {
		return f.words[an.word]
	}
	var out []int32
	for w, lines := range f.words {
		if an.kind == wordPrefix && strings.HasPrefix(w, an.word) || an.kind == wordSuffix && strings.HasSuffix(w, an.word) {
			out = append(out, lines...)
		}
	}
	return out
}

// maxReportQuery bounds the report text a text search is given.
const maxReportQuery = 1000

// reportText is the text of a log for the text search: its lines in
// Japanese (or another CJK language) first, then its last lines, up to
// max bytes.
func reportText(lines []string, max int) string {
	var b strings.Builder
	add := func(l string) bool {
		if b.Len()+len(l) > max {
			return false
		}
		b.WriteString(l)
		b.WriteByte('\n')
		return true
	}
	for _, l := range lines {
		if hasCJK(l) && !add(strings.TrimSpace(l)) {
			return b.String()
		}
	}
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-20; i-- {
		if !hasCJK(lines[i]) && !add(strings.TrimSpace(lines[i])) {
			break
		}
	}
	return b.String()
}

// translated says a log reads as a translation: at least two of its
// lines, and a quarter of those with words, are in Chinese, Japanese or
// Korean script. A Japanese remark pasted between the lines of an English
// report is not a translation.
func translated(lines []string) bool {
	cjk, text := 0, 0
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		text++
		if hasCJK(l) {
			cjk++
		}
	}
	return cjk >= 2 && 4*cjk >= text
}
