package vmcore

import (
	"debug/elf"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// archSpec is what the package knows of one architecture: the ELF machine
// its cores carry (which also selects its NT_PRSTATUS register layout in
// elfdump) and how its kernel addresses translate.
type archSpec struct {
	machine    elf.Machine
	translator func(*Dump) (translator, error)
}

// archs is every architecture the package reads. A dump of any other is
// refused when it is opened (ErrUnknownArch): reading it would need a
// translation this package does not have, and guessing one gives wrong
// answers rather than errors.
var archs = map[Arch]archSpec{
	ArchX86_64:  {elf.EM_X86_64, func(d *Dump) (translator, error) { return asTranslator(newX86_64(d)) }},
	ArchAArch64: {elf.EM_AARCH64, func(d *Dump) (translator, error) { return asTranslator(newARM64(d)) }},
}

// asTranslator keeps a failed constructor's typed nil out of the interface.
func asTranslator[T translator](t T, err error) (translator, error) {
	if err != nil {
		return nil, err
	}
	return t, nil
}

// archOfMachine names the architecture of an ELF machine, or the machine
// itself ("EM_PPC64") when the package does not know it.
func archOfMachine(m elf.Machine) Arch {
	for a, s := range archs {
		if s.machine == m {
			return a
		}
	}
	return Arch(m.String())
}

// knownArchs lists the architectures read, for messages.
func knownArchs() string {
	names := make([]string, 0, len(archs))
	for a := range archs {
		names = append(names, string(a))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// checkArch refuses a dump of an architecture the package does not know,
// naming it. A dump that names no architecture at all (a diskdump header
// without utsname) still opens: its physical memory reads, and virtual
// reads fail with the reason.
func (d *Dump) checkArch() error {
	if d.Arch == "" {
		return nil
	}
	if _, ok := archs[d.Arch]; !ok {
		return fmt.Errorf("vmcore: %w: the dump is of %q (this reads %s)", ErrUnknownArch, d.Arch, knownArchs())
	}
	return nil
}

// newTranslator builds the virtual-to-physical translation for the dump's
// architecture from VMCOREINFO (and format headers).
func newTranslator(d *Dump) (translator, error) {
	spec, ok := archs[d.Arch]
	if !ok {
		if d.Arch == "" {
			return nil, errors.New("the dump does not say its architecture")
		}
		return nil, fmt.Errorf("%w: %s", ErrUnknownArch, d.Arch)
	}
	return spec.translator(d)
}

// tlbSize bounds a translator's cache of page translations.
const tlbSize = 512

// tlb caches virtual page -> physical page translations of the kernel page
// tables, so reading a structure page by page walks the tables once per
// page. It is bounded: when full it starts over.
type tlb struct {
	pageMask uint64 // page size - 1
	mu       sync.Mutex
	m        map[uint64]uint64
}

func newTLB(pageSize uint64) *tlb {
	return &tlb{pageMask: pageSize - 1, m: make(map[uint64]uint64, tlbSize)}
}

// cached translates va through walk, remembering the page.
func (t *tlb) cached(va uint64, walk func(uint64) (uint64, error)) (uint64, error) {
	vpage := va &^ t.pageMask
	t.mu.Lock()
	ppage, ok := t.m[vpage]
	t.mu.Unlock()
	if ok {
		return ppage | va&t.pageMask, nil
	}
	pa, err := walk(va)
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	if len(t.m) >= tlbSize {
		clear(t.m)
	}
	t.m[vpage] = pa &^ t.pageMask
	t.mu.Unlock()
	return pa, nil
}

// ELFMachine is the ELF machine of the architecture's cores, which selects
// its NT_PRSTATUS register layout (elfdump.RegisterNames); EM_NONE for an
// architecture the package does not read.
func (a Arch) ELFMachine() elf.Machine { return archs[a].machine }
