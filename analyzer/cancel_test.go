package analyzer_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// stallingReader is a dump file whose reads stall the analysis: after
// cancelAt reads it cancels the analysis (as a worker does when its lease
// runs out), and it counts the reads that come after.
type stallingReader struct {
	f        *os.File
	reads    atomic.Int64
	cancelAt int64
	cancel   context.CancelCauseFunc
	after    atomic.Int64
}

var errLease = errors.New("lease expired")

func (r *stallingReader) ReadAt(b []byte, off int64) (int, error) {
	n := r.reads.Add(1)
	if n == r.cancelAt {
		r.cancel(errLease)
	} else if n > r.cancelAt {
		r.after.Add(1)
	}
	return r.f.ReadAt(b, off)
}

// TestAnalyzeStopsWhenCancelled cancels analyses of a real dump at many
// points, from the first reads of the log to the last module: each time
// Analyze returns, says why it stopped, and reads no more than the rest of
// the memory read under way, whatever loop it was in: at most one 64 KiB
// chunk, 16 pages of at most a page-table walk and a page each.
func TestAnalyzeStopsWhenCancelled(t *testing.T) {
	dc := corpus.Fixture(t)
	f, err := os.Open(dc.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()

	// A whole analysis, to know how many reads there are to cancel among.
	whole := &stallingReader{f: f, cancelAt: 1 << 62}
	d, err := vmcore.NewReader(whole, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if a := analyzer.Analyze(context.Background(), d, analyzer.Options{}); len(a.Backtraces) == 0 {
		t.Fatalf("the whole analysis has no backtraces: %v", a.Warnings)
	}
	total := whole.reads.Load() // the opening's reads included

	for _, frac := range []int64{2, 5, 10, 25, 50, 75, 90, 99} {
		// The log is read beside the other steps, so how many reads an
		// analysis makes varies a little with how they interleave (the page
		// cache they share): a run that ends before its cancellation point
		// is made again with the point placed in its own count.
		var r *stallingReader
		var d *vmcore.Dump
		var a *analysis.Document
		for try := 0; ; try++ {
			ctx, cancel := context.WithCancelCause(context.Background())
			r = &stallingReader{f: f, cancel: cancel}
			if d, err = vmcore.NewReader(r, st.Size()); err != nil {
				t.Fatal(err)
			}
			r.cancelAt = r.reads.Load() + (total-r.reads.Load())*frac/100 + 1
			a = analyzer.Analyze(ctx, d, analyzer.Options{})
			cancel(nil)
			if r.reads.Load() >= r.cancelAt || try == 5 {
				break
			}
			total = r.reads.Load()
			d.Close()
		}
		stopped := false
		for _, w := range a.Warnings {
			if strings.Contains(w, errLease.Error()) {
				stopped = true
			}
		}
		if !stopped {
			t.Errorf("cancelled at %d%% of the reads: no warning says the analysis stopped: %q", frac, a.Warnings)
		}
		if n := r.after.Load(); n > 16*8 {
			t.Errorf("cancelled at %d%% of the reads: %d reads after the cancellation", frac, n)
		}
		d.Close()
	}
}
