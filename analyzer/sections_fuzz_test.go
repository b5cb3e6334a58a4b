package analyzer_test

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

// sectionsOnly are the sections after the backtraces, with the task list
// two of them read.
const sectionsOnly = analyzer.SectionTasks | analyzer.SectionMemory | analyzer.SectionSlab | analyzer.SectionTaskMemory |
	analyzer.SectionLocks | analyzer.SectionRunQueues | analyzer.SectionIO

// fuzzImage is an uncompressed copy of the fixture and the byte ranges of
// it the sections read, found once by reading it.
var fuzzImage struct {
	once     sync.Once
	img      []byte
	ranges   [][2]int64 // offset, length
	profiles string     // the build's profile, so that each input starts warm
	err      error
}

// recordingReader notes the ranges read once recording starts.
type recordingReader struct {
	r      io.ReaderAt
	on     bool
	ranges [][2]int64
}

func (r *recordingReader) ReadAt(b []byte, off int64) (int, error) {
	if r.on {
		r.ranges = append(r.ranges, [2]int64{off, int64(len(b))})
	}
	return r.r.ReadAt(b, off)
}

func loadFuzzImage(t testing.TB) ([]byte, [][2]int64, string) {
	fuzzImage.once.Do(func() {
		t.Helper()
		dc := corpus.Fixture(t)
		d, err := vmcore.Open(dc.Files...)
		if err != nil {
			fuzzImage.err = err
			return
		}
		defer d.Close()
		if fuzzImage.img, fuzzImage.err = dumpwrite.Uncompressed(d); fuzzImage.err != nil {
			return
		}
		rr := &recordingReader{r: bytes.NewReader(fuzzImage.img)}
		d2, err := vmcore.NewReader(rr, int64(len(fuzzImage.img)))
		if err != nil {
			fuzzImage.err = err
			return
		}
		rr.on = true // the page data the analysis reads, not the headers
		fuzzImage.profiles = t.TempDir()
		analyzer.Analyze(context.Background(), d2, analyzer.Options{Sections: sectionsOnly, ProfileDir: fuzzImage.profiles})
		fuzzImage.ranges = rr.ranges
	})
	if fuzzImage.err != nil {
		t.Fatal(fuzzImage.err)
	}
	return fuzzImage.img, fuzzImage.ranges, fuzzImage.profiles
}

// FuzzSections damages the kernel memory the sections read (the slab
// caches and their freelists, the zones, the run queues' trees, the wait
// lists on stacks, the mount and disk lists): every four input bytes pick
// a range the undamaged analysis read, a byte in it and what to XOR it
// with. Whatever the damage, the analysis returns a document whose
// sections are lists, never panicking or looping for ever.
func FuzzSections(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0xff})
	f.Add([]byte{0, 7, 0, 0x80, 0, 9, 9, 0x01, 1, 0, 0, 0x40})
	f.Add(bytes.Repeat([]byte{3, 5, 7, 0xaa}, 64))
	img, ranges, profiles := loadFuzzImage(f) // before the inputs: it takes seconds
	if len(ranges) == 0 {
		f.Skip("the analysis read nothing")
	}
	var mu sync.Mutex // the image is damaged in place and restored
	f.Fuzz(func(t *testing.T, in []byte) {
		mu.Lock()
		defer mu.Unlock()
		type change struct {
			at  int64
			was byte
		}
		var undo []change
		defer func() {
			for i := len(undo) - 1; i >= 0; i-- {
				img[undo[i].at] = undo[i].was
			}
		}()
		for i := 0; i+3 < len(in) && i < 4*256; i += 4 {
			r := ranges[(int(in[i])<<8|int(in[i+1]))%len(ranges)]
			at := r[0] + int64(in[i+2])*7%r[1]
			undo = append(undo, change{at, img[at]})
			img[at] ^= in[i+3] | 1
		}
		d, err := vmcore.NewReader(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			return
		}
		a := analyzer.Analyze(context.Background(), d, analyzer.Options{Sections: sectionsOnly, ProfileDir: profiles})
		if a.Schema != analysis.Schema {
			t.Fatal("no document")
		}
		if m := a.Memory; m != nil && (m.Zones == nil || m.Nodes == nil || m.Missing == nil) {
			t.Fatal("memory section without its lists")
		}
		if l := a.Locks; l != nil && (l.Waits == nil || l.Chains == nil || l.Deadlocks == nil) {
			t.Fatal("locks section without its lists")
		}
		if r := a.RunQueues; r != nil && r.CPUs == nil {
			t.Fatal("run queue section without its list")
		}
	})
}
