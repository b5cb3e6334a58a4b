package analyzer

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmcore/vmcore/analysis"
)

// oomLog recognises an out-of-memory in the log: the OOM killer's
// invocation, its kill, or the panic it led to. The memory cgroup the
// kernel names when a cgroup's OOM is reported comes with it.
// They compile on first use: a command that never reads a log pays
// nothing at start-up.
var (
	oomLog       = lazyRegexp(`invoked oom-killer: |Out of memory: |Memory cgroup out of memory: |oom-kill:constraint=`)
	oomMemcgLog  = lazyRegexp(`(?:oom_memcg=|Memory cgroup stats for )(/[^\s,:]*)`)
	oomConstrLog = lazyRegexp(`oom-kill:constraint=CONSTRAINT_MEMCG|Memory cgroup stats for `)
)

func lazyRegexp(src string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(src) })
}

// Findings derives from a document's sections and log the facts the
// knowledge base cites: who held the memory in an out-of-memory crash,
// unreclaimable slab over SlabUnreclaimableThreshold, the longest wait
// chain and the first deadlock, the most starved CPU, the oldest I/O in
// flight. A fact whose sections were not computed is absent.
func Findings(a *analysis.Document) analysis.Findings {
	var f analysis.Findings
	f.OOM = oomFinding(a)
	f.Slab = slabFinding(a)
	if a.Locks != nil {
		for i := range a.Locks.Chains {
			if ch := a.Locks.Chains[i]; ch.Blocked > 0 {
				f.WaitChain = &ch
				break
			}
		}
		if len(a.Locks.Deadlocks) > 0 {
			d := a.Locks.Deadlocks[0]
			f.Deadlock = &d
		}
	}
	f.Starved = starvedFinding(a)
	f.StuckIO = stuckIOFinding(a)
	f.BlockedIO = blockedIOFinding(a)
	return f
}

func blockedIOFinding(a *analysis.Document) *analysis.BlockedIO {
	if a.Locks == nil {
		return nil
	}
	b := &analysis.BlockedIO{PIDs: []int32{}, Functions: []string{}}
	count := map[string]int{}
	for _, w := range a.Locks.Waits {
		if w.Kind != analysis.LockIO {
			continue
		}
		b.PIDs = append(b.PIDs, w.PID)
		if count[w.Function]++; count[w.Function] == 1 {
			b.Functions = append(b.Functions, w.Function)
		}
	}
	if len(b.PIDs) == 0 {
		return nil
	}
	sort.SliceStable(b.Functions, func(i, j int) bool { return count[b.Functions[i]] > count[b.Functions[j]] })
	b.Text = fmt.Sprintf("%d blocked %s waiting for I/O, in %s", len(b.PIDs), plural(len(b.PIDs), "task", "tasks"), strings.Join(b.Functions, ", "))
	return b
}

func oomFinding(a *analysis.Document) *analysis.OOMFinding {
	if a.TaskMemory == nil || len(a.TaskMemory.Tasks) == 0 {
		return nil
	}
	var oom, memcgScope bool
	var memcgPath string
	for _, r := range a.Log {
		if oomLog().MatchString(r.Text) {
			oom = true
		}
		if oomConstrLog().MatchString(r.Text) {
			memcgScope = true
		}
		if m := oomMemcgLog().FindStringSubmatch(r.Text); m != nil && memcgPath == "" {
			memcgPath = m[1]
		}
	}
	if !oom {
		return nil
	}
	tm := a.TaskMemory
	ps := uint64(4096)
	if a.Memory != nil && a.Memory.PageSize > 0 {
		ps = a.Memory.PageSize
	}
	o := &analysis.OOMFinding{Scope: "system"}
	var cg *analysis.MemoryCgroup
	if memcgScope {
		for i := range tm.Cgroups {
			if tm.Cgroups[i].Path == memcgPath {
				cg = &tm.Cgroups[i]
			}
		}
	}
	if cg == nil && memcgScope {
		// The log named none we know: the cgroup at its limit.
		for i := range tm.Cgroups {
			c := &tm.Cgroups[i]
			if c.Limit > 0 && c.Usage+c.Usage/100 >= c.Limit && (cg == nil || c.Usage > cg.Usage) {
				cg = c
			}
		}
	}
	if cg != nil {
		o.Scope, o.Cgroup, o.CgroupUsage, o.CgroupLimit = "memcg", cg.Path, cg.Usage, cg.Limit
	}
	var best *analysis.ProcessMemory
	for i := range tm.Tasks {
		p := &tm.Tasks[i]
		if cg != nil && p.Cgroup != cg.Path && !strings.HasPrefix(p.Cgroup, strings.TrimSuffix(cg.Path, "/")+"/") {
			continue
		}
		if best == nil || p.Points > best.Points {
			best = p
		}
	}
	if best == nil {
		return nil
	}
	o.PID, o.Comm, o.RSS, o.Swap, o.Points = best.PID, best.Comm, best.RSS, best.Swap, best.Points
	if o.Cgroup == "" {
		o.Cgroup = best.Cgroup
	}
	if o.Scope == "memcg" {
		o.Text = fmt.Sprintf("memory cgroup %s hit its limit (%s of %s); %s (PID %d) in it held %s resident, %s swapped",
			o.Cgroup, bytesText(o.CgroupUsage*ps), bytesText(o.CgroupLimit*ps), o.Comm, o.PID, bytesText(o.RSS*ps), bytesText(o.Swap*ps))
	} else {
		o.Text = fmt.Sprintf("%s (PID %d, memory cgroup %s) held the most memory: %s resident, %s swapped",
			o.Comm, o.PID, o.Cgroup, bytesText(o.RSS*ps), bytesText(o.Swap*ps))
	}
	return o
}

func slabFinding(a *analysis.Document) *analysis.SlabFinding {
	m := a.Memory
	if m == nil || m.Total == 0 {
		return nil
	}
	frac := float64(m.SlabUnreclaim) / float64(m.Total)
	if frac <= analysis.SlabUnreclaimableThreshold {
		return nil
	}
	s := &analysis.SlabFinding{Bytes: m.SlabUnreclaim * m.PageSize, Fraction: frac, Caches: []string{}}
	if a.Slab != nil {
		for _, c := range a.Slab.Caches {
			if !c.Reclaimable && len(s.Caches) < 5 {
				s.Caches = append(s.Caches, c.Name)
			}
		}
	}
	s.Text = fmt.Sprintf("unreclaimable slab holds %s, %.0f%% of memory", bytesText(s.Bytes), 100*frac)
	if len(s.Caches) > 0 {
		s.Text += "; largest caches: " + strings.Join(s.Caches, ", ")
	}
	return s
}

func starvedFinding(a *analysis.Document) *analysis.StarvedCPU {
	if a.RunQueues == nil {
		return nil
	}
	var best *analysis.StarvedCPU
	for _, q := range a.RunQueues.CPUs {
		if len(q.Queued) == 0 {
			continue
		}
		var longest uint64
		for _, t := range q.Queued {
			longest = max(longest, t.Waiting)
		}
		if longest >= analysis.StarvedThresholdNS && (best == nil || longest > best.Longest) {
			best = &analysis.StarvedCPU{CPU: q.CPU, PID: q.Current.PID, Comm: q.Current.Comm, Queued: len(q.Queued), Longest: longest}
		}
	}
	if best != nil {
		best.Text = fmt.Sprintf("CPU %d runs %s (PID %d) with %d %s queued behind it, waiting up to %s",
			best.CPU, best.Comm, best.PID, best.Queued, plural(best.Queued, "task", "tasks"), time.Duration(best.Longest).Round(time.Millisecond))
	}
	return best
}

func stuckIOFinding(a *analysis.Document) *analysis.StuckIO {
	if a.Block == nil {
		return nil
	}
	var best *analysis.StuckIO
	for _, d := range a.Block.Disks {
		n := d.Reads + d.Writes
		if n == 0 || d.OldestAge < analysis.StuckIOThresholdNS {
			continue
		}
		if best == nil || d.OldestAge > best.Oldest {
			best = &analysis.StuckIO{Disk: d.Name, InFlight: n, Oldest: d.OldestAge}
		}
	}
	if best != nil {
		best.Text = fmt.Sprintf("%s has %d %s in flight, the oldest for %s", best.Disk, best.InFlight,
			plural(int(best.InFlight), "request", "requests"), time.Duration(best.Oldest).Round(time.Millisecond))
	}
	return best
}

// bytesText prints a size in binary units: "32.0 MiB".
func bytesText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n), ""
	for _, s := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v, u = v/unit, s
		if v < unit {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", v, u)
}
