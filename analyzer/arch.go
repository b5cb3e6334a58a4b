package analyzer

import (
	"debug/elf"
	"fmt"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/elfdump"
	"github.com/vmcore/vmcore/vmcore"
)

// archSpec is what the analyzer knows of one architecture: its register
// set, where its kernel addresses start, and its stack unwinder.
type archSpec struct {
	// ptRegs names the leading fields of struct pt_regs in order, as the
	// kernel names them; NT_PRSTATUS's pr_reg holds the same fields first.
	ptRegs []string
	// kernelStart is the lowest kernel address: below it is user space.
	kernelStart uint64
	// relocated is the lowest address KASLR moves: symbols below it (the
	// zero-based per-CPU symbols of x86_64) keep their link-time values.
	relocated uint64
	// newUnwinder prepares the architecture's stack unwinder for u.
	newUnwinder func(u *unwinder) (archUnwinder, []string)
}

// archs is every architecture the analyzer unwinds. vmcore refuses dumps
// of any other, so a Kernel always has one.
var archs = map[vmcore.Arch]*archSpec{
	vmcore.ArchX86_64: {
		ptRegs: []string{"r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx",
			"si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss"},
		kernelStart: 0xffff800000000000,
		relocated:   0xffffffff80000000,
		newUnwinder: newORCUnwinder,
	},
	vmcore.ArchAArch64: {
		ptRegs: []string{"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
			"x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28",
			"x29", "x30", "sp", "pc", "pstate"},
		// TTBR1 addresses: the top 12 bits set even with 52-bit VAs.
		kernelStart: 0xfff0000000000000,
		relocated:   0xfff0000000000000,
		newUnwinder: newFramePointerUnwinder,
	},
}

// arch returns the dump's architecture, whose existence vmcore checked.
func (k *Kernel) arch() *archSpec {
	if a, ok := archs[k.Dump.Arch]; ok {
		return a
	}
	return archs[vmcore.ArchX86_64]
}

// isKernelAddr reports whether a is a kernel address.
func (k *Kernel) isKernelAddr(a uint64) bool { return a >= k.arch().kernelStart }

// archUnwinder unwinds stacks of one architecture.
type archUnwinder interface {
	// unwind walks a stack from a register set. exact says regs hold
	// where the CPU was (an exception or the crash), not a return
	// address. It returns the frames and, when it stopped short of the
	// stack's end, why.
	unwind(regs *Regs, exact bool) ([]Frame, string)
	// taskRegs returns where a task that is not running switched out.
	taskRegs(t Task) (*Regs, error)
	// stopFrames returns the frames of the handler that stopped a CPU
	// other than the panicking one, above the registers it saved (the
	// x86_64 crash NMI); nil when the architecture's stop handler saves
	// no frames worth showing.
	stopFrames(cpu int, regs *Regs) []Frame
}

// Regs is a register set saved by an exception (struct pt_regs) or by the
// crash (NT_PRSTATUS): the leading fields of the architecture's pt_regs,
// in order.
type Regs struct {
	Arch   vmcore.Arch
	Values []uint64
}

// newRegs makes a zeroed register set of the kernel's architecture.
func (k *Kernel) newRegs() *Regs {
	return &Regs{Arch: k.Dump.Arch, Values: make([]uint64, len(k.arch().ptRegs))}
}

// document is the register set as the analysis document holds it; nil for nil.
func (r *Regs) document() *analysis.Regs {
	if r == nil {
		return nil
	}
	out := &analysis.Regs{Arch: string(r.Arch), Names: archs[r.Arch].ptRegs, Values: make([]analysis.Hex, len(r.Values))}
	for i, x := range r.Values {
		out.Values[i] = analysis.Hex(x)
	}
	return out
}

// readPtRegs reads the leading fields of a struct pt_regs saved on a stack.
func (k *Kernel) readPtRegs(va uint64) (*Regs, error) {
	r := k.newRegs()
	b := make([]byte, 8*len(r.Values))
	if err := k.mem.read(b, va); err != nil {
		return nil, err
	}
	for i := range r.Values {
		r.Values[i] = k.Dump.ByteOrder.Uint64(b[8*i:])
	}
	return r, nil
}

// CrashRegs returns the registers crash_save_cpu stored for cpu, read from
// the per-CPU crash_notes buffer in memory, which names the CPU for sure
// (the NT_PRSTATUS notes skip CPUs that did not answer, so note order is
// not CPU order). A dump QEMU took has none there: its notes, one per vCPU
// in order, give the registers instead (pid 0: QEMU's is no task's).
func (k *Kernel) CrashRegs(cpu int) (*Regs, int32, error) {
	r, pid, err := k.crashNoteRegs(cpu)
	if d := k.Dump; err != nil && d.Header.QEMU && cpu < len(d.CPUs) {
		// No crash path ran: QEMU wrote each vCPU's registers, in order.
		r := k.newRegs()
		if len(d.CPUs[cpu].Regs) >= len(r.Values) {
			copy(r.Values, d.CPUs[cpu].Regs)
			return r, 0, nil
		}
	}
	return r, pid, err
}

// crashNoteRegs reads cpu's registers from the crash_notes buffer.
func (k *Kernel) crashNoteRegs(cpu int) (*Regs, int32, error) {
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
		if n.Name == elfdump.NoteCore && n.Type == elf.NT_PRSTATUS {
			ps, err := elfdump.ParsePRStatus(n, k.Dump.Arch.ELFMachine(), k.Dump.ByteOrder)
			if err != nil {
				return nil, 0, err
			}
			r := k.newRegs()
			if len(ps.Regs) < len(r.Values) {
				return nil, 0, fmt.Errorf("CPU %d's NT_PRSTATUS holds %d registers, fewer than pt_regs' %d", cpu, len(ps.Regs), len(r.Values))
			}
			copy(r.Values, ps.Regs)
			return r, ps.Pid, nil
		}
	}
	return nil, 0, fmt.Errorf("CPU %d saved no registers (it did not answer the crash NMI or IPI)", cpu)
}
