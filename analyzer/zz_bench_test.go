package analyzer

import (
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

func BenchmarkSections(b *testing.B) {
	dc := corpus.Fixture(b)
	d, err := vmcore.Open(dc.Files...)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	k, err := OpenKernel(d, "")
	if err != nil {
		b.Fatal(err)
	}
	tasks, _, _ := k.Tasks()
	b.Run("slab", func(b *testing.B) {
		for range b.N {
			k.Slab()
		}
	})
	b.Run("memory", func(b *testing.B) {
		for range b.N {
			k.Memory()
		}
	})
	b.Run("taskmem", func(b *testing.B) {
		for range b.N {
			k.TaskMemory(tasks)
		}
	})
	b.Run("runq", func(b *testing.B) {
		for range b.N {
			k.RunQueues()
		}
	})
	b.Run("io", func(b *testing.B) {
		for range b.N {
			k.Block()
			k.Filesystems()
		}
	})
}
