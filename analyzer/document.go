package analyzer

import (
	"fmt"
	"strconv"
	"time"

	"github.com/vmcore/vmcore/vmcore"
)

// Schema names the analysis document's version. Other tools read the
// document: fields are only ever added under this name.
const Schema = "vmcore.analysis/v1"

// Hex is an address, written in JSON as a "0x…" string.
type Hex uint64

// MarshalText writes 0x-prefixed hex.
func (h Hex) MarshalText() ([]byte, error) { return []byte(fmt.Sprintf("%#x", uint64(h))), nil }

// UnmarshalText implements encoding.TextUnmarshaler, so a stored document
// reads back.
func (h *Hex) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 0, 64)
	if err != nil {
		return fmt.Errorf("analyzer: %q is not a hex number", b)
	}
	*h = Hex(v)
	return nil
}

// Analysis is the document `vmcorectl analyze --json` prints and the
// service stores: everything read from one dump. docs/analysis-schema.md
// describes every field.
type Analysis struct {
	Schema     string     `json:"schema"`
	Dump       DumpFacts  `json:"dump"`
	System     *SystemDoc `json:"system,omitempty"`
	Panic      *PanicDoc  `json:"panic,omitempty"`
	Backtraces []TraceDoc `json:"backtraces"`
	Blocked    []TraceDoc `json:"blocked"`
	// BlockedGroups groups the blocked tasks by identical stack.
	BlockedGroups []BlockedGroupDoc `json:"blocked_groups"`
	Modules       []ModuleDoc       `json:"modules"`
	// Tasks is every task, as crash's ps lists them.
	Tasks     []TaskDoc    `json:"tasks"`
	Taint     *TaintDoc    `json:"taint,omitempty"`
	Debuginfo DebuginfoDoc `json:"debuginfo"`
	Log       []Record     `json:"log"`
	Oops      *OopsDoc     `json:"oops,omitempty"`
	// KB holds the knowledge-base articles this crash matches, best
	// first. The analyzer leaves it empty; package kb fills it, so the
	// offline CLI and the service give the same answer.
	KB       []KBSuggestion `json:"kb"`
	Warnings []string       `json:"warnings"`
	Steps    []StepTiming   `json:"steps"`
}

// DumpFacts says what the dump file is.
type DumpFacts struct {
	Format      string `json:"format"`
	Compression string `json:"compression"`
	Flattened   bool   `json:"flattened"`
	SplitFiles  int    `json:"split_files"`
	DumpLevel   int    `json:"dump_level"`
	BuildID     string `json:"build_id,omitempty"`
	Partial     bool   `json:"partial"`
}

// SystemDoc is the `sys` summary.
type SystemDoc struct {
	Release  string     `json:"release"`
	Version  string     `json:"version"`
	Machine  string     `json:"machine"`
	Nodename string     `json:"nodename"`
	CPUs     int        `json:"cpus"`
	Date     *time.Time `json:"date,omitempty"`
	Uptime   string     `json:"uptime"`
	UptimeS  float64    `json:"uptime_seconds"`
	LoadAvg  [3]float64 `json:"load_average"`
	Tasks    int        `json:"tasks"`
	Memory   uint64     `json:"memory"`
	Panic    string     `json:"panic"`
	// PanicKind is "oops" when Panic is an oops header line (crash then
	// adds "check log for details").
	PanicKind string `json:"panic_kind,omitempty"`
}

// System turns the document's summary back into a System, for printing it
// as crash does from a stored document.
func (d *SystemDoc) System() *System {
	s := &System{Release: d.Release, Version: d.Version, Machine: d.Machine, Nodename: d.Nodename, CPUs: d.CPUs,
		Uptime: time.Duration(d.UptimeS * float64(time.Second)), LoadAvg: d.LoadAvg, Tasks: d.Tasks, Memory: d.Memory,
		Panic: d.Panic, PanicKind: d.PanicKind, PanicCPU: -1}
	if d.Date != nil {
		s.Date = *d.Date
	}
	return s
}

// PanicDoc names the panicking CPU and task.
type PanicDoc struct {
	CPU  int    `json:"cpu"`
	PID  int32  `json:"pid"`
	Comm string `json:"comm"`
}

// TraceDoc is one stack trace.
type TraceDoc struct {
	CPU    int        `json:"cpu"`
	PID    int32      `json:"pid"`
	Comm   string     `json:"comm"`
	Task   Hex        `json:"task"` // address of its task_struct
	Panic  bool       `json:"panic"`
	Frames []FrameDoc `json:"frames"`
	Error  string     `json:"error,omitempty"`
}

// FrameDoc is one frame.
type FrameDoc struct {
	Function string  `json:"function"`
	Symbol   string  `json:"symbol,omitempty"`
	Offset   Hex     `json:"offset"`
	Module   string  `json:"module,omitempty"`
	PC       Hex     `json:"pc"`
	SP       Hex     `json:"sp"`
	File     string  `json:"file,omitempty"`
	Line     int     `json:"line,omitempty"`
	Inline   bool    `json:"inline"`
	Reliable bool    `json:"reliable"`
	User     bool    `json:"user,omitempty"`
	Regs     *PtRegs `json:"regs,omitempty"`
}

// BlockedGroupDoc is a set of blocked tasks with the same stack.
type BlockedGroupDoc struct {
	Count int      `json:"count"`
	PIDs  []int32  `json:"pids"`
	Trace TraceDoc `json:"trace"`
}

// TaskDoc is one task, as ps shows it.
type TaskDoc struct {
	PID   int32  `json:"pid"`
	PPID  int32  `json:"ppid"`
	CPU   int    `json:"cpu"`
	State string `json:"state"` // one letter: R S D T t X Z P I
	Comm  string `json:"comm"`
	Task  Hex    `json:"task"`
	Idle  bool   `json:"idle,omitempty"`
}

// ModuleDoc is one module.
type ModuleDoc struct {
	Name   string `json:"name"`
	Addr   Hex    `json:"addr"` // address of its struct module
	Base   Hex    `json:"base"`
	Size   uint64 `json:"size"`
	State  string `json:"state"`
	Taints string `json:"taints"`
}

// TaintDoc decodes the kernel's taint mask.
type TaintDoc struct {
	Mask  Hex            `json:"mask"`
	Flags []TaintFlagDoc `json:"flags"`
}

// TaintFlagDoc is one set taint bit: its letter and meaning.
type TaintFlagDoc struct {
	Bit    int    `json:"bit"`
	Letter string `json:"letter"`
	Desc   string `json:"description"`
}

// DebuginfoDoc says where symbols and types came from.
type DebuginfoDoc struct {
	Source string `json:"source"` // "btf+kallsyms", "dwarf", or "vmcoreinfo" (log only)
}

// OopsDoc is the oops section of the log: the report that explains the
// crash (see ParseOops), and how many reports the log holds.
type OopsDoc struct {
	Title     string      `json:"title"`
	Type      string      `json:"type"`
	Function  string      `json:"function,omitempty"`
	AltTitles []string    `json:"alt_titles,omitempty"`
	Frames    []OopsFrame `json:"frames"`
	Modules   []string    `json:"modules,omitempty"`
	Taint     string      `json:"taint,omitempty"`
	Corrupted bool        `json:"corrupted"`
	Reason    string      `json:"corrupted_reason,omitempty"`
	Reports   int         `json:"reports"`
}

// KBSuggestion is one knowledge-base article suggested for a crash, with
// why it was suggested.
type KBSuggestion struct {
	ID         string  `json:"id"`
	Title      string  `json:"title"`
	Confidence float64 `json:"confidence"` // 0..1
	// Evidence lists each fact that matched, in words an engineer can
	// check: "frame `nf_conntrack_in` in the call trace".
	Evidence []string `json:"evidence"`
}

// StepTiming records how long each step took and whether it failed.
type StepTiming struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

// Module turns the document's module back into a Module.
func (d ModuleDoc) Module() Module {
	return Module{Name: d.Name, Addr: uint64(d.Addr), Base: uint64(d.Base), Size: d.Size, State: d.State, Taints: d.Taints}
}

// Backtrace turns the document's trace back into a Backtrace, for printing
// it as crash does from a stored document.
func (d TraceDoc) Backtrace() Backtrace {
	bt := Backtrace{CPU: d.CPU, PID: d.PID, Comm: d.Comm, Task: uint64(d.Task), Panic: d.Panic, Error: d.Error}
	for _, f := range d.Frames {
		bt.Frames = append(bt.Frames, Frame{Function: f.Function, Symbol: f.Symbol, Offset: uint64(f.Offset), Module: f.Module,
			PC: uint64(f.PC), SP: uint64(f.SP), File: f.File, Line: f.Line, Inline: f.Inline, Reliable: f.Reliable,
			User: f.User, Regs: f.Regs})
	}
	return bt
}

func traceDoc(bt Backtrace) TraceDoc {
	td := TraceDoc{CPU: bt.CPU, PID: bt.PID, Comm: bt.Comm, Task: Hex(bt.Task), Panic: bt.Panic, Error: bt.Error, Frames: []FrameDoc{}}
	for _, f := range bt.Frames {
		td.Frames = append(td.Frames, FrameDoc{Function: f.Function, Symbol: f.Symbol, Offset: Hex(f.Offset), Module: f.Module,
			PC: Hex(f.PC), SP: Hex(f.SP), File: f.File, Line: f.Line, Inline: f.Inline, Reliable: f.Reliable,
			User: f.User, Regs: f.Regs})
	}
	return td
}

// Analyze runs every analysis on an open dump. Each step that fails is
// recorded in Steps and Warnings and the others still run: a dump with no
// BTF still yields its log, a damaged task list still yields modules.
func Analyze(d *vmcore.Dump) *Analysis { return AnalyzeWith(d, nil) }

// AnalyzeWith is Analyze with a vmlinux for symbols, types, file:line and
// inlined frames; a nil vmlinux means BTF and kallsyms from the dump. A
// vmlinux of another build is refused (the debuginfo step fails, with the
// reason) and the analysis falls back to the dump's own BTF.
func AnalyzeWith(d *vmcore.Dump, v *Vmlinux) *Analysis {
	return AnalyzeOpts(d, AnalyzeOptions{Vmlinux: v})
}

// Progress hears of each analysis step as it starts (done is nil) and as it
// ends, so a service can show which step a long analysis is in.
type Progress func(step string, done *StepTiming)

// AnalyzeProgress is AnalyzeWith that reports each step to progress (which
// may be nil).
func AnalyzeProgress(d *vmcore.Dump, v *Vmlinux, progress Progress) *Analysis {
	return AnalyzeOpts(d, AnalyzeOptions{Vmlinux: v, Progress: progress})
}

// AnalyzeOptions are what an analysis may use beyond the dump.
type AnalyzeOptions struct {
	Vmlinux    *Vmlinux // DWARF for the kernel; nil: BTF and kallsyms
	ModuleDirs []string // module objects with DWARF (see Kernel.ModuleDirs)
	Progress   Progress // hears of each step; may be nil
}

// AnalyzeOpts runs every analysis with options.
func AnalyzeOpts(d *vmcore.Dump, o AnalyzeOptions) *Analysis {
	v, progress := o.Vmlinux, o.Progress
	a := &Analysis{Schema: Schema, Backtraces: []TraceDoc{}, Blocked: []TraceDoc{}, BlockedGroups: []BlockedGroupDoc{}, Modules: []ModuleDoc{}, Tasks: []TaskDoc{}, Log: []Record{}, KB: []KBSuggestion{}, Warnings: []string{}}
	a.Warnings = append(a.Warnings, d.Warnings...)
	h := d.Header
	a.Dump = DumpFacts{Format: string(d.Format), Compression: h.Compression, Flattened: h.Flattened,
		SplitFiles: h.SplitFiles, DumpLevel: h.DumpLevel, Partial: h.Incomplete}
	if d.Info != nil {
		a.Dump.BuildID = d.Info.BuildID()
	}
	step := func(name string, fn func() error) {
		if progress != nil {
			progress(name, nil)
		}
		start := time.Now()
		err := fn()
		st := StepTiming{Name: name, Seconds: time.Since(start).Seconds()}
		if err != nil {
			st.Error = err.Error()
			a.Warnings = append(a.Warnings, name+": "+err.Error())
		}
		a.Steps = append(a.Steps, st)
		if progress != nil {
			progress(name, &st)
		}
	}
	var lg *Log
	step("log", func() error {
		var err error
		if lg, err = ReadLog(d); err != nil {
			return err
		}
		a.Log = lg.Records
		for _, w := range lg.Warnings {
			a.Warnings = append(a.Warnings, "log: "+w)
		}
		reports := ParseOops(lg.Text())
		if p := PrimaryOops(reports); p != nil {
			a.Oops = &OopsDoc{Title: p.Title, Type: p.Type, Function: p.Function, AltTitles: p.AltTitles,
				Frames: p.Frames, Modules: p.Modules, Taint: p.Taint, Corrupted: p.Corrupted, Reason: p.Reason, Reports: len(reports)}
		}
		return nil
	})
	a.Debuginfo.Source = SourceVMCOREINFO
	var k *Kernel
	step("debuginfo", func() error {
		var err error
		if v != nil {
			if k, err = OpenKernelWithVmlinux(d, v); err == nil {
				a.Debuginfo.Source = k.Source
				return nil
			}
			a.Warnings = append(a.Warnings, "debuginfo: "+err.Error())
		}
		if k, err = OpenKernel(d); err == nil {
			a.Debuginfo.Source = k.Source
		}
		return err
	})
	if k != nil {
		k.ModuleDirs = o.ModuleDirs
	}
	if k == nil {
		return a
	}
	var tasks []Task
	step("tasks", func() error {
		var w []string
		var err error
		tasks, w, err = k.Tasks()
		a.Warnings = append(a.Warnings, w...)
		for _, t := range tasks {
			a.Tasks = append(a.Tasks, TaskDoc{PID: t.PID, PPID: t.PPID, CPU: t.CPU, State: t.State, Comm: t.Comm, Task: Hex(t.Addr), Idle: t.Idle})
		}
		return err
	})
	step("sys", func() error {
		s := k.Sys(lg, tasks)
		a.Warnings = append(a.Warnings, s.Warnings...)
		a.System = &SystemDoc{Release: s.Release, Version: s.Version, Machine: s.Machine, Nodename: s.Nodename,
			CPUs: s.CPUs, Uptime: s.UptimeText(),
			UptimeS: s.Uptime.Seconds(), LoadAvg: s.LoadAvg, Tasks: s.Tasks, Memory: s.Memory, Panic: s.Panic, PanicKind: s.PanicKind}
		if !s.Date.IsZero() {
			t := s.Date
			a.System.Date = &t
		}
		return nil
	})
	step("backtraces", func() error {
		bts, w, err := k.CPUBacktraces()
		a.Warnings = append(a.Warnings, w...)
		for _, bt := range bts {
			a.Backtraces = append(a.Backtraces, traceDoc(bt))
			if bt.Panic {
				a.Panic = &PanicDoc{CPU: bt.CPU, PID: bt.PID, Comm: bt.Comm}
			}
		}
		blocked, _ := k.BlockedBacktraces(tasks)
		for _, bt := range blocked {
			a.Blocked = append(a.Blocked, traceDoc(bt))
		}
		for _, g := range GroupByStack(blocked) {
			a.BlockedGroups = append(a.BlockedGroups, BlockedGroupDoc{Count: len(g.PIDs), PIDs: g.PIDs, Trace: traceDoc(g.Trace)})
		}
		for _, w := range k.ModuleWarnings() {
			a.Warnings = append(a.Warnings, "module debuginfo: "+w)
		}
		return err
	})
	step("modules", func() error {
		mods, w, err := k.Modules()
		a.Warnings = append(a.Warnings, w...)
		for _, m := range mods {
			a.Modules = append(a.Modules, ModuleDoc{Name: m.Name, Addr: Hex(m.Addr), Base: Hex(m.Base), Size: m.Size, State: m.State, Taints: m.Taints})
		}
		if err != nil {
			return err
		}
		mask, err := k.TaintMask()
		if err != nil {
			return err
		}
		a.Taint = &TaintDoc{Mask: Hex(mask), Flags: []TaintFlagDoc{}}
		for _, f := range TaintFlags {
			if mask>>f.Bit&1 != 0 {
				a.Taint.Flags = append(a.Taint.Flags, TaintFlagDoc{f.Bit, string(f.Letter), f.Desc})
			}
		}
		return nil
	})
	if err := k.SaveProfile(); err != nil {
		a.Warnings = append(a.Warnings, "saving the kernel profile: "+err.Error())
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

// guiltyFrame names the first frame of the panic trace outside the panic
// machinery and exception entry code.
func guiltyFrame(bt TraceDoc) string {
	for _, f := range bt.Frames {
		if f.User || !f.Reliable || genericFrame(f.Function) {
			continue
		}
		return f.Function
	}
	return ""
}
