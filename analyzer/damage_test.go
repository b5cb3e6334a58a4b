package analyzer_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

// TestAnalyzeDamagedDumps flips bytes all over the page data of a real
// dump, many times, and runs every analysis on the result: whatever the
// damage (garbage task lists, page tables, ORC entries, module lists), the
// analysis returns, with warnings, and never panics or hangs.
func TestAnalyzeDamagedDumps(t *testing.T) {
	base := corpus.Fixture(t)
	orig, err := os.ReadFile(base.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("VMCORE_CACHE", t.TempDir())
	// Uncompressed pages make byte flips land in kernel data, not just in
	// zlib streams that then fail to inflate.
	d0, err := vmcore.NewReader(bytes.NewReader(orig), int64(len(orig)))
	if err != nil {
		t.Fatal(err)
	}
	img, err := dumpwrite.Uncompressed(d0)
	if err != nil {
		t.Fatal(err)
	}
	runs := 12
	if testing.Short() {
		runs = 3
	}
	damaged := 0
	for seed := 0; seed < runs; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 99))
		b := append([]byte(nil), img...)
		// Skip the headers and bitmaps (their damage is covered by the
		// vmcore tests): damage page data only.
		start := len(b) / 8
		for i := 0; i < 40000; i++ {
			b[start+rng.IntN(len(b)-start)] ^= byte(1 + rng.IntN(255))
		}
		d, err := vmcore.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			continue
		}
		a := analyzer.Analyze(context.Background(), d, analyzer.Options{})
		if a.Schema != analysis.Schema {
			t.Fatalf("seed %d: no document", seed)
		}
		if len(a.Warnings) > 0 {
			damaged++
		}
	}
	t.Logf("%d of %d damaged dumps gave warnings", damaged, runs)
}
