package kb

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/internal/corpus"
)

// drgnTask is a task of the generator's drgn references (drgn-blocked.json).
type drgnTask struct {
	PID    int32  `json:"pid"`
	Comm   string `json:"comm"`
	State  string `json:"state"`
	Frames []struct {
		Name string `json:"name"`
	} `json:"frames"`
}

// readRefJSON decodes a reference file, skipping the test when the
// generator could not write it.
func readRefJSON(t *testing.T, d corpus.Dump, name string, v any) {
	t.Helper()
	b, ok := d.ReadRef(name)
	if !ok {
		t.Skipf("no ref/%s", name)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("ref/%s: %v", name, err)
	}
}

// blockedIn lists, as "PID (comm)", drgn's D-state tasks with a frame
// whose name matches re: the tasks a finding about them must cite.
func blockedIn(t *testing.T, d corpus.Dump, re *regexp.Regexp) []string {
	var tasks []drgnTask
	readRefJSON(t, d, "drgn-blocked.json", &tasks)
	var out []string
	for _, task := range tasks {
		for _, fr := range task.Frames {
			if task.State == "D" && re.MatchString(fr.Name) {
				out = append(out, fmt.Sprintf("PID %d (%s)", task.PID, task.Comm))
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

var (
	lockSlowPath = regexp.MustCompile(`^(?:__mutex_lock|__mutex_lock_common|rwsem_down_(?:read|write)_slowpath)$`)
	ioWait       = regexp.MustCompile(`^io_schedule$`)
	citedTask    = regexp.MustCompile(`PID \d+ \([^)]+\)`)
	headTask     = regexp.MustCompile(`^(PID \d+ \([^,)]+)`)
	citedPIDs    = regexp.MustCompile(`\(PID ([\d, ]+)\)$`)
	memcgStats   = regexp.MustCompile(`Memory cgroup stats for (/\S*):`)
)

// suggestion finds an article among the suggestions.
func suggestion(got []analysis.Suggestion, id string) (analysis.Suggestion, bool) {
	for _, s := range got {
		if s.ID == id {
			return s, true
		}
	}
	return analysis.Suggestion{}, false
}

// evidenceLine is the suggestion's evidence line that starts with prefix.
func evidenceLine(t *testing.T, s analysis.Suggestion, prefix string) string {
	t.Helper()
	for _, e := range s.Evidence {
		if strings.HasPrefix(e, prefix) {
			return e
		}
	}
	t.Errorf("%s: no evidence %q…: %q", s.ID, prefix, s.Evidence)
	return ""
}

// distinct sorts and deduplicates.
func distinct(l []string) []string {
	sort.Strings(l)
	out := l[:0]
	for i, s := range l {
		if i == 0 || s != l[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// TestScenarioFindingEvidence: on the generator's dumps made for the
// findings, the article each scenario expects comes first and its
// evidence cites what the reference tools saw in the same dump: the
// deadlocked tasks drgn finds sleeping in a lock's slow path, the memory
// cgroup and process of the kernel's own OOM report, the task drgn finds
// in io_schedule (and no stuck request, where drgn counts none busy), the
// CPU whose run queue drgn lists with tasks behind the current one.
func TestScenarioFindingEvidence(t *testing.T) {
	m := &Matcher{Index: builtinIndex(t)}
	ran := 0
	for _, d := range scenarioDumps(t) {
		switch d.Scenario {
		case "mutex-deadlock", "hung-task", "oom-cgroup", "hung-io", "soft-lockup-runq":
		default:
			continue
		}
		ran++
		t.Run(d.Label(), func(t *testing.T) {
			a := scenarioDoc(t, d)
			if a.Locks == nil || a.Memory == nil {
				t.Skipf("the dump's sections could not be read: %.300s", strings.Join(a.Warnings, "; "))
			}
			got, err := m.Match(a)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := articleFor(d.Scenario)
			checkFirst(t, got, want)
			if t.Failed() {
				return
			}
			first := got[0]
			switch d.Scenario {
			case "mutex-deadlock", "hung-task":
				ref := blockedIn(t, d, lockSlowPath)
				line := evidenceLine(t, first, "deadlock in the dump: ")
				if cited := distinct(citedTask.FindAllString(line, -1)); strings.Join(cited, ", ") != strings.Join(ref, ", ") {
					t.Errorf("the deadlock cites %q; drgn's tasks in a lock's slow path are %q", cited, ref)
				}
				// The hung-task article stays, citing the chain's head.
				s, ok := suggestion(got, "hung-task-panic")
				if !ok {
					t.Fatal("hung-task-panic is no longer suggested")
				}
				line = evidenceLine(t, s, "wait chain in the dump")
				_, head, _ := strings.Cut(line, "; its head is ")
				h := ""
				if m := headTask.FindStringSubmatch(head); m != nil {
					h = m[1] + ")"
				}
				if !contains(ref, h) {
					t.Errorf("the wait chain's head %q is not one of drgn's blocked tasks %q", head, ref)
				}
			case "oom-cgroup":
				cg, task := oomReport(t, d)
				line := evidenceLine(t, first, "out of memory in the dump: ")
				if !strings.Contains(line, "memory cgroup "+cg+" ") || !strings.Contains(line, task) {
					t.Errorf("%q does not cite memory cgroup %s and %s of the kernel's OOM report", line, cg, task)
				}
				var mi map[string]any
				readRefJSON(t, d, "drgn-meminfo.json", &mi)
				total, _ := mi["MemTotal"].(float64)
				unreclaim, _ := mi["SUnreclaim"].(float64)
				overThreshold := total > 0 && unreclaim/total > analysis.SlabUnreclaimableThreshold
				if cites := strings.Contains(strings.Join(first.Evidence, "\n"), "unreclaimable slab holds"); cites != overThreshold {
					t.Errorf("cites unreclaimable slab: %v; drgn's SUnreclaim %v of MemTotal %v pages", cites, unreclaim, total)
				}
			case "hung-io":
				ref := blockedIn(t, d, ioWait)
				line := evidenceLine(t, first, "in the dump, ")
				var cited []string
				if m := citedPIDs.FindStringSubmatch(line); m != nil {
					cited = strings.Split(m[1], ", ")
				}
				var refPIDs []string
				for _, r := range ref {
					refPIDs = append(refPIDs, strings.Fields(r)[1])
				}
				if strings.Join(distinct(cited), ",") != strings.Join(distinct(refPIDs), ",") {
					t.Errorf("%q cites PIDs %q; drgn's tasks in io_schedule are %q", line, cited, ref)
				}
				var disks []struct {
					Name string `json:"name"`
					Busy int    `json:"busy_requests"`
				}
				readRefJSON(t, d, "drgn-disks.json", &disks)
				busy := ""
				for _, dk := range disks {
					if dk.Busy > 0 {
						busy = dk.Name
					}
				}
				stuck := ""
				for _, e := range first.Evidence {
					if strings.HasPrefix(e, "I/O stuck in the dump: disk ") {
						stuck = e
					}
				}
				if (stuck == "") != (busy == "") || busy != "" && !strings.Contains(stuck, "disk "+busy+" ") {
					t.Errorf("stuck I/O evidence %q; drgn's disk with busy requests: %q", stuck, busy)
				}
			case "soft-lockup-runq":
				cpu, cur, queued := busiestRunQueue(t, d)
				line := evidenceLine(t, first, "starved run queue in the dump: ")
				wantText := fmt.Sprintf("CPU %d runs %s with %d tasks queued behind it", cpu, cur, queued)
				if !strings.Contains(line, wantText) {
					t.Errorf("%q; drgn's run queues say %q", line, wantText)
				}
			}
		})
	}
	if ran == 0 {
		t.Skip("no dump of the findings' scenarios (testdata/corpus/make.sh makes them under .cache/corpus)")
	}
}

// oomReport reads the kernel's own OOM report from the dump's log
// (makedumpfile --dump-dmesg): the memory cgroup it reports and, as "comm
// (PID n)", the process of its task list with the most resident pages.
func oomReport(t *testing.T, d corpus.Dump) (cgroup, task string) {
	b, ok := d.ReadRef("dmesg.makedumpfile.txt")
	if !ok {
		t.Skip("no ref/dmesg.makedumpfile.txt")
	}
	var tasks corpus.OOMTaskTable
	best := int64(-1)
	for _, l := range strings.Split(string(b), "\n") {
		if _, rest, ok := strings.Cut(l, "] "); ok && strings.HasPrefix(l, "[") {
			l = rest
		}
		l = strings.TrimSpace(l)
		if m := memcgStats.FindStringSubmatch(l); m != nil {
			cgroup = m[1]
		}
		col, ok := tasks.Row(l)
		if !ok {
			continue
		}
		if rss, err := strconv.ParseInt(col["rss"], 10, 64); err == nil && rss > best {
			best, task = rss, fmt.Sprintf("%s (PID %s)", col["name"], col["tgid"])
		}
	}
	if cgroup == "" || task == "" {
		t.Fatalf("the log of an oom-cgroup dump holds no memory cgroup OOM report (cgroup %q, task %q)", cgroup, task)
	}
	return cgroup, task
}

// busiestRunQueue reads drgn's run queues: the CPU with the most tasks
// queued besides its current one, that task as "comm (PID n)", and how
// many are queued.
func busiestRunQueue(t *testing.T, d corpus.Dump) (cpu int, current string, queued int) {
	type rqTask struct {
		PID  int32  `json:"pid"`
		Comm string `json:"comm"`
	}
	var rqs []struct {
		CPU  int      `json:"cpu"`
		Curr rqTask   `json:"curr"`
		Fair []rqTask `json:"fair"`
		RT   []rqTask `json:"rt"`
	}
	readRefJSON(t, d, "drgn-runq.json", &rqs)
	queued = -1
	for _, q := range rqs {
		n := 0
		for _, task := range append(q.Fair, q.RT...) {
			if task.PID != q.Curr.PID { // drgn lists the current task in its tree
				n++
			}
		}
		if n > queued {
			cpu, current, queued = q.CPU, fmt.Sprintf("%s (PID %d)", q.Curr.Comm, q.Curr.PID), n
		}
	}
	return cpu, current, queued
}
