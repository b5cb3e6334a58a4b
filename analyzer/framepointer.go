package analyzer

import (
	"fmt"
)

// The arm64 kernel is always built with frame pointers: every function
// that calls another pushes a frame record {x29, x30} and points x29 at
// it, so the records chain from the innermost frame to the bottom of the
// stack, across IRQ stacks (call_on_irq_stack pushes a record on the task
// stack before switching). Exception entry saves struct pt_regs with a
// record inside it (pt_regs.stackframe) holding the interrupted x29 and
// pc, so the chain crosses exceptions too; entry from user space (and,
// since 6.13, every stack's bottom) ends it with a zero record.
//
// What the chain cannot give is the caller of the function a CPU was
// stopped in, when that function had not stored its record yet (a leaf,
// or a pc still in its prologue or past its epilogue): its return address
// is then only in x30. Where the full registers are known (the crash note,
// an exception's pt_regs) the function's own instructions say which case
// it is, as DWARF CFI would.

// Indexes of arm64 struct pt_regs fields in Regs.Values.
const (
	arm64FP     = 29
	arm64LR     = 30
	arm64SP     = 31
	arm64PC     = 32
	arm64PState = 33
)

// frameMetaPtRegs is FRAME_META_TYPE_PT_REGS (6.13+): the zero record of
// an exception boundary, with a struct pt_regs around it.
const frameMetaPtRegs = 2

// maxStackSwitches bounds how often a chain may move down to another stack
// (IRQ stack to task stack, overflow stack, SDEI stacks).
const maxStackSwitches = 4

// minStackSize is the smallest kernel stack (THREAD_SIZE, IRQ_STACK_SIZE
// with 4 KiB pages): a frame pointer that moves down by less stays on the
// same stack, where the chain must only go up.
const minStackSize = 16 << 10

// framePointerUnwinder walks arm64 stacks by their frame records.
type framePointerUnwinder struct {
	u *unwinder
	// pacMask is the bits of a return address that may hold a pointer
	// authentication code (KERNELPACMASK, 5.7+).
	pacMask uint64
	// stackframe is offsetof(struct pt_regs, stackframe); ok says the
	// types know it, without which exception frames are crossed as plain
	// records (the interrupted pc, but not its registers).
	stackframe   uint64
	stackframeOK bool
	// metaRecords says the kernel marks exception boundaries with zero
	// records and a type (6.13+).
	metaRecords bool
}

// newFramePointerUnwinder prepares the arm64 unwinder.
func newFramePointerUnwinder(u *unwinder) (archUnwinder, []string) {
	vi := u.k.Dump.Info
	o := &framePointerUnwinder{u: u, metaRecords: kernelAtLeast(vi.OSRelease(), 6, 13)}
	if m, ok := vi.Number("KERNELPACMASK"); ok {
		o.pacMask = uint64(m)
	} else if t1sz, ok := vi.Number("TCR_EL1_T1SZ"); ok && t1sz > 0 && t1sz < 64 {
		o.pacMask = ^uint64(0) << (64 - t1sz) // GENMASK(63, vabits_actual)
	}
	var warnings []string
	var err error
	if o.stackframe, err = u.k.off("pt_regs", "stackframe"); err == nil {
		o.stackframeOK = true
	} else {
		warnings = append(warnings, "exception frames are crossed without their registers: "+err.Error())
	}
	return o, warnings
}

// strip removes a pointer authentication code from a return address, as
// the kernel's ptrauth_strip_kernel_insn_pac does (and user addresses,
// bit 55 clear, the other way).
func (o *framePointerUnwinder) strip(ret uint64) uint64 {
	if ret&(1<<55) != 0 {
		return ret | o.pacMask
	}
	return ret &^ o.pacMask
}

// unwind follows the frame records from regs.
func (o *framePointerUnwinder) unwind(regs *Regs, exact bool) ([]Frame, string) {
	u, k := o.u, o.u.k
	pc, fp, sp := regs.Values[arm64PC], regs.Values[arm64FP], regs.Values[arm64SP]
	full := exact // the crash note and pt_regs hold every register
	var frameRegs *Regs
	var frames []Frame
	seen := map[uint64]bool{}
	switches := 0
	for len(frames) < maxFrames {
		if !k.isKernelAddr(pc) {
			return frames, fmt.Sprintf("pc %#x is not a kernel address", pc)
		}
		lookup := pc
		if !exact {
			lookup = pc - 1 // a return address: the call is the instruction before it
		}
		f := u.symbolize(pc, lookup)
		f.SP, f.Reliable, f.Regs = sp, true, frameRegs
		frames = append(frames, u.withInlines(f, lookup)...)
		frameRegs = nil
		if full && !o.recordInPlace(f, pc) {
			// The function has not pushed its record: its caller's
			// return address is still in x30, and x29 is the caller's.
			if lr := o.strip(regs.Values[arm64LR]); k.isKernelAddr(lr) {
				pc, exact, full, sp = lr, false, false, 0
				continue
			}
		}
		full = false
		if fp == 0 {
			return frames, ""
		}
		rec := make([]byte, 16)
		if err := k.mem.read(rec, fp); err != nil {
			return frames, fmt.Sprintf("reading the frame record at %#x: %v", fp, err)
		}
		next, ret := k.Dump.ByteOrder.Uint64(rec), k.Dump.ByteOrder.Uint64(rec[8:])
		if r := o.exceptionRegs(fp, next, ret); r != nil {
			// An exception taken in the kernel: continue in the
			// interrupted context with all its registers.
			pc, fp, sp, regs = r.Values[arm64PC], r.Values[arm64FP], r.Values[arm64SP], r
			exact, full, frameRegs = true, true, r
			continue
		}
		if ret == 0 {
			// The final frame record (zero), or a CPU's first function,
			// entered with x30 zeroed (5.10's __secondary_switched): the
			// bottom of the stack.
			return frames, ""
		}
		if next <= fp {
			if fp-next < minStackSize || switches >= maxStackSwitches {
				return frames, fmt.Sprintf("frame pointer %#x does not move up from %#x", next, fp)
			}
			switches++
		}
		if seen[next] {
			return frames, fmt.Sprintf("frame records loop at %#x", next)
		}
		seen[next] = true
		pc, fp, sp, exact = o.strip(ret), next, next, false
	}
	return frames, fmt.Sprintf("stopped after %d frames", maxFrames)
}

// exceptionRegs returns the pt_regs of an exception taken in the kernel
// when the frame record at fp is the one its entry saved inside them: the
// pt_regs' own x29 and pc are the record's, and they say EL1. Since 6.13
// that record is zero, with FRAME_META_TYPE_PT_REGS after it.
func (o *framePointerUnwinder) exceptionRegs(fp, next, ret uint64) *Regs {
	if !o.stackframeOK || fp < o.stackframe {
		return nil
	}
	k := o.u.k
	at := fp - o.stackframe
	if next == 0 && ret == 0 {
		if !o.metaRecords {
			return nil
		}
		if typ, err := k.u64(fp + 16); err != nil || typ != frameMetaPtRegs {
			return nil
		}
	} else {
		x29, err1 := k.u64(at + 8*arm64FP)
		pc, err2 := k.u64(at + 8*arm64PC)
		if err1 != nil || err2 != nil || x29 != next || pc != ret {
			return nil
		}
	}
	r, err := k.readPtRegs(at)
	if err != nil || r.Values[arm64PState]>>2&3 != 1 { // PSTATE.EL: from EL1 only
		return nil
	}
	return r
}

// Instruction encodings of frame record handling (A64, GCC's prologues
// and epilogues): stp/ldp x29, x30 with sp as base, mov x29, sp (add x29,
// sp, #imm), and the branches that end an epilogue.
const (
	insnFrameMask   = 0xffc07fff
	insnStpPre      = 0xa9807bfd // stp x29, x30, [sp, #-n]!
	insnStpOffset   = 0xa9007bfd // stp x29, x30, [sp, #n]
	insnLdpPost     = 0xa8c07bfd // ldp x29, x30, [sp], #n
	insnLdpOffset   = 0xa9407bfd // ldp x29, x30, [sp, #n]
	insnSetFPMask   = 0xff8003ff
	insnSetFP       = 0x910003fd // add x29, sp, #imm (mov x29, sp)
	insnBranchMask  = 0xfc000000
	insnBranch      = 0x14000000 // b label
	insnRet         = 0xd65f03c0 // ret
	insnRetAA       = 0xd65f0bff // retaa
	insnRetAB       = 0xd65f0fff // retab
	maxPrologueScan = 4096       // bytes of a function read to place pc in its frame setup
)

// recordInPlace reports whether, at pc, the function of frame f has pushed
// its frame record and pointed x29 at it: its instructions before pc
// include stp x29, x30 and the move of sp into x29, and no epilogue's ldp
// x29, x30 since (an epilogue that ends in a return or branch before pc
// belongs to another path). Without a symbol to start from it says yes,
// and the chain is followed as the kernel's own unwinder does.
func (o *framePointerUnwinder) recordInPlace(f Frame, pc uint64) bool {
	if f.Symbol == "" || f.Offset == 0 || f.Offset%4 != 0 {
		return f.Symbol == "" // at a function's first instruction nothing is pushed yet
	}
	start := pc - f.Offset
	n := min(f.Offset, maxPrologueScan)
	code := make([]byte, n)
	if err := o.u.k.mem.read(code, start); err != nil {
		return true
	}
	stored, set, restored := false, false, false
	for i := 0; i+4 <= len(code); i += 4 {
		insn := o.u.k.Dump.ByteOrder.Uint32(code[i:])
		switch {
		case insn&insnFrameMask == insnStpPre, insn&insnFrameMask == insnStpOffset:
			stored, restored = true, false
		case insn&insnSetFPMask == insnSetFP:
			set = stored
		case insn&insnFrameMask == insnLdpPost, insn&insnFrameMask == insnLdpOffset:
			restored = true
		case insn == insnRet, insn == insnRetAA, insn == insnRetAB, insn&insnBranchMask == insnBranch:
			restored = false
		}
	}
	return stored && set && !restored
}

// taskRegs reads where a sleeping task switched out: the callee-saved
// registers cpu_switch_to left in task->thread.cpu_context, whose pc is
// its return address.
func (o *framePointerUnwinder) taskRegs(t Task) (*Regs, error) {
	k := o.u.k
	offs, err := k.offsets("task_struct", "thread.cpu_context.fp", "thread.cpu_context.sp", "thread.cpu_context.pc")
	if err != nil {
		return nil, err
	}
	r := k.newRegs()
	for i, reg := range []int{arm64FP, arm64SP, arm64PC} {
		if r.Values[reg], err = k.u64(t.Addr + offs[i]); err != nil {
			return nil, fmt.Errorf("reading the switch context of task %#x: %w", t.Addr, err)
		}
	}
	return r, nil
}

// stopFrames is nil: the crash IPI saved the interrupted registers, and
// its handler's frames above them are the crash machinery's, not the
// CPU's work.
func (o *framePointerUnwinder) stopFrames(int, *Regs) []Frame { return nil }
