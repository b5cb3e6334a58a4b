package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
)

func newBtCmd(s IO) *cobra.Command {
	c := dumpCommand("bt", "Print the panic task's stack trace (-a: every CPU's), as crash's bt does",
		`Print the stack trace of the task that panicked, as crash's bt lays it out: numbered frames
with their stack pointer and pc, exception frames with their registers, file:line with DWARF.
Frames the kernel's own unwinder would not give (found by a fallback) are marked '?'.`)
	f := addDumpFlags(c.Flags())
	all := c.Flags().BoolP("all", "a", false, "the task running on every CPU, not only the panic task")
	blocked := c.Flags().Bool("blocked", false, "also every task in uninterruptible sleep (D), grouped by stack, as crash's foreach UN bt")
	c.RunE = func(c *cobra.Command, args []string) error {
		sections := analyzer.SectionBacktraces
		if *blocked {
			sections |= analyzer.SectionBlocked
		}
		a, err := f.document(c.Context(), args, sections, s)
		if err != nil {
			return err
		}
		warnAll(s.Err, a.Warnings)
		printBacktraces(s.Out, s.Err, a, *all, *blocked)
		return nil
	}
	return c
}

// printBacktraces prints the panic trace, or every CPU's, and the blocked tasks' groups.
func printBacktraces(stdout, stderr io.Writer, a *analysis.Document, all, blocked bool) {
	bts, groups := a.Backtraces, a.BlockedGroups
	first := true
	for _, bt := range bts {
		if !all && !bt.Panic {
			continue
		}
		if !first {
			fmt.Fprintln(stdout)
		}
		first = false
		printTrace(stdout, bt)
	}
	if first && !all {
		fmt.Fprintln(stderr, "warning: no CPU claimed the panic; use -a for every CPU")
	}
	if blocked {
		for _, g := range groups {
			fmt.Fprintln(stdout)
			if len(g.PIDs) > 1 {
				fmt.Fprintf(stdout, "%d tasks blocked here: PIDs %v\n", len(g.PIDs), g.PIDs)
			}
			printTrace(stdout, g.Trace)
		}
	}
}

// printTrace prints one trace the way crash's bt lays it out: a header,
// numbered frames with their stack pointer, exception frames' registers.
func printTrace(w io.Writer, bt analysis.Trace) {
	mark := ""
	if bt.Panic {
		mark = "  PANIC"
	}
	fmt.Fprintf(w, "PID: %-8d TASK: %-16x  CPU: %-3d  COMMAND: %q%s\n", bt.PID, uint64(bt.Task), bt.CPU, bt.Comm, mark)
	for i, f := range bt.Frames {
		if f.Regs != nil && !f.User {
			printRegs(w, f.Regs, fmt.Sprintf("[exception RIP: %s+%#x]", f.Symbol, uint64(f.Offset)))
		}
		if f.User {
			if f.Regs != nil {
				printRegs(w, f.Regs, "")
			} else {
				fmt.Fprintf(w, "    user RIP: %016x  RSP: %016x\n", uint64(f.PC), uint64(f.SP))
			}
			continue
		}
		q := ""
		if !f.Reliable {
			q = "? "
		}
		name := f.Symbol
		if name == "" {
			name = "??"
		} else if f.Offset != 0 {
			name = fmt.Sprintf("%s+%#x", name, uint64(f.Offset))
		}
		if f.Function != "" && f.Function != f.Symbol && !f.Inline {
			name += " (" + f.Function + ")"
		}
		if f.Module != "" {
			name += " [" + f.Module + "]"
		}
		if f.Inline {
			name = f.Function + " (inlined)"
		}
		fmt.Fprintf(w, "%s#%d [%016x] %s%s at %016x\n", strings.Repeat(" ", max(0, 2-len(fmt.Sprint(i)))), i, uint64(f.SP), q, name, uint64(f.PC))
		if f.File != "" {
			fmt.Fprintf(w, "    %s: %d\n", f.File, f.Line)
		}
	}
	if bt.Error != "" {
		fmt.Fprintf(w, "    (unwinding stopped: %s)\n", bt.Error)
	}
}

// regLine is one line of crash's register dump: each register's name in
// pt_regs, its label and its width in hex digits.
type regLine []struct {
	reg, label string
	width      int
}

// crashRegLayout is how crash's bt lays out an exception frame, per
// architecture; registers of another architecture print in the kernel
// oops' order, three to a line.
var crashRegLayout = map[string][]regLine{
	"x86_64": {
		{{"ip", "RIP", 16}, {"sp", "RSP", 16}, {"flags", "RFLAGS", 8}},
		{{"ax", "RAX", 16}, {"bx", "RBX", 16}, {"cx", "RCX", 16}},
		{{"dx", "RDX", 16}, {"si", "RSI", 16}, {"di", "RDI", 16}},
		{{"bp", "RBP", 16}, {"r8", " R8", 16}, {"r9", " R9", 16}},
		{{"r10", "R10", 16}, {"r11", "R11", 16}, {"r12", "R12", 16}},
		{{"r13", "R13", 16}, {"r14", "R14", 16}, {"r15", "R15", 16}},
		{{"orig_ax", "ORIG_RAX", 16}, {"cs", "CS", 4}, {"ss", "SS", 4}},
	},
}

// printRegs prints an exception frame's registers as crash's bt does.
func printRegs(w io.Writer, r *analysis.Regs, title string) {
	if title != "" {
		fmt.Fprintf(w, "    %s\n", title)
	}
	if layout, ok := crashRegLayout[r.Arch]; ok {
		for _, line := range layout {
			var b strings.Builder
			for i, x := range line {
				v, _ := r.Get(x.reg)
				if i > 0 {
					b.WriteString("  ")
				}
				fmt.Fprintf(&b, "%s: %0*x", x.label, x.width, v)
			}
			fmt.Fprintf(w, "    %s\n", b.String())
		}
		return
	}
	regs := r.Display()
	for i := 0; i < len(regs); i += 3 {
		var b strings.Builder
		for k, x := range regs[i:min(i+3, len(regs))] {
			if k > 0 {
				b.WriteString("  ")
			}
			fmt.Fprintf(&b, "%s: %016x", x.Name, x.Value)
		}
		fmt.Fprintf(w, "    %s\n", b.String())
	}
}

func newAnalyzeCmd(s IO) *cobra.Command {
	c := dumpCommand("analyze", "Run every analysis; --json prints the analysis document",
		`Run every analysis of the dump (the log and its oops, sys, every CPU's trace, the blocked
tasks, modules and taint) and match the crash against the knowledge base. Without --json it
prints a summary and the best articles; with --json the whole analysis document (schema
`+analysis.Schema+`, docs/analysis-schema.md).`)
	f := addDumpFlags(c.Flags())
	asJSON := c.Flags().Bool("json", false, "print the analysis document")
	lang := addLangFlag(c.Flags())
	c.RunE = func(c *cobra.Command, args []string) error {
		id, remote := f.srv.remoteID(args)
		var a *analysis.Document
		var err error
		if remote {
			a, err = f.srv.analysis(c.Context(), id)
		} else {
			// The knowledge base loads on the other CPU while the dump is read.
			go builtinIndex()
			if a, err = f.analyzeFiles(c.Context(), args, 0, s.Err); err == nil {
				suggest(a) // from the shipped articles, so the offline answer is the service's
			}
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(s.Out, a)
		}
		printSummary(s.Out, s.Err, a)
		printSuggestions(s.Out, a.KB, 3, lang.get())
		return nil
	}
	return c
}

// printSummary prints the few lines that say what happened.
func printSummary(stdout, stderr io.Writer, a *analysis.Document) {
	if a.System != nil {
		fmt.Fprintf(stdout, "%s on %s (%s), %d CPUs, up %s\n", a.System.Release, a.System.Nodename, a.System.Machine, a.System.CPUs, a.System.UptimeText())
		fmt.Fprintf(stdout, "panic: %s\n", a.System.Panic)
	} else if a.Oops != nil {
		fmt.Fprintf(stdout, "panic: %s\n", a.Oops.Title)
	}
	if a.Oops != nil && a.Oops.Function != "" {
		fmt.Fprintf(stdout, "in:    %s\n", a.Oops.Function)
	}
	if a.Taint != nil && len(a.Taint.Flags) > 0 {
		var l []string
		for _, f := range a.Taint.Flags {
			l = append(l, f.Letter)
		}
		fmt.Fprintf(stdout, "taint: %s\n", strings.Join(l, ""))
	}
	fmt.Fprintf(stdout, "debuginfo: %s; %d log records, %d modules, %d CPU traces, %d blocked tasks\n",
		a.Debuginfo.Source, len(a.Log), len(a.Modules), len(a.Backtraces), len(a.Blocked))
	printFindings(stdout, a.Findings)
	warnAll(stderr, a.Warnings)
}
