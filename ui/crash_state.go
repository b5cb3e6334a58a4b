package ui

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/messages"
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
	v.Title = v.P.T("tab.state") + " · " + cv.Heading
	if cv.A != nil {
		cv.State = newStateView(cv.A, v.P)
	}
	u.render(w, r, http.StatusOK, "crash_state", v)
	return nil
}

func newStateView(a *analysis.Document, p *messages.Printer) *stateView {
	s := &stateView{Memory: a.Memory, Slab: a.Slab, TaskMem: a.TaskMemory, Locks: a.Locks, RunQueues: a.RunQueues,
		Block: a.Block, FS: a.Filesystems}
	if a.System != nil {
		s.Cmdline = a.System.CommandLine
	}
	f := a.Findings
	add := func(label, text string) { s.Findings = append(s.Findings, findingView{label, text}) }
	// The findings' texts are the analyzer's (English, as the KB's
	// evidence); their labels are the page's language.
	if f.OOM != nil {
		add(p.T("state.f_oom"), f.OOM.Text)
	}
	if f.Slab != nil {
		add(p.T("state.f_slab"), f.Slab.Text)
	}
	if f.Deadlock != nil {
		add(p.T("state.f_deadlock"), f.Deadlock.Text)
	} else if f.WaitChain != nil {
		add(p.T("state.f_chain"), f.WaitChain.Text)
	}
	if f.Starved != nil {
		add(p.T("state.f_runq"), f.Starved.Text)
	}
	if f.StuckIO != nil {
		add(p.T("state.f_io"), f.StuckIO.Text)
	}
	if f.BlockedIO != nil {
		add(p.T("state.f_blocked_io"), f.BlockedIO.Text)
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
		row(p.T("state.m_total"), m.Total)
		row(p.T("state.m_free"), m.Free)
		row(p.T("state.m_used"), m.Total-min(m.Free, m.Total))
		row(p.T("state.m_available"), m.Available)
		row(p.T("state.m_buffers"), m.Buffers)
		row(p.T("state.m_cached"), m.Cached)
		row(p.T("state.m_shmem"), m.Shmem)
		row(p.T("state.m_slab_reclaimable"), m.SlabReclaim)
		row(p.T("state.m_slab_unreclaimable"), m.SlabUnreclaim)
		row(p.T("state.m_kernel_stack"), m.KernelStackKB*1024/max(ps, 1))
		row(p.T("state.m_page_tables"), m.PageTables)
		row(p.T("state.m_huge"), m.HugePages)
		row(p.T("state.m_swap_total"), m.SwapTotal)
		row(p.T("state.m_swap_free"), m.SwapFree)
		row(p.T("state.m_commit_limit"), m.CommitLimit)
		row(p.T("state.m_committed"), m.Committed)
		for _, z := range m.Zones {
			s.Buddy = append(s.Buddy, buddyRow{z.Node, z.Name, z.FreeBlocks})
			for len(s.Orders) < len(z.FreeBlocks) {
				s.Orders = append(s.Orders, len(s.Orders))
			}
		}
		missing(p.T("state.memory"), m.Missing)
	}
	if a.Slab != nil {
		s.Caches = a.Slab.Caches[:min(len(a.Slab.Caches), stateTop)]
		missing(p.T("state.slab"), a.Slab.Missing)
	}
	if a.TaskMemory != nil {
		s.Processes = a.TaskMemory.Tasks[:min(len(a.TaskMemory.Tasks), stateTop)]
		missing(p.T("state.procs"), a.TaskMemory.Missing)
	}
	if a.Locks != nil {
		missing(p.T("state.locks"), a.Locks.Missing)
	}
	if a.RunQueues != nil {
		missing(p.T("state.runq"), a.RunQueues.Missing)
	}
	if a.Block != nil {
		missing(p.T("state.disks"), a.Block.Missing)
	}
	if a.Filesystems != nil {
		missing(p.T("state.mounts"), a.Filesystems.Missing)
	}
	sort.SliceStable(s.Missing, func(i, j int) bool { return s.Missing[i].Section < s.Missing[j].Section })
	return s
}
