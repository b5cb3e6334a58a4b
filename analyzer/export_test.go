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

// ReadKallsyms reads the dump's kallsyms tables, located by VMCOREINFO or
// found in the image.
func ReadKallsyms(d *vmcore.Dump) (*Kallsyms, error) {
	ks, _, err := findKallsyms(kmem{d: d})
	return ks, err
}

func OpenKernelWithSystemMap(d *vmcore.Dump, sm *SystemMap, profileDir string) (*Kernel, error) {
	return openKernelWithSystemMap(context.Background(), d, sm, profileDir)
}

// SleepingBacktraces unwinds every task that was not running at the crash.
func (k *Kernel) SleepingBacktraces(tasks []Task) []Backtrace {
	u, _ := k.newUnwinder()
	active := k.activeTasks()
	var out []Backtrace
	for _, t := range tasks {
		if _, on := active[t.Addr]; !on && !t.Idle {
			out = append(out, k.taskBacktrace(u, t))
		}
	}
	return out
}
