package analyzer_test

import (
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
)

// TestFindings covers the findings' rules on small documents: which
// process and cgroup an OOM names, and the thresholds of the others. The
// corpus tests check the sections the findings are read from.
func TestFindings(t *testing.T) {
	procs := []analysis.ProcessMemory{
		{PID: 1, Comm: "init", RSS: 400, Points: 450, Cgroup: "/"},
		{PID: 136, Comm: "hog", RSS: 8278, Points: 8303, Cgroup: "/corpus-hog"},
		{PID: 90, Comm: "db", RSS: 9000, Points: 9100, Cgroup: "/system.slice/db.service"},
	}
	cgroups := []analysis.MemoryCgroup{{Path: "/", Usage: 9000}, {Path: "/corpus-hog", Usage: 8192, Limit: 8192, Failcnt: 20, OOM: 1},
		{Path: "/system.slice/db.service", Usage: 9100}}
	log := func(lines ...string) []analysis.Record {
		var r []analysis.Record
		for _, l := range lines {
			r = append(r, analysis.Record{Text: l})
		}
		return r
	}
	for _, c := range []struct {
		name string
		doc  analysis.Document
		want func(f analysis.Findings) string // "" when right
	}{
		{"memcg OOM names the cgroup the kernel names and its process", analysis.Document{
			Log: log("hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0", "memory: usage 32768kB, limit 32768kB, failcnt 20",
				"Memory cgroup stats for /corpus-hog:", "Kernel panic - not syncing: Out of memory: compulsory panic_on_oom is enabled"),
			TaskMemory: &analysis.TaskMemory{Tasks: procs, Cgroups: cgroups}},
			func(f analysis.Findings) string {
				if o := f.OOM; o == nil || o.Scope != "memcg" || o.Cgroup != "/corpus-hog" || o.PID != 136 || o.CgroupLimit != 8192 {
					return "want hog in /corpus-hog"
				}
				return ""
			}},
		{"memcg OOM without the stats line: the cgroup at its limit", analysis.Document{
			Log:        log("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,task=hog,pid=136,uid=0"),
			TaskMemory: &analysis.TaskMemory{Tasks: procs, Cgroups: cgroups}},
			func(f analysis.Findings) string {
				if o := f.OOM; o == nil || o.Cgroup != "/corpus-hog" || o.PID != 136 {
					return "want hog in /corpus-hog"
				}
				return ""
			}},
		{"system OOM: the most badness anywhere", analysis.Document{
			Log:        log("Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled"),
			TaskMemory: &analysis.TaskMemory{Tasks: procs, Cgroups: cgroups}},
			func(f analysis.Findings) string {
				if o := f.OOM; o == nil || o.Scope != "system" || o.PID != 90 || !strings.Contains(o.Text, "db (PID 90") {
					return "want db system-wide"
				}
				return ""
			}},
		{"no OOM in the log: no OOM finding", analysis.Document{
			Log: log("sysrq: Trigger a crash"), TaskMemory: &analysis.TaskMemory{Tasks: procs, Cgroups: cgroups}},
			func(f analysis.Findings) string {
				if f.OOM != nil {
					return "an OOM finding without an OOM"
				}
				return ""
			}},
		{"unreclaimable slab over the threshold", analysis.Document{
			Memory: &analysis.Memory{PageSize: 4096, Total: 1000, SlabUnreclaim: 300},
			Slab: &analysis.Slab{Caches: []analysis.SlabCache{{Name: "dentry", Reclaimable: true}, {Name: "kmalloc-64"},
				{Name: "kmalloc-128"}}}},
			func(f analysis.Findings) string {
				if s := f.Slab; s == nil || strings.Join(s.Caches, ",") != "kmalloc-64,kmalloc-128" {
					return "want the unreclaimable caches"
				}
				return ""
			}},
		{"unreclaimable slab under the threshold", analysis.Document{Memory: &analysis.Memory{PageSize: 4096, Total: 1000, SlabUnreclaim: 250}},
			func(f analysis.Findings) string {
				if f.Slab != nil {
					return "no slab finding at 25%"
				}
				return ""
			}},
		{"a queued task waiting a second starves its CPU", analysis.Document{RunQueues: &analysis.RunQueues{CPUs: []analysis.RunQueue{
			{CPU: 0, Current: analysis.RunQueueTask{PID: 29}, Queued: []analysis.RunQueueTask{{PID: 54, Waiting: 25e6}}},
			{CPU: 1, Current: analysis.RunQueueTask{PID: 143, Comm: "sh"}, Queued: []analysis.RunQueueTask{{PID: 128, Waiting: 6e9}, {PID: 21, Waiting: 2e9}}}}}},
			func(f analysis.Findings) string {
				if s := f.Starved; s == nil || s.CPU != 1 || s.Queued != 2 || s.Longest != 6e9 {
					return "want CPU 1"
				}
				return ""
			}},
		{"a busy queue turning over is not starved", analysis.Document{RunQueues: &analysis.RunQueues{CPUs: []analysis.RunQueue{
			{CPU: 0, Queued: []analysis.RunQueueTask{{PID: 54, Waiting: 25e6}}}}}},
			func(f analysis.Findings) string {
				if f.Starved != nil {
					return "no starved CPU at 25 ms"
				}
				return ""
			}},
		{"stuck and fresh I/O", analysis.Document{Block: &analysis.Block{Disks: []analysis.Disk{{Name: "vda", Writes: 1, OldestAge: 3e8},
			{Name: "sdb", Reads: 2, OldestAge: 40e9}, {Name: "dm-0", Writes: 5}}}},
			func(f analysis.Findings) string {
				if s := f.StuckIO; s == nil || s.Disk != "sdb" || s.InFlight != 2 {
					return "want sdb"
				}
				return ""
			}},
		{"deadlock, wait chain and blocked I/O from the locks", analysis.Document{Locks: &analysis.Locks{
			Waits: []analysis.LockWait{{PID: 136, Kind: analysis.LockIO, Function: "folio_wait_writeback"}, {PID: 137, Kind: analysis.LockIO,
				Function: "folio_wait_writeback"}, {PID: 131, Kind: analysis.LockMutex}},
			Chains:    []analysis.WaitChain{{Blocked: 2, Cycle: true, Text: "a"}},
			Deadlocks: []analysis.WaitChain{{Blocked: 2, Cycle: true, Text: "a"}}}},
			func(f analysis.Findings) string {
				if f.Deadlock == nil || f.WaitChain == nil {
					return "want the deadlock and its chain"
				}
				if b := f.BlockedIO; b == nil || len(b.PIDs) != 2 || strings.Join(b.Functions, ",") != "folio_wait_writeback" {
					return "want 2 tasks blocked on I/O in folio_wait_writeback"
				}
				return ""
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := analyzer.Findings(&c.doc)
			if msg := c.want(f); msg != "" {
				t.Errorf("%s: %+v", msg, f)
			}
		})
	}
}
