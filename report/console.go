package report

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// lazyRE is a regular expression compiled on first use, so programs that
// never parse an oops (vmcorectl log) do not pay for compiling the table.
type lazyRE struct {
	src string
	// need is a literal every match holds: a line without it is not
	// matched at all, which is cheaper than running the expression.
	need string
	// macros says src holds the table's macros, expanded when compiled.
	macros bool
	c      *compiled
}

// compiled is a lazyRE's expression once compiled: one allocation a
// lazyRE at package initialisation.
type compiled struct {
	once sync.Once
	re   *regexp.Regexp
}

func re(s string) lazyRE { return lazyRE{src: s, c: new(compiled)} }

// needs is l matched only on text that holds the literal need.
func (l lazyRE) needs(need string) lazyRE { l.need = need; return l }

// set reports whether l holds an expression (the zero lazyRE holds none).
func (l lazyRE) set() bool { return l.c != nil }

func (l lazyRE) get() *regexp.Regexp {
	l.c.once.Do(func() {
		src := l.src
		if l.macros {
			src = macros.Replace(src)
		}
		l.c.re = regexp.MustCompile(src)
	})
	return l.c.re
}

// FindStringSubmatch, FindStringSubmatchIndex, MatchString and
// ReplaceAllString forward to the compiled expression.
func (l lazyRE) FindStringSubmatch(s string) []string {
	if l.need != "" && !strings.Contains(s, l.need) {
		return nil
	}
	return l.get().FindStringSubmatch(s)
}

func (l lazyRE) FindStringSubmatchIndex(s string) []int {
	if l.need != "" && !strings.Contains(s, l.need) {
		return nil
	}
	return l.get().FindStringSubmatchIndex(s)
}

func (l lazyRE) FindAllStringIndex(s string, n int) [][]int {
	if l.need != "" && !strings.Contains(s, l.need) {
		return nil
	}
	return l.get().FindAllStringIndex(s, n)
}

func (l lazyRE) MatchString(s string) bool {
	if l.need != "" && !strings.Contains(s, l.need) {
		return false
	}
	return l.get().MatchString(s)
}
func (l lazyRE) ReplaceAllString(s, repl string) string { return l.get().ReplaceAllString(s, repl) }

// Line prefixes to strip: syslog's "kernel:", the timestamp, the caller id
// and the level, in any combination, and what syzkaller's console capture
// puts before them (a login prompt the kernel interrupted, the count of
// dropped messages). A reporter's indentation before them goes too.
var (
	linePrefix = re(`^` +
		`(?:\*\* \d+ printk messages dropped \*\* )?` + // syzkaller's console capture
		`(?:\S+ login: )?` + // a login prompt the kernel interrupted
		`(?:<\d{1,3}>)?` + // a level before a syslog prefix
		`(?:` +
		`(?:\d{4} )?\S+\s+\d+日? [\d:.]+ (?:\S+ ){0,2}kernel:\s*` + // syslog, journalctl, in any locale ("Jun  1", "июл 27", "8月 14"), with a year or a level
		`|\d{4}-\d\d-\d\dT[\d:.]+(?:[+-][\d:]+|Z)? \S+ kernel:\s*` + // rsyslog's ISO time
		`|\d,\d+,\d+,[-c+](?:,[^;]*)?;` + // a /dev/kmsg record
		`)?` +
		`(?:<\d{1,3}>)?` + // the level
		`(?:\[\s*\+?\d+\.\d+\]|\[\w{3} \w{3}\s+\d+ [\d:]+ \d{4}\]|\[[A-Z][a-z]{2}\d{1,2} \d\d:\d\d\])?` + // printk, dmesg -T, dmesg -H times
		`(?:\[\s*([TC]\d+)\])?` + // the printk caller id
		`\s?`)
	// stamp is the part of a prefix that makes a line the kernel's: a
	// timestamp or syslog's "kernel:".
	stamp = re(`\[\s*\+?\d+\.\d+\]|\[\w{3} \w{3}\s|\[[A-Z][a-z]{2}\d{1,2} \d\d:\d\d\]|kernel:|<\d{1,3}>|^\d,\d+,\d+,`)
	// editorNumber is a line number that a reporter's editor, pager or
	// `cat -n` put in front of each line.
	editorNumber = re(`^[ \t]*(\d{1,9})(?:[ \t]+|[:|][ \t]?|$)`)
	// ownLine is a line of a program's own output that a console capture
	// interleaves with the kernel's (syzkaller's log lines, a shell): it
	// never continues a wrapped kernel line.
	ownLine = re(`^(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d |executing program|\S+ login:|Warning: Permanently added|[#$] )`)
)

// Contexts of a console line (see consoleLines).
const (
	// contextNone is a line without a timestamp.
	contextNone = ""
	// contextConsole is a timestamped line without a printk caller id.
	contextConsole = "console"
)

// console is the text of a log, line by line, with what logging, editors
// and mail did to it undone.
type console struct {
	// lines are the lines without their prefixes.
	lines []string
	// contexts say who printed each line: the printk caller id ("T123" a
	// task, "C1" a CPU in interrupt context) when the kernel has
	// CONFIG_PRINTK_CALLER, else contextConsole for a line with a
	// timestamp and contextNone for one without. A report is the lines of
	// its own context: another CPU's lines in the middle are not its own.
	contexts []string
	// first is the index in the input of the first line read.
	first int
	// orig is each line's index in the input (counted from first): a
	// line of the input may have become several (merged records) or none
	// (a translation between the lines).
	orig []int32
}

// Bounds on the input: a huge log is cut to its last maxLogLines lines (the
// end of a log is where a crash is), and a line to maxLineLen bytes (a
// printk record is at most 2 KiB; what is longer is not kernel output).
// One report spans at most maxReportLines lines: a KASAN report with its
// allocation and free stacks and memory dump, or a lockdep report with
// every lock held, is 100 to 300 lines.
const (
	maxLogLines    = 1 << 22
	maxLineLen     = 4096
	maxReportLines = 1000
)

// consoleLines splits text into lines and undoes what logging, editors and
// mail did to them, so that the formats match the kernel's own words. It
// removes, in order: a reporter's line numbers (see editorNumbers), the
// no-break spaces a mail client wrote for runs of spaces, the prefixes
// linePrefix names (with any indentation before them; the caller id, [T123]
// or [C1], is kept in callers to tell interleaved contexts apart), double
// spacing (see doubleSpaced), and the breaks a mail client or terminal put
// in long lines. first is the index in text of lines[0].
func consoleLines(text string) console {
	var first int
	if n := strings.Count(text, "\n"); n >= maxLogLines {
		cut := len(text)
		for range maxLogLines {
			cut = strings.LastIndexByte(text[:cut], '\n')
		}
		text, first = text[cut+1:], n+1-maxLogLines
	}
	input := strings.Split(text, "\n")
	quoted := quotedReply(input)
	raw := make([]string, 0, len(input))
	orig := make([]int32, 0, len(input))
	for i, l := range input {
		if len(l) > maxLineLen {
			l = l[:maxLineLen]
		}
		l = strings.TrimRight(l, "\r")
		for quoted && strings.HasPrefix(l, ">") {
			l = strings.TrimPrefix(l[1:], " ")
		}
		if strings.Contains(l, "\u00a0") {
			l = strings.ReplaceAll(l, "\u00a0", " ")
		}
		l = translate(l)
		if foreign(l) {
			continue // a translation or a remark between the log's lines
		}
		for _, part := range splitMerged(l) {
			raw, orig = append(raw, part), append(orig, int32(i))
		}
	}
	numbers := editorNumbers(raw)
	blank := make([]bool, len(raw))
	for i, l := range raw {
		if numbers != nil {
			l = l[numbers[i]:]
		}
		raw[i], blank[i] = l, strings.TrimSpace(l) == ""
	}
	dedent(raw, blank)
	lines := make([]string, len(raw))
	callers := make([]string, len(raw))
	stamped := make([]bool, len(raw))
	for i, l := range raw {
		body := strings.TrimLeft(l, " \t")
		if m := linePrefix.FindStringSubmatchIndex(body); m != nil && strings.TrimSpace(body[:m[1]]) != "" {
			if m[2] >= 0 {
				callers[i] = body[m[2]:m[3]]
			}
			stamped[i] = stamp.MatchString(body[:m[1]])
			l = body[m[1]:]
		}
		lines[i] = l
	}
	spacing := doubleSpaced(blank)
	// A mail client or a terminal wraps long lines: in a log whose lines
	// carry prefixes, the lines without one that do not start with white
	// space (the kernel's own continuation lines are indented) continue
	// the prefixed line before them. A break right after a '/' split a
	// path, so no space goes back there.
	host, last := -1, ""
	var joined strings.Builder
	flush := func() {
		if host >= 0 && joined.Len() > 0 {
			lines[host] = joined.String()
		}
		host = -1
		joined.Reset()
	}
	for i, l := range lines {
		switch {
		case stamped[i]:
			flush()
			if l != "" {
				host, last = i, strings.TrimRight(l, " ")
			}
		case blank[i]:
			if spacing == nil || !spacing[i] {
				flush()
			}
		case host >= 0 && l[0] != ' ' && l[0] != '\t' && !ownLine.MatchString(l):
			if joined.Len() == 0 {
				joined.WriteString(last)
			}
			if joined.Len()+1+len(l) > maxLineLen {
				flush()
				continue
			}
			if !strings.HasSuffix(last, "/") {
				joined.WriteByte(' ')
			}
			last = strings.TrimRight(l, " ")
			joined.WriteString(last)
			lines[i] = ""
		default:
			flush()
		}
	}
	flush()
	joinWrappedHeaders(lines, stamped, blank, spacing)
	for i, c := range callers {
		if c == "" && stamped[i] {
			callers[i] = contextConsole
		}
	}
	return console{lines: lines, contexts: callers, first: first, orig: orig}
}

// splitMerged splits a line that holds several timestamped records: a
// forum or a copy from a terminal joined them, or two CPUs' output met on
// the console. It returns the line alone when it holds one.
func splitMerged(l string) []string {
	open := strings.IndexByte(l, ']')
	if open < 0 || !strings.Contains(l[open:], "[") {
		return []string{l}
	}
	locs := embeddedStamp.FindAllStringIndex(l[open+1:], -1)
	if len(locs) == 0 || !leadingStamp.MatchString(l) {
		return []string{l}
	}
	var parts []string
	start := 0
	for _, loc := range locs {
		at := open + 1 + loc[0]
		if at == 0 || l[at-1] != ' ' || !balanced(l[start:at]) {
			// Not a joined record: another context's output in the
			// middle of a line (the console interleaves them), which
			// syzbot reads as one line.
			continue
		}
		parts = append(parts, strings.TrimRight(l[start:at], " "))
		start = at
	}
	return append(parts, l[start:])
}

// balanced reports whether s closes every bracket it opens: a whole record
// does, a record cut by another context's output often does not.
func balanced(s string) bool {
	round, square := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			round++
		case ')':
			round--
		case '[':
			square++
		case ']':
			square--
		}
	}
	return round == 0 && square == 0
}

var (
	// leadingStamp is a line's own timestamp, after at most a syslog or
	// level prefix.
	leadingStamp = re(`^.{0,48}?\[\s*\d+\.\d{6}\]`)
	// embeddedStamp is a printk timestamp inside a line.
	embeddedStamp = re(`\[\s*\d+\.\d{6}\](?:\[\s*[TC]\d+\])?`)
)

// foreign reports whether a line is no kernel output: it starts with
// Japanese or Chinese text, full-width punctuation included (a
// translation a poster put under each line, a remark).
func foreign(l string) bool {
	for _, r := range l {
		if r == ' ' || r == '\t' {
			continue
		}
		return r >= 0x3000
	}
	return false
}

// joinWrappedHeaders puts back together a report header that a mail
// client broke where nothing marks the continuation (no timestamps): a
// header that ends in a word that needs more ("at", "in", "on", a WARNING's
// file:line) continues on the next line unless that line is a kernel line
// of its own.
func joinWrappedHeaders(lines []string, stamped, blank, spacing []bool) {
	for i := 0; i < len(lines); i++ {
		for joins := 0; joins < 2 && cutShort(lines[i]) && hasHeaderKey(lines[i]); joins++ {
			j := i + 1
			if j < len(lines) && blank[j] && spacing != nil && spacing[j] {
				j++
			}
			if j >= len(lines) || stamped[j] || lines[j] == "" || lines[j][0] == ' ' || lines[j][0] == '\t' || kernelLine.MatchString(lines[j]) {
				break
			}
			sep := " "
			if strings.HasSuffix(lines[i], "/") {
				sep = ""
			}
			lines[i] = strings.TrimRight(lines[i], " ") + sep + strings.TrimSpace(lines[j])
			lines[j] = ""
		}
	}
}

// cutShort reports whether a line ends cut short: in the space a mail
// client leaves where it wraps, in a word that needs more, in a path cut at
// a '/', or (a WARNING) in the file and line before the function.
func cutShort(l string) bool {
	if strings.HasSuffix(l, " ") {
		return true
	}
	for _, w := range []string{" in", " at", " on", " of", " for", " to", "/"} {
		if strings.HasSuffix(l, w) {
			return true
		}
	}
	return strings.Contains(l, " at ") && warningAtFile.MatchString(l)
}

var (
	// warningAtFile ends a WARNING header before its function.
	warningAtFile = re(` at \S+:\d+$`)
	// kernelLine starts a line the kernel prints on its own.
	kernelLine = re(`^(?:\[|<\d|#|---|=|\(|\*|[A-Za-z][\w -]*:\s|Call [Tt]race|Modules linked|Code:|CPU:|Oops)`)
)

// hasHeaderKey reports whether l holds the key of any report class.
func hasHeaderKey(l string) bool {
	for _, cl := range linuxClasses() {
		if strings.Contains(l, cl.key) {
			return true
		}
	}
	return false
}

// quotedReply reports whether text is a reply that quotes a log: most of
// its lines start with the mail quote marker '>'.
func quotedReply(raw []string) bool {
	quoted, lines := 0, 0
	for _, l := range raw {
		if strings.TrimSpace(l) == "" {
			continue
		}
		lines++
		if strings.HasPrefix(l, ">") {
			quoted++
		}
	}
	return quoted >= 3 && 2*quoted > lines
}

// translate puts back the kernel's English words where a poster or a
// translation tool changed them: a report machine-translated to Japanese
// (カーネルパニック - 同期していません: …), a hand-typed "Kernel Panic".
// Only the words the report formats key on are put back; the rest of the
// line stays as it was.
func translate(l string) string {
	if !strings.Contains(l, "Kernel Panic") && !hasNonASCII(l) {
		return l
	}
	for _, t := range translations {
		l = strings.Replace(l, t.from, t.to, 1)
	}
	return l
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// translations are the header words of reports as translation tools and
// posters render them, longest first.
var translations = []struct{ from, to string }{
	{"Kernel Panic - not syncing", "Kernel panic - not syncing"},
	{"カーネルパニック - 同期していません", "Kernel panic - not syncing"},
	{"カーネルパニック - 同期しない", "Kernel panic - not syncing"},
	{"カーネル パニック - 同期していません", "Kernel panic - not syncing"},
	{"カーネルパニック-同期していません", "Kernel panic - not syncing"},
	{"コールトレース:", "Call Trace:"},
	{"呼び出しトレース:", "Call Trace:"},
	{"ソフトロックアップ - CPU#", "soft lockup - CPU#"},
	{"カーネルバグ", "kernel BUG"},
}

// dedent removes the indentation a reporter gave a whole block of text (a
// run of lines without a blank one): the white space all its lines start
// with. A block of one line is left alone, as the kernel indents lines of
// its own.
func dedent(raw []string, blank []bool) {
	for i := 0; i < len(raw); {
		if blank[i] {
			i++
			continue
		}
		j, indent := i+1, raw[i][:len(raw[i])-len(strings.TrimLeft(raw[i], " \t"))]
		for ; j < len(raw) && !blank[j] && indent != ""; j++ {
			for !strings.HasPrefix(raw[j], indent) {
				indent = indent[:len(indent)-1]
			}
		}
		for ; j < len(raw) && !blank[j]; j++ {
		}
		if indent != "" && j-i > 1 {
			for k := i; k < j; k++ {
				raw[k] = raw[k][len(indent):]
			}
		}
		i = j
	}
}

// editorNumbers finds the line numbers a reporter's editor, pager or
// `cat -n` put in front of the lines of a log: a run of at least three
// lines numbered n, n+1, n+2…, where two numbered lines may have a few
// unnumbered (wrapped) lines between them. It returns how many bytes to cut
// from the front of each line, or nil when no line is numbered.
func editorNumbers(raw []string) []int {
	const minRun, maxWrapped = 3, 4
	type numbered struct{ line, n, end int }
	var cut []int
	var run []numbered
	flush := func() {
		if len(run) >= minRun {
			if cut == nil {
				cut = make([]int, len(raw))
			}
			for _, x := range run {
				cut[x.line] = x.end
			}
		}
		run = run[:0]
	}
	for i, l := range raw {
		if len(run) > 0 && i-run[len(run)-1].line > maxWrapped+1 {
			flush()
		}
		if l == "" || (l[0] != ' ' && l[0] != '\t' && (l[0] < '0' || l[0] > '9')) {
			continue
		}
		m := editorNumber.FindStringSubmatchIndex(l)
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(l[m[2]:m[3]])
		if err != nil {
			continue
		}
		if len(run) > 0 && n != run[len(run)-1].n+1 {
			flush()
		}
		run = append(run, numbered{i, n, m[1]})
	}
	flush()
	return cut
}

// doubleSpaced finds the blank lines that only double-space a stretch of
// text (dmesg pasted into a mail client that doubles every line break): a
// chain of at least four blocks of text lines, each separated from the next
// by one blank line, at least half of the blocks a single line. It returns
// nil when there is none.
func doubleSpaced(blank []bool) []bool {
	const minBlocks = 4
	var spacing []bool
	var chain, single int // blocks in the chain, and how many are one line
	var gaps []int        // the blank lines between the chain's blocks
	flush := func() {
		if chain >= minBlocks && 2*single >= chain {
			if spacing == nil {
				spacing = make([]bool, len(blank))
			}
			for _, g := range gaps {
				spacing[g] = true
			}
		}
		chain, single, gaps = 0, 0, gaps[:0]
	}
	for i := 0; i < len(blank); {
		j := i
		for j < len(blank) && blank[j] == blank[i] {
			j++
		}
		switch {
		case !blank[i]:
			chain++
			if j-i == 1 {
				single++
			}
		case j-i == 1 && chain > 0 && j < len(blank):
			gaps = append(gaps, i)
		default:
			flush()
		}
		i = j
	}
	flush()
	return spacing
}
