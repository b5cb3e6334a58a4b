package analyzer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer/printk"
	"github.com/vmcore/vmcore/report"
	"github.com/vmcore/vmcore/vmcore"
)

// Section is a part of an analysis; Options.Sections chooses which to
// compute, so a command that prints one of them does no more work than it
// needs.
type Section uint

// The sections. Each step also computes what it needs: SectionSys reads the
// log and the tasks, SectionBlocked the tasks.
const (
	SectionLog        Section = 1 << iota // the kernel log, and the oops report in it
	SectionTasks                          // every task, as crash's ps
	SectionSys                            // crash's sys summary
	SectionBacktraces                     // every online CPU's trace, and the panic
	SectionBlocked                        // traces of the tasks in D state, grouped by stack
	SectionModules                        // modules and the taint mask
	SectionMemory                         // crash's kmem -i, zones and buddy lists (sections.go)
	SectionSlab                           // the slab caches, as kmem -s
	SectionTaskMemory                     // every process's and memory cgroup's memory
	SectionLocks                          // what the blocked tasks wait on, wait chains
	SectionRunQueues                      // every CPU's run queue, as runq -t
	SectionIO                             // disks with requests in flight, mounts

	// SectionAll is every section: the whole analysis.
	SectionAll = SectionLog | SectionTasks | SectionSys | SectionBacktraces | SectionBlocked | SectionModules |
		SectionMemory | SectionSlab | SectionTaskMemory | SectionLocks | SectionRunQueues | SectionIO
)

// Options are what an analysis may use beyond the dump. The zero value
// analyses everything from the dump alone: its BTF and kallsyms, no
// profile cache.
type Options struct {
	// Vmlinux is the kernel's DWARF, for file:line and inlined frames; nil
	// means BTF and kallsyms from the dump. A vmlinux of another build is
	// refused (the debuginfo step says why) and the dump's BTF is used.
	Vmlinux *Vmlinux
	// SystemMap is the kernel's System.map, for its symbols when there is
	// no vmlinux: a kernel whose kallsyms has no data symbols (Debian's
	// arm64 before 6.12) needs it or a vmlinux for anything but its log. A
	// map of another build is refused (the debuginfo step says why).
	SystemMap *SystemMap
	// ModuleDirs are directory trees of module objects with DWARF
	// (name.ko, .ko.xz, .ko.zst, .ko.debug) for file:line in module frames.
	ModuleDirs []string
	// ProfileDir caches what the first analysis of a kernel build learnt
	// (symbols, type offsets, ORC, DWARF answers), by build-id, so later
	// dumps of the build start in milliseconds. "" caches nothing.
	ProfileDir string
	// Sections chooses what to compute; zero means SectionAll.
	Sections Section
	// Progress hears of each step as it starts (done is nil) and as it
	// ends; it may be nil.
	Progress func(step string, done *analysis.Step)
}

// Analyze reads everything Options asks for from an open dump into an
// analysis document. Each step that fails is recorded in Steps and
// Warnings and the others still run: a dump with no BTF still yields its
// log, a damaged task list still yields modules.
//
// Analyze stops when ctx is done: memory reads check it, so even a hostile
// dump whose lists lead the walks on for a long time is left within a read.
// The document then holds what was read so far, marked by a warning.
func Analyze(ctx context.Context, d *vmcore.Dump, o Options) *analysis.Document {
	if o.Sections == 0 {
		o.Sections = SectionAll
	}
	want := func(s Section) bool { return o.Sections&s != 0 }
	a := analysis.New()
	a.Warnings = append(a.Warnings, d.Warnings...)
	h := d.Header
	a.Dump = analysis.Dump{Format: string(d.Format), Compression: h.Compression, Flattened: h.Flattened,
		SplitFiles: h.SplitFiles, DumpLevel: h.DumpLevel, Partial: h.Incomplete, Arch: string(d.Arch)}
	if d.Info != nil {
		a.Dump.BuildID = d.Info.BuildID()
	}
	cancelled := false
	// begin starts a step, unless the analysis was stopped; end records
	// it in Steps, and its error in Warnings.
	begin := func(name string) bool {
		if cancelled {
			return false
		}
		if err := ctx.Err(); err != nil {
			cancelled = true
			a.Warnings = append(a.Warnings, fmt.Sprintf("analysis stopped before %s: %v", name, context.Cause(ctx)))
			return false
		}
		if o.Progress != nil {
			o.Progress(name, nil)
		}
		return true
	}
	end := func(name string, took time.Duration, err error) {
		st := analysis.Step{Name: name, Seconds: took.Seconds()}
		if err != nil {
			st.Error = err.Error()
			a.Warnings = append(a.Warnings, name+": "+err.Error())
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				cancelled = true
			}
		}
		a.Steps = append(a.Steps, st)
		if o.Progress != nil {
			o.Progress(name, &st)
		}
	}
	step := func(name string, fn func() error) {
		if begin(name) {
			start := time.Now()
			err := fn()
			end(name, time.Since(start), err)
		}
	}

	// The log needs no debuginfo: it is read and parsed beside the
	// debuginfo and task steps, and joined (in its place in Steps and
	// Warnings, as if it had run first) before sys, which needs it.
	var lg *printk.Log
	joinLog := func() {}
	if want(SectionLog|SectionSys) && begin("log") {
		var (
			oops     *analysis.Oops
			warnings []string
			took     time.Duration
			err      error
			done     = make(chan struct{})
		)
		go func() {
			defer close(done)
			start := time.Now()
			lg, oops, warnings, err = readLog(ctx, d)
			took = time.Since(start)
		}()
		stepsAt, warningsAt := len(a.Steps), len(a.Warnings)
		joinLog = func() {
			joinLog = func() {}
			<-done
			if lg != nil {
				a.Log = lg.Records
			}
			a.Oops = oops
			n := len(a.Warnings)
			a.Warnings = append(a.Warnings, warnings...)
			end("log", took, err)
			a.Steps = slices.Insert(a.Steps[:len(a.Steps)-1], stepsAt, a.Steps[len(a.Steps)-1])
			mine := slices.Clone(a.Warnings[n:])
			a.Warnings = slices.Insert(a.Warnings[:n], warningsAt, mine...)
		}
	}
	if o.Sections&^SectionLog == 0 {
		a.Debuginfo.Source = analysis.SourceVMCOREINFO
		joinLog()
		return a
	}
	a.Debuginfo.Source = analysis.SourceVMCOREINFO
	var k *Kernel
	step("debuginfo", func() error {
		var err error
		if o.Vmlinux != nil {
			if k, err = openKernelWithVmlinux(ctx, d, o.Vmlinux, o.ProfileDir); err == nil {
				return nil
			}
			a.Warnings = append(a.Warnings, "debuginfo: "+err.Error())
		}
		if o.SystemMap != nil {
			if k, err = openKernelWithSystemMap(ctx, d, o.SystemMap, o.ProfileDir); err == nil {
				return nil
			}
			a.Warnings = append(a.Warnings, "debuginfo: "+err.Error())
		}
		k, err = openKernel(ctx, d, o.ProfileDir)
		return err
	})
	if k == nil {
		joinLog()
		return a
	}
	k.ModuleDirs = o.ModuleDirs
	a.Debuginfo.Source = k.Source

	var tasks []Task
	if want(SectionTasks | SectionSys | SectionBlocked | sectionsNeedingTasks) {
		step("tasks", func() error {
			var w []string
			var err error
			tasks, w, err = k.Tasks()
			a.Warnings = append(a.Warnings, w...)
			active := k.activeTasks()
			for _, t := range tasks {
				_, on := active[t.Addr]
				a.Tasks = append(a.Tasks, analysis.Task{PID: t.PID, PPID: t.PPID, CPU: t.CPU, State: t.State, Comm: t.Comm,
					Task: analysis.Hex(t.Addr), Idle: t.Idle, Active: on})
			}
			return err
		})
	}
	joinLog()
	if want(SectionSys) {
		step("sys", func() error {
			s := k.Sys(lg, tasks)
			a.Warnings = append(a.Warnings, s.Warnings...)
			a.System = &analysis.System{Release: s.Release, Version: s.Version, Machine: s.Machine, Nodename: s.Nodename,
				CPUs: s.CPUs, UptimeSeconds: s.Uptime.Seconds(), LoadAverage: s.LoadAvg, Tasks: s.Tasks, Memory: s.Memory,
				Panic: s.Panic, PanicKind: s.PanicKind, CommandLine: k.CommandLine()}
			if !s.Date.IsZero() {
				t := s.Date
				a.System.Date = &t
			}
			return nil
		})
	}
	if want(SectionBacktraces) {
		step("backtraces", func() error {
			bts, w, err := k.CPUBacktraces()
			a.Warnings = append(a.Warnings, w...)
			for _, bt := range bts {
				a.Backtraces = append(a.Backtraces, traceOf(bt))
				if bt.Panic {
					a.Panic = &analysis.Panic{CPU: bt.CPU, PID: bt.PID, Comm: bt.Comm}
				}
			}
			return err
		})
	}
	if want(SectionBlocked | SectionLocks) {
		step("blocked", func() error {
			blocked, w := k.BlockedBacktraces(tasks)
			a.Warnings = append(a.Warnings, w...)
			for _, bt := range blocked {
				a.Blocked = append(a.Blocked, traceOf(bt))
			}
			for _, g := range GroupByStack(blocked) {
				a.BlockedGroups = append(a.BlockedGroups, analysis.BlockedGroup{Count: len(g.PIDs), PIDs: g.PIDs, Trace: traceOf(g.Trace)})
			}
			return nil
		})
	}
	if want(SectionBacktraces | SectionBlocked) {
		for _, w := range k.ModuleWarnings() {
			a.Warnings = append(a.Warnings, "module debuginfo: "+w)
		}
	}
	if want(SectionModules) {
		step("modules", func() error {
			mods, w, err := k.Modules()
			a.Warnings = append(a.Warnings, w...)
			for _, m := range mods {
				a.Modules = append(a.Modules, analysis.Module{Name: m.Name, Addr: analysis.Hex(m.Addr), Base: analysis.Hex(m.Base),
					Size: m.Size, State: m.State, Taints: m.Taints})
			}
			if err != nil {
				return err
			}
			mask, err := k.TaintMask()
			if err != nil {
				return err
			}
			a.Taint = &analysis.Taint{Mask: analysis.Hex(mask), Flags: []analysis.TaintFlag{}}
			for _, f := range analysis.TaintFlags {
				if mask>>f.Bit&1 != 0 {
					a.Taint.Flags = append(a.Taint.Flags, f)
				}
			}
			return nil
		})
	}
	k.sectionSteps(a, o.Sections, tasks, step)
	if !cancelled {
		if err := k.SaveProfile(); err != nil {
			a.Warnings = append(a.Warnings, "saving the kernel profile: "+err.Error())
		}
	}
	if a.Panic != nil && a.Oops != nil && a.Oops.Function == "" {
		for _, bt := range a.Backtraces {
			if bt.Panic {
				a.Oops.Function = guiltyFrame(bt)
			}
		}
	}
	return a
}

// readLog reads the kernel log and finds the oops in it.
func readLog(ctx context.Context, d *vmcore.Dump) (*printk.Log, *analysis.Oops, []string, error) {
	lg, err := printk.ReadLog(ctx, d)
	if err != nil {
		return nil, nil, nil, err
	}
	var warnings []string
	for _, w := range lg.Warnings {
		warnings = append(warnings, "log: "+w)
	}
	reports := report.Parse(lg.Text())
	var oops *analysis.Oops
	if p := report.Primary(reports); p != nil {
		oops = &analysis.Oops{Title: p.Title, Type: string(p.Type), Function: p.Function, AltTitles: p.AltTitles,
			Frames: p.Frames, Modules: p.Modules, Taint: p.Taint, Corrupted: p.Corrupted, Reason: p.Reason, Reports: len(reports)}
	}
	return lg, oops, warnings, nil
}

// traceOf turns an unwound trace into the document's.
func traceOf(bt Backtrace) analysis.Trace {
	t := analysis.Trace{CPU: bt.CPU, PID: bt.PID, Comm: bt.Comm, Task: analysis.Hex(bt.Task), Panic: bt.Panic,
		Error: bt.Error, Frames: make([]analysis.Frame, 0, len(bt.Frames))}
	for _, f := range bt.Frames {
		t.Frames = append(t.Frames, analysis.Frame{Function: f.Function, Symbol: f.Symbol, Offset: analysis.Hex(f.Offset),
			Module: f.Module, PC: analysis.Hex(f.PC), SP: analysis.Hex(f.SP), File: f.File, Line: f.Line, Inline: f.Inline,
			Reliable: f.Reliable, User: f.User, Regs: f.Regs.document()})
	}
	return t
}

// guiltyFrame names the first frame of the panic trace outside the panic
// machinery and exception entry code.
func guiltyFrame(bt analysis.Trace) string {
	for _, f := range bt.Frames {
		if f.User || !f.Reliable || report.IsGenericFrame(f.Function) {
			continue
		}
		return f.Function
	}
	return ""
}
