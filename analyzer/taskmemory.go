package analyzer

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/vmcore/vmcore/analysis"
)

// oomScoreAdjMin is OOM_SCORE_ADJ_MIN: a process the OOM killer never
// chooses.
const oomScoreAdjMin = -1000

// maxCgroupDepth bounds a walk up the cgroup or kernfs hierarchy.
const maxCgroupDepth = 64

// taskMemLayout is what TaskMemory reads, by name.
type taskMemLayout struct {
	mm, signal, oomAdj, cred, uid, cgroups, flags uint64
	hasCred, hasCgroups                           bool
	taskRSS                                       uint64 // task_struct.rss_stat.count (SPLIT_RSS_COUNTING, before 6.2)
	hasTaskRSS                                    bool
	mmRSS                                         uint64 // mm_struct.rss_stat
	mmRSSPercpu                                   bool   // 6.2+: struct percpu_counter rss_stat[]
	percpuCounterSize                             uint64
	totalVM, pgtables                             uint64
	hasPgtables                                   bool
	file, anon, swap, shmem                       int64
	hasShmem                                      bool
	memcgID                                       int64
	hasMemcg                                      bool
}

func (k *Kernel) taskMemLayout(n *layoutNeeds) (*taskMemLayout, bool) {
	l := &taskMemLayout{}
	var ok [8]bool
	l.mm, ok[0] = n.off("task_struct", "mm")
	l.signal, ok[1] = n.off("task_struct", "signal")
	l.oomAdj, ok[2] = n.off("signal_struct", "oom_score_adj")
	l.totalVM, ok[3] = n.off("mm_struct", "total_vm")
	l.flags, ok[4] = n.off("task_struct", "flags")
	l.pgtables, l.hasPgtables = n.off("mm_struct", "pgtables_bytes")
	var e [3]error
	l.file, e[0] = k.Types.Enum("MM_FILEPAGES")
	l.anon, e[1] = k.Types.Enum("MM_ANONPAGES")
	l.swap, e[2] = k.Types.Enum("MM_SWAPENTS")
	ok[5] = e[0] == nil && e[1] == nil && e[2] == nil
	if !ok[5] {
		n.miss("the enumerators MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS")
	}
	var err error
	if l.shmem, err = k.Types.Enum("MM_SHMEMPAGES"); err == nil {
		l.hasShmem = true
	}
	if o, found := n.tryOffOK("mm_struct", "rss_stat.count"); found {
		l.mmRSS, ok[6] = o, true
	} else if o, found := n.tryOffOK("mm_struct", "rss_stat"); found {
		l.mmRSS, l.mmRSSPercpu = o, true
		l.percpuCounterSize, ok[6] = n.size("percpu_counter")
	} else {
		n.miss("struct mm_struct has no member rss_stat")
	}
	l.taskRSS, l.hasTaskRSS = n.tryOffOK("task_struct", "rss_stat.count")
	ok[7] = true
	l.cred, l.hasCred = n.off("task_struct", "cred")
	if l.hasCred {
		l.uid, l.hasCred = n.off("cred", "uid")
	}
	l.cgroups, l.hasCgroups = n.off("task_struct", "cgroups")
	if id, found := n.enum("cgroup_subsys_id", "memory_cgrp_id"); found && l.hasCgroups {
		l.memcgID, l.hasMemcg = id, true // CONFIG_MEMCG
	}
	for _, b := range ok {
		if !b {
			return l, false
		}
	}
	return l, true
}

// TaskMemory reads every process's memory as the OOM killer weighs it
// (oom_badness(): resident pages, swap entries and page tables, adjusted
// by oom_score_adj) and the memory cgroups the processes are in, with
// their usage, limit and OOM events. Threads share their process's
// mm_struct; the counts they have not yet folded into it are added (as
// drgn's task_rss does; crash's ps adds only the positive ones).
func (k *Kernel) TaskMemory(tasks []Task) (*analysis.TaskMemory, []string, error) {
	n := k.needs()
	tm := &analysis.TaskMemory{Tasks: []analysis.ProcessMemory{}, Cgroups: []analysis.MemoryCgroup{}}
	l, ok := k.taskMemLayout(n)
	if !ok {
		tm.Missing = n.Missing()
		return tm, nil, errMissing
	}
	var warnings []string
	ps := uint64(k.Dump.PageSize)
	// oom_badness() scales oom_score_adj by all the memory the OOM could
	// use: RAM and swap for a system-wide OOM.
	var totalPages uint64
	if a, ok := k.Syms.Lookup("_totalram_pages"); ok {
		v, _ := k.i64(a)
		totalPages = positive(v)
	} else if a, ok := k.Syms.Lookup("totalram_pages"); ok {
		totalPages, _ = k.u64(a)
	}
	if a, ok := k.Syms.Lookup("total_swap_pages"); ok {
		v, _ := k.i64(a)
		totalPages += positive(v)
	}
	groups := map[int32][]Task{}
	var order []int32
	for _, t := range tasks {
		if t.Idle {
			continue
		}
		if _, ok := groups[t.TGID]; !ok {
			order = append(order, t.TGID)
		}
		groups[t.TGID] = append(groups[t.TGID], t)
	}
	cg := k.newMemcgReader(n, l)
	cgIndex := map[uint64]int{}
	for _, tgid := range order {
		threads := groups[tgid]
		leader := threads[0]
		for _, t := range threads {
			if t.PID == tgid {
				leader = t
			}
		}
		// find_lock_task_mm(): the first thread that still has the mm.
		var mm uint64
		holder := leader
		for _, t := range append([]Task{leader}, threads...) {
			if v, err := k.ptr(t.Addr + l.mm); err == nil && v != 0 {
				mm, holder = v, t
				break
			}
		}
		if mm == 0 {
			continue // a kernel thread, or a process past exit_mm()
		}
		if f, err := k.u32(holder.Addr + l.flags); err == nil && f&pfKthread != 0 {
			continue // a kernel thread using a borrowed mm
		}
		p := analysis.ProcessMemory{PID: tgid, Comm: leader.Comm, Task: analysis.Hex(leader.Addr), Threads: len(threads)}
		// counter returns what the mm_struct has counted (get_mm_counter(),
		// clamped at zero) and the count with the threads' share.
		counter := func(i int64) (folded, all uint64) {
			var v int64
			if l.mmRSSPercpu {
				// Since 6.2 get_mm_counter() reads the central count
				// alone (percpu_counter_read_positive()); the CPUs'
				// pending deltas are the process's pages all the same.
				var central int64
				central, v, _ = k.percpuCounter(n, mm+l.mmRSS+uint64(i)*l.percpuCounterSize)
				folded = positive(central)
			} else {
				v, _ = k.i64(mm + l.mmRSS + 8*uint64(i))
				folded = positive(v)
			}
			// Before 6.2 each thread counts in its own task_rss_stat
			// until it has counted enough to add to the mm's: the
			// deltas, negative ones too, belong to the process.
			if l.hasTaskRSS {
				for _, t := range threads {
					if d, err := k.i32(t.Addr + l.taskRSS + 4*uint64(i)); err == nil {
						v += int64(d)
					}
				}
			}
			return folded, positive(v)
		}
		var mmFile, mmAnon, mmSwap, mmShmem uint64
		mmFile, p.File = counter(l.file)
		mmAnon, p.Anon = counter(l.anon)
		mmSwap, p.Swap = counter(l.swap)
		if l.hasShmem {
			mmShmem, p.Shmem = counter(l.shmem)
		}
		p.RSS = p.File + p.Anon + p.Shmem
		p.MMRSS = mmFile + mmAnon + mmShmem
		p.TotalVM, _ = k.u64(mm + l.totalVM)
		if l.hasPgtables {
			v, _ := k.i64(mm + l.pgtables)
			p.PageTableBytes = positive(v)
		}
		if sig, err := k.ptr(holder.Addr + l.signal); err == nil && sig != 0 {
			if adj, err := k.u16(sig + l.oomAdj); err == nil {
				p.OOMScoreAdj = int(int16(adj))
			}
		}
		if l.hasCred {
			if c, err := k.ptr(holder.Addr + l.cred); err == nil && c != 0 {
				p.UID, _ = k.u32(c + l.uid)
			}
		}
		p.Points = oomBadness(p.OOMScoreAdj, p.MMRSS+mmSwap+p.PageTableBytes/ps, totalPages)
		if memcg, ok := cg.memcgOf(holder.Addr); ok {
			i, seen := cgIndex[memcg]
			if !seen {
				i = len(tm.Cgroups)
				cgIndex[memcg] = i
				tm.Cgroups = append(tm.Cgroups, cg.read(memcg))
			}
			tm.Cgroups[i].Processes++
			tm.Cgroups[i].RSS += p.RSS
			p.Cgroup = tm.Cgroups[i].Path
		}
		tm.Tasks = append(tm.Tasks, p)
	}
	// The ancestors too: the limit that was hit may be a parent's.
	for i := 0; i < len(tm.Cgroups); i++ {
		parent, ok := cg.parent(uint64(tm.Cgroups[i].Addr))
		if !ok {
			continue
		}
		if _, seen := cgIndex[parent]; !seen {
			cgIndex[parent] = len(tm.Cgroups)
			tm.Cgroups = append(tm.Cgroups, cg.read(parent))
		}
	}
	warnings = append(warnings, cg.warnings...)
	sort.SliceStable(tm.Tasks, func(i, j int) bool {
		if tm.Tasks[i].Points != tm.Tasks[j].Points {
			return tm.Tasks[i].Points > tm.Tasks[j].Points
		}
		return tm.Tasks[i].PID < tm.Tasks[j].PID
	})
	sort.SliceStable(tm.Cgroups, func(i, j int) bool { return tm.Cgroups[i].Usage > tm.Cgroups[j].Usage })
	tm.Missing = n.Missing()
	return tm, warnings, nil
}

// pfKthread is PF_KTHREAD in task_struct.flags.
const pfKthread = 0x00200000

// oomBadness is oom_badness(): the pages a process holds (resident, in
// swap, in page tables, as its mm_struct counts them) plus oom_score_adj
// thousandths of totalPages; unkillable processes score the minimum.
func oomBadness(adj int, pages, totalPages uint64) int64 {
	if adj == oomScoreAdjMin {
		return math.MinInt64
	}
	return int64(pages) + int64(adj)*int64(totalPages/1000)
}

// memcgReader reads memory cgroups by their struct mem_cgroup.
type memcgReader struct {
	k                                        *Kernel
	ok                                       bool
	cgroups, subsys, css                     uint64 // task_struct.cgroups, css_set.subsys, mem_cgroup.css
	id                                       int64
	cssCgroup, cssParent, cgKn, knName, knUp uint64
	usage, max, failcnt, memory, swap        uint64
	hasSwap, hasEvents                       bool
	events                                   uint64
	evOOM, evKill                            int64
	warnings                                 []string
	paths                                    map[uint64]string
}

func (k *Kernel) newMemcgReader(n *layoutNeeds, l *taskMemLayout) *memcgReader {
	r := &memcgReader{k: k, paths: map[uint64]string{}}
	if !l.hasMemcg {
		return r
	}
	var ok [10]bool
	r.cgroups, r.id = l.cgroups, l.memcgID
	r.subsys, ok[0] = n.off("css_set", "subsys")
	r.css, ok[1] = n.off("mem_cgroup", "css")
	r.cssCgroup, ok[2] = n.off("cgroup_subsys_state", "cgroup")
	r.cssParent, ok[3] = n.off("cgroup_subsys_state", "parent")
	r.cgKn, ok[4] = n.off("cgroup", "kn")
	r.knName, ok[5] = n.off("kernfs_node", "name")
	r.knUp, ok[6] = n.off("kernfs_node", "parent", "__parent")
	r.memory, ok[7] = n.off("mem_cgroup", "memory")
	r.usage, ok[8] = n.off("page_counter", "usage")
	r.max, ok[9] = n.off("page_counter", "max")
	r.failcnt, _ = n.off("page_counter", "failcnt")
	r.swap, r.hasSwap = n.off("mem_cgroup", "swap", "memsw")
	r.events, r.hasEvents = n.off("mem_cgroup", "memory_events")
	if r.hasEvents {
		var ok1, ok2 bool
		r.evOOM, ok1 = n.enum("memcg_memory_event", "MEMCG_OOM")
		r.evKill, ok2 = n.enum("memcg_memory_event", "MEMCG_OOM_KILL")
		r.hasEvents = ok1 && ok2
	}
	r.ok = !slices.Contains(ok[:], false)
	return r
}

// memcgOf is the struct mem_cgroup a task is charged to.
func (r *memcgReader) memcgOf(task uint64) (uint64, bool) {
	if !r.ok {
		return 0, false
	}
	cs, err := r.k.ptr(task + r.cgroups)
	if err != nil || cs == 0 {
		return 0, false
	}
	css, err := r.k.ptr(cs + r.subsys + 8*uint64(r.id))
	if err != nil || css == 0 {
		return 0, false
	}
	return css - r.css, true
}

// parent is a memory cgroup's parent; false at the root.
func (r *memcgReader) parent(memcg uint64) (uint64, bool) {
	p, err := r.k.ptr(memcg + r.css + r.cssParent)
	if err != nil || p == 0 {
		return 0, false
	}
	return p - r.css, true
}

// read reads one memory cgroup's counters and path.
func (r *memcgReader) read(memcg uint64) analysis.MemoryCgroup {
	c := analysis.MemoryCgroup{Addr: analysis.Hex(memcg), Path: r.path(memcg)}
	ps := uint64(r.k.Dump.PageSize)
	usage, _ := r.k.i64(memcg + r.memory + r.usage)
	c.Usage = positive(usage)
	if max, err := r.k.u64(memcg + r.memory + r.max); err == nil && max < uint64(math.MaxInt64)/ps {
		c.Limit = max // PAGE_COUNTER_MAX (LONG_MAX / PAGE_SIZE) is no limit
	}
	c.Failcnt, _ = r.k.u64(memcg + r.memory + r.failcnt)
	if r.hasSwap {
		v, _ := r.k.i64(memcg + r.swap + r.usage)
		c.SwapUsage = positive(v)
	}
	if r.hasEvents {
		v, _ := r.k.i64(memcg + r.events + 8*uint64(r.evOOM))
		c.OOM = positive(v)
		v, _ = r.k.i64(memcg + r.events + 8*uint64(r.evKill))
		c.OOMKill = positive(v)
	}
	return c
}

// path is the cgroup's path in its hierarchy: its kernfs node's name and
// its ancestors', "/" for the root.
func (r *memcgReader) path(memcg uint64) string {
	if p, ok := r.paths[memcg]; ok {
		return p
	}
	cgrp, err := r.k.ptr(memcg + r.css + r.cssCgroup)
	if err != nil || cgrp == 0 {
		return ""
	}
	kn, err := r.k.ptr(cgrp + r.cgKn)
	var parts []string
	for d := 0; err == nil && kn != 0 && d < maxCgroupDepth; d++ {
		up, err2 := r.k.ptr(kn + r.knUp)
		if err2 != nil || up == 0 {
			break // the root's name is the hierarchy's, not part of paths
		}
		name, err2 := r.k.cstr(kn+r.knName, 256)
		if err2 != nil {
			r.warnings = append(r.warnings, fmt.Sprintf("task_memory: cgroup name at %#x: %v", kn, err2))
			break
		}
		parts = append(parts, name)
		kn = up
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	p := "/" + strings.Join(parts, "/")
	r.paths[memcg] = p
	return p
}
