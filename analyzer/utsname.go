package analyzer

import (
	"fmt"

	"github.com/vmcore/vmcore/vmcore"
)

// newUtsnameLen is the length of each field of struct new_utsname.
const newUtsnameLen = 65

// utsnameOffsets are where struct uts_namespace may hold its name when
// VMCOREINFO does not say (OFFSET(uts_namespace.name) is 6.x's): after a
// struct kref (4 bytes, 5.10 and before), or first.
var utsnameOffsets = []uint64{4, 0, 8}

// Utsname reads the crashed kernel's struct new_utsname from init_uts_ns,
// located by VMCOREINFO alone. It is the authority for the node name and
// version of an ELF dump, whose header records neither. Without
// OFFSET(uts_namespace.name) the name is where its release field reads
// VMCOREINFO's OSRELEASE.
func Utsname(d *vmcore.Dump) (vmcore.Utsname, error) {
	var u vmcore.Utsname
	if d.Info == nil {
		return u, fmt.Errorf("analyzer: no VMCOREINFO to find init_uts_ns")
	}
	sym, ok := d.Info.Symbol("init_uts_ns")
	if !ok {
		return u, fmt.Errorf("analyzer: VMCOREINFO lacks SYMBOL(init_uts_ns)")
	}
	offs := utsnameOffsets
	if off, ok := d.Info.Offset("uts_namespace.name"); ok && off >= 0 {
		offs = []uint64{uint64(off)}
	}
	b := make([]byte, 6*newUtsnameLen+8)
	if err := d.ReadVirt(b, sym); err != nil {
		return u, fmt.Errorf("analyzer: reading init_uts_ns: %w", err)
	}
	for _, off := range offs {
		f := func(i int) string { return cString(b[off+uint64(i*newUtsnameLen) : off+uint64((i+1)*newUtsnameLen)]) }
		u = vmcore.Utsname{Sysname: f(0), Nodename: f(1), Release: f(2), Version: f(3), Machine: f(4), Domainname: f(5)}
		if len(offs) == 1 || u.Release == d.Info.OSRelease() {
			return u, nil
		}
	}
	return vmcore.Utsname{}, fmt.Errorf("analyzer: init_uts_ns holds no utsname of release %s", d.Info.OSRelease())
}
