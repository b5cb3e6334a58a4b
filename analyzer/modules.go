package analyzer

import (
	"fmt"
	"strings"

	"github.com/vmcore/vmcore/analysis"
)

// Module is one loaded kernel module.
type Module struct {
	Name   string `json:"name"`
	Addr   uint64 `json:"-"`    // address of its struct module
	Base   uint64 `json:"base"` // start of its core text
	Size   uint64 `json:"size"` // bytes of its core (non-init) memory
	State  string `json:"state"`
	Taints string `json:"taints,omitempty"` // taint letters, e.g. "OE"
}

// TaintLetters renders a taint mask as the kernel's letters, e.g. "POE".
func TaintLetters(mask uint64) string {
	var b strings.Builder
	for _, f := range analysis.TaintFlags {
		if mask>>f.Bit&1 != 0 {
			b.WriteString(f.Letter)
		}
	}
	for bit := len(analysis.TaintFlags); bit < 64; bit++ {
		if mask>>bit&1 != 0 {
			fmt.Fprintf(&b, "?%d", bit)
		}
	}
	return b.String()
}

// moduleNameLen is MODULE_NAME_LEN on 64-bit kernels.
const moduleNameLen = 56

var moduleStates = map[uint32]string{0: "live", 1: "coming", 2: "going", 3: "unformed"}

// Modules walks the kernel's `modules` list. It reads the module layout of
// 6.4+ (mem[]), 4.5-6.3 (core_layout) or older kernels (module_core),
// whichever the types describe. A damaged list ends with a warning.
func (k *Kernel) Modules() ([]Module, []string, error) {
	head, err := k.sym("modules")
	if err != nil {
		return nil, nil, err
	}
	o, err := k.offsets("module", "list", "name", "state")
	if err != nil {
		return nil, nil, err
	}
	listOff, nameOff, stateOff := o[0], o[1], o[2]
	taintsOff, taintsErr := k.off("module", "taints")
	base, size, err := k.moduleLayout()
	if err != nil {
		return nil, nil, err
	}
	var mods []Module
	var warnings []string
	werr := k.listWalk(head, func(node uint64) error {
		m := Module{Addr: node - listOff}
		st, err := k.u32(m.Addr + stateOff)
		if err != nil {
			return fmt.Errorf("module at %#x: %w", m.Addr, err)
		}
		if st == 3 {
			return nil // MODULE_STATE_UNFORMED: still being loaded, not yet real
		}
		m.State = moduleStates[st]
		if m.State == "" {
			m.State = fmt.Sprintf("state %d", st)
		}
		if m.Name, err = k.str(m.Addr+nameOff, moduleNameLen); err != nil {
			return fmt.Errorf("module at %#x: %w", m.Addr, err)
		}
		if m.Base, m.Size, err = base(m.Addr), size(m.Addr), nil; m.Base == 0 {
			warnings = append(warnings, fmt.Sprintf("module %s: could not read its memory layout", m.Name))
		}
		if taintsErr == nil {
			if t, err := k.u64(m.Addr + taintsOff); err == nil {
				m.Taints = TaintLetters(t)
			}
		}
		mods = append(mods, m)
		return nil
	})
	if werr != nil {
		warnings = append(warnings, "module list: "+werr.Error())
	}
	return mods, warnings, nil
}

// moduleLayout returns readers of a module's base address and core size.
func (k *Kernel) moduleLayout() (base, size func(mod uint64) uint64, err error) {
	read := func(va uint64) uint64 { v, _ := k.u64(va); return v }
	if memOff, err := k.off("module", "mem"); err == nil { // 6.4+
		msize, err := k.Types.Size("module_memory")
		if err != nil {
			return nil, nil, err
		}
		o, err := k.offsets("module_memory", "base", "size")
		if err != nil {
			return nil, nil, err
		}
		text, _ := k.Types.Enum("MOD_TEXT")
		var core []int64
		for _, n := range []string{"MOD_TEXT", "MOD_DATA", "MOD_RODATA", "MOD_RO_AFTER_INIT"} {
			if v, err := k.Types.Enum(n); err == nil {
				core = append(core, v)
			}
		}
		base = func(mod uint64) uint64 { return read(mod + memOff + uint64(text)*msize + o[0]) }
		size = func(mod uint64) uint64 {
			var total uint64
			for _, t := range core {
				total += uint64(uint32(read(mod + memOff + uint64(t)*msize + o[1])))
			}
			return total
		}
		return base, size, nil
	}
	if o, err := k.offsets("module", "core_layout.base", "core_layout.size"); err == nil { // 4.5-6.3
		return func(mod uint64) uint64 { return read(mod + o[0]) },
			func(mod uint64) uint64 { return uint64(uint32(read(mod + o[1]))) }, nil
	}
	o, err := k.offsets("module", "module_core", "core_size") // before 4.5
	if err != nil {
		return nil, nil, fmt.Errorf("analyzer: unknown struct module layout: %w", err)
	}
	return func(mod uint64) uint64 { return read(mod + o[0]) },
		func(mod uint64) uint64 { return uint64(uint32(read(mod + o[1]))) }, nil
}

// TaintMask reads the kernel's global tainted_mask.
func (k *Kernel) TaintMask() (uint64, error) {
	a, err := k.sym("tainted_mask")
	if err != nil {
		return 0, err
	}
	return k.u64(a)
}
