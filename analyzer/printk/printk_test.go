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

// logText renders a log exactly as `makedumpfile --dump-dmesg` does.
func logText(lg *printk.Log) []byte {
	var b []byte
	for i := range lg.Records {
		b = lg.Records[i].AppendText(b, analysis.LogFormat{})
	}
	return b
}

// TestReadLogMatchesMakedumpfile reads the kernel log of every real dump in
// the corpus, in every format, and compares it byte for byte with what
// makedumpfile --dump-dmesg printed for the raw capture of the same crash
// (or crash's log, where makedumpfile cannot read the dump).
func TestReadLogMatchesMakedumpfile(t *testing.T) {
	for _, dc := range corpus.All(t) {
		t.Run(dc.Label(), func(t *testing.T) {
			want, ok := dc.ReadRef("dmesg.makedumpfile.txt")
			if !ok {
				// makedumpfile 1.7.2 cannot read QEMU's ELF dumps ("Can't get
				// the number of PT_LOAD"); crash's log prints the same format.
				want, ok = dc.ReadRef("crash-log.txt")
			}
			if !ok {
				t.Skip("no makedumpfile or crash log reference for this dump")
			}
			lg := readFileLog(t, dc.Files...)
			if lg.Partial {
				t.Errorf("log is partial: %v", lg.Warnings)
			}
			got := logText(lg)
			if !bytes.Equal(got, want) {
				t.Errorf("log differs from makedumpfile's (%d vs %d bytes):\n%s", len(got), len(want), firstDiff(got, want))
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
