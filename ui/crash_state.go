package ui

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/vmcore/vmcore/analysis"
)

// stateTop bounds the caches and processes the kernel-state tab lists;
// the JSON (analysis.json) has them all.
const stateTop = 25

// stateView is the kernel-state tab: the sections of the analysis after
// the backtraces (memory, slab, processes' memory, locks, run queues,
// disks, mounts), with the findings the knowledge base reads first.
type stateView struct {
	Findings  []findingView
	Memory    *analysis.Memory
	MemRows   []memRow
	Buddy     []buddyRow
	Orders    []int
	Slab      *analysis.Slab
	Caches    []analysis.SlabCache
	TaskMem   *analysis.TaskMemory
	Processes []analysis.ProcessMemory
	Locks     *analysis.Locks
	RunQueues *analysis.RunQueues
	Block     *analysis.Block
	FS        *analysis.Filesystems
	Cmdline   string
	// Missing gathers what each section could not read, by section.
	Missing []missingView
}

type findingView struct{ Label, Text string }

// memRow is a line of the memory summary: pages, bytes, share of all.
type memRow struct {
	Name  string
	Pages uint64
	Bytes uint64
	Pct   string
}

type buddyRow struct {
	Node   int
	Zone   string
	Blocks []uint64
}

type missingView struct {
	Section string
	What    []string
}

func (u *UI) crashState(w http.ResponseWriter, r *http.Request, v *view) error {
	cv, err := u.loadCrash(r, v, "state")
	if err != nil {
		return err
	}
	v.Title = "Kernel state · " + cv.Heading
	if cv.A != nil {
		cv.State = newStateView(cv.A)
	}
	u.render(w, r, http.StatusOK, "crash_state", v)
	return nil
}

func newStateView(a *analysis.Document) *stateView {
	s := &stateView{Memory: a.Memory, Slab: a.Slab, TaskMem: a.TaskMemory, Locks: a.Locks, RunQueues: a.RunQueues,
		Block: a.Block, FS: a.Filesystems}
	if a.System != nil {
		s.Cmdline = a.System.CommandLine
	}
	f := a.Findings
	add := func(label, text string) { s.Findings = append(s.Findings, findingView{label, text}) }
	if f.OOM != nil {
		add("Out of memory", f.OOM.Text)
	}
	if f.Slab != nil {
		add("Slab", f.Slab.Text)
	}
	if f.Deadlock != nil {
		add("Deadlock", f.Deadlock.Text)
	} else if f.WaitChain != nil {
		add("Wait chain", f.WaitChain.Text)
	}
	if f.Starved != nil {
		add("Run queue", f.Starved.Text)
	}
	if f.StuckIO != nil {
		add("I/O", f.StuckIO.Text)
	}
	if f.BlockedIO != nil {
		add("Blocked on I/O", f.BlockedIO.Text)
	}
	missing := func(section string, what []string) {
		if len(what) > 0 {
			s.Missing = append(s.Missing, missingView{section, what})
		}
	}
	if m := a.Memory; m != nil {
		ps := m.PageSize
		row := func(name string, pages uint64) {
			pct := "—"
			if m.Total > 0 {
				pct = fmt.Sprintf("%d%%", pages*100/m.Total)
			}
			s.MemRows = append(s.MemRows, memRow{name, pages, pages * ps, pct})
		}
		row("Total", m.Total)
		row("Free", m.Free)
		row("Used", m.Total-min(m.Free, m.Total))
		row("Available", m.Available)
		row("Buffers", m.Buffers)
		row("Cached", m.Cached)
		row("Shared memory", m.Shmem)
		row("Slab, reclaimable", m.SlabReclaim)
		row("Slab, unreclaimable", m.SlabUnreclaim)
		row("Kernel stacks", m.KernelStackKB*1024/max(ps, 1))
		row("Page tables", m.PageTables)
		row("Huge pages", m.HugePages)
		row("Swap, total", m.SwapTotal)
		row("Swap, free", m.SwapFree)
		row("Commit limit", m.CommitLimit)
		row("Committed", m.Committed)
		for _, z := range m.Zones {
			s.Buddy = append(s.Buddy, buddyRow{z.Node, z.Name, z.FreeBlocks})
			for len(s.Orders) < len(z.FreeBlocks) {
				s.Orders = append(s.Orders, len(s.Orders))
			}
		}
		missing("Memory", m.Missing)
	}
	if a.Slab != nil {
		s.Caches = a.Slab.Caches[:min(len(a.Slab.Caches), stateTop)]
		missing("Slab", a.Slab.Missing)
	}
	if a.TaskMemory != nil {
		s.Processes = a.TaskMemory.Tasks[:min(len(a.TaskMemory.Tasks), stateTop)]
		missing("Processes' memory", a.TaskMemory.Missing)
	}
	if a.Locks != nil {
		missing("Locks", a.Locks.Missing)
	}
	if a.RunQueues != nil {
		missing("Run queues", a.RunQueues.Missing)
	}
	if a.Block != nil {
		missing("Disks", a.Block.Missing)
	}
	if a.Filesystems != nil {
		missing("Mounts", a.Filesystems.Missing)
	}
	sort.SliceStable(s.Missing, func(i, j int) bool { return s.Missing[i].Section < s.Missing[j].Section })
	return s
}
