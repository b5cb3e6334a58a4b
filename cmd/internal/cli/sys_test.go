package cli

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
)

// TestSysMatchesCrash compares the sys summary with crash's sys, field by
// field, except TASKS, which crash 8.0.2 gets wrong on these dumps (it finds
// only the running tasks): there drgn's task count plus the idle tasks is
// the reference.
func TestSysMatchesCrash(t *testing.T) {
	t.Setenv("VMCORE_CACHE", t.TempDir())
	for _, dc := range corpus.All(t) {
		if dc.Format != "kdump-zlib" {
			continue
		}
		t.Run(dc.Label(), func(t *testing.T) { sysMatchesCrash(t, dc) })
	}
}

func sysMatchesCrash(t *testing.T, dc corpus.Dump) {
	{
		ref, ok := dc.ReadRef("crash-sys.txt")
		if !ok {
			t.Skip("no crash sys reference")
		}
		a, err := (&dumpFlags{debuginfo: "none"}).analyzeFiles(context.Background(), dc.Files, analyzer.SectionSys, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Warnings) > 0 {
			t.Errorf("warnings: %v", a.Warnings)
		}
		s := a.System
		got := map[string]string{}
		for _, l := range strings.Split(sysText(s), "\n") {
			if k, v, ok := strings.Cut(l, ": "); ok {
				got[strings.TrimSpace(k)] = v
			}
		}
		for _, l := range strings.Split(string(ref), "\n") {
			key, want, ok := strings.Cut(l, ": ")
			key = strings.TrimSpace(key)
			if !ok || key == "KERNEL" || key == "DUMPFILE" || key == "TASKS" {
				continue
			}
			if key == "MACHINE" {
				want = strings.Fields(want)[0] // crash adds the CPU clock it measured
			}
			if got[key] != want {
				t.Errorf("%s: got %q, crash %q", key, got[key], want)
			}
		}
		if b, ok := dc.ReadRef("drgn-sys.json"); ok {
			var ds struct {
				Tasks int `json:"tasks_excluding_idle"`
				CPUs  int `json:"cpus"`
			}
			json.Unmarshal(b, &ds)
			idle := 0
			for _, ts := range a.Tasks {
				if ts.Idle {
					idle++
				}
			}
			if s.Tasks-idle != ds.Tasks || idle != ds.CPUs {
				t.Errorf("tasks %d with %d idle; drgn counts %d tasks besides %d CPUs' idle tasks", s.Tasks, idle, ds.Tasks, ds.CPUs)
			}
		}
	}
}
