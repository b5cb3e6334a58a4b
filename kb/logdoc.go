package kb

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/report"
)

// MaxLogBytes bounds the kernel log text LogAnalysis reads: the first
// 64 KiB (boot banner, version, command line) and the last part up to this
// size (where the crash is). A ring buffer is rarely more than a few MiB; a
// console capture of weeks is cut instead of costing seconds.
const MaxLogBytes = 4 << 20

const logHeadBytes = 64 << 10

// Prefixes logs carry in front of the kernel's text: syslog's "host
// kernel:", ISO timestamps, "<N>" levels, "[  12.345678]" and caller ids.
var logPrefix = &lazyRegexp{src: `^(?:<\d>)?(?:[A-Z][a-z]{2}\s+\d+ [\d:]+ \S+ kernel:\s*|\d{4}-\d\d-\d\dT[\d:.]+(?:[+-][\d:]+|Z)? \S+ kernel:\s*)?(?:<\d>)?(?:\[\s*\d+\.\d+\]\s?)?(?:\[\s*[TC]\d+\]\s?)?`}

// Lines that name a module and the taint its loading set.
var moduleTaintLines = []struct {
	re     *lazyRegexp
	letter string
}{
	{&lazyRegexp{src: `^(\w+): loading out-of-tree module taints kernel`}, "O"},
	{&lazyRegexp{src: `^(\w+): module verification failed: signature and/or required key missing`}, "E"},
	{&lazyRegexp{src: `^(\w+): module license '[^']*' taints kernel`}, "P"},
	{&lazyRegexp{src: `^(\w+): module is from the staging directory`}, "C"},
	{&lazyRegexp{src: `^(\w+): module is marked as out-of-tree`}, "O"},
}

var (
	ripWithModule = &lazyRegexp{src: `^\s*(?:RIP: [0-9a-f]{4}:|pc : |PC is at )([\w.$]+)\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[(\w+)\])?`}
	panicLineRE   = &lazyRegexp{src: `(?i)Kernel panic - not syncing: .*`}
)

// LogAnalysis builds the analysis document that a kernel log alone
// (dmesg, a console capture, pasted text) gives, for matching when there is
// no dump: the primary oops report, the kernel release and version string
// from the banner or the oops header, the panic line, the modules named by
// "Modules linked in:" and by taint messages, and the taint letters. When
// the call trace does not show the faulting function, the oops frames
// start with the RIP line's function and module. Only MaxLogBytes of the
// text are read; it never fails.
func LogAnalysis(text string) *analysis.Document {
	text = capLog(text)
	a := &analysis.Document{Schema: analysis.Schema, Backtraces: []analysis.Trace{}, Blocked: []analysis.Trace{},
		BlockedGroups: []analysis.BlockedGroup{}, Modules: []analysis.Module{}, Log: []analysis.Record{},
		KB: []analysis.Suggestion{}, Warnings: []string{}}
	raw := strings.Split(text, "\n")
	lines := make([]string, 0, len(raw))
	for i, l := range raw {
		l = strings.TrimRight(l, "\r")
		if m := logPrefix.get().FindStringIndex(l); m != nil {
			l = l[m[1]:]
		}
		if len(l) > maxLineLen {
			l = l[:maxLineLen]
		}
		raw[i] = l
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
			a.Log = append(a.Log, analysis.Record{Seq: uint64(len(a.Log)), Text: l})
		}
	}
	reports := report.Parse(text)
	p := report.Primary(reports)
	if p != nil {
		a.Oops = &analysis.Oops{Title: p.Title, Type: string(p.Type), Function: p.Function, AltTitles: p.AltTitles,
			Frames: p.Frames, Modules: p.Modules, Taint: p.Taint, Corrupted: p.Corrupted, Reason: p.Reason, Reports: len(reports)}
		addRIPFrame(a.Oops, raw, p.Lines)
	}
	release, version := versionFromLog(lines)
	sys := &analysis.System{Release: release, Version: version}
	for i := len(lines) - 1; i >= 0; i-- {
		if m := panicLineRE.get().FindString(lines[i]); m != "" {
			sys.Panic = strings.TrimSpace(m)
			break
		}
	}
	if sys.Panic == "" && p != nil {
		sys.Panic = p.Header
	}
	if sys.Release != "" || sys.Panic != "" {
		a.System = sys
	}
	letters := map[byte]bool{}
	if p != nil {
		for i := 0; i < len(p.Taint); i++ {
			letters[p.Taint[i]] = true
		}
	}
	seen := map[string]int{}
	addModule := func(name, taints string) {
		if i, ok := seen[name]; ok {
			for _, c := range taints {
				if !strings.ContainsRune(a.Modules[i].Taints, c) {
					a.Modules[i].Taints += string(c)
				}
			}
			return
		}
		if len(a.Modules) < maxModules {
			seen[name] = len(a.Modules)
			a.Modules = append(a.Modules, analysis.Module{Name: name, State: "live", Taints: taints})
		}
	}
	for _, l := range lines {
		if !strings.Contains(l, ": module") && !strings.Contains(l, ": loading") {
			continue
		}
		for _, mt := range moduleTaintLines {
			if m := mt.re.get().FindStringSubmatch(l); m != nil {
				addModule(m[1], mt.letter)
				letters[mt.letter[0]] = true
			}
		}
	}
	if p != nil {
		for _, m := range linkedModules(p.Modules) {
			addModule(m[0], m[1])
		}
	}
	if len(letters) > 0 {
		td := &analysis.Taint{Flags: []analysis.TaintFlag{}}
		for _, fl := range analysis.TaintFlags {
			if letters[fl.Letter[0]] {
				td.Mask |= 1 << fl.Bit
				td.Flags = append(td.Flags, fl)
			}
		}
		a.Taint = td
	}
	return a
}

// addRIPFrame puts the faulting function first in the oops frames when the
// call trace lacks it, so its module is known.
func addRIPFrame(o *analysis.Oops, lines []string, span [2]int) {
	for i := max(span[0], 0); i <= span[1] && i < len(lines); i++ {
		m := ripWithModule.get().FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		for _, fr := range o.Frames {
			if fr.Function == m[1] {
				return
			}
		}
		o.Frames = append([]analysis.OopsFrame{{Function: m[1], Module: m[2]}}, o.Frames...)
		return
	}
}

// ReadLog reads a kernel log of size bytes from r the way LogAnalysis
// caps it: all of it up to MaxLogBytes, else the first 64 KiB and the
// last part, so a log file of any size costs at most MaxLogBytes of
// memory and reading.
func ReadLog(r io.ReaderAt, size int64) (string, error) {
	if size < 0 {
		return "", fmt.Errorf("reading a kernel log: negative size %d", size)
	}
	if size <= MaxLogBytes {
		b := make([]byte, size)
		if _, err := r.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading a kernel log: %w", err)
		}
		return string(b), nil
	}
	head := make([]byte, logHeadBytes)
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the head of a kernel log: %w", err)
	}
	tail := make([]byte, MaxLogBytes-logHeadBytes)
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the tail of a kernel log: %w", err)
	}
	return cutHeadTail(string(head), string(tail)), nil
}

// capLog keeps the head and the tail of a log that is larger than
// MaxLogBytes, cut at line ends.
func capLog(text string) string {
	if len(text) <= MaxLogBytes {
		return text
	}
	return cutHeadTail(text[:logHeadBytes], text[len(text)-(MaxLogBytes-logHeadBytes):])
}

// cutHeadTail joins a log's head and tail, each cut at a line end.
func cutHeadTail(head, tail string) string {
	if i := strings.LastIndexByte(head, '\n'); i >= 0 {
		head = head[:i+1]
	}
	if i := strings.IndexByte(tail, '\n'); i >= 0 {
		tail = tail[i+1:]
	}
	return head + tail
}

// ReadLogStream reads a kernel log from a stream (standard input, a pipe)
// the way ReadLog reads a file: all of it up to MaxLogBytes, else the
// first 64 KiB and the last part, so a stream of any length costs at most
// about twice MaxLogBytes of memory.
func ReadLogStream(r io.Reader) (string, error) {
	head := make([]byte, 0, logHeadBytes)
	var tail []byte
	tailCap := MaxLogBytes - logHeadBytes
	cut := false
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		chunk := buf[:n]
		if room := logHeadBytes - len(head); room > 0 && !cut {
			k := min(room, len(chunk))
			head = append(head, chunk[:k]...)
			chunk = chunk[k:]
		}
		tail = append(tail, chunk...)
		if len(tail) > 2*tailCap {
			tail = append(tail[:0], tail[len(tail)-tailCap:]...)
			cut = true
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("reading a kernel log: %w", err)
		}
	}
	if !cut && len(head)+len(tail) <= MaxLogBytes {
		return string(head) + string(tail), nil
	}
	if len(tail) > tailCap {
		tail = tail[len(tail)-tailCap:]
	}
	return cutHeadTail(string(head), string(tail)), nil
}

// dumpMagics start the crash dump formats: a dump given where a log was
// expected (on standard input) is refused by name, not read as text.
var dumpMagics = []string{"\x7fELF", "KDUMP   ", "DISKDUMP", "makedumpfile"}

// LooksLikeDump says whether text starts as a crash dump does.
func LooksLikeDump(text string) bool {
	for _, m := range dumpMagics {
		if strings.HasPrefix(text, m) {
			return true
		}
	}
	return false
}
