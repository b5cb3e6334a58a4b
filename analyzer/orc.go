package analyzer

import (
	"errors"
	"fmt"
	"sort"
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

// orcTable is one sorted ORC table: entry i covers [ips[i], ips[i+1]).
type orcTable struct {
	ips     []uint64
	entries []orcEntry
	lo, hi  uint64 // text range it may answer for
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
	t := &orcTable{ips: make([]uint64, n), entries: make([]orcEntry, n)}
	for i := 0; i < n; i++ {
		t.ips[i] = ipVA + uint64(4*i) + uint64(int64(int32(bo.Uint32(ipb[4*i:]))))
		e := eb[6*i:]
		sr, br, typ, sig := decodeORC(bo.Uint16(e[4:]), version)
		t.entries[i] = orcEntry{spOffset: int16(bo.Uint16(e[0:])), bpOffset: int16(bo.Uint16(e[2:])), spReg: sr, bpReg: br, typ: typ, signal: sig}
	}
	if !sort.SliceIsSorted(t.ips, func(i, j int) bool { return t.ips[i] < t.ips[j] }) {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return t.ips[idx[a]] < t.ips[idx[b]] })
		ips := make([]uint64, n)
		ents := make([]orcEntry, n)
		for i, j := range idx {
			ips[i], ents[i] = t.ips[j], t.entries[j]
		}
		t.ips, t.entries = ips, ents
	}
	t.lo, t.hi = t.ips[0], t.ips[n-1]
	return t, nil
}

// find returns the entry covering pc.
func (t *orcTable) find(pc uint64) (orcEntry, bool) {
	if pc < t.lo {
		return orcEntry{}, false
	}
	i := sort.Search(len(t.ips), func(i int) bool { return t.ips[i] > pc }) - 1
	if i < 0 {
		return orcEntry{}, false
	}
	return t.entries[i], true
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

// find mirrors the kernel's orc_find() for vmlinux text.
func (l *lazyORC) find(pc uint64) (orcEntry, bool, error) {
	if pc < l.start || pc >= l.stop {
		return orcEntry{}, false, nil
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
	var e [6]byte
	if err := l.k.mem.read(e[:], l.entries+6*(lo+uint64(found))); err != nil {
		return orcEntry{}, false, err
	}
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
