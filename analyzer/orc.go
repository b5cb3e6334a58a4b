package analyzer

import (
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"

	"github.com/vmcore/vmcore/elfdump"
)

// ORC ("Oops Rewind Capability") is the x86_64 kernel's own unwind table
// (CONFIG_UNWINDER_ORC, 4.14+): for each instruction range, where the
// caller's stack pointer (CFA) and frame pointer are, and whether the frame
// is a call, a full pt_regs or an iret frame. The tables are read from the
// dump's memory: __start_orc_unwind_ip/__start_orc_unwind for vmlinux, and
// mod->arch.orc_unwind_ip/orc_unwind for each module.

// orcType is a frame type, normalised across ORC versions.
type orcType uint8

const (
	orcUndefined orcType = iota
	orcEndOfStack
	orcCall
	orcRegs
	orcRegsPartial
)

// ORC register numbers (before the 7.1 renumbering).
const (
	orcRegUndefined  = 0
	orcRegPrevSP     = 1
	orcRegDX         = 2
	orcRegDI         = 3
	orcRegBP         = 4
	orcRegSP         = 5
	orcRegR10        = 6
	orcRegR13        = 7
	orcRegBPIndirect = 8
	orcRegSPIndirect = 9
)

type orcEntry struct {
	spOffset, bpOffset int16
	spReg, bpReg       uint8
	typ                orcType
	signal             bool
}

// orcTable is one sorted ORC table, in the records a profile stores:
// record i covers [ip(i), ip(i+1)). A table read from a profile is a view
// of the mapped file, touched only where a lookup's search goes.
type orcTable struct {
	recs   []byte // [n]{ip u64, sp_offset i16, bp_offset i16, sp_reg, bp_reg, type, signal u8}
	offset uint64 // added to a stored ip (the KASLR offset of a profile's link-time ips)
	lo, hi uint64 // text range it may answer for

	mapping *elfdump.Mapping // the profile the records are in, if they are
}

// orcRecordLen is the size of an orcTable record.
const orcRecordLen = 16

// appendORCRecord appends the record of the entry e at ip to b.
func appendORCRecord(b []byte, ip uint64, e orcEntry) []byte {
	b = le.AppendUint64(b, ip)
	b = le.AppendUint16(b, uint16(e.spOffset))
	b = le.AppendUint16(b, uint16(e.bpOffset))
	var signal byte
	if e.signal {
		signal = 1
	}
	return append(b, e.spReg, e.bpReg, byte(e.typ), signal)
}

// newORCTable is the table of the records recs, sorted by ip (len(recs) a
// non-zero multiple of orcRecordLen), their ips moved by offset.
func newORCTable(recs []byte, offset uint64) *orcTable {
	t := &orcTable{recs: recs, offset: offset}
	t.lo, t.hi = t.ip(0), t.ip(t.len()-1)
	return t
}

func (t *orcTable) len() int { return len(t.recs) / orcRecordLen }

func (t *orcTable) ip(i int) uint64 { return le.Uint64(t.recs[orcRecordLen*i:]) + t.offset }

func (t *orcTable) entry(i int) orcEntry {
	r := t.recs[orcRecordLen*i+8 : orcRecordLen*(i+1)]
	return orcEntry{spOffset: int16(le.Uint16(r)), bpOffset: int16(le.Uint16(r[2:])), spReg: r[4], bpReg: r[5],
		typ: orcType(r[6]), signal: r[7] != 0}
}

// maxORCEntries bounds the tables (Debian's vmlinux has ~350k entries).
const maxORCEntries = 1 << 22

// orcVersion tells the flag layout: 1 (before 6.3: type:2, end:1),
// 2 (6.3: signal and end bits), 3 (6.4+: type:3 with END_OF_STACK, signal).
func (k *Kernel) orcVersion() int {
	hasEnd := func() bool { _, err := k.Types.Offset("orc_entry", "end"); return err == nil }
	hasSignal := func() bool { _, err := k.Types.Offset("orc_entry", "signal"); return err == nil }
	if _, err := k.Types.Size("orc_entry"); err == nil {
		switch {
		case hasEnd() && hasSignal():
			return 2
		case hasEnd():
			return 1
		default:
			return 3
		}
	}
	rel := k.Dump.Info.OSRelease()
	switch {
	case kernelAtLeast(rel, 6, 4):
		return 3
	case kernelAtLeast(rel, 6, 3):
		return 2
	}
	return 1
}

func decodeORC(flags uint16, version int) (spReg, bpReg uint8, typ orcType, signal bool) {
	spReg, bpReg = uint8(flags&0xf), uint8(flags>>4&0xf)
	switch version {
	case 1, 2:
		t := flags >> 8 & 3
		end := flags>>10&1 != 0
		if version == 2 {
			signal = flags>>10&1 != 0
			end = flags>>11&1 != 0
		}
		switch {
		case end:
			typ = orcEndOfStack
		case spReg == orcRegUndefined:
			typ = orcUndefined
		default:
			typ = []orcType{orcCall, orcRegs, orcRegsPartial, orcUndefined}[t]
		}
		if version == 1 {
			signal = typ == orcRegs || typ == orcRegsPartial
		}
	default:
		t := flags >> 8 & 7
		signal = flags>>11&1 != 0
		if t <= uint16(orcRegsPartial) {
			typ = orcType(t)
		}
	}
	return
}

// readORCTable reads n relative ip entries at ipVA and n 6-byte entries at
// entVA, and sorts them by address.
func (k *Kernel) readORCTable(ipVA, entVA uint64, n int, version int) (*orcTable, error) {
	if n <= 0 || n > maxORCEntries {
		return nil, fmt.Errorf("ORC table of %d entries", n)
	}
	ipb := make([]byte, 4*n)
	if err := k.mem.read(ipb, ipVA); err != nil {
		return nil, fmt.Errorf("reading orc_unwind_ip at %#x: %w", ipVA, err)
	}
	eb := make([]byte, 6*n)
	if err := k.mem.read(eb, entVA); err != nil {
		return nil, fmt.Errorf("reading orc_unwind at %#x: %w", entVA, err)
	}
	bo := k.Dump.ByteOrder
	ips := make([]uint64, n)
	idx := make([]int32, n)
	for i := range n {
		ips[i] = ipVA + uint64(4*i) + uint64(int64(int32(bo.Uint32(ipb[4*i:]))))
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return cmp.Compare(ips[a], ips[b]) })
	recs := make([]byte, 0, orcRecordLen*n)
	for _, i := range idx {
		e := eb[6*i:]
		sr, br, typ, sig := decodeORC(bo.Uint16(e[4:]), version)
		recs = appendORCRecord(recs, ips[i], orcEntry{spOffset: int16(bo.Uint16(e[0:])), bpOffset: int16(bo.Uint16(e[2:])), spReg: sr, bpReg: br, typ: typ, signal: sig})
	}
	return newORCTable(recs, 0), nil
}

// find returns the entry covering pc.
func (t *orcTable) find(pc uint64) (orcEntry, bool) {
	if pc < t.lo {
		return orcEntry{}, false
	}
	i := sort.Search(t.len(), func(i int) bool { return t.ip(i) > pc }) - 1
	if i < 0 {
		return orcEntry{}, false
	}
	e := t.entry(i)
	runtime.KeepAlive(t)
	return e, true
}

// orcTables holds vmlinux's table and each module's.
type orcTables struct {
	vmlinux *orcTable
	lazy    *lazyORC // vmlinux lookups in place, through orc_lookup
	modules []*orcTable
	errs    []string
}

// orcLookupBlock is LOOKUP_BLOCK_SIZE: orc_lookup[] indexes the ORC tables
// by 256-byte blocks of kernel text.
const orcLookupBlock = 256

// lazyORC finds vmlinux ORC entries the way the kernel's own unwinder does,
// through the orc_lookup[] block index, reading only the few table entries
// each lookup needs instead of the whole 3.5 MB table.
type lazyORC struct {
	k            *Kernel
	version      int
	start, stop  uint64 // LOOKUP_START_IP (_stext) and LOOKUP_STOP_IP (_etext)
	lookup       uint64 // &orc_lookup[0]
	blocks       uint64 // lookup_num_blocks
	ips, entries uint64 // __start_orc_unwind_ip, __start_orc_unwind
	n            uint64 // number of entries
}

func (k *Kernel) newLazyORC(version int) *lazyORC {
	l := &lazyORC{k: k, version: version}
	var errs []error
	get := func(name string) uint64 {
		a, err := k.sym(name)
		errs = append(errs, err)
		return a
	}
	l.start, l.stop = get("_stext"), get("_etext")
	l.lookup = get("orc_lookup")
	nb := get("lookup_num_blocks")
	l.ips, l.entries = get("__start_orc_unwind_ip"), get("__start_orc_unwind")
	stopIP := get("__stop_orc_unwind_ip")
	if errors.Join(errs...) != nil || stopIP <= l.ips || l.stop <= l.start {
		return nil
	}
	b, err := k.u32(nb)
	if err != nil || b == 0 || uint64(b) > (l.stop-l.start)/orcLookupBlock+2 {
		return nil
	}
	l.blocks, l.n = uint64(b), (stopIP-l.ips)/4
	return l
}

// find mirrors the kernel's orc_find() for vmlinux text: through the
// block index for [_stext, _etext), by binary search of the whole table
// elsewhere (the kernel searches so for .init.text, where start_kernel
// and x86_64_start_kernel are, and the table also covers .head.text's
// secondary_startup_64, where every CPU's stack ends).
func (l *lazyORC) find(pc uint64) (orcEntry, bool, error) {
	if pc < l.start || pc >= l.stop {
		return l.search(pc)
	}
	idx := (pc - l.start) / orcLookupBlock
	if idx+1 >= l.blocks {
		return orcEntry{}, false, nil
	}
	first, err1 := l.k.u32(l.lookup + 4*idx)
	last, err2 := l.k.u32(l.lookup + 4*(idx+1))
	if err1 != nil || err2 != nil {
		return orcEntry{}, false, errors.Join(err1, err2)
	}
	lo, hi := uint64(first), uint64(last)+1
	if lo >= l.n || hi > l.n || hi <= lo || hi-lo > 4096 {
		return orcEntry{}, false, fmt.Errorf("orc_lookup[%d] gives entries [%d, %d) of %d", idx, lo, hi, l.n)
	}
	raw := make([]byte, 4*(hi-lo))
	if err := l.k.mem.read(raw, l.ips+4*lo); err != nil {
		return orcEntry{}, false, err
	}
	bo := l.k.Dump.ByteOrder
	found := -1
	for i := 0; i < int(hi-lo); i++ {
		at := l.ips + 4*(lo+uint64(i))
		if ip := at + uint64(int64(int32(bo.Uint32(raw[4*i:])))); ip <= pc {
			found = i
		} else {
			break
		}
	}
	if found < 0 {
		return orcEntry{}, false, nil
	}
	return l.entry(lo + uint64(found))
}

// search finds pc's entry by binary search of the sorted orc_unwind_ip,
// reading the log2(n) entries it compares.
func (l *lazyORC) search(pc uint64) (orcEntry, bool, error) {
	ipAt := func(i uint64) (uint64, error) {
		v, err := l.k.u32(l.ips + 4*i)
		return l.ips + 4*i + uint64(int64(int32(v))), err
	}
	lo, hi := uint64(0), l.n // find the last entry whose ip <= pc
	for lo < hi {
		mid := lo + (hi-lo)/2
		ip, err := ipAt(mid)
		if err != nil {
			return orcEntry{}, false, err
		}
		if ip <= pc {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return orcEntry{}, false, nil
	}
	return l.entry(lo - 1)
}

// entry reads table entry i.
func (l *lazyORC) entry(i uint64) (orcEntry, bool, error) {
	var e [6]byte
	if err := l.k.mem.read(e[:], l.entries+6*i); err != nil {
		return orcEntry{}, false, err
	}
	bo := l.k.Dump.ByteOrder
	sr, br, typ, sig := decodeORC(bo.Uint16(e[4:]), l.version)
	return orcEntry{spOffset: int16(bo.Uint16(e[0:])), bpOffset: int16(bo.Uint16(e[2:])), spReg: sr, bpReg: br, typ: typ, signal: sig}, true, nil
}

func (o *orcTables) find(pc uint64) (orcEntry, bool) {
	for _, m := range o.modules {
		if pc >= m.lo && pc <= m.hi+4096 {
			if e, ok := m.find(pc); ok {
				return e, true
			}
		}
	}
	if o.vmlinux != nil && pc >= o.vmlinux.lo && pc <= o.vmlinux.hi {
		return o.vmlinux.find(pc)
	}
	if o.lazy != nil {
		e, ok, err := o.lazy.find(pc)
		if err == nil {
			return e, ok
		}
		o.errs = append(o.errs, "vmlinux ORC lookup: "+err.Error())
	}
	return orcEntry{}, false
}

// loadORC reads the ORC tables: vmlinux's once per kernel (or from the
// profile), the modules' every time (they depend on what was loaded).
func (k *Kernel) loadORC(mods []Module) *orcTables {
	o := &orcTables{vmlinux: k.vmlinuxORC}
	version := k.orcVersion()
	if o.vmlinux == nil {
		o.lazy = k.newLazyORC(version)
	}
	if o.vmlinux == nil && o.lazy == nil {
		if t, err := k.readVmlinuxORC(version); err != nil {
			o.errs = append(o.errs, err.Error())
		} else {
			o.vmlinux, k.vmlinuxORC = t, t
		}
	}
	offs, err := k.offsets("module", "arch.num_orcs", "arch.orc_unwind_ip", "arch.orc_unwind")
	if err != nil {
		return o
	}
	for _, m := range mods {
		n, err1 := k.u32(m.Addr + offs[0])
		ip, err2 := k.ptr(m.Addr + offs[1])
		en, err3 := k.ptr(m.Addr + offs[2])
		if err1 != nil || err2 != nil || err3 != nil || n == 0 || ip == 0 || en == 0 {
			continue
		}
		t, err := k.readORCTable(ip, en, int(n), version)
		if err != nil {
			o.errs = append(o.errs, fmt.Sprintf("module %s ORC: %v", m.Name, err))
			continue
		}
		o.modules = append(o.modules, t)
	}
	return o
}

func (k *Kernel) readVmlinuxORC(version int) (*orcTable, error) {
	start, e1 := k.sym("__start_orc_unwind_ip")
	stop, e2 := k.sym("__stop_orc_unwind_ip")
	ent, e3 := k.sym("__start_orc_unwind")
	if e1 != nil || e2 != nil || e3 != nil {
		return nil, errors.New("the kernel has no ORC tables (CONFIG_UNWINDER_ORC off?)")
	}
	t, err := k.readORCTable(start, ent, int((stop-start)/4), version)
	if err != nil {
		return nil, fmt.Errorf("vmlinux ORC: %w", err)
	}
	return t, nil
}

// Indexes of x86_64 struct pt_regs fields in Regs.Values.
const (
	x86BP  = 4
	x86R10 = 7
	x86DX  = 12
	x86DI  = 14
	x86R13 = 2
	x86IP  = 16
	x86CS  = 17
	x86SP  = 19
)

// orcUnwinder walks x86_64 stacks with the kernel's ORC tables, across
// exception frames and the crash NMI.
type orcUnwinder struct {
	u   *unwinder
	orc *orcTables
}

// newORCUnwinder loads the ORC tables of vmlinux and the modules.
func newORCUnwinder(u *unwinder) (archUnwinder, []string) {
	o := &orcUnwinder{u: u, orc: u.k.loadORC(u.mods)}
	return o, o.orc.errs
}

// unwind walks from the given registers with ORC.
func (o *orcUnwinder) unwind(regs *Regs, exact bool) ([]Frame, string) {
	u := o.u
	ip, sp, bp := regs.Values[x86IP], regs.Values[x86SP], regs.Values[x86BP]
	var frameRegs *Regs
	fullRegs := true
	curRegs := regs
	signal := exact
	var frames []Frame
	for len(frames) < maxFrames {
		if !u.k.isKernelAddr(ip) {
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
		e, ok := o.orc.find(pc)
		if (!ok || e.typ == orcUndefined) && f.Symbol != "" {
			// A function objtool left without ORC data (STACK_FRAME_NON_STANDARD,
			// like __crash_kexec, whose crash_setup_regs() inline asm stored
			// the first pc): find the return address into its caller on
			// the stack, accepting only a slot whose preceding instruction
			// is a direct call to this very function.
			if ret, slot, found := o.scanForCaller(sp, pc-f.Offset); found {
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
		regVal := func(name string, i int) (uint64, error) {
			if curRegs == nil || !fullRegs {
				return 0, fmt.Errorf("ORC needs %s at %#x but no pt_regs are known", name, pc)
			}
			return curRegs.Values[i], nil
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
			cfa, err = regVal("rdx", x86DX)
		case orcRegDI:
			cfa, err = regVal("rdi", x86DI)
		case orcRegR10:
			cfa, err = regVal("r10", x86R10)
		case orcRegR13:
			cfa, err = regVal("r13", x86R13)
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
			ip, sp = r.Values[x86IP], r.Values[x86SP]
			curRegs, fullRegs, signal = r, e.typ == orcRegs, true
			frameRegs = r
			if r.Values[x86CS]&3 != 0 { // back in user mode
				frames = append(frames, Frame{PC: ip, SP: sp, User: true, Reliable: true, Regs: r})
				return frames, ""
			}
		}
		switch e.bpReg {
		case orcRegUndefined:
			if curRegs != nil && fullRegs {
				bp = curRegs.Values[x86BP]
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
func (o *orcUnwinder) scanForCaller(sp, fn uint64) (ret, slot uint64, ok bool) {
	u := o.u
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
		if !u.k.isKernelAddr(w) {
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

// NMI exception stack geometry (x86_64): tss.ist[IST_INDEX_NMI] is the top
// of a one-page stack (without KASAN).
const (
	istIndexNMI      = 1
	exceptionStackSz = 4096
)

// stopFrames finds the frames of the crash NMI handler that stopped a CPU:
// the handler never returns, so nothing saved its registers, but its
// return addresses are on the NMI stack. Scanning from the stack's bottom,
// the first return address into crash_nmi_callback whose ORC unwind lands
// on exactly the interrupted registers the crash note holds gives the
// chain crash_nmi_callback → … → the NMI entry. The frames are marked
// unreliable, as they come from a scan; the first pc is a return address
// inside the handler's wait loop, not where it spins.
func (o *orcUnwinder) stopFrames(cpu int, regs *Regs) []Frame {
	k := o.u.k
	tss, err1 := k.sym("cpu_tss_rw")
	istOff, err2 := k.off("tss_struct", "x86_tss.ist")
	cb, err3 := k.sym("crash_nmi_callback")
	offs, err4 := k.PerCPUOffsets()
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || cpu >= len(offs) {
		return nil
	}
	top, err := k.ptr(tss + offs[cpu] + istOff + 8*istIndexNMI)
	if err != nil || top < exceptionStackSz || !k.isKernelAddr(top) {
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
		start := k.newRegs()
		start.Values[x86IP], start.Values[x86SP] = w, slot+8
		frames, _ := o.unwind(start, false)
		for j, f := range frames {
			if f.Regs != nil && f.Regs.Values[x86IP] == regs.Values[x86IP] && f.Regs.Values[x86SP] == regs.Values[x86SP] {
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

// taskRegs reads the frame __switch_to_asm left on a sleeping task's
// stack (struct inactive_task_frame at task->thread.sp): its return
// address into __schedule and the saved rbp.
func (o *orcUnwinder) taskRegs(t Task) (*Regs, error) {
	k := o.u.k
	spOff, err := k.off("task_struct", "thread.sp")
	if err != nil {
		return nil, err
	}
	offs, err := k.offsets("inactive_task_frame", "bp", "ret_addr")
	if err != nil {
		return nil, err
	}
	size, _ := k.Types.Size("inactive_task_frame")
	sp, err := k.ptr(t.Addr + spOff)
	if err != nil {
		return nil, err
	}
	bp, err1 := k.ptr(sp + offs[0])
	ip, err2 := k.ptr(sp + offs[1])
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("reading the switch frame at %#x: %v %v", sp, err1, err2)
	}
	r := k.newRegs()
	r.Values[x86IP], r.Values[x86SP], r.Values[x86BP] = ip, sp+size, bp
	return r, nil
}
