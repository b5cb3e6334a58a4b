package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/analyzer/debuginfo"
	"github.com/vmcore/vmcore/cmd/internal/command"
	"github.com/vmcore/vmcore/vmcore"
)

// openKernel opens the dump files named on the command line for
// introspection, printing the dump's own warnings.
func openKernel(name string, args []string, stderr io.Writer) (*analyzer.Kernel, func(), error) {
	fs := NewFlagSet(name, "DUMP [DUMP...]", stderr)
	debuginfo := DebuginfoFlag(fs)
	files, err := command.ParseDumpArgs(fs, args)
	if err != nil {
		return nil, nil, err
	}
	return openKernelFiles(files, *debuginfo, stderr)
}

// moduleDirs are the --module-debuginfo directories; with the defaults of
// analyzer.DefaultModuleDirs they give module frames file:line.
var moduleDirs command.ListFlag

// moduleDirsFor is where module objects with DWARF are looked for.
func moduleDirsFor(d *vmcore.Dump) []string {
	rel := d.Header.Utsname.Release
	if rel == "" && d.Info != nil {
		rel = d.Info.OSRelease()
	}
	return append(append([]string(nil), moduleDirs...), analyzer.DefaultModuleDirs(rel)...)
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
		p, err := debuginfo.Default().Find(context.Background(), d.Info.BuildID())
		if err != nil {
			if os.Getenv("DEBUGINFOD_URLS") != "" {
				fmt.Fprintf(stderr, "warning: %v; using the dump's BTF and kallsyms\n", err)
			}
			return nil, nil
		}
		path = p
	}
	return analyzer.OpenVmlinux(path)
}

// openDebuginfo opens the kernel with a vmlinux (named, or found by
// build-id), or with BTF and kallsyms from the dump.
func openDebuginfo(d *vmcore.Dump, path string, stderr io.Writer) (*analyzer.Kernel, func(), error) {
	v, err := FindVmlinux(d, path, stderr)
	if err != nil {
		return nil, nil, err
	}
	if v == nil {
		k, err := analyzer.OpenKernel(d)
		if k != nil {
			k.ModuleDirs = moduleDirsFor(d)
		}
		return k, func() {}, err
	}
	k, err := analyzer.OpenKernelWithVmlinux(d, v)
	if err != nil {
		v.Close()
		return nil, nil, err
	}
	k.ModuleDirs = moduleDirsFor(d)
	return k, func() { v.Close() }, nil
}

func openKernelFiles(files []string, debuginfo string, stderr io.Writer) (*analyzer.Kernel, func(), error) {
	d, err := command.OpenDump(files, stderr)
	if err != nil {
		return nil, nil, err
	}
	k, closeDebuginfo, err := openDebuginfo(d, debuginfo, stderr)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return k, func() {
		if err := k.SaveProfile(); err != nil {
			fmt.Fprintf(stderr, "warning: saving the kernel profile: %v\n", err)
		}
		closeDebuginfo()
		d.Close()
	}, nil
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
	if a := src.analysis; a != nil {
		warnAll(stderr, a.Warnings)
		if a.System == nil {
			return errors.New("the stored analysis has no sys summary (see its warnings)")
		}
		fmt.Fprintf(stdout, "%12s: %s\n", "DEBUGINFO", a.Debuginfo.Source)
		_, err = io.WriteString(stdout, a.System.System().CrashText())
		return err
	}
	k, done, err := openKernelFiles(src.files, *debuginfo, stderr)
	if err != nil {
		return err
	}
	defer done()
	lg, err := analyzer.ReadLog(k.Dump)
	if err != nil {
		fmt.Fprintf(stderr, "warning: kernel log: %v\n", err)
	}
	tasks, tw, err := k.Tasks()
	if err != nil {
		fmt.Fprintf(stderr, "warning: tasks: %v\n", err)
	}
	warnAll(stderr, tw)
	s := k.Sys(lg, tasks)
	warnAll(stderr, s.Warnings)
	fmt.Fprintf(stdout, "%12s: %s\n", "DEBUGINFO", k.Source)
	_, err = io.WriteString(stdout, s.CrashText())
	return err
}

func runPs(args []string, stdout, stderr io.Writer) error {
	k, done, err := openKernel("ps", args, stderr)
	if err != nil {
		return err
	}
	defer done()
	tasks, warnings, err := k.Tasks()
	if err != nil {
		return err
	}
	running := map[uint64]int{}
	if cpus, err := k.OnlineCPUs(); err == nil {
		for _, c := range cpus {
			if t, err := k.CurrentTask(c); err == nil {
				running[t] = c
			}
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "PID\tPPID\tCPU\tTASK\tST\t  COMM")
	for _, t := range tasks {
		mark := "  "
		if _, ok := running[t.Addr]; ok {
			mark = "> "
		}
		comm := t.Comm
		if t.Idle {
			comm = "[" + comm + "]"
		}
		fmt.Fprintf(tw, "%s%d\t%d\t%d\t%x\t%s\t  %s\n", mark, t.PID, t.PPID, t.CPU, t.Addr, t.State, comm)
	}
	warnAll(stderr, warnings)
	return tw.Flush()
}

func runMod(args []string, stdout, stderr io.Writer) error {
	fs := NewFlagSet("mod", "DUMP [DUMP...] | ID", stderr)
	debuginfo := DebuginfoFlag(fs)
	src, err := parseSource(fs, args)
	if err != nil {
		return err
	}
	if a := src.analysis; a != nil {
		warnAll(stderr, a.Warnings)
		mods := make([]analyzer.Module, len(a.Modules))
		for i, m := range a.Modules {
			mods[i] = m.Module()
		}
		var mask uint64
		if a.Taint != nil {
			mask = uint64(a.Taint.Mask)
		}
		return printModules(stdout, mods, mask)
	}
	k, done, err := openKernelFiles(src.files, *debuginfo, stderr)
	if err != nil {
		return err
	}
	defer done()
	mods, warnings, err := k.Modules()
	if err != nil {
		return err
	}
	mask, _ := k.TaintMask()
	if err := printModules(stdout, mods, mask); err != nil {
		return err
	}
	warnAll(stderr, warnings)
	return nil
}

// printModules prints modules and the kernel's taint as crash's mod does,
// with each taint letter explained.
func printModules(stdout io.Writer, mods []analyzer.Module, mask uint64) error {
	sort.Slice(mods, func(i, j int) bool { return mods[i].Addr < mods[j].Addr })
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODULE\tNAME\tBASE\tSIZE\tTAINTS")
	for _, m := range mods {
		fmt.Fprintf(tw, "%x\t%s\t%x\t%d\t%s\n", m.Addr, m.Name, m.Base, m.Size, m.Taints)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if mask != 0 {
		fmt.Fprintf(stdout, "\nkernel tainted %s (%#x):\n", analyzer.TaintLetters(mask), mask)
		for _, f := range analyzer.TaintFlags {
			if mask>>f.Bit&1 != 0 {
				fmt.Fprintf(stdout, "  %c  %s\n", f.Letter, f.Desc)
			}
		}
	}
	return nil
}
