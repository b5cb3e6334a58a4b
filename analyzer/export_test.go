package analyzer

import (
	"context"

	"github.com/vmcore/vmcore/vmcore"
)

// OpenKernel and OpenKernelWithVmlinux open a kernel as Analyze does, for
// the tests that check one reader at a time.
func OpenKernel(d *vmcore.Dump, profileDir string) (*Kernel, error) {
	return openKernel(context.Background(), d, profileDir)
}

func OpenKernelWithVmlinux(d *vmcore.Dump, v *Vmlinux, profileDir string) (*Kernel, error) {
	return openKernelWithVmlinux(context.Background(), d, v, profileDir)
}

// ReadKallsyms reads the dump's kallsyms tables.
func ReadKallsyms(d *vmcore.Dump) (*Kallsyms, error) { return readKallsyms(kmem{d: d}) }
