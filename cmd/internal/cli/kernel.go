package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
)

func newSysCmd(s IO) *cobra.Command {
	c := dumpCommand("sys", "Print the crashed system's summary, as crash's sys does",
		`Print the summary crash's sys prints: CPUs, crash time, uptime, load average, tasks, node
name, kernel release and version, machine, memory and the panic message, and where the
symbols and types came from (DEBUGINFO: btf+kallsyms, dwarf).`)
	f := addDumpFlags(c.Flags())
	c.RunE = func(c *cobra.Command, args []string) error {
		a, err := f.document(c.Context(), args, analyzer.SectionSys, s)
		if err != nil {
			return err
		}
		warnAll(s.Err, a.Warnings)
		if a.System == nil {
			return errors.New("no sys summary (see the warnings)")
		}
		fmt.Fprintf(s.Out, "%12s: %s\n", "DEBUGINFO", a.Debuginfo.Source)
		_, err = io.WriteString(s.Out, sysText(a.System))
		return err
	}
	return c
}

// sysText renders the summary as crash's `sys` prints it (without the
// KERNEL and DUMPFILE lines, which name host files).
func sysText(s *analysis.System) string {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "%12s: %s\n", k, v) }
	row("CPUS", fmt.Sprint(s.CPUs))
	if s.Date != nil {
		row("DATE", s.Date.Format("Mon Jan _2 15:04:05 MST 2006"))
	}
	row("UPTIME", s.UptimeText())
	row("LOAD AVERAGE", fmt.Sprintf("%.2f, %.2f, %.2f", s.LoadAverage[0], s.LoadAverage[1], s.LoadAverage[2]))
	row("TASKS", fmt.Sprint(s.Tasks))
	row("NODENAME", s.Nodename)
	row("RELEASE", s.Release)
	row("VERSION", s.Version)
	row("MACHINE", s.Machine)
	row("MEMORY", memoryText(s.Memory))
	switch {
	case s.Panic == "":
	case s.PanicKind == "oops":
		row("PANIC", fmt.Sprintf("%q (check log for details)", s.Panic))
	default:
		row("PANIC", fmt.Sprintf("%q", s.Panic))
	}
	return b.String()
}

// memoryText prints a byte count as crash does: "511.5 MB", "15.6 GB".
func memoryText(n uint64) string {
	const mb, gb = 1 << 20, 1 << 30
	if n >= gb {
		return fmt.Sprintf("%.1f GB", float64(n)/gb)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/mb)
}

func newPsCmd(s IO) *cobra.Command {
	c := dumpCommand("ps", "List the tasks, as crash's ps does",
		`List every task, as crash's ps does: PID, parent PID, CPU, task_struct address, state (R S D
T t X Z P I) and command; '>' marks the task running on a CPU at the crash, and a CPU's idle
task is in brackets.`)
	f := addDumpFlags(c.Flags())
	c.RunE = func(c *cobra.Command, args []string) error {
		a, err := f.document(c.Context(), args, analyzer.SectionTasks, s)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "PID\tPPID\tCPU\tTASK\tST\t  COMM")
		for _, t := range a.Tasks {
			mark := "  "
			if t.Active {
				mark = "> "
			}
			comm := t.Comm
			if t.Idle {
				comm = "[" + comm + "]"
			}
			fmt.Fprintf(tw, "%s%d\t%d\t%d\t%x\t%s\t  %s\n", mark, t.PID, t.PPID, t.CPU, uint64(t.Task), t.State, comm)
		}
		warnAll(s.Err, a.Warnings)
		return tw.Flush()
	}
	return c
}

func newModCmd(s IO) *cobra.Command {
	c := dumpCommand("mod", "List the loaded modules and the kernel's taint, as crash's mod does",
		`List the loaded modules as crash's mod does (struct module address, name, base, size of
the core memory, taint letters), then the kernel's taint with every letter explained.`)
	f := addDumpFlags(c.Flags())
	c.RunE = func(c *cobra.Command, args []string) error {
		a, err := f.document(c.Context(), args, analyzer.SectionModules, s)
		if err != nil {
			return err
		}
		warnAll(s.Err, a.Warnings)
		return printModules(s.Out, a.Modules, a.Taint)
	}
	return c
}

// printModules prints modules and the kernel's taint as crash's mod does,
// with each taint letter explained.
func printModules(stdout io.Writer, mods []analysis.Module, taint *analysis.Taint) error {
	mods = slices.Clone(mods)
	sort.Slice(mods, func(i, j int) bool { return mods[i].Addr < mods[j].Addr })
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODULE\tNAME\tBASE\tSIZE\tTAINTS")
	for _, m := range mods {
		fmt.Fprintf(tw, "%x\t%s\t%x\t%d\t%s\n", uint64(m.Addr), m.Name, uint64(m.Base), m.Size, m.Taints)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if taint != nil && taint.Mask != 0 {
		var letters strings.Builder
		for _, f := range taint.Flags {
			letters.WriteString(f.Letter)
		}
		fmt.Fprintf(stdout, "\nkernel tainted %s (%#x):\n", letters.String(), uint64(taint.Mask))
		for _, f := range taint.Flags {
			fmt.Fprintf(stdout, "  %s  %s\n", f.Letter, f.Description)
		}
	}
	return nil
}
