package analyzer

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Frame is one frame of a kernel stack trace.
type Frame struct {
	PC       uint64 `json:"pc"`
	SP       uint64 `json:"sp"`
	Function string `json:"function,omitempty"`
	Offset   uint64 `json:"offset"` // from the start of Symbol
	// Symbol is the symbol holding pc, which the kernel's own oops prints
	// (e.g. "__handle_sysrq.cold"); Function is the function's name from
	// DWARF when known ("__handle_sysrq"), else the symbol.
	Symbol string `json:"symbol,omitempty"`
	Module string `json:"module,omitempty"`
	// Reliable frames are the ones the kernel's own unwinder would give;
	// frames from frame-pointer or stack-scan fallbacks are not.
	Reliable bool   `json:"reliable"`
	User     bool   `json:"user,omitempty"` // the user-space pc the kernel was entered from
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Inline   bool   `json:"inline,omitempty"`
	// Regs is the exception frame (pt_regs) this frame was interrupted
	// with, when the unwinder crossed one to reach it.
	Regs *Regs `json:"regs,omitempty"`
}

// Backtrace is one task's stack trace.
type Backtrace struct {
	CPU    int     `json:"cpu"`
	PID    int32   `json:"pid"`
	Comm   string  `json:"comm"`
	Task   uint64  `json:"-"`
	Panic  bool    `json:"panic"`
	Frames []Frame `json:"frames"`
	// Error says why the unwinder stopped before the end of the stack.
	Error string `json:"error,omitempty"`
}

// maxFrames bounds a stack trace.
const maxFrames = 256

// unwinder unwinds the stacks of one analysis: the architecture's
// unwinder, with the module symbols and line tables every one shares.
type unwinder struct {
	k     *Kernel
	mods  []Module
	syms  *moduleSymbols
	lines *lineTable
	arch  archUnwinder
}

// newUnwinder loads module symbols, and what the architecture's unwinder
// needs (ORC tables), once for many traces.
func (k *Kernel) newUnwinder() (*unwinder, []string) {
	mods, warnings, _ := k.Modules()
	u := &unwinder{k: k, mods: mods, syms: k.readModuleSymbols(mods), lines: k.lineTable()}
	var w []string
	u.arch, w = k.arch().newUnwinder(u)
	return u, append(warnings, w...)
}

// withInlines expands a frame into the functions inlined at its pc
// (innermost first, marked Inline) followed by the frame itself, with
// file:line from DWARF (the vmlinux's, or the module object's); without
// DWARF it returns the frame alone.
func (u *unwinder) withInlines(f Frame, lookupPC uint64) []Frame {
	var locs []Location
	switch {
	case f.Module != "":
		locs = u.k.moduleLocate(f, lookupPC)
	case u.lines != nil:
		locs, _ = u.lines.locate(lookupPC)
	}
	if len(locs) == 0 {
		return []Frame{f}
	}
	out := make([]Frame, 0, len(locs))
	for _, l := range locs[:len(locs)-1] {
		out = append(out, Frame{PC: f.PC, SP: f.SP, Function: l.Function, File: l.File, Line: l.Line, Inline: true, Reliable: f.Reliable})
	}
	if len(out) > 0 { // the exception frame belongs before the whole group
		out[0].Regs, f.Regs = f.Regs, nil
	}
	last := locs[len(locs)-1]
	f.File, f.Line = last.File, last.Line
	if last.Function != "" {
		f.Function = last.Function
	}
	return append(out, f)
}

// symbolize names the function holding pc, in vmlinux or a module, by
// the address lookup: pc itself for an interrupted frame, pc-1 for a return
// address (a call to a noreturn function can be a function's last
// instruction, so its return address belongs to the next symbol).
func (u *unwinder) symbolize(pc, lookup uint64) Frame {
	f := Frame{PC: pc}
	if s, mod, ok := u.syms.find(lookup); ok {
		f.Function, f.Symbol, f.Offset, f.Module = s.Name, s.Name, pc-s.Addr, mod
		return f
	}
	if s, ok := u.k.Syms.Symbolize(lookup); ok {
		f.Function, f.Symbol, f.Offset = s.Name, s.Name, pc-s.Addr
		// A vmlinux's sized symbols name the function; the kernel's oops
		// names the nearest label in it, as kallsyms has no sizes.
		if t, ok := u.k.Syms.(interface{ nearest(uint64) (Symbol, bool) }); ok {
			if n, ok := t.nearest(lookup); ok && n.Addr > s.Addr {
				f.Symbol, f.Offset = n.Name, pc-n.Addr
			}
		}
	}
	return f
}

// moduleSymbols are the modules' own symbol tables (mod->kallsyms), which
// the core kallsyms tables do not include.
type moduleSymbols struct {
	mods []modSyms // sorted by base
}

// modSyms is one module's table, read when a pc first falls in the
// module: a trace passes through few of the dozens of modules loaded, and
// reading a table costs a read per symbol name.
type modSyms struct {
	name      string
	base, end uint64
	syms      func() []Symbol // sorted; nil when the kernel's layout hides them
}

func (m *moduleSymbols) find(pc uint64) (Symbol, string, bool) {
	for i := range m.mods {
		ms := &m.mods[i]
		if pc < ms.base || pc >= ms.end {
			continue
		}
		var syms []Symbol
		if ms.syms != nil {
			syms = ms.syms()
		}
		i := sort.Search(len(syms), func(i int) bool { return syms[i].Addr > pc }) - 1
		if i >= 0 {
			return syms[i], ms.name, true
		}
		return Symbol{Name: ms.name, Addr: ms.base}, ms.name, true
	}
	return Symbol{}, "", false
}

// maxModuleSyms bounds one module's symbol table.
const maxModuleSyms = 1 << 18

func (k *Kernel) readModuleSymbols(mods []Module) *moduleSymbols {
	out := &moduleSymbols{mods: make([]modSyms, len(mods))}
	ksOff, err1 := k.off("module", "kallsyms")
	o, err2 := k.offsets("mod_kallsyms", "symtab", "num_symtab", "strtab")
	for i, m := range mods {
		ms := &out.mods[i]
		ms.name, ms.base, ms.end = m.Name, m.Base, m.Base+m.Size
		if err1 == nil && err2 == nil {
			ms.syms = sync.OnceValue(func() []Symbol { return k.modKallsyms(m.Addr+ksOff, o) })
		}
	}
	return out
}

func (k *Kernel) modKallsyms(ptrVA uint64, o []uint64) []Symbol {
	mk, err := k.ptr(ptrVA)
	if err != nil || mk == 0 {
		return nil
	}
	symtab, _ := k.ptr(mk + o[0])
	num, _ := k.u32(mk + o[1])
	strtab, _ := k.ptr(mk + o[2])
	if symtab == 0 || strtab == 0 || num == 0 || num > maxModuleSyms {
		return nil
	}
	b := make([]byte, 24*int(num))
	if err := k.mem.read(b, symtab); err != nil {
		return nil
	}
	bo := k.Dump.ByteOrder
	var syms []Symbol
	for i := 0; i < int(num); i++ {
		e := b[24*i:]
		name := bo.Uint32(e[0:])
		value := bo.Uint64(e[8:])
		size := bo.Uint64(e[16:])
		typ := e[4] & 0xf
		if value == 0 || name == 0 || (typ != 2 /* STT_FUNC */ && typ != 0 /* STT_NOTYPE */) {
			continue
		}
		n, err := k.str(strtab+uint64(name), 128)
		if err != nil || n == "" {
			continue
		}
		syms = append(syms, Symbol{Name: n, Addr: value, Size: size, Type: 't'})
	}
	sort.Slice(syms, func(i, j int) bool { return syms[i].Addr < syms[j].Addr })
	return syms
}

// CPUBacktraces unwinds the task that was running on each online CPU at
// the crash, from the registers saved in its crash note; the panic CPU's
// trace is marked. A CPU without saved registers gets a trace with only an
// error.
func (k *Kernel) CPUBacktraces() ([]Backtrace, []string, error) {
	cpus, err := k.OnlineCPUs()
	if err != nil {
		return nil, nil, err
	}
	u, warnings := k.newUnwinder()
	panicCPU, _ := k.PanicCPU()
	l, err := k.taskLayout()
	if err != nil {
		return nil, warnings, err
	}
	var out []Backtrace
	for _, cpu := range cpus {
		bt := Backtrace{CPU: cpu, Panic: cpu == panicCPU}
		if task, err := k.CurrentTask(cpu); err == nil {
			if t, err := k.readTask(l, task); err == nil {
				bt.Task, bt.PID, bt.Comm = task, t.PID, t.Comm
			}
		}
		regs, _, err := k.CrashRegs(cpu)
		if err != nil {
			bt.Error = err.Error()
			out = append(out, bt)
			continue
		}
		bt.Frames, bt.Error = u.arch.unwind(regs, true)
		if cpu != panicCPU {
			if stop := u.arch.stopFrames(cpu, regs); len(stop) > 0 {
				if len(bt.Frames) > 0 {
					bt.Frames[0].Regs = regs // the stop interrupted this context
				}
				bt.Frames = append(stop, bt.Frames...)
			}
		}
		out = append(out, bt)
	}
	return out, warnings, nil
}

// taskBacktrace unwinds a task that is not running, from where it
// switched out.
func (k *Kernel) taskBacktrace(u *unwinder, t Task) Backtrace {
	bt := Backtrace{CPU: t.CPU, PID: t.PID, Comm: t.Comm, Task: t.Addr}
	regs, err := u.arch.taskRegs(t)
	if err != nil {
		bt.Error = err.Error()
		return bt
	}
	// The saved pc is a return address: unwind as after a call.
	bt.Frames, bt.Error = u.arch.unwind(regs, false)
	return bt
}

// BlockedBacktraces unwinds every task in uninterruptible sleep (state D),
// like crash's `foreach UN bt`.
func (k *Kernel) BlockedBacktraces(tasks []Task) ([]Backtrace, []string) {
	u, warnings := k.newUnwinder()
	var out []Backtrace
	for _, t := range tasks {
		if t.State == "D" {
			out = append(out, k.taskBacktrace(u, t))
		}
	}
	return out, warnings
}

// StackGroup is a set of tasks blocked in the same place: their traces
// have the same functions and offsets.
type StackGroup struct {
	Trace Backtrace // the first task's trace
	PIDs  []int32
}

// GroupByStack groups traces whose frames are the same (by symbol and
// offset), in order of first appearance, largest groups first.
func GroupByStack(bts []Backtrace) []StackGroup {
	var groups []StackGroup
	index := map[string]int{}
	for _, bt := range bts {
		var key strings.Builder
		for _, f := range bt.Frames {
			fmt.Fprintf(&key, "%s+%x/%s;", f.Symbol, f.Offset, f.Module)
		}
		k := key.String() + bt.Error
		if i, ok := index[k]; ok {
			groups[i].PIDs = append(groups[i].PIDs, bt.PID)
			continue
		}
		index[k] = len(groups)
		groups = append(groups, StackGroup{Trace: bt, PIDs: []int32{bt.PID}})
	}
	sort.SliceStable(groups, func(i, j int) bool { return len(groups[i].PIDs) > len(groups[j].PIDs) })
	return groups
}
