package report

import (
	"strings"

	"github.com/vmcore/vmcore/analysis"
)

// header returns the class whose report starts at line i, if any.
func (c *console) header(i int) (*class, bool) {
	l := c.lines[i]
	classes := linuxClasses()
	for k := range classes {
		cl := &classes[k]
		if !strings.Contains(l, cl.key) || matchAny(l, cl.ignore) {
			continue
		}
		if i+1 < len(c.lines) && strings.Contains(c.lines[i+1], "** replaying previous printk message **") {
			// The console cut the line short and prints it again.
			continue
		}
		if strings.HasSuffix(strings.TrimRight(l, " "), "[inline]") && i+1 < len(c.lines) && strings.Contains(c.lines[i+1], cl.key) {
			// A symbolized report (syzbot's mails) names the inlined
			// function first, then repeats the header with the function
			// it was inlined into: the report starts there.
			continue
		}
		if strings.Contains(l, "---[ end ") && endMarker.MatchString(l) {
			// "---[ end Kernel panic - not syncing: … ]---" repeats
			// the panic's header.
			continue
		}
		return cl, true
	}
	return nil, false
}

// Markers and lines a report's extent depends on.
var (
	endMarker = re(`---\[ end (?:trace|Kernel panic)`).needs("---[ end ")
	// questionable is a frame the unwinder is not sure of: '?' on x86,
	// "(unreliable)" on powerpc.
	questionable = re(`(?:^|\] | )\? `)
	cpuContext   = re(`^C\d+$`).needs("C")
)

// Report lines that tell where a report's text ends.
const (
	// minLinesBeforePanic: a panic (panic_on_warn) or a lockdep report
	// after this many lines of a report only repeat its stack; before,
	// the report was a bare header and the panic's stack is its own.
	minLinesBeforePanic = 22
	// minLinesBeforePanicKMSAN: KMSAN reports have no "Call Trace:" and
	// registers, so they are shorter.
	minLinesBeforePanicKMSAN = 16
)

// tailAfterNext bounds how far past the next report's header a report's
// text is read.
const tailAfterNext = 100

// reportText is the text of one report: its lines in the context of its
// header, and where the next report starts.
type reportText struct {
	lines []string // the report's own lines, from the header on
	raw   []int    // each line's index in the console
	// own are the indices of the lines of the report's context,
	// unreliable frames included, up to the end of the text.
	own []int
	// titled is how many of lines the title is taken from: the text
	// stops at the next report unless printk caller ids keep reports
	// apart.
	titled int
	// next is the line where the next report starts, -1 when none does.
	next int
	// panic is the panic line the report led to, "" when none.
	panic string
}

// text gathers the report whose header is line s.
func (c *console) text(cl *class, s int) reportText {
	ctx := c.contexts[s]
	t := reportText{next: -1}
	minLines := minLinesBeforePanic
	if strings.Contains(c.lines[s], "BUG: KMSAN:") {
		minLines = minLinesBeforePanicKMSAN
	}
	counted, skipRest, allCPUs := 0, false, false
	for j := s; j < len(c.lines) && j < s+maxReportLines; j++ {
		l := c.lines[j]
		if t.next >= 0 && j >= t.next+tailAfterNext {
			// The text past the next report only tells whether this
			// one's call traces are whole: a bounded tail keeps a log
			// of thousands of reports linear.
			break
		}
		if j > s && t.next < 0 {
			if next, ok := c.header(j); ok && (!next.continues || cl.info || next == cl) {
				// Informational reports end at any other; a panic
				// or a trap inside a report is the report's own,
				// unless the report is one of the same class.
				t.next = j
			} else {
				for _, m := range infoWithStack {
					if strings.Contains(l, m) {
						t.next = j
						break
					}
				}
			}
		}
		if j > s {
			if lc := c.contexts[j]; lc != ctx && !(allCPUs && cpuContext.MatchString(lc)) {
				continue
			}
			t.own = append(t.own, j)
			if ctx != contextNone && (strings.Contains(l, "? ") && questionable.MatchString(l) || strings.HasSuffix(strings.TrimRight(l, " "), "(unreliable)")) && !strings.Contains(l, "<EOI>") {
				continue
			}
		} else {
			t.own = append(t.own, j)
		}
		counted++
		skip := skipRest
		switch {
		case strings.Contains(l, "Disabling lock debugging due to kernel taint"):
			skip = true
		case strings.Contains(l, "Sending NMI from CPU"):
			// A backtrace of all CPUs: their lines are the report's.
			allCPUs = true
		case strings.Contains(l, "Kernel panic - not syncing"):
			if t.panic == "" && j > s && t.next < 0 {
				t.panic = l
			}
			if counted > minLines {
				skipRest, skip = true, true
			}
		case strings.Contains(l, "WARNING: possible circular locking dependency detected") && counted > minLines:
			// An oops often makes lockdep report the locks the
			// reporting took: that report is not this one.
			skipRest, skip = true, true
		}
		if j > s && skip {
			continue
		}
		t.lines = append(t.lines, l)
		t.raw = append(t.raw, j)
		if t.next < 0 || (ctx != contextNone && ctx != contextConsole) {
			t.titled = len(t.lines)
		}
	}
	return t
}

// report builds the report of class cl whose header is line s, and returns
// the line where the search for the next report goes on.
func (c *console) report(cl *class, s int) (Report, int) {
	t := c.text(cl, s)
	titled := strings.Join(t.lines[:t.titled], "\n") + "\n"
	d := describe(cl, titled)
	r := Report{Type: d.kind, Header: strings.TrimSpace(c.lines[s]), Frames: []analysis.OopsFrame{}, rank: d.rank}
	r.Title = cleanTitle(d.title)
	for _, a := range d.alt {
		if a = cleanTitle(a); a != r.Title && !contains(r.AltTitles, a) {
			r.AltTitles = append(r.AltTitles, a)
		}
	}
	if d.corrupted != "" {
		r.Corrupted, r.Reason = true, d.corrupted
	} else if why := corrupted(r.Title, strings.Join(t.lines, "\n")+"\n", d.format); why != "" {
		r.Corrupted, r.Reason = true, why
	}
	r.Lines = c.extent(s, t)
	c.details(&r, t)
	if d.noFrame {
		// syzbot's rules found no frame: the best guess left is the
		// faulting function or the first frame outside generic code.
		f := guess(r.Frames, c.rip(t))
		if f == "" {
			f = d.named
		}
		if f != "" {
			r.Title = strings.Replace(r.Title, " in corrupted", " in "+f, 1)
			for i, a := range r.AltTitles {
				r.AltTitles[i] = strings.Replace(a, " in corrupted", " in "+f, 1)
			}
		}
	}
	if m := titleFrame.FindStringSubmatch(r.Title); m != nil && m[1] != "corrupted" {
		r.Function = m[1]
	} else if r.Type == KindPanic {
		// A panic's title names no function: the code that called
		// panic() is the best guess.
		r.Function = guess(r.Frames, "")
	}
	if t.panic != "" {
		if p, ok := panicTitle(t.panic); ok {
			r.Panic = p
			if p != r.Title && !contains(r.AltTitles, p) {
				r.AltTitles = append(r.AltTitles, p)
			}
		}
	}
	next := t.next
	if next < 0 {
		next = r.Lines[1] + 1
	}
	return r, next
}

// extent is the first and last line of a report: from its header to the
// end marker, the next report or the end of its text.
func (c *console) extent(s int, t reportText) [2]int {
	last := s
	for _, j := range t.own {
		if t.next >= 0 && j >= t.next {
			break
		}
		last = j
		if j > s && endMarker.MatchString(c.lines[j]) {
			break
		}
	}
	return [2]int{s, last}
}

// titleFrame is the function a title names (syzbot's report frame).
var funcName = re(`^[A-Za-z_][A-Za-z0-9_]*$`)

var titleFrame = re(`.* in ((?:<[a-zA-Z0-9_: ]+>)?[a-zA-Z0-9_:]+)`)

// panicTitle is the title of a "Kernel panic - not syncing" line.
func panicTitle(line string) (string, bool) {
	classes := linuxClasses()
	for k := range classes {
		if cl := &classes[k]; cl.key == "Kernel panic" {
			d := describe(cl, line+"\n")
			return cleanTitle(d.title), d.title != ""
		}
	}
	return "", false
}

// description is what a report's formats make of its text.
type description struct {
	kind      Kind
	title     string
	alt       []string
	corrupted string // why the report is corrupted, "" when it is not
	noFrame   bool   // the stack rule found no frame
	named     string // the last function the report expression named, a guess when noFrame
	format    *format
	rank      int
}

// describe titles text, a report of class cl from its header on: the
// format whose title matches earliest wins.
func describe(cl *class, text string) description {
	var d description
	start, matched := len(text), false
	for k := range cl.formats {
		f := &cl.formats[k]
		m := f.title.FindStringSubmatchIndex(text)
		if m == nil || m[0] > start || m[0] == start && d.title != "" {
			continue
		}
		if m[0] < start {
			d, start = description{}, m[0]
		}
		matched = true
		if f.report.set() {
			if m = f.report.FindStringSubmatchIndex(text); m == nil {
				continue
			}
		}
		var groups []string
		for i := 2; i+1 < len(m); i += 2 {
			if m[i] >= 0 {
				groups = append(groups, text[m[i]:m[i+1]])
			} else {
				groups = append(groups, "")
			}
		}
		var frames []string
		d.corrupted, d.noFrame = "", false
		if f.stack != nil {
			var ok bool
			if frames, ok = f.stack.guiltyFrames(text[m[0]:]); !ok {
				d.corrupted, d.noFrame = "no frame in the call trace its class needs", true
			}
		}
		d.named = ""
		for _, g := range groups {
			if funcName.MatchString(g) {
				d.named = g
			}
		}
		d.title = expand(f.fmt, groups, frames)
		d.alt = d.alt[:0]
		for _, a := range f.alt {
			d.alt = append(d.alt, expand(a, groups, frames))
		}
		d.kind, d.format, d.rank = f.kind, f, f.rank
	}
	if d.title == "" {
		if matched {
			d.corrupted = "the report's title matches, its body does not"
		}
		d.kind = cl.kind
		if d.kind == "" {
			d.kind = cl.formats[0].kind
		}
		d.format = nil
		if i := strings.Index(text, cl.key); i >= 0 {
			end := strings.IndexByte(text[i:], '\n')
			if end < 0 {
				end = len(text) - i
			}
			d.title = text[i : i+end]
		}
	}
	if d.corrupted == "" && d.format != nil && d.format.corrupted {
		d.corrupted = "the report's header is cut short or its report lost"
	}
	return d
}

// expand fills a title template in one pass, so that text from the log (a
// panic reason) is never expanded again.
func expand(tmpl string, groups, frames []string) string {
	var b strings.Builder
	for t := tmpl; t != ""; {
		switch {
		case strings.HasPrefix(t, "{{FUNC}}"):
			if len(frames) > 0 {
				b.WriteString(frames[0])
			}
			t = t[len("{{FUNC}}"):]
		case strings.HasPrefix(t, "{{FUNC2}}"):
			if len(frames) > 1 {
				b.WriteString(frames[1])
			}
			t = t[len("{{FUNC2}}"):]
		case len(t) > 1 && t[0] == '$' && t[1] >= '1' && t[1] <= '9':
			if k := int(t[1] - '1'); k < len(groups) {
				b.WriteString(groups[k])
			}
			t = t[2:]
		default:
			b.WriteByte(t[0])
			t = t[1:]
		}
	}
	return b.String()
}

// corrupted says why a whole report (text, from its header on) is
// corrupted, "" when it is not: a title that caught a timestamp, or a
// class that needs a call trace without one.
func corrupted(title, text string, f *format) string {
	if timestampInTitle.MatchString(title) {
		return "a timestamp in the title: lines merged"
	}
	if f == nil || f.noStack || f.fmt == "" {
		return ""
	}
	// Each kind of stack the report has ("Call Trace", "Allocated by",
	// "Freed by", "backtrace") must show at least one frame in the few
	// lines after its heading.
	hasStack := false
	for _, start := range stackStarts {
		loc := start.get().FindStringIndex(text)
		if loc == nil {
			continue
		}
		lines := strings.Split(text[loc[0]:], "\n")
		if len(lines) < 4 {
			return "the call trace is cut short"
		}
		found := false
	window:
		for _, l := range lines[1:min(16, len(lines))] {
			if matchAny(l, stackStarts) {
				break window
			}
			if strings.Contains(l, "(stack is not available)") || matchAny(l, frameLines) {
				found = true
				break
			}
		}
		if found {
			hasStack = true
		} else if start.src != riscvStackStart.src {
			return "no frames in a call trace"
		}
	}
	if !hasStack {
		return "no call trace"
	}
	return ""
}

var timestampInTitle = re(`\[ *[0-9]+\.[0-9]+\]`)

// Lines whose details a report keeps.
var (
	// frameLine is a call trace frame: x86 and arm ("[<pc>] ? f+0x1/0x2
	// [mod]"), powerpc ("[sp] [pc] f+0x1/0x2 (unreliable)").
	frameLine    = re(`^\s*(?:\[<[0-9a-f]+>\]\s*|\[[0-9a-f]{8,16}\] \[[0-9a-f]{8,16}\]\s*)?(\? )?([\w.$]+)\+(0x[0-9a-f]+/0x[0-9a-f]+)(?: \[(\w+)\])?( \(unreliable\))?`)
	armFrameLine = re(`^\s*\[<[0-9a-f]+>\] ?\(([\w.$]+)(?:\+(0x[0-9a-f]+/0x[0-9a-f]+))?(?: \[(\w+)\])?\) from \[<[0-9a-f]+>\] ?\(([\w.$]+)\+(0x[0-9a-f]+/0x[0-9a-f]+)(?: \[(\w+)\])?\)`).needs(") from [<")
	ripLine      = re(`^(?:RIP: [0-9a-f]{4}:(?:\[<[0-9a-f]+>\]\s+\[<[0-9a-f]+>\] )?|pc : |PC is at |EIP: [0-9a-f]{4}:\[<[0-9a-f]+>\] |NIP:\s+\[[0-9a-f]+\] )([\w.$]+)\+0x`)
	taintLine    = re(`Tainted: ([A-Z ]+?)\s+[0-9]`)
)

// details fills in what a report shows besides its title: the first call
// trace's frames, the modules and the taint. The lines are those of the
// report's context, '?' frames included.
func (c *console) details(r *Report, t reportText) {
	inTrace := false
	for _, j := range t.own {
		if j > r.Lines[1] {
			return
		}
		l := strings.TrimSpace(c.lines[j])
		switch {
		case strings.HasPrefix(l, "Call Trace:"), strings.HasPrefix(l, "Call trace:"), strings.HasPrefix(l, "Backtrace:"):
			if len(r.Frames) > 0 {
				return
			}
			inTrace = true
			continue
		case strings.HasPrefix(l, "Modules linked in:"):
			if r.Modules == nil {
				r.Modules = strings.Fields(strings.TrimPrefix(l, "Modules linked in:"))
			}
			continue
		case j > t.raw[0] && len(r.Frames) > 0 && matchAny(l, stackStarts):
			return
		}
		if m := taintLine.FindStringSubmatch(l); m != nil && r.Taint == "" {
			r.Taint = strings.ReplaceAll(strings.TrimSpace(m[1]), " ", "")
		}
		if !inTrace && r.Type != KindHungTask && r.Type != KindKFENCE && r.Type != KindMemoryLeak && r.Type != KindKMSAN {
			continue
		}
		if strings.HasPrefix(l, "RIP:") || strings.HasPrefix(l, "pc :") || strings.HasPrefix(l, "lr :") {
			continue
		}
		if m := frameLine.FindStringSubmatch(c.lines[j]); m != nil {
			r.Frames = append(r.Frames, analysis.OopsFrame{Function: m[2], Offset: m[3], Module: m[4], Unreliable: m[1] != "" || m[5] != ""})
		} else if m := armFrameLine.FindStringSubmatch(c.lines[j]); m != nil {
			// "[<pc>] (f) from [<lr>] (g+0x1/0x2)": f was called by g;
			// f is a frame of its own only on the first line.
			if len(r.Frames) == 0 {
				r.Frames = append(r.Frames, analysis.OopsFrame{Function: m[1], Offset: m[2], Module: m[3]})
			}
			r.Frames = append(r.Frames, analysis.OopsFrame{Function: m[4], Offset: m[5], Module: m[6]})
		}
	}
}

// rip is the function at the faulting instruction, "" when none is named.
func (c *console) rip(t reportText) string {
	for _, l := range t.lines {
		if m := ripLine.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			return m[1]
		}
	}
	return ""
}

// guess is the guilty frame when the class's rule finds none: the
// faulting function unless it is generic code (the project's narrow list:
// syzbot's skips substrings, which a function that faults may well hold),
// else the first frame outside generic code, reliable ones first, else
// the faulting function after all.
func guess(frames []analysis.OopsFrame, rip string) string {
	if rip != "" && !genericFrames.match(baseName(rip)) {
		return canonicalFrame(baseName(rip))
	}
	for _, unreliable := range []bool{false, true} {
		for _, f := range frames {
			if strings.HasPrefix(f.Offset, "0x0/") {
				// A return address past a call to a noreturn function
				// (panic) that ends its caller: the symbol is the next
				// function's, not the caller's.
				continue
			}
			if f.Unreliable == unreliable && !IsGenericFrame(f.Function) {
				return canonicalFrame(baseName(f.Function))
			}
		}
	}
	return canonicalFrame(baseName(rip))
}

// baseName is a function without its clone suffix (.cold, .isra.0).
func baseName(fn string) string {
	base, _, _ := strings.Cut(fn, ".")
	return base
}
