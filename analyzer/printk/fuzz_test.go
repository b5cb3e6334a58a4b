package printk_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/vmcore/vmcore/analysis"

	"github.com/vmcore/vmcore/analyzer/printk"
	"github.com/vmcore/vmcore/vmcore"
)

// FuzzReadLog fuzzes the kernel memory the printk reader walks: the prb
// pointer, the ring structures, descriptors, infos and text, laid out as in
// buildRing and described by a real 6.1 VMCOREINFO layout.
func FuzzReadLog(f *testing.F) {
	t := &testing.T{}
	seed := buildRing(t, 4, 8, 1, 2, []synthRecord{
		{id: 1, state: 2, begin: 96, next: 256, text: "ends at the ring end"},
		{id: 2, state: 2, begin: 256, next: 300, text: "hello"},
	})
	f.Add(seed[len(seed)-0x8000:])
	f.Fuzz(func(t *testing.T, mem []byte) {
		if len(mem) > 0x8000 {
			mem = mem[:0x8000]
		}
		img := buildRing(t, 4, 8, 0, 0, nil)
		copy(img[len(img)-0x8000:], mem)
		d, err := vmcore.NewReader(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatal(err)
		}
		lg, err := printk.ReadLog(context.Background(), d)
		if err != nil {
			return
		}
		for i := range lg.Records {
			lg.Records[i].AppendText(nil, analysis.LogFormat{Caller: true, Level: true})
		}
	})
}
