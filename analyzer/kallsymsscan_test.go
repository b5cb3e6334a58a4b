package analyzer

import (
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// TestScanKallsymsFindsVMCOREINFOs: on every real dump whose VMCOREINFO
// locates kallsyms (6.0+), searching the image without it finds the same
// tables, as it must on the kernels before 6.0 that do not say where they
// are. (The layout it assumes is the one of 4.6-6.1; later kernels moved
// tables around, and need no search.)
func TestScanKallsymsFindsVMCOREINFOs(t *testing.T) {
	eachKernel(t, func(t *testing.T, d *vmcore.Dump) {
		want, ok := vmcoreinfoKallsyms(d.Info)
		if !ok {
			t.Skip("VMCOREINFO does not locate kallsyms: the search is tested by the analyses")
		}
		if !kernelAtLeast(d.Info.OSRelease(), 6, 2) {
			got, err := scanKallsyms(kmem{d: d})
			if err != nil {
				t.Fatal(err)
			}
			want.addresses = 0
			if got != want {
				t.Errorf("found %+v\n VMCOREINFO %+v", got, want)
			}
		}
	})
}

// eachKernel runs f, as a subtest, on one dump of each kernel build in the
// corpus (committed fixtures, shared and generated dumps).
func eachKernel(t *testing.T, f func(t *testing.T, d *vmcore.Dump)) {
	seen := map[string]bool{}
	for _, dc := range corpus.OnePerCrash(corpus.All(t)) {
		if seen[dc.Kernel] {
			continue
		}
		seen[dc.Kernel] = true
		t.Run(dc.Label(), func(t *testing.T) {
			d, err := vmcore.Open(dc.Files...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			f(t, d)
		})
	}
}
