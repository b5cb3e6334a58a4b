package cli

import (
	"io"
	"testing"
	"time"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// TestReadFacts: the uploader reads the same facts as vmcore.Open gives
// for every single-file corpus dump, and sends a chunk index for the
// flattened ones only.
func TestReadFacts(t *testing.T) {
	for _, dc := range corpus.All(t) {
		if len(dc.Files) != 1 {
			continue
		}
		t.Run(dc.Label(), func(t *testing.T) {
			d, err := vmcore.Open(dc.Files[0])
			if err != nil {
				t.Skip(err)
			}
			defer d.Close()
			req, index := readFacts(dc.Files[0], IO{Err: io.Discard})
			if d.Header.Container != "" {
				if req.Release != "" || index != nil {
					t.Errorf("a container was opened: %+v", req)
				}
				return
			}
			var want time.Time
			if ct, ok := d.Info.CrashTime(); ok {
				want = time.Unix(ct, 0).UTC()
			}
			if req.Release != dc.Kernel || req.BuildID != d.Info.BuildID() || !req.CrashTime.Equal(want) {
				t.Errorf("facts %+v", req)
			}
			if (index != nil) != d.Header.Flattened {
				t.Errorf("index of %d bytes for a dump flattened=%v", len(index), d.Header.Flattened)
			}
		})
	}
}
