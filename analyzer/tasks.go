package analyzer

import (
	"fmt"
	"math/bits"
	"sort"
)

// Task is one kernel task (a thread).
type Task struct {
	Addr  uint64 `json:"task"` // struct task_struct address
	PID   int32  `json:"pid"`
	TGID  int32  `json:"tgid"`
	PPID  int32  `json:"ppid"`
	CPU   int    `json:"cpu"`
	State string `json:"state"` // one letter, as ps: R S D T t X Z P I
	Comm  string `json:"comm"`
	Idle  bool   `json:"idle,omitempty"` // a CPU's idle task (PID 0)
	Stack uint64 `json:"-"`              // task_struct.stack
}

// taskLayout holds the task_struct offsets the task walk needs.
type taskLayout struct {
	tasks, pid, tgid, comm, state, parent, stack uint64
	cpu                                          uint64
	signal, threadHead, threadNode               uint64
	threads                                      bool // signal->thread_head / thread_node exist (3.14+)
	commLen                                      int
}

func (k *Kernel) taskLayout() (*taskLayout, error) {
	o, err := k.offsets("task_struct", "tasks", "pid", "tgid", "comm", "real_parent", "stack")
	if err != nil {
		return nil, err
	}
	l := &taskLayout{tasks: o[0], pid: o[1], tgid: o[2], comm: o[3], parent: o[4], stack: o[5], commLen: 16}
	if l.state, err = k.off("task_struct", "__state"); err != nil { // 5.14 renamed state to __state
		if l.state, err = k.off("task_struct", "state"); err != nil {
			return nil, err
		}
	}
	if l.cpu, err = k.off("task_struct", "thread_info.cpu"); err != nil {
		if l.cpu, err = k.off("task_struct", "cpu"); err != nil {
			return nil, err
		}
	}
	s, e1 := k.off("task_struct", "signal")
	h, e2 := k.off("signal_struct", "thread_head")
	n, e3 := k.off("task_struct", "thread_node")
	if e1 == nil && e2 == nil && e3 == nil {
		l.signal, l.threadHead, l.threadNode, l.threads = s, h, n, true
	}
	return l, nil
}

// taskStateChars are the letters of task_state_index(), in bit order.
const taskStateChars = "RSDTtXZPI"

// Task state bits of the 4.14+ kernels (include/linux/sched.h).
const (
	taskReport      = 0x7f
	taskIdle        = 0x402 // TASK_UNINTERRUPTIBLE | TASK_NOLOAD
	taskRTLockWait  = 0x1000
	taskReportIdle  = taskReport + 1
	taskUninterrupt = 0x2
)

// stateChar mirrors the kernel's task_state_index().
func stateChar(state, exitState uint32) string {
	s := (state | exitState) & taskReport
	if state == taskIdle {
		s = taskReportIdle
	}
	if state == taskRTLockWait {
		s = taskUninterrupt
	}
	i := bits.Len32(s)
	if i >= len(taskStateChars) {
		return "?"
	}
	return taskStateChars[i : i+1]
}

// readTask reads one task_struct.
func (k *Kernel) readTask(l *taskLayout, addr uint64) (Task, error) {
	t := Task{Addr: addr}
	pid, err := k.u32(addr + l.pid)
	if err != nil {
		return t, fmt.Errorf("task at %#x: %w", addr, err)
	}
	tgid, _ := k.u32(addr + l.tgid)
	t.PID, t.TGID = int32(pid), int32(tgid)
	t.Comm, _ = k.str(addr+l.comm, l.commLen)
	state, _ := k.u32(addr + l.state)
	exitOff, err := k.off("task_struct", "exit_state")
	var exit uint32
	if err == nil {
		exit, _ = k.u32(addr + exitOff)
	}
	t.State = stateChar(state, exit)
	cpu, _ := k.u32(addr + l.cpu)
	t.CPU = int(cpu)
	t.Stack, _ = k.ptr(addr + l.stack)
	if parent, err := k.ptr(addr + l.parent); err == nil && parent != 0 {
		if ppid, err := k.u32(parent + l.pid); err == nil {
			t.PPID = int32(ppid)
		}
	}
	return t, nil
}

// Tasks returns every task: the idle task of each CPU, then every thread of
// every process on init_task's list, sorted by PID. A damaged list ends
// with a warning, keeping the tasks read so far.
func (k *Kernel) Tasks() ([]Task, []string, error) {
	l, err := k.taskLayout()
	if err != nil {
		return nil, nil, err
	}
	initTask, err := k.sym("init_task")
	if err != nil {
		return nil, nil, err
	}
	var tasks []Task
	var warnings []string
	seen := map[uint64]bool{}
	add := func(addr uint64, idle bool) {
		if seen[addr] {
			return
		}
		seen[addr] = true
		t, err := k.readTask(l, addr)
		if err != nil {
			warnings = append(warnings, err.Error())
			return
		}
		if t.Idle = idle; idle {
			t.PPID = 0 // an idle task's real_parent is whoever booted the CPU
		}
		tasks = append(tasks, t)
	}
	for _, idle := range k.idleTasks(initTask) {
		add(idle, true)
	}
	werr := k.listWalk(initTask+l.tasks, func(node uint64) error {
		leader := node - l.tasks
		if !l.threads {
			add(leader, false)
			return nil
		}
		sig, err := k.ptr(leader + l.signal)
		if err != nil || sig == 0 {
			add(leader, false)
			return nil
		}
		if err := k.listWalk(sig+l.threadHead, func(tn uint64) error {
			add(tn-l.threadNode, false)
			return nil
		}); err != nil {
			warnings = append(warnings, fmt.Sprintf("threads of task %#x: %v", leader, err))
		}
		add(leader, false)
		return nil
	})
	if werr != nil {
		warnings = append(warnings, "task list: "+werr.Error())
	}
	sort.SliceStable(tasks, func(i, j int) bool {
		if tasks[i].PID != tasks[j].PID {
			return tasks[i].PID < tasks[j].PID
		}
		return tasks[i].CPU < tasks[j].CPU
	})
	return tasks, warnings, nil
}

// idleTasks returns each possible CPU's idle task (runqueues.idle), or
// init_task alone when the runqueues cannot be read.
func (k *Kernel) idleTasks(initTask uint64) []uint64 {
	rq, err1 := k.sym("runqueues")
	idleOff, err2 := k.off("rq", "idle")
	offs, err3 := k.PerCPUOffsets()
	if err1 != nil || err2 != nil || err3 != nil {
		return []uint64{initTask}
	}
	out := []uint64{initTask}
	for _, o := range offs {
		if t, err := k.ptr(rq + o + idleOff); err == nil && t != 0 {
			out = append(out, t)
		}
	}
	return out
}

// activeTasks maps the task running on each online CPU at the crash to the CPU.
func (k *Kernel) activeTasks() map[uint64]int {
	out := map[uint64]int{}
	cpus, err := k.OnlineCPUs()
	if err != nil {
		return out
	}
	for _, c := range cpus {
		if t, err := k.CurrentTask(c); err == nil {
			out[t] = c
		}
	}
	return out
}

// CurrentTask returns the task running on cpu at the crash (runqueues.curr).
func (k *Kernel) CurrentTask(cpu int) (uint64, error) {
	rq, err := k.sym("runqueues")
	if err != nil {
		return 0, err
	}
	curOff, err := k.off("rq", "curr")
	if err != nil {
		return 0, err
	}
	offs, err := k.PerCPUOffsets()
	if err != nil {
		return 0, err
	}
	if cpu < 0 || cpu >= len(offs) {
		return 0, fmt.Errorf("analyzer: no CPU %d", cpu)
	}
	return k.ptr(rq + offs[cpu] + curOff)
}
