package analyzer

import (
	"fmt"

	"github.com/vmcore/vmcore/vmcore"
)

// newUtsnameLen is the length of each field of struct new_utsname.
const newUtsnameLen = 65

// Utsname reads the crashed kernel's struct new_utsname from init_uts_ns,
// located by VMCOREINFO alone. It is the authority for the node name and
// version of an ELF dump, whose header records neither.
func Utsname(d *vmcore.Dump) (vmcore.Utsname, error) {
	var u vmcore.Utsname
	if d.Info == nil {
		return u, fmt.Errorf("analyzer: no VMCOREINFO to find init_uts_ns")
	}
	sym, ok := d.Info.Symbol("init_uts_ns")
	if !ok {
		return u, fmt.Errorf("analyzer: VMCOREINFO lacks SYMBOL(init_uts_ns)")
	}
	off, _ := d.Info.Offset("uts_namespace.name") // 0 when absent, as before 4.9's reordering it was
	b := make([]byte, 6*newUtsnameLen)
	if err := d.ReadVirt(b, sym+uint64(off)); err != nil {
		return u, fmt.Errorf("analyzer: reading init_uts_ns: %w", err)
	}
	f := func(i int) string { return cString(b[i*newUtsnameLen : (i+1)*newUtsnameLen]) }
	return vmcore.Utsname{Sysname: f(0), Nodename: f(1), Release: f(2), Version: f(3), Machine: f(4), Domainname: f(5)}, nil
}
