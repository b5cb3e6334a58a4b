package printk_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analysis"

	"github.com/vmcore/vmcore/analyzer/printk"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// readFileLog reads the kernel log of the dump in files.
func readFileLog(t *testing.T, files ...string) *printk.Log {
	t.Helper()
	d, err := vmcore.Open(files...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	lg, err := printk.ReadLog(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return lg
}

// logText renders a log exactly as `makedumpfile --dump-dmesg` does, the
// release of makedumpfile given.
func logText(lg *printk.Log, release analysis.MakedumpfileRelease) []byte {
	var b []byte
	for i := range lg.Records {
		b = lg.Records[i].AppendText(b, analysis.LogFormat{Makedumpfile: release})
	}
	return b
}

// drgnText renders a log as drgn's get_dmesg() does: the time and the
// text as it is, newlines and all.
func drgnText(lg *printk.Log) []byte {
	var b []byte
	for i := range lg.Records {
		r := &lg.Records[i]
		b = append(b, '[')
		b = append(b, r.Timestamp()...)
		b = append(append(append(b, "] "...), r.Text...), '\n')
	}
	return b
}

// logReferences are the reference logs a corpus dump may have and how
// each prints: makedumpfile's, of the current release (1.7.5+, with the
// caller ids) and of Debian 12's 1.7.2; crash's log, where makedumpfile
// cannot read the dump (QEMU's ELF); drgn's, where neither makedumpfile
// can (52-bit arm64: 1.7.2 refuses VA_BITS 52, 1.7.9 walks LPA2 tables
// wrong).
var logReferences = []struct {
	file     string
	render   func(*printk.Log) []byte
	fallback bool // compared only when no makedumpfile reference is there
}{
	{"dmesg.makedumpfile-upstream.txt", func(lg *printk.Log) []byte { return logText(lg, analysis.MakedumpfileCurrent) }, false},
	{"dmesg.makedumpfile.txt", func(lg *printk.Log) []byte { return logText(lg, analysis.Makedumpfile174) }, false},
	{"crash-log.txt", func(lg *printk.Log) []byte { return logText(lg, analysis.Makedumpfile174) }, true},
	{"drgn-dmesg.txt", drgnText, true},
}

// TestReadLogMatchesMakedumpfile reads the kernel log of every real dump in
// the corpus, in every format, and compares it byte for byte with what
// makedumpfile --dump-dmesg printed for the raw capture of the same crash,
// in each makedumpfile release's format there is a reference of (or with
// crash's or drgn's log, where no makedumpfile can read the dump).
func TestReadLogMatchesMakedumpfile(t *testing.T) {
	for _, dc := range corpus.All(t) {
		t.Run(dc.Label(), func(t *testing.T) {
			var lg *printk.Log
			compared := 0
			for _, ref := range logReferences {
				want, ok := dc.ReadRef(ref.file)
				if !ok || ref.fallback && compared > 0 {
					continue
				}
				if lg == nil {
					if lg = readFileLog(t, dc.Files...); lg.Partial {
						t.Errorf("log is partial: %v", lg.Warnings)
					}
				}
				if got := ref.render(lg); !bytes.Equal(got, want) {
					t.Errorf("log differs from %s (%d vs %d bytes):\n%s", ref.file, len(got), len(want), firstDiff(got, want))
				}
				compared++
			}
			if compared == 0 {
				t.Skip("no makedumpfile, crash or drgn log reference for this dump")
			}
		})
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %q\nwant: %q", i+1, gl, wl)
		}
	}
	return "(no line differs)"
}
