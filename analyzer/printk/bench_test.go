package printk_test

import (
	"context"
	"testing"

	"github.com/vmcore/vmcore/analysis"

	"github.com/vmcore/vmcore/analyzer/printk"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// BenchmarkReadLog measures what `vmcorectl log` does per dump: open the
// dump (headers, notes, bitmap index) and read and format the whole log.
func BenchmarkReadLog(b *testing.B) {
	for _, dc := range corpus.All(b) {
		b.Run(dc.Label(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, err := vmcore.Open(dc.Files...)
				if err != nil {
					b.Fatal(err)
				}
				lg, err := printk.ReadLog(context.Background(), d)
				if err != nil {
					b.Fatal(err)
				}
				var out []byte
				for i := range lg.Records {
					out = lg.Records[i].AppendText(out[:0], analysis.LogFormat{})
				}
				d.Close()
			}
		})
	}
}
