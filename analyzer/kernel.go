package analyzer

import (
	"context"
	"errors"
	"fmt"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/vmcore"
)

// Symbols finds kernel symbols by name and address.
type Symbols interface {
	Lookup(name string) (uint64, bool)
	Symbolize(addr uint64) (Symbol, bool)
}

// Debuginfo sources, as results name them.
const (
	SourceDWARF        = analysis.SourceDWARF
	SourceBTF          = analysis.SourceBTF
	SourceKallsymsScan = analysis.SourceKallsymsScan
	SourceSystemMap    = analysis.SourceSystemMap
	SourceVMCOREINFO   = analysis.SourceVMCOREINFO
)

// Kernel is a crashed kernel opened for introspection: a dump plus symbols
// and types.
type Kernel struct {
	Dump  *vmcore.Dump
	Syms  Symbols
	Types Types
	// Source says where symbols and types came from (SourceBTF, SourceDWARF).
	Source string
	// ModuleDirs are directory trees holding module objects with DWARF
	// (name.ko, .ko.xz, .ko.zst, .ko.debug), for file:line in module
	// frames; set before unwinding.
	ModuleDirs []string

	mem         kmem
	profileDir  string     // where the profile is cached; "" for nowhere
	vmlinux     *Vmlinux   // with DWARF: file:line and inlined frames
	lines       *lineTable // built on first use
	modDebug    moduleDebugs
	rec         *recordingTypes
	fromProfile bool                  // started from a cached profile
	vmlinuxORC  *orcTable             // the vmlinux ORC table, from the profile or read once
	knownLines  map[uint64][]Location // the profile's DWARF answers
}

// ErrNoDataSymbols means the kernel's own symbol table lists functions
// only (CONFIG_KALLSYMS_ALL off, as in Debian's arm64 kernels before 6.12):
// the tasks, modules and stacks need data symbols from a System.map or a
// DWARF vmlinux.
var ErrNoDataSymbols = errors.New("analyzer: the kernel's kallsyms lists no data symbols")

// maxBTF bounds the BTF blob read from the kernel image (Debian's is 4 MiB).
const maxBTF = 64 << 20

// OpenKernel prepares introspection without debuginfo: symbols from the
// kallsyms tables in the dump's memory and types from the BTF blob between
// __start_BTF and __stop_BTF. It fails when the kernel has neither
// (before 6.0 without backports, or without CONFIG_DEBUG_INFO_BTF). When a
// profile of the kernel build is cached (see SaveProfile), it starts from
// that instead, in milliseconds.
func openKernel(ctx context.Context, d *vmcore.Dump, profileDir string) (*Kernel, error) {
	m := kmem{d, ctx}
	if k, ok := loadProfile(m, profileDir, SourceBTF, func(k *Kernel) (Types, error) { return loadBTFTypes(m, k.Syms) }); ok {
		return k, nil
	}
	noData := func() error {
		return fmt.Errorf("%w (it was built without CONFIG_KALLSYMS_ALL): give its System.map or DWARF vmlinux (Debian: linux-image-%s-dbg)", ErrNoDataSymbols, d.Info.OSRelease())
	}
	if knownNoDataSymbols(profileDir, d) {
		return nil, noData()
	}
	ks, source, err := findKallsyms(m)
	if err != nil {
		return nil, err
	}
	if _, ok := ks.Lookup("init_task"); !ok {
		noteNoDataSymbols(profileDir, d)
		return nil, noData()
	}
	types, err := loadBTFTypes(m, ks)
	if err != nil {
		return nil, err
	}
	k := &Kernel{Dump: d, Syms: ks, Source: source, mem: m, profileDir: profileDir}
	k.rec = newRecordingTypes(profileTypes{}, func() (Types, error) { return types, nil })
	k.Types = k.rec
	return k, nil
}

// loadBTFTypes parses the BTF blob in the kernel image.
func loadBTFTypes(m kmem, syms Symbols) (Types, error) {
	raw, err := readBTF(m, syms)
	if err != nil {
		return nil, err
	}
	return NewBTFTypes(raw)
}

// errNoBTF is a kernel image without a BTF blob its symbols locate.
var errNoBTF = errors.New("analyzer: the kernel has no BTF (__start_BTF/__stop_BTF); give a DWARF vmlinux")

// readBTF reads the BTF blob between __start_BTF and __stop_BTF.
func readBTF(m kmem, syms Symbols) ([]byte, error) {
	start, ok1 := syms.Lookup("__start_BTF")
	stop, ok2 := syms.Lookup("__stop_BTF")
	if !ok1 || !ok2 || stop <= start || stop-start > maxBTF {
		return nil, errNoBTF
	}
	raw := make([]byte, stop-start)
	if err := m.read(raw, start); err != nil {
		return nil, fmt.Errorf("analyzer: reading BTF from the kernel image: %w", err)
	}
	return raw, nil
}

// sym returns a symbol's address or an error naming it.
func (k *Kernel) sym(name string) (uint64, error) {
	if a, ok := k.Syms.Lookup(name); ok {
		return a, nil
	}
	return 0, fmt.Errorf("analyzer: symbol %s not found", name)
}

// off returns a member offset, panicking through must() only in callers
// that collect errors with a layoutErr.
func (k *Kernel) off(typ, path string) (uint64, error) { return k.Types.Offset(typ, path) }

// ptr reads a pointer.
func (k *Kernel) ptr(va uint64) (uint64, error) { return k.mem.u64(va) }

// u32 and u64 read integers.
func (k *Kernel) u32(va uint64) (uint32, error) { return k.mem.u32(va) }
func (k *Kernel) u64(va uint64) (uint64, error) { return k.mem.u64(va) }

// str reads a NUL-terminated string of at most n bytes.
func (k *Kernel) str(va uint64, n int) (string, error) {
	b := make([]byte, n)
	if err := k.mem.read(b, va); err != nil {
		return "", err
	}
	return cString(b), nil
}

// offsets resolves several member offsets of one struct at once.
func (k *Kernel) offsets(typ string, paths ...string) ([]uint64, error) {
	out := make([]uint64, len(paths))
	for i, p := range paths {
		o, err := k.Types.Offset(typ, p)
		if err != nil {
			return nil, err
		}
		out[i] = o
	}
	return out, nil
}

// maxListEntries bounds every walk over a kernel list: a cycle or a pointer
// into garbage in a damaged dump ends the walk with a warning.
const maxListEntries = 1 << 20

// listWalk follows a struct list_head from head and calls fn with the
// address of each entry's list_head, until it is back at head. It stops at
// maxListEntries, at a pointer it cannot read, or at a cycle that does not
// pass through head, and says why in the error.
func (k *Kernel) listWalk(head uint64, fn func(node uint64) error) error {
	seen := map[uint64]bool{}
	node, err := k.ptr(head)
	if err != nil {
		return fmt.Errorf("reading list head %#x: %w", head, err)
	}
	for n := 0; node != head; n++ {
		if n >= maxListEntries {
			return fmt.Errorf("list at %#x has more than %d entries: stopped", head, maxListEntries)
		}
		if node == 0 || seen[node] {
			return fmt.Errorf("list at %#x is broken at entry %d (%#x)", head, n, node)
		}
		seen[node] = true
		if err := fn(node); err != nil {
			return err
		}
		if node, err = k.ptr(node); err != nil {
			return fmt.Errorf("list at %#x: reading entry %d: %w", head, n, err)
		}
	}
	return nil
}

// PerCPUOffsets returns __per_cpu_offset[0..n) for the possible CPUs.
func (k *Kernel) PerCPUOffsets() ([]uint64, error) {
	base, err := k.sym("__per_cpu_offset")
	if err != nil {
		return nil, err
	}
	n := uint32(1)
	if a, ok := k.Syms.Lookup("nr_cpu_ids"); ok {
		if v, err := k.u32(a); err == nil && v > 0 && v <= 8192 {
			n = v
		}
	}
	out := make([]uint64, n)
	for i := range out {
		if out[i], err = k.u64(base + 8*uint64(i)); err != nil {
			return nil, fmt.Errorf("reading __per_cpu_offset[%d]: %w", i, err)
		}
	}
	return out, nil
}

// OnlineCPUs returns the CPU numbers set in __cpu_online_mask.
func (k *Kernel) OnlineCPUs() ([]int, error) {
	mask, err := k.sym("__cpu_online_mask")
	if err != nil {
		return nil, err
	}
	offs, err := k.PerCPUOffsets()
	if err != nil {
		return nil, err
	}
	var cpus []int
	for w := 0; w*64 < len(offs); w++ {
		v, err := k.u64(mask + 8*uint64(w))
		if err != nil {
			return nil, fmt.Errorf("reading __cpu_online_mask: %w", err)
		}
		for b := 0; b < 64 && w*64+b < len(offs); b++ {
			if v>>b&1 != 0 {
				cpus = append(cpus, w*64+b)
			}
		}
	}
	return cpus, nil
}

// lineTable returns the DWARF line and inline information, or nil without
// a vmlinux or when its DWARF cannot be read.
func (k *Kernel) lineTable() *lineTable {
	if k.vmlinux == nil {
		return nil
	}
	if k.lines == nil {
		unit, err := k.vmlinux.unitSource()
		if err != nil {
			return nil
		}
		k.lines = &lineTable{unit: unit, kaslr: k.Dump.Info.KernelOffset(), known: k.knownLines}
		if k.lines.known == nil {
			k.lines.known = map[uint64][]Location{}
		}
	}
	return k.lines
}
