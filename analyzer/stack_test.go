package analyzer_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
)

// TestBacktracesMatchDrgn: the ORC unwinder gives, for every CPU's active
// task, the same program counters as drgn's stack trace of that task
// (drgn-frames.json; inlined frames share their caller's pc).
func TestBacktracesMatchDrgn(t *testing.T) {
	kernelDumps(t, func(t *testing.T, dc corpus.Dump, k *analyzer.Kernel) {
		b, ok := dc.ReadRef("drgn-frames.json")
		if !ok {
			t.Skip("no drgn frames reference")
		}
		var ref struct {
			PanicCPU int `json:"panic_cpu"`
			CPUs     []struct {
				CPU    int
				PID    int32
				Frames []struct {
					PC     string
					Inline bool
				}
			}
		}
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatal(err)
		}
		bts, warnings, err := k.CPUBacktraces()
		if err != nil || len(warnings) > 0 {
			t.Fatal(err, warnings)
		}
		for _, rc := range ref.CPUs {
			var want []string
			for _, f := range rc.Frames {
				if f.PC == "0x0" {
					// A zero return address ends the stack (5.10 arm64's
					// secondary CPUs); drgn unwinds on from it as from a
					// call through a NULL pointer, into junk.
					break
				}
				if !f.Inline {
					want = append(want, f.PC)
				}
			}
			var got []string
			var bt *analyzer.Backtrace
			for i := range bts {
				if bts[i].CPU == rc.CPU {
					bt = &bts[i]
				}
			}
			if bt == nil {
				t.Errorf("no trace for CPU %d", rc.CPU)
				continue
			}
			for _, f := range bt.Frames {
				if f.Reliable && !f.Inline { // drgn does not show the NMI handler's frames
					got = append(got, fmt.Sprintf("%#x", f.PC))
				}
			}
			if strings.Join(got, " ") != strings.Join(want, " ") || bt.PID != rc.PID || bt.Panic != (rc.CPU == ref.PanicCPU) {
				t.Errorf("CPU %d (pid %d, panic %v): got %v (%s)\n want %v (pid %d)", rc.CPU, bt.PID, bt.Panic, got, bt.Error, want, rc.PID)
			}
		}
	})
}

var callTraceFrame = regexp.MustCompile(`^\[\s*[\d.]+\]\s+(\?\s+)?([\w.$]+)\+0x([0-9a-f]+)/0x[0-9a-f]+(?: \[(\w+)\])?`)

// TestBacktracesContainOopsTrace: every frame the kernel printed without
// '?' in its own oops Call Trace appears, in order, in one of our traces (a
// CPU's, or a blocked task's for the hung-task report), by function name.
// The first frames the kernel printed from inside its report machinery
// (dump_stack_lvl…) are skipped until the first frame we also have.
func TestBacktracesContainOopsTrace(t *testing.T) {
	kernelDumps(t, func(t *testing.T, dc corpus.Dump, k *analyzer.Kernel) {
		b, ok := dc.ReadRef("oops-calltrace.txt")
		if !ok {
			t.Skip("no oops call trace reference")
		}
		var want []string
		for _, l := range strings.Split(string(b), "\n") {
			m := callTraceFrame.FindStringSubmatch(l)
			if m == nil || m[1] != "" {
				continue
			}
			name := m[2]
			if m[4] != "" {
				name += " [" + m[4] + "]"
			}
			want = append(want, name)
		}
		if len(want) == 0 {
			t.Skip("the scenario printed no call trace")
		}
		bts, _, err := k.CPUBacktraces()
		if err != nil {
			t.Fatal(err)
		}
		tasks, _, _ := k.Tasks()
		blocked, _ := k.BlockedBacktraces(tasks)
		best, bestTrace := -1, ""
		for _, bt := range append(bts, blocked...) {
			var got []string
			for _, f := range bt.Frames {
				if !f.Reliable || f.User || f.Inline {
					continue
				}
				name := f.Symbol
				if f.Module != "" {
					name += " [" + f.Module + "]"
				}
				got = append(got, name)
			}
			if n := matchFrom(got, want); n > best {
				best, bestTrace = n, strings.Join(got, " ")+" ("+bt.Error+")"
			}
		}
		t.Logf("%d of the kernel's %d frames matched in order: %s", best, len(want), bestTrace)
		if best < 0 {
			t.Errorf("no trace contains the kernel's call trace %v; closest: %s", want, bestTrace)
		}
	})
}

// matchFrom reports how many frames of want, after skipping a prefix of it
// that got lacks, appear in got in order; -1 if any later frame is missing.
func matchFrom(got, want []string) int {
	for skip := 0; skip < len(want); skip++ {
		i, n := 0, 0
		for _, w := range want[skip:] {
			for i < len(got) && got[i] != w {
				i++
			}
			if i == len(got) {
				n = -1
				break
			}
			n++
		}
		if n >= 3 || (n > 0 && n == len(want)-skip && skip == 0) {
			return n
		}
		if n > 0 {
			return -1
		}
	}
	return -1
}

// trimNames keeps the pcs of name@pc frames.
func trimNames(frames []string) []string {
	out := make([]string, len(frames))
	for i, f := range frames {
		_, out[i], _ = strings.Cut(f, "@")
	}
	return out
}

var crashFrame = regexp.MustCompile(`^\s*#\d+ \[[0-9a-f]+\] (\S+) at ([0-9a-f]+)`)

// TestNMIFramesMatchCrash: for each CPU the crash NMI stopped, the frames
// of the NMI handler shown before the interrupted context are the ones
// crash's bt -a shows above "--- <NMI exception stack> ---".
func TestNMIFramesMatchCrash(t *testing.T) {
	kernelDumps(t, func(t *testing.T, dc corpus.Dump, k *analyzer.Kernel) {
		ref, ok := dc.ReadRef("crash-bt-a.txt")
		if !ok {
			t.Skip("no crash bt -a reference")
		}
		want := map[int][]string{} // cpu -> "name@pc" of the NMI frames
		cpu := -1
		inNMI := false
		for _, l := range strings.Split(string(ref), "\n") {
			if strings.HasPrefix(l, "PID:") {
				fmt.Sscanf(l[strings.Index(l, "CPU:"):], "CPU: %d", &cpu)
				inNMI = true
				continue
			}
			if strings.Contains(l, "<NMI exception stack>") {
				inNMI = false
			}
			if m := crashFrame.FindStringSubmatch(l); m != nil && inNMI {
				want[cpu] = append(want[cpu], m[1]+"@"+m[2])
			}
		}
		bts, _, err := k.CPUBacktraces()
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, bt := range bts {
			if bt.Panic {
				continue
			}
			var got []string
			for _, f := range bt.Frames {
				if f.Reliable {
					break
				}
				if f.Inline {
					continue
				}
				got = append(got, fmt.Sprintf("%s@%x", f.Symbol, f.PC))
			}
			if k.Source == analysis.SourceDWARF {
				// The vmlinux's symbol table names an asm label's pc by the
				// sized function around it (asm_exc_nmi for crash's
				// end_repeat_nmi): compare the pcs.
				got, w := trimNames(got), trimNames(want[bt.CPU])
				want[bt.CPU] = w
				if strings.Join(got, " ") != strings.Join(w, " ") {
					t.Errorf("CPU %d NMI frames: got %v, crash %v", bt.CPU, got, w)
				}
				checked++
				continue
			}
			if w, ok := want[bt.CPU]; ok && strings.Join(got, " ") != strings.Join(w, " ") {
				t.Errorf("CPU %d NMI frames: got %v, crash %v", bt.CPU, got, w)
			}
			checked++
		}
		if checked == 0 {
			t.Skip("no CPU was stopped by the NMI")
		}
	})
}

// TestTaskBacktracesMatchDrgn: every task that was not running at the
// crash unwinds, from where it switched out, to the frames drgn gives
// (ref/drgn-tasks.json, testdata/corpus/drgn_tasks.py): x86_64's
// inactive_task_frame and ORC, arm64's cpu_context and frame records,
// down to ret_from_fork or the idle loop's start.
func TestTaskBacktracesMatchDrgn(t *testing.T) {
	kernelDumps(t, func(t *testing.T, dc corpus.Dump, k *analyzer.Kernel) {
		b, ok := dc.ReadRef("drgn-tasks.json")
		if !ok {
			t.Skip("no drgn tasks reference")
		}
		var ref struct {
			Tasks []struct {
				PID    int32
				Frames []struct {
					PC     string
					Inline bool
				}
				Error string
			}
		}
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatal(err)
		}
		want := map[int32]string{}
		for _, rt := range ref.Tasks {
			var pcs []string
			for _, f := range rt.Frames {
				if !f.Inline {
					pcs = append(pcs, f.PC)
				}
			}
			if rt.Error == "" {
				want[rt.PID] = strings.Join(pcs, " ")
			}
		}
		tasks, _, err := k.Tasks()
		if err != nil {
			t.Fatal(err)
		}
		traces := k.SleepingBacktraces(tasks)
		compared := 0
		for _, bt := range traces {
			w, ok := want[bt.PID]
			if !ok {
				continue
			}
			var got []string
			for _, f := range bt.Frames {
				if !f.Inline {
					got = append(got, fmt.Sprintf("%#x", f.PC))
				}
			}
			if strings.Join(got, " ") != w {
				t.Errorf("pid %d %s: got %v (%s)\n want %v", bt.PID, bt.Comm, got, bt.Error, w)
			}
			compared++
		}
		if compared < len(tasks)/2 {
			t.Errorf("only %d of %d tasks compared", compared, len(tasks))
		}
		t.Logf("%d sleeping tasks' traces equal drgn's", compared)
	})
}
