package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/cmd/internal/command"
	"github.com/vmcore/vmcore/cmd/internal/env"
	"github.com/vmcore/vmcore/vmcore"
)

// moduleDirs are the --module-debuginfo directories; with the defaults of
// env.ModuleDirs they give module frames file:line.
var moduleDirs command.ListFlag

// moduleDirsFor is where module objects with DWARF are looked for.
func moduleDirsFor(d *vmcore.Dump) []string {
	rel := d.Header.Utsname.Release
	if rel == "" && d.Info != nil {
		rel = d.Info.OSRelease()
	}
	return append(append([]string(nil), moduleDirs...), env.ModuleDirs(rel)...)
}

// DebuginfoFlag adds --debuginfo and --module-debuginfo to a command.
func DebuginfoFlag(fs *flag.FlagSet) *string {
	fs.Var(&moduleDirs, "module-debuginfo", "a directory tree of module objects with DWARF (name.ko[.xz|.zst|.debug]) for file:line in module frames (repeatable; also $VMCORE_MODULE_DEBUGINFO and <store>/lib/modules/RELEASE)")
	return fs.String("debuginfo", "", "a vmlinux with DWARF (plain or .xz) for file:line and inlined frames; \"none\" for BTF and kallsyms from the dump; by default the dump's build-id is looked up in $VMCORE_DEBUGINFO stores (default /usr/lib/debug) and $DEBUGINFOD_URLS, else BTF and kallsyms")
}

// FindVmlinux opens the vmlinux for the dump: the one named, or the one
// found by build-id; nil (and no error) when none is found or wanted.
func FindVmlinux(d *vmcore.Dump, path string, stderr io.Writer) (*analyzer.Vmlinux, error) {
	switch {
	case path == "none":
		return nil, nil
	case path == "":
		if d.Info == nil || d.Info.BuildID() == "" {
			return nil, nil
		}
		p, err := env.Finder().Find(context.Background(), d.Info.BuildID())
		if err != nil {
			if len(env.DebuginfodURLs()) > 0 {
				fmt.Fprintf(stderr, "warning: %v; using the dump's BTF and kallsyms\n", err)
			}
			return nil, nil
		}
		path = p
	}
	return analyzer.OpenVmlinux(path, env.TempDir())
}

// analyzeFiles analyses local dump files: the sections asked for (zero:
// all), with the vmlinux named by debuginfo or found by build-id.
func analyzeFiles(files []string, debuginfo string, sections analyzer.Section, stderr io.Writer) (*analysis.Document, error) {
	d, err := command.OpenDump(files, io.Discard) // the document carries the dump's warnings
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
	return analyzer.Analyze(context.Background(), d, analyzer.Options{Vmlinux: v, ModuleDirs: moduleDirsFor(d),
		ProfileDir: env.ProfileDir(), Sections: sections}), nil
}

// document is the analysis of a command's dump: the stored one of a dump on
// the server, or the sections asked for of local files.
func (src *dumpSource) document(debuginfo string, sections analyzer.Section, stderr io.Writer) (*analysis.Document, error) {
	if src.analysis != nil {
		return src.analysis, nil
	}
	return analyzeFiles(src.files, debuginfo, sections, stderr)
}

func warnAll(stderr io.Writer, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
}

func runSys(args []string, stdout, stderr io.Writer) error {
	fs := NewFlagSet("sys", "DUMP [DUMP...] | ID", stderr)
	debuginfo := DebuginfoFlag(fs)
	src, err := parseSource(fs, args)
	if err != nil {
		return err
	}
	a, err := src.document(*debuginfo, analyzer.SectionSys, stderr)
	if err != nil {
		return err
	}
	warnAll(stderr, a.Warnings)
	if a.System == nil {
		return errors.New("no sys summary (see the warnings)")
	}
	fmt.Fprintf(stdout, "%12s: %s\n", "DEBUGINFO", a.Debuginfo.Source)
	_, err = io.WriteString(stdout, sysText(a.System))
	return err
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

func runPs(args []string, stdout, stderr io.Writer) error {
	fs := NewFlagSet("ps", "DUMP [DUMP...] | ID", stderr)
	debuginfo := DebuginfoFlag(fs)
	src, err := parseSource(fs, args)
	if err != nil {
		return err
	}
	a, err := src.document(*debuginfo, analyzer.SectionTasks, stderr)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
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
	warnAll(stderr, a.Warnings)
	return tw.Flush()
}

func runMod(args []string, stdout, stderr io.Writer) error {
	fs := NewFlagSet("mod", "DUMP [DUMP...] | ID", stderr)
	debuginfo := DebuginfoFlag(fs)
	src, err := parseSource(fs, args)
	if err != nil {
		return err
	}
	a, err := src.document(*debuginfo, analyzer.SectionModules, stderr)
	if err != nil {
		return err
	}
	warnAll(stderr, a.Warnings)
	return printModules(stdout, a.Modules, a.Taint)
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
