// Package report recognises Linux kernel crash reports (oopses, BUGs,
// WARNINGs, sanitizer reports, lockdep splats, lockups, stalls, hung tasks,
// panics) in console text, a kernel log or a report pasted into a mail or a
// bug tracker, and gives each the title syzbot would: "KASAN:
// use-after-free Read in f", "possible deadlock in f", "INFO: task hung in
// f". Titles are the bucket keys of crashes, so the same bug has the same
// title whatever addresses, CPUs, tasks and timestamps its report shows.
//
// Recognition is a table (linux.go), as in syzkaller's pkg/report: each
// report class has a key every header line of it contains, formats with a
// title regular expression, an optional fuller report expression, a title
// template, alternative titles and a stack rule naming where the guilty
// frame comes from and which frames are never guilty (skip lists, one entry
// a line). Parsing never fails: a report cut short, interleaved with another
// or without the stack its class needs is marked Corrupted, with a reason.
//
// The package reads only text: it knows nothing of dumps or kernels' memory.
package report

import (
	"slices"
	"strings"

	"github.com/vmcore/vmcore/analysis"
)

// Report is one report found in a kernel log or console text.
type Report struct {
	// Type is the kind of failure (see Kind).
	Type Kind `json:"type"`
	// Title is the one-line title in syzbot's convention ("general
	// protection fault in F"): addresses, offsets, CPU and PID numbers and
	// counters removed, so that the same bug has the same title.
	Title string `json:"title"`
	// AltTitles are other titles the same bug may carry: syzbot's
	// alternative titles ("bad-access in F", "stall in F") and the title
	// of the panic the report led to.
	AltTitles []string `json:"alt_titles,omitempty"`
	// Function is the guilty function the title names, "" when the class
	// names none or none was found.
	Function string `json:"function,omitempty"`
	// Frames is the first call trace of the report as printed, '?' frames
	// marked Unreliable.
	Frames  []analysis.OopsFrame `json:"frames"`
	Modules []string             `json:"modules,omitempty"` // "Modules linked in:"
	Taint   string               `json:"taint,omitempty"`   // letters of "Tainted: G   O E"
	// Panic is the title of the kernel panic this report led to ("kernel
	// panic: Fatal exception", "kernel panic: panic_on_warn set ..."), ""
	// when the text shows none.
	Panic string `json:"panic,omitempty"`
	// Corrupted says the report is cut short, interleaved with other
	// output, or lacks the call trace its class needs; Reason says which.
	Corrupted bool   `json:"corrupted"`
	Reason    string `json:"corrupted_reason,omitempty"`
	// Lines are the first and last line of the report in the input,
	// counted from 0.
	Lines [2]int `json:"lines"`
	// Header is the line the report starts with, without its prefixes.
	Header string `json:"header"`
	rank   int
}

// Parse finds every report in text (a kernel log, console output or pasted
// text), in order. It never fails: text without a report gives nil. A
// report that continues with the kernel panic it caused is one report (see
// Report.Panic). Time and memory are linear in the size of text: a huge log
// is cut to its last 4 Mi lines, a line to 4 KiB, a report to 1,000 lines.
func Parse(text string) []Report {
	c := consoleLines(text)
	var reports []Report
	for i := 0; i < len(c.lines); {
		cl, ok := c.header(i)
		if !ok {
			i++
			continue
		}
		r, next := c.report(cl, i)
		if n := len(reports); n > 0 && r.Type == KindPanic && reports[n-1].rank == 0 && reports[n-1].Panic == "" && endsReport(r.Header) {
			// "Fatal exception", "panic_on_warn set …" after the
			// report's end marker: the panic only ends the report
			// before it.
			reports[n-1].Panic = r.Title
			reports[n-1].AltTitles = append(reports[n-1].AltTitles, r.Title)
			reports[n-1].Lines[1] = max(reports[n-1].Lines[1], r.Lines[1])
		} else if n > 0 && r.rank > 0 && reports[n-1].rank == r.rank && reports[n-1].Title == r.Title {
			// The same informational line again (a disk failing
			// request after request): one report.
			reports[n-1].Lines[1] = max(reports[n-1].Lines[1], r.Lines[1])
		} else {
			reports = append(reports, r)
		}
		i = max(next, i+1)
	}
	for i := range reports {
		reports[i].Lines[0] = int(c.orig[reports[i].Lines[0]]) + c.first
		reports[i].Lines[1] = int(c.orig[reports[i].Lines[1]]) + c.first
	}
	return reports
}

// Primary is the report that explains the crash: the first one that is not
// informational (a machine check the kernel survived, a module that failed
// to load), else the first. It is nil when there is none.
func Primary(reports []Report) *Report {
	best := -1
	for i := range reports {
		if best < 0 || reports[i].rank < reports[best].rank {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	return &reports[best]
}

// Title is the title of the primary report in text, "" when it has none.
func Title(text string) string {
	if p := Primary(Parse(text)); p != nil {
		return p.Title
	}
	return ""
}

// endsReport tells the panics that only end the report before them: the
// report is the bug, the panic the kernel's configured reaction to it.
func endsReport(header string) bool {
	for _, s := range panicsAfterReport {
		if strings.Contains(header, s) {
			return true
		}
	}
	return false
}

// panicsAfterReport are the reasons of panics that follow a report.
var panicsAfterReport = []string{
	"Fatal exception",
	"panic_on_warn set",
	"panic_on_kmsan set",
	"softlockup: hung tasks",
	"hung_task: blocked tasks",
	"Hard LOCKUP",
	"hard LOCKUP",
	"Fatal Machine check",
	"Machine halted",
	"rcu_sched self-detected stall", // rcu panic_on_rcu_stall
	"RCU Stall",
}

// IsGenericFrame reports whether a function is never the guilty one in a
// call trace: reporting, panic, sanitizer, locking, allocation, string and
// list helpers, exception and interrupt entry code, which run on behalf of
// the real culprit (the skip list of every report class, and the
// project's list of generic frames). Clone suffixes (.cold, .isra.0) are
// ignored.
func IsGenericFrame(name string) bool {
	base, _, _ := strings.Cut(name, ".")
	return skipEverywhere.match(base) || genericFrames.match(base)
}

// contains reports whether list holds s.
func contains(list []string, s string) bool { return slices.Contains(list, s) }
