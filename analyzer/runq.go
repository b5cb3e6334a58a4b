package analyzer

import (
	"fmt"
	"slices"

	"github.com/vmcore/vmcore/analysis"
)

// maxRunQueueTasks bounds the tasks read off one CPU's run queue, and
// maxGroupDepth the nesting of task groups (cgroups with their own cfs_rq).
const (
	maxRunQueueTasks = 1 << 16
	maxGroupDepth    = 32
)

// runqLayout is what the run-queue walk reads, by name.
type runqLayout struct {
	runqueues                                  uint64
	curr, idle, clock, nrRunning, cfs, rt, dl  uint64
	cfsTimeline, cfsCurr                       uint64
	seRunNode, seMyQ                           uint64
	hasMyQ                                     bool
	taskSE, taskRT, taskDL, taskPrio, taskSchd uint64
	lastArrival, lastQueued                    uint64
	hasSchedInfo, hasLastQueued                bool
	rtActive, rtQueue, rtBitmap, rtRunList     uint64
	rtQueues                                   uint64
	hasRT                                      bool
	dlRoot, dlRBNode                           uint64
	hasDL                                      bool
	rbLeft, rbRight                            uint64
	tl                                         *taskLayout
}

func (k *Kernel) runqLayout(n *layoutNeeds) (*runqLayout, bool) {
	l := &runqLayout{}
	var ok [13]bool
	l.runqueues, ok[0] = n.sym("runqueues")
	l.curr, ok[1] = n.off("rq", "curr")
	l.clock, ok[2] = n.off("rq", "clock")
	l.nrRunning, ok[3] = n.off("rq", "nr_running")
	l.cfs, ok[4] = n.off("rq", "cfs")
	l.cfsTimeline, ok[5] = n.off("cfs_rq", "tasks_timeline")
	l.seRunNode, ok[6] = n.off("sched_entity", "run_node")
	l.taskSE, ok[7] = n.off("task_struct", "se")
	l.taskPrio, ok[8] = n.off("task_struct", "prio")
	l.rbLeft, ok[9] = n.off("rb_node", "rb_left")
	l.rbRight, ok[10] = n.off("rb_node", "rb_right")
	l.idle, ok[11] = n.off("rq", "idle")
	l.taskSchd, ok[12] = n.off("task_struct", "sched_class")
	l.cfsCurr, _ = n.off("cfs_rq", "curr")
	l.seMyQ, l.hasMyQ = n.tryOffOK("sched_entity", "my_q")      // CONFIG_FAIR_GROUP_SCHED
	if si, found := n.off("task_struct", "sched_info"); found { // CONFIG_SCHED_INFO
		if a, found := n.off("sched_info", "last_arrival"); found {
			l.lastArrival, l.hasSchedInfo = si+a, true
		}
		if q, found := n.off("sched_info", "last_queued"); found {
			l.lastQueued, l.hasLastQueued = si+q, true
		}
	}
	var rok [6]bool
	l.rt, rok[0] = n.off("rq", "rt")
	l.rtActive, rok[1] = n.off("rt_rq", "active")
	l.rtQueue, rok[2] = n.off("rt_prio_array", "queue")
	l.rtBitmap, rok[3] = n.off("rt_prio_array", "bitmap")
	l.taskRT, rok[4] = n.off("task_struct", "rt")
	l.rtRunList, rok[5] = n.off("sched_rt_entity", "run_list")
	l.rtQueues, _ = n.arrayLen("rt_prio_array", "queue")
	l.hasRT = !slices.Contains(rok[:], false) && l.rtQueues > 0 && l.rtQueues <= 1024
	var dok [4]bool
	l.dl, dok[0] = n.off("rq", "dl")
	l.dlRoot, dok[1] = n.off("dl_rq", "root")
	l.taskDL, dok[2] = n.off("task_struct", "dl")
	l.dlRBNode, dok[3] = n.off("sched_dl_entity", "rb_node")
	l.hasDL = !slices.Contains(dok[:], false)
	for _, b := range ok {
		if !b {
			return l, false
		}
	}
	var err error
	if l.tl, err = k.taskLayout(); err != nil {
		n.miss("the task_struct layout: %v", err)
		return l, false
	}
	return l, true
}

// RunQueues reads every online CPU's run queue: the running task, the
// real-time, deadline and fair tasks queued behind it (fair ones from the
// red-black tree of each task group, as crash's runq walks it), how long
// each queued task has waited (rq->clock - sched_info.last_queued) and
// the CPU's clock (crash's runq -t).
func (k *Kernel) RunQueues() (*analysis.RunQueues, []string, error) {
	n := k.needs()
	r := &analysis.RunQueues{CPUs: []analysis.RunQueue{}}
	l, ok := k.runqLayout(n)
	if !ok {
		r.Missing = n.Missing()
		return r, nil, errMissing
	}
	offs, err := k.PerCPUOffsets()
	if err != nil {
		return r, nil, err
	}
	cpus, err := k.OnlineCPUs()
	if err != nil {
		return r, nil, err
	}
	classes := k.schedClasses()
	var warnings []string
	for _, cpu := range cpus {
		if cpu >= len(offs) {
			continue
		}
		rq := l.runqueues + offs[cpu]
		q := analysis.RunQueue{CPU: cpu, RQ: analysis.Hex(rq), Queued: []analysis.RunQueueTask{}}
		q.Clock, _ = k.u64(rq + l.clock)
		q.NrRunning, _ = k.u32(rq + l.nrRunning)
		curr, err := k.ptr(rq + l.curr)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("runqueues: CPU %d: %v", cpu, err))
			continue
		}
		q.Current = k.runqTask(l, classes, curr, q.Clock)
		if idle, _ := k.ptr(rq + l.idle); idle == curr {
			q.Current.Class = "idle"
		}
		if q.Current.LastArrival != 0 && q.Current.LastArrival <= q.Clock {
			q.Current.Running = q.Clock - q.Current.LastArrival
		}
		q.Current.Waiting = 0
		seen := map[uint64]bool{curr: true}
		add := func(task uint64, class string) error {
			if seen[task] {
				return nil
			}
			if len(seen) > maxRunQueueTasks {
				return fmt.Errorf("more than %d queued tasks", maxRunQueueTasks)
			}
			seen[task] = true
			t := k.runqTask(l, classes, task, q.Clock)
			t.Class = class
			q.Queued = append(q.Queued, t)
			return nil
		}
		if l.hasRT {
			if err := k.rtQueued(l, rq+l.rt+l.rtActive, add); err != nil {
				warnings = append(warnings, fmt.Sprintf("runqueues: CPU %d real-time queue: %v", cpu, err))
			}
		}
		if l.hasDL {
			err := k.rbWalk(rq+l.dl+l.dlRoot, l.rbLeft, l.rbRight, func(node uint64) error {
				return add(node-l.dlRBNode-l.taskDL, "dl")
			})
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("runqueues: CPU %d deadline queue: %v", cpu, err))
			}
		}
		if err := k.cfsQueued(l, rq+l.cfs, 0, add); err != nil {
			warnings = append(warnings, fmt.Sprintf("runqueues: CPU %d fair queue: %v", cpu, err))
		}
		r.CPUs = append(r.CPUs, q)
	}
	r.Missing = n.Missing()
	return r, warnings, nil
}

// runqTask reads a task for the run-queue listing.
func (k *Kernel) runqTask(l *runqLayout, classes map[uint64]string, task, clock uint64) analysis.RunQueueTask {
	t := analysis.RunQueueTask{Task: analysis.Hex(task)}
	if tk, err := k.readTask(l.tl, task); err == nil {
		t.PID, t.Comm = tk.PID, tk.Comm
	}
	prio, _ := k.i32(task + l.taskPrio)
	t.Prio = int(prio)
	if sc, err := k.ptr(task + l.taskSchd); err == nil {
		t.Class = classes[sc]
	}
	if l.hasSchedInfo {
		t.LastArrival, _ = k.u64(task + l.lastArrival)
	}
	if l.hasLastQueued {
		if lq, err := k.u64(task + l.lastQueued); err == nil && lq != 0 && lq <= clock {
			t.Waiting = clock - lq
		}
	}
	return t
}

// schedClasses names the scheduling classes by their address.
func (k *Kernel) schedClasses() map[uint64]string {
	out := map[uint64]string{}
	for _, c := range []string{"stop", "dl", "rt", "fair", "idle", "ext"} {
		if a, ok := k.Syms.Lookup(c + "_sched_class"); ok {
			out[a] = c
		}
	}
	return out
}

// rtQueued walks the real-time priority array: one list per priority,
// the bitmap saying which are non-empty.
func (k *Kernel) rtQueued(l *runqLayout, array uint64, add func(uint64, string) error) error {
	words := (l.rtQueues + 1 + 63) / 64
	bm, err := k.u64s(array+l.rtBitmap, int(words))
	if err != nil {
		return err
	}
	for prio := uint64(0); prio < l.rtQueues; prio++ {
		if bm[prio/64]>>(prio%64)&1 == 0 {
			continue
		}
		err := k.listWalk(array+l.rtQueue+16*prio, func(node uint64) error {
			return add(node-l.rtRunList-l.taskRT, "rt")
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// cfsQueued walks a cfs_rq's tree in order (leftmost, the next to run,
// first), descending into task groups' own queues.
func (k *Kernel) cfsQueued(l *runqLayout, cfsRQ uint64, depth int, add func(uint64, string) error) error {
	if depth > maxGroupDepth {
		return fmt.Errorf("task groups nest deeper than %d", maxGroupDepth)
	}
	group := func(se uint64) (uint64, bool) {
		if !l.hasMyQ {
			return 0, false
		}
		q, err := k.ptr(se + l.seMyQ)
		return q, err == nil && q != 0
	}
	// The running group's entity is off the tree; its queue holds tasks.
	if curr, err := k.ptr(cfsRQ + l.cfsCurr); err == nil && curr != 0 {
		if q, ok := group(curr); ok {
			if err := k.cfsQueued(l, q, depth+1, add); err != nil {
				return err
			}
		}
	}
	return k.rbWalk(cfsRQ+l.cfsTimeline, l.rbLeft, l.rbRight, func(node uint64) error {
		se := node - l.seRunNode
		if q, ok := group(se); ok {
			return k.cfsQueued(l, q, depth+1, add)
		}
		return add(se-l.taskSE, "fair")
	})
}

// rbWalk visits a red-black tree's nodes in order from its root (a struct
// rb_root, or the rb_root at the start of an rb_root_cached); left and
// right are struct rb_node's rb_left and rb_right.
func (k *Kernel) rbWalk(root, left, right uint64, fn func(node uint64) error) error {
	node, err := k.ptr(root)
	if err != nil {
		return err
	}
	var stack []uint64
	seen := map[uint64]bool{}
	for node != 0 || len(stack) > 0 {
		for node != 0 {
			if seen[node] || len(seen) > maxListEntries {
				return fmt.Errorf("tree at %#x loops at %#x", root, node)
			}
			seen[node] = true
			stack = append(stack, node)
			if node, err = k.ptr(node + left); err != nil {
				return err
			}
		}
		node = stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if err := fn(node); err != nil {
			return err
		}
		if node, err = k.ptr(node + right); err != nil {
			return err
		}
	}
	return nil
}
