package analyzer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vmcore/vmcore/analysis"

	"github.com/vmcore/vmcore/elfdump"
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
	Regs *PtRegs `json:"regs,omitempty"`
}

// PtRegs is an x86_64 struct pt_regs saved on a stack (or from NT_PRSTATUS).
type PtRegs struct {
	R15, R14, R13, R12, BP, BX, R11, R10, R9, R8, AX, CX, DX, SI, DI, OrigAX, IP, CS, Flags, SP, SS uint64
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

// x86PtRegsNames are struct pt_regs' fields in order, as the kernel names them.
var x86PtRegsNames = []string{"r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx",
	"si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss"}

// document is the register set as the analysis document holds it; nil for nil.
func (r *PtRegs) document() *analysis.Regs {
	if r == nil {
		return nil
	}
	v := []uint64{r.R15, r.R14, r.R13, r.R12, r.BP, r.BX, r.R11, r.R10, r.R9, r.R8, r.AX, r.CX, r.DX,
		r.SI, r.DI, r.OrigAX, r.IP, r.CS, r.Flags, r.SP, r.SS}
	out := &analysis.Regs{Arch: "x86_64", Names: x86PtRegsNames, Values: make([]analysis.Hex, len(v))}
	for i, x := range v {
		out.Values[i] = analysis.Hex(x)
	}
	return out
}

// regsFromPRStatus maps NT_PRSTATUS x86_64 registers (user_regs_struct order) to pt_regs.
func regsFromPRStatus(r []uint64) *PtRegs {
	if len(r) < 21 {
		return nil
	}
	return &PtRegs{R15: r[0], R14: r[1], R13: r[2], R12: r[3], BP: r[4], BX: r[5], R11: r[6], R10: r[7],
		R9: r[8], R8: r[9], AX: r[10], CX: r[11], DX: r[12], SI: r[13], DI: r[14], OrigAX: r[15],
		IP: r[16], CS: r[17], Flags: r[18], SP: r[19], SS: r[20]}
}

const ptRegsSize = 21 * 8

func (k *Kernel) readPtRegs(va uint64) (*PtRegs, error) {
	b := make([]byte, ptRegsSize)
	if err := k.mem.read(b, va); err != nil {
		return nil, err
	}
	r := make([]uint64, 21)
	for i := range r {
		r[i] = k.Dump.ByteOrder.Uint64(b[8*i:])
	}
	// pt_regs and user_regs_struct share their first 21 fields.
	return regsFromPRStatus(r), nil
}

// CrashRegs returns the registers crash_save_cpu stored for cpu, read from
// the per-CPU crash_notes buffer in memory, which names the CPU for sure
// (the NT_PRSTATUS notes skip CPUs that did not answer, so note order is
// not CPU order).
func (k *Kernel) CrashRegs(cpu int) (*PtRegs, int32, error) {
	cn, err := k.sym("crash_notes")
	if err != nil {
		return nil, 0, err
	}
	base, err := k.ptr(cn)
	if err != nil {
		return nil, 0, err
	}
	offs, err := k.PerCPUOffsets()
	if err != nil {
		return nil, 0, err
	}
	if cpu < 0 || cpu >= len(offs) {
		return nil, 0, fmt.Errorf("no CPU %d", cpu)
	}
	buf := make([]byte, 512)
	if err := k.mem.read(buf, base+offs[cpu]); err != nil {
		return nil, 0, fmt.Errorf("reading crash_notes of CPU %d: %w", cpu, err)
	}
	notes, _ := elfdump.ParseNotes(buf, k.Dump.ByteOrder, 0)
	for _, n := range notes {
		if n.Name == elfdump.NoteCore && n.Type == elfdump.NT_PRSTATUS {
			ps, err := elfdump.ParsePRStatus(n, 62 /* EM_X86_64 */, k.Dump.ByteOrder)
			if err != nil {
				return nil, 0, err
			}
			return regsFromPRStatus(ps.Regs), ps.Pid, nil
		}
	}
	return nil, 0, fmt.Errorf("CPU %d saved no registers (it did not answer the crash NMI)", cpu)
}

// maxFrames bounds a stack trace.
const maxFrames = 256

// unwinder walks stacks with ORC.
type unwinder struct {
	k     *Kernel
	orc   *orcTables
	syms  *moduleSymbols
	lines *lineTable
}

// newUnwinder loads ORC tables and module symbols once for many traces.
func (k *Kernel) newUnwinder() (*unwinder, []string) {
	mods, warnings, _ := k.Modules()
	u := &unwinder{k: k, orc: k.loadORC(mods), syms: k.readModuleSymbols(mods), lines: k.lineTable()}
	return u, append(warnings, u.orc.errs...)
}

// unwind walks from the given registers. interrupted says regs are an
// exception context (the first pc is exact, not a return address).
func (u *unwinder) unwind(regs *PtRegs) ([]Frame, string) {
	ip, sp, bp := regs.IP, regs.SP, regs.BP
	var frameRegs *PtRegs
	fullRegs := true
	curRegs := regs
	signal := true
	var frames []Frame
	for len(frames) < maxFrames {
		if !isKernelAddr(ip) {
			frames = append(frames, Frame{PC: ip, SP: sp, User: true, Reliable: true, Regs: frameRegs})
			return frames, ""
		}
		pc := ip
		if !signal {
			pc-- // a return address: the call is the instruction before it
		}
		f := u.symbolize(ip, pc)
		f.SP, f.Reliable, f.Regs = sp, true, frameRegs
		frames = append(frames, u.withInlines(f, pc)...)
		f = frames[len(frames)-1]
		frameRegs = nil
		e, ok := u.orc.find(pc)
		if (!ok || e.typ == orcUndefined) && f.Symbol != "" {
			// A function objtool left without ORC data (STACK_FRAME_NON_STANDARD,
			// like __crash_kexec, whose crash_setup_regs() inline asm stored
			// the first pc): find the return address into its caller on
			// the stack, accepting only a slot whose preceding instruction
			// is a direct call to this very function.
			if ret, slot, found := u.scanForCaller(sp, pc-f.Offset); found {
				ip, sp, signal, curRegs = ret, slot+8, false, nil
				continue
			}
		}
		if !ok {
			return frames, fmt.Sprintf("no ORC entry for %#x", pc)
		}
		if e.typ == orcEndOfStack {
			return frames, ""
		}
		if e.typ == orcUndefined {
			return frames, fmt.Sprintf("ORC has no unwind information for %#x", pc)
		}
		var cfa uint64
		var err error
		// A CFA in a general register needs the full pt_regs of the
		// exception just crossed (an iret frame holds only ip, cs, flags, sp, ss).
		regVal := func(name string, get func(*PtRegs) uint64) (uint64, error) {
			if curRegs == nil || !fullRegs {
				return 0, fmt.Errorf("ORC needs %s at %#x but no pt_regs are known", name, pc)
			}
			return get(curRegs), nil
		}
		switch e.spReg {
		case orcRegSP:
			cfa = sp + uint64(int64(e.spOffset))
		case orcRegBP:
			cfa = bp + uint64(int64(e.spOffset))
		case orcRegSPIndirect:
			cfa, err = u.k.ptr(sp)
			cfa += uint64(int64(e.spOffset))
		case orcRegBPIndirect:
			cfa, err = u.k.ptr(bp + uint64(int64(e.spOffset)))
		case orcRegDX:
			cfa, err = regVal("rdx", func(r *PtRegs) uint64 { return r.DX })
		case orcRegDI:
			cfa, err = regVal("rdi", func(r *PtRegs) uint64 { return r.DI })
		case orcRegR10:
			cfa, err = regVal("r10", func(r *PtRegs) uint64 { return r.R10 })
		case orcRegR13:
			cfa, err = regVal("r13", func(r *PtRegs) uint64 { return r.R13 })
		default:
			return frames, fmt.Sprintf("unknown ORC sp register %d at %#x", e.spReg, pc)
		}
		if err != nil {
			return frames, fmt.Sprintf("finding the CFA at %#x: %v", pc, err)
		}
		prevSP := sp
		switch e.typ {
		case orcCall:
			if ip, err = u.k.ptr(cfa - 8); err != nil {
				return frames, fmt.Sprintf("reading the return address at %#x: %v", cfa-8, err)
			}
			sp = cfa
			curRegs, signal = nil, e.signal
		case orcRegs, orcRegsPartial:
			at := cfa
			if e.typ == orcRegsPartial {
				at = cfa - 128 // the iret frame starts at pt_regs.ip
			}
			r, err := u.k.readPtRegs(at)
			if err != nil {
				return frames, fmt.Sprintf("reading pt_regs at %#x: %v", at, err)
			}
			ip, sp = r.IP, r.SP
			curRegs, fullRegs, signal = r, e.typ == orcRegs, true
			frameRegs = r
			if r.CS&3 != 0 { // back in user mode
				frames = append(frames, Frame{PC: ip, SP: sp, User: true, Reliable: true, Regs: r})
				return frames, ""
			}
		}
		switch e.bpReg {
		case orcRegUndefined:
			if curRegs != nil && fullRegs {
				bp = curRegs.BP
			}
		case orcRegPrevSP:
			if bp, err = u.k.ptr(cfa + uint64(int64(e.bpOffset))); err != nil {
				return frames, fmt.Sprintf("reading the saved rbp at %#x: %v", cfa+uint64(int64(e.bpOffset)), err)
			}
		case orcRegBP:
			if bp, err = u.k.ptr(bp + uint64(int64(e.bpOffset))); err != nil {
				return frames, fmt.Sprintf("reading the saved rbp: %v", err)
			}
		}
		if sp <= prevSP && e.spReg != orcRegSPIndirect && e.spReg != orcRegBPIndirect && e.typ == orcCall {
			return frames, fmt.Sprintf("stack pointer did not move up at %#x", pc)
		}
	}
	return frames, fmt.Sprintf("stopped after %d frames", maxFrames)
}

// maxScanWords bounds the search for a return address.
const maxScanWords = 512

// scanForCaller looks up the stack from sp for a return address whose call
// instruction (e8 rel32) targets fn.
func (u *unwinder) scanForCaller(sp, fn uint64) (ret, slot uint64, ok bool) {
	buf := make([]byte, 8*maxScanWords)
	n := len(buf) - int(sp%4096)
	if err := u.k.mem.read(buf[:n], sp); err != nil {
		n = 4096 - int(sp%4096) // the stack page we are on, at least
		if err := u.k.mem.read(buf[:n], sp); err != nil {
			return 0, 0, false
		}
	}
	var call [5]byte
	for i := 0; i+8 <= n; i += 8 {
		w := u.k.Dump.ByteOrder.Uint64(buf[i:])
		if !isKernelAddr(w) {
			continue
		}
		if err := u.k.mem.read(call[:], w-5); err != nil || call[0] != 0xe8 {
			continue
		}
		if w+uint64(int64(int32(u.k.Dump.ByteOrder.Uint32(call[1:])))) == fn {
			return w, sp + uint64(i), true
		}
	}
	return 0, 0, false
}

func isKernelAddr(a uint64) bool { return a >= 0xffff800000000000 }

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
	}
	return f
}

// moduleSymbols are the modules' own symbol tables (mod->kallsyms), which
// the core kallsyms tables do not include.
type moduleSymbols struct {
	mods []modSyms // sorted by base
}

type modSyms struct {
	name      string
	base, end uint64
	syms      []Symbol // sorted
}

func (m *moduleSymbols) find(pc uint64) (Symbol, string, bool) {
	for _, ms := range m.mods {
		if pc < ms.base || pc >= ms.end {
			continue
		}
		i := sort.Search(len(ms.syms), func(i int) bool { return ms.syms[i].Addr > pc }) - 1
		if i >= 0 {
			return ms.syms[i], ms.name, true
		}
		return Symbol{Name: ms.name, Addr: ms.base}, ms.name, true
	}
	return Symbol{}, "", false
}

// maxModuleSyms bounds one module's symbol table.
const maxModuleSyms = 1 << 18

func (k *Kernel) readModuleSymbols(mods []Module) *moduleSymbols {
	out := &moduleSymbols{}
	ksOff, err1 := k.off("module", "kallsyms")
	o, err2 := k.offsets("mod_kallsyms", "symtab", "num_symtab", "strtab")
	for _, m := range mods {
		ms := modSyms{name: m.Name, base: m.Base, end: m.Base + m.Size}
		if err1 == nil && err2 == nil {
			ms.syms = k.modKallsyms(m.Addr+ksOff, o)
		}
		out.mods = append(out.mods, ms)
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
		bt.Frames, bt.Error = u.unwind(regs)
		if cpu != panicCPU {
			if nmi := u.nmiFrames(cpu, regs); len(nmi) > 0 {
				if len(bt.Frames) > 0 {
					bt.Frames[0].Regs = regs // the NMI interrupted this context
				}
				bt.Frames = append(nmi, bt.Frames...)
			}
		}
		out = append(out, bt)
	}
	return out, warnings, nil
}

// NMI exception stack geometry (x86_64): tss.ist[IST_INDEX_NMI] is the top
// of a one-page stack (without KASAN).
const (
	istIndexNMI      = 1
	exceptionStackSz = 4096
)

// nmiFrames finds the frames of the crash NMI handler that stopped a CPU:
// the handler never returns, so nothing saved its registers, but its
// return addresses are on the NMI stack. Scanning from the stack's bottom,
// the first return address into crash_nmi_callback whose ORC unwind lands
// on exactly the interrupted registers the crash note holds gives the
// chain crash_nmi_callback → … → the NMI entry. The frames are marked
// unreliable, as they come from a scan; the first pc is a return address
// inside the handler's wait loop, not where it spins.
func (u *unwinder) nmiFrames(cpu int, regs *PtRegs) []Frame {
	k := u.k
	tss, err1 := k.sym("cpu_tss_rw")
	istOff, err2 := k.off("tss_struct", "x86_tss.ist")
	cb, err3 := k.sym("crash_nmi_callback")
	offs, err4 := k.PerCPUOffsets()
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || cpu >= len(offs) {
		return nil
	}
	top, err := k.ptr(tss + offs[cpu] + istOff + 8*istIndexNMI)
	if err != nil || top < exceptionStackSz || !isKernelAddr(top) {
		return nil
	}
	stack := make([]byte, exceptionStackSz)
	if err := k.mem.read(stack, top-exceptionStackSz); err != nil {
		return nil
	}
	cbSym, ok := k.Syms.Symbolize(cb)
	if !ok {
		return nil
	}
	for i := 0; i+8 <= len(stack); i += 8 {
		w := k.Dump.ByteOrder.Uint64(stack[i:])
		if w <= cb || w-cb >= max(cbSym.Size, 1) {
			continue
		}
		slot := top - exceptionStackSz + uint64(i)
		frames, _ := u.unwind(&PtRegs{IP: w, SP: slot + 8})
		// unwind treats the first pc as exact; this one is a return address.
		for j, f := range frames {
			if f.Regs != nil && f.Regs.IP == regs.IP && f.Regs.SP == regs.SP {
				out := frames[:j]
				for n := range out {
					out[n].Reliable = false
				}
				if len(out) > 0 {
					out[0].SP = slot
				}
				return out
			}
		}
	}
	return nil
}

// TaskBacktrace unwinds a task that is not running, from the frame
// __switch_to_asm left on its stack (struct inactive_task_frame at
// task->thread.sp).
func (k *Kernel) taskBacktrace(u *unwinder, t Task) Backtrace {
	bt := Backtrace{CPU: t.CPU, PID: t.PID, Comm: t.Comm, Task: t.Addr}
	spOff, err := k.off("task_struct", "thread.sp")
	if err != nil {
		bt.Error = err.Error()
		return bt
	}
	o, err := k.offsets("inactive_task_frame", "bp", "ret_addr")
	if err != nil {
		bt.Error = err.Error()
		return bt
	}
	size, _ := k.Types.Size("inactive_task_frame")
	sp, err := k.ptr(t.Addr + spOff)
	if err != nil {
		bt.Error = err.Error()
		return bt
	}
	bp, err1 := k.ptr(sp + o[0])
	ip, err2 := k.ptr(sp + o[1])
	if err1 != nil || err2 != nil {
		bt.Error = fmt.Sprintf("reading the switch frame at %#x: %v %v", sp, err1, err2)
		return bt
	}
	// The saved ret_addr is a return address: unwind as after a call.
	frames, errStr := u.unwind(&PtRegs{IP: ip, SP: sp + size, BP: bp})
	bt.Frames, bt.Error = frames, errStr
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
