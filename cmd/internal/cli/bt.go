package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/cmd/internal/command"
)

func runBt(args []string, stdout, stderr io.Writer) error {
	fs := NewFlagSet("bt", "DUMP [DUMP...] | ID", stderr)
	all := fs.Bool("a", false, "the task active on every CPU, not only the panic task")
	blocked := fs.Bool("blocked", false, "also every task in uninterruptible sleep (D), like crash's foreach UN bt")
	debuginfo := DebuginfoFlag(fs)
	src, err := parseSource(fs, args)
	if err != nil {
		return err
	}
	var bts []analyzer.Backtrace
	var groups []analyzer.StackGroup
	if a := src.analysis; a != nil {
		warnAll(stderr, a.Warnings)
		for _, t := range a.Backtraces {
			bts = append(bts, t.Backtrace())
		}
		for _, g := range a.BlockedGroups {
			groups = append(groups, analyzer.StackGroup{PIDs: g.PIDs, Trace: g.Trace.Backtrace()})
		}
	} else {
		k, done, err := openKernelFiles(src.files, *debuginfo, stderr)
		if err != nil {
			return err
		}
		defer done()
		var warnings []string
		if bts, warnings, err = k.CPUBacktraces(); err != nil {
			return err
		}
		warnAll(stderr, warnings)
		if *blocked {
			tasks, _, err := k.Tasks()
			if err != nil {
				return err
			}
			bl, _ := k.BlockedBacktraces(tasks)
			groups = analyzer.GroupByStack(bl)
		}
	}
	first := true
	for _, bt := range bts {
		if !*all && !bt.Panic {
			continue
		}
		if !first {
			fmt.Fprintln(stdout)
		}
		first = false
		printTrace(stdout, bt)
	}
	if first && !*all {
		fmt.Fprintln(stderr, "warning: no CPU claimed the panic; use -a for every CPU")
	}
	if *blocked {
		for _, g := range groups {
			fmt.Fprintln(stdout)
			if len(g.PIDs) > 1 {
				fmt.Fprintf(stdout, "%d tasks blocked here: PIDs %v\n", len(g.PIDs), g.PIDs)
			}
			printTrace(stdout, g.Trace)
		}
	}
	return nil
}

// printTrace prints one trace the way crash's bt lays it out: a header,
// numbered frames with their stack pointer, exception frames' registers.
func printTrace(w io.Writer, bt analyzer.Backtrace) {
	mark := ""
	if bt.Panic {
		mark = "  PANIC"
	}
	fmt.Fprintf(w, "PID: %-8d TASK: %-16x  CPU: %-3d  COMMAND: %q%s\n", bt.PID, bt.Task, bt.CPU, bt.Comm, mark)
	for i, f := range bt.Frames {
		if f.Regs != nil && !f.User {
			printRegs(w, f.Regs, fmt.Sprintf("[exception RIP: %s+%#x]", f.Symbol, f.Offset))
		}
		if f.User {
			if f.Regs != nil {
				printRegs(w, f.Regs, "")
			} else {
				fmt.Fprintf(w, "    user RIP: %016x  RSP: %016x\n", f.PC, f.SP)
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
			name = fmt.Sprintf("%s+%#x", name, f.Offset)
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
		fmt.Fprintf(w, "%s#%d [%016x] %s%s at %016x\n", strings.Repeat(" ", max(0, 2-len(fmt.Sprint(i)))), i, f.SP, q, name, f.PC)
		if f.File != "" {
			fmt.Fprintf(w, "    %s: %d\n", f.File, f.Line)
		}
	}
	if bt.Error != "" {
		fmt.Fprintf(w, "    (unwinding stopped: %s)\n", bt.Error)
	}
}

func printRegs(w io.Writer, r *analyzer.PtRegs, title string) {
	if title != "" {
		fmt.Fprintf(w, "    %s\n", title)
	}
	fmt.Fprintf(w, "    RIP: %016x  RSP: %016x  RFLAGS: %08x\n", r.IP, r.SP, r.Flags)
	fmt.Fprintf(w, "    RAX: %016x  RBX: %016x  RCX: %016x\n", r.AX, r.BX, r.CX)
	fmt.Fprintf(w, "    RDX: %016x  RSI: %016x  RDI: %016x\n", r.DX, r.SI, r.DI)
	fmt.Fprintf(w, "    RBP: %016x   R8: %016x   R9: %016x\n", r.BP, r.R8, r.R9)
	fmt.Fprintf(w, "    R10: %016x  R11: %016x  R12: %016x\n", r.R10, r.R11, r.R12)
	fmt.Fprintf(w, "    R13: %016x  R14: %016x  R15: %016x\n", r.R13, r.R14, r.R15)
	fmt.Fprintf(w, "    ORIG_RAX: %016x  CS: %04x  SS: %04x\n", r.OrigAX, r.CS, r.SS)
}

func runAnalyze(args []string, stdout, stderr io.Writer) error {
	fs := NewFlagSet("analyze", "DUMP [DUMP...] | ID", stderr)
	asJSON := fs.Bool("json", false, "print the analysis document (schema "+analyzer.Schema+")")
	debuginfo := DebuginfoFlag(fs)
	src, err := parseSource(fs, args)
	if err != nil {
		return err
	}
	a := src.analysis
	if a == nil {
		// The knowledge base gets ready on the other core while the dump
		// is analysed: it is needed only at the end.
		kbs := startSuggestions()
		if a, err = analyzeFiles(src.files, *debuginfo, stderr); err != nil {
			kbs.abort()
			return err
		}
		kbs.fill(a) // from the shipped articles, so the offline answer is the service's
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		return enc.Encode(a)
	}
	printSummary(stdout, stderr, a)
	printKB(stdout, a.KB, 3)
	return nil
}

// analyzeFiles runs every analysis on local dump files.
func analyzeFiles(files []string, debuginfo string, stderr io.Writer) (*analyzer.Analysis, error) {
	d, err := command.OpenDumpFiles(files) // the document carries its warnings
	if err != nil {
		return nil, err
	}
	defer d.Close()
	v, err := FindVmlinux(d, debuginfo, stderr)
	if err != nil {
		return nil, err
	}
	if v != nil {
		defer v.Close()
	}
	return analyzer.AnalyzeOpts(d, analyzer.AnalyzeOptions{Vmlinux: v, ModuleDirs: moduleDirsFor(d)}), nil
}

// printSummary prints the few lines that say what happened.
func printSummary(stdout, stderr io.Writer, a *analyzer.Analysis) {
	if a.System != nil {
		fmt.Fprintf(stdout, "%s on %s (%s), %d CPUs, up %s\n", a.System.Release, a.System.Nodename, a.System.Machine, a.System.CPUs, a.System.Uptime)
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
	warnAll(stderr, a.Warnings)
}
