package kb

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vmcore/vmcore/analysis"
)

// A findings rule names facts the dump's sections establish
// (analysis.Findings, by their JSON keys): an OOM article holds when the
// dump names the process and cgroup holding the memory, a deadlock
// article when the lock owners form a cycle. Unlike a log line, a finding
// can be undecided: a kernel log alone, or a dump read without the
// symbols its sections need, has no sections, and the rule then neither
// counts for nor against an article (and an article requiring it is not
// suggested).

// findingKind is one finding a rule can name: its weight when it holds,
// whether a document's sections could have shown it, and its evidence,
// empty when the document does not show it.
type findingKind struct {
	name string
	// weight is what the finding says about an article, as critWeight
	// says it of the other criteria: a cycle of lock owners read from
	// memory names the failure as a title does; who held the memory, the
	// wait chain, the starved CPU and the stuck request explain it as a
	// log line does; a share of slab over a threshold only narrows it.
	weight   float64
	decided  func(a *analysis.Document) bool
	evidence func(f *analysis.Findings) string
}

// maxFindingText bounds one finding's evidence: a chain through many
// locks has a long text.
const maxFindingText = 600

// findingKinds are the findings rules can name, in the order their
// evidence is listed.
var findingKinds = []findingKind{
	{"oom", 3, func(a *analysis.Document) bool { return a.TaskMemory != nil }, func(f *analysis.Findings) string {
		if o := f.OOM; o != nil {
			return "out of memory in the dump: " + o.Text
		}
		return ""
	}},
	{"slab", 2, func(a *analysis.Document) bool { return a.Memory != nil }, func(f *analysis.Findings) string {
		if s := f.Slab; s != nil {
			return fmt.Sprintf("in the dump, %s (%d bytes)", s.Text, s.Bytes)
		}
		return ""
	}},
	{"deadlock", 4, locksRead, func(f *analysis.Findings) string {
		if d := f.Deadlock; d != nil {
			return "deadlock in the dump: " + d.Text
		}
		return ""
	}},
	{"wait_chain", 3, locksRead, func(f *analysis.Findings) string {
		c := f.WaitChain
		if c == nil {
			return ""
		}
		return fmt.Sprintf("wait chain in the dump (%d blocked %s): %s; its head is %s",
			c.Blocked, pluralWord(c.Blocked, "task", "tasks"), c.Text, chainHead(c.Head))
	}},
	{"blocked_io", 3, locksRead, func(f *analysis.Findings) string {
		b := f.BlockedIO
		if b == nil {
			return ""
		}
		pids := make([]string, 0, len(b.PIDs))
		for _, p := range b.PIDs {
			pids = append(pids, strconv.Itoa(int(p)))
		}
		return fmt.Sprintf("in the dump, %s (PID %s)", b.Text, strings.Join(pids, ", "))
	}},
	{"stuck_io", 3, func(a *analysis.Document) bool { return a.Block != nil }, func(f *analysis.Findings) string {
		if s := f.StuckIO; s != nil {
			return "I/O stuck in the dump: disk " + s.Text
		}
		return ""
	}},
	{"starved", 3, func(a *analysis.Document) bool { return a.RunQueues != nil }, func(f *analysis.Findings) string {
		if s := f.Starved; s != nil {
			return "starved run queue in the dump: " + s.Text
		}
		return ""
	}},
}

func locksRead(a *analysis.Document) bool { return a.Locks != nil }

// findingNames lists the names rules may use, for errors.
func findingNames() string {
	names := make([]string, len(findingKinds))
	for i, k := range findingKinds {
		names[i] = k.name
	}
	return strings.Join(names, ", ")
}

// findingIndex is the position of a finding name in findingKinds, -1 when
// there is none.
func findingIndex(name string) int {
	for i, k := range findingKinds {
		if k.name == name {
			return i
		}
	}
	return -1
}

// chainHead says who a wait chain ends at: its PID, command, state and
// where it runs or sleeps.
func chainHead(h analysis.ChainTask) string {
	s := fmt.Sprintf("PID %d (%s", h.PID, h.Comm)
	switch {
	case h.Running:
		s += fmt.Sprintf(", running on CPU %d", h.CPU)
	case h.State != "":
		s += ", state " + h.State
	}
	s += ")"
	if h.Function != "" {
		s += " in " + h.Function
	}
	return s
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// findingFacts is what matching knows of a document's findings: for each
// kind (by findingKinds position) whether its sections were read and its
// evidence when it holds.
type findingFacts struct {
	decided  []bool
	evidence []string
}

func gatherFindings(a *analysis.Document) findingFacts {
	ff := findingFacts{decided: make([]bool, len(findingKinds)), evidence: make([]string, len(findingKinds))}
	for i, k := range findingKinds {
		ev := k.evidence(&a.Findings)
		if len(ev) > maxFindingText {
			ev = ev[:maxFindingText-3] + "..."
		}
		ff.evidence[i] = ev
		// A finding that holds was decided, whatever the sections say.
		ff.decided[i] = ev != "" || k.decided(a)
	}
	return ff
}

// present lists the positions of the findings that hold.
func (ff findingFacts) present() []int {
	var out []int
	for i, ev := range ff.evidence {
		if ev != "" {
			out = append(out, i)
		}
	}
	return out
}

// matchFindings checks a findings rule (positions in findingKinds): the
// evidence of each finding that holds and its weight (the largest of
// theirs), and the weight the rule counts for in the article's total (the
// largest of the findings that were decided), 0 when none was: the rule
// then says nothing.
func matchFindings(ff findingFacts, want []int) (ev []string, weight, total float64) {
	for _, i := range want {
		if i >= len(ff.decided) || !ff.decided[i] {
			continue
		}
		w := findingKinds[i].weight
		total = max(total, w)
		if e := ff.evidence[i]; e != "" {
			ev = append(ev, e)
			weight = max(weight, w)
		}
	}
	return ev, weight, total
}
