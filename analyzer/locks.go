package analyzer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vmcore/vmcore/analysis"
)

// Lock-word flags the types do not carry: the low bits of mutex.owner
// (MUTEX_FLAGS) and of rw_semaphore.owner (RWSEM_OWNER_FLAGS_MASK, within
// the same three bits), the writer bit of rw_semaphore.count and where its
// reader count starts (RWSEM_WRITER_LOCKED, RWSEM_READER_SHIFT).
const (
	ownerFlagsMask    = 0x7
	rwsemWriterLocked = 1
	rwsemReaderShift  = 8
	rwsemReaderBits   = 63 - rwsemReaderShift // the top bit is RWSEM_FLAG_READFAIL
	maxWaitScanBytes  = 16 << 10
	defaultThreadSize = 16 << 10
)

// lockKinds maps the slow paths a blocked task sleeps in to the lock it
// waits on and the struct of its waiter on the stack. The first frame
// that matches decides.
var lockKinds = []struct {
	match        func(fn string) bool
	kind         string
	lockType     string // the lock's struct
	waiterType   string // the waiter the slow path keeps on the stack
	waitListPath string
}{
	{func(f string) bool {
		return strings.HasPrefix(f, "rwsem_down_write") || strings.HasPrefix(f, "down_write")
	},
		analysis.LockRwsemWrite, "rw_semaphore", "rwsem_waiter", "wait_list"},
	{func(f string) bool {
		return strings.HasPrefix(f, "rwsem_down_read") || strings.HasPrefix(f, "down_read")
	},
		analysis.LockRwsemRead, "rw_semaphore", "rwsem_waiter", "wait_list"},
	{func(f string) bool {
		return (strings.Contains(f, "mutex_lock") || strings.HasPrefix(f, "__mutex_")) && !strings.Contains(f, "rt_mutex")
	}, analysis.LockMutex, "mutex", "mutex_waiter", "wait_list"},
	{func(f string) bool {
		return f == "down" || f == "__down" || strings.HasPrefix(f, "__down_") ||
			strings.HasPrefix(f, "down_interruptible") || strings.HasPrefix(f, "down_killable") || strings.HasPrefix(f, "down_timeout")
	}, analysis.LockSemaphore, "semaphore", "semaphore_waiter", "wait_list"},
}

// sleepFrames are the scheduler's and the waiting primitives' functions: a
// blocked task's Function is the first frame outside them.
var sleepFrames = []string{"__switch_to", "cpu_switch_to", "context_switch", "finish_task_switch", "__schedule", "schedule", "preempt_schedule", "io_schedule", "__mutex_lock", "mutex_lock",
	"__mutex_", "rwsem_down_", "down_read", "down_write", "__down", "down", "do_wait_for_common", "__wait_for_common",
	"wait_for_completion", "bit_wait", "__wait_on_bit", "out_of_line_wait_on_bit", "folio_wait_bit", "wait_on_page_bit",
	"__folio_lock", "__lock_page", "rq_qos_wait", "__wait_rcu_gp", "__synchronize_srcu", "synchronize_rcu",
	"percpu_rwsem_wait", "__percpu_down_read", "rcuwait_wait_event", "msleep", "usleep_range", "schedule_hrtimeout",
	"__cond_resched", "wait_woken", "__wait_event", "prepare_to_wait"}

func isSleepFrame(fn string) bool {
	for _, p := range sleepFrames {
		if fn == p || strings.HasPrefix(fn, p+".") || strings.HasPrefix(fn, p+"_") || strings.HasPrefix(fn, p) && strings.HasPrefix(p, "__") {
			return true
		}
	}
	return false
}

// waitFunction is where a task sleeps: its first frame outside the sleep
// machinery (or its first frame, when all are).
func waitFunction(t *analysis.Trace) string {
	for _, f := range t.Frames {
		if !f.User && !isSleepFrame(f.Function) {
			return f.Function
		}
	}
	if len(t.Frames) > 0 {
		return t.Frames[0].Function
	}
	return ""
}

// waitKind classifies a blocked task's trace: the lock kind of its first
// lock slow path, io when it sleeps in io_schedule, else other. Only the
// frames of the sleep itself count (inlined ones do not end them): a
// lock taken further up by a caller is not what the task waits on.
func waitKind(t *analysis.Trace) (int, string) {
	for _, f := range t.Frames {
		for i, lk := range lockKinds {
			if lk.match(f.Function) {
				return i, lk.kind
			}
		}
		if strings.HasPrefix(f.Function, "io_schedule") {
			return -1, analysis.LockIO
		}
		if !f.Inline && !isSleepFrame(f.Function) {
			break
		}
	}
	return -1, analysis.LockOther
}

// lockLayout is what the lock reading needs, per lock kind.
type lockLayout struct {
	waiterList, waiterTask map[string]uint64 // by waiter struct
	waitList               map[string]uint64 // by lock struct
	mutexOwner             uint64
	hasMutexOwner          bool
	rwsemOwner, rwsemCount uint64
	hasRwsemOwner          bool
	threadSize             uint64
}

func (k *Kernel) lockLayout(n *layoutNeeds) *lockLayout {
	l := &lockLayout{waiterList: map[string]uint64{}, waiterTask: map[string]uint64{}, waitList: map[string]uint64{}}
	for _, lk := range lockKinds {
		if _, done := l.waitList[lk.lockType]; done {
			continue
		}
		wl, ok1 := n.off(lk.lockType, lk.waitListPath)
		list, ok2 := n.off(lk.waiterType, "list")
		task, ok3 := n.off(lk.waiterType, "task")
		if ok1 && ok2 && ok3 {
			l.waitList[lk.lockType], l.waiterList[lk.waiterType], l.waiterTask[lk.waiterType] = wl, list, task
		}
	}
	l.mutexOwner, l.hasMutexOwner = n.off("mutex", "owner")
	l.rwsemOwner, l.hasRwsemOwner = n.off("rw_semaphore", "owner")
	var ok bool
	if l.rwsemCount, ok = n.off("rw_semaphore", "count"); !ok {
		l.hasRwsemOwner = false
	}
	l.threadSize = defaultThreadSize
	if s, err := k.Types.Size("thread_union"); err == nil && s >= 4096 && s <= 1<<20 {
		l.threadSize = s // THREAD_SIZE: union thread_union's stack[] spans it
	}
	return l
}

// Locks finds what each blocked (D state) task waits on. A task in a
// mutex, rwsem or semaphore slow path has its waiter (struct mutex_waiter,
// rwsem_waiter, semaphore_waiter: a list node and the task) on its stack,
// linked into the lock's wait list; Locks finds that waiter by scanning
// the stack for a node that names the task and whose neighbours point
// back at it, follows the list to the node that is no task's waiter (the
// lock's wait_list), and reads the owner the lock records. Owners that
// wait themselves extend the chain; an owner seen twice closes a cycle: a
// deadlock. traces are the document's traces so far (the blocked tasks'
// and the CPUs'); the heads' traces not among them are unwound here.
func (k *Kernel) Locks(tasks []Task, blocked, cpuTraces []analysis.Trace) (*analysis.Locks, []string, error) {
	n := k.needs()
	out := &analysis.Locks{Waits: []analysis.LockWait{}, Chains: []analysis.WaitChain{}, Deadlocks: []analysis.WaitChain{}}
	l := k.lockLayout(n)
	byAddr := map[uint64]Task{}
	for _, t := range tasks {
		byAddr[t.Addr] = t
	}
	traces := map[uint64]*analysis.Trace{}
	for i := range cpuTraces {
		traces[uint64(cpuTraces[i].Task)] = &cpuTraces[i]
	}
	for i := range blocked {
		traces[uint64(blocked[i].Task)] = &blocked[i]
	}
	running := k.activeTasks()
	var warnings []string
	syms := k.dataSymbols()
	locks := map[uint64]*analysis.Lock{}
	waitOf := map[uint64]uint64{} // task -> the lock it waits on
	for _, t := range tasks {
		if t.State != "D" {
			continue
		}
		tr := traces[t.Addr]
		w := analysis.LockWait{PID: t.PID, Comm: t.Comm, Task: analysis.Hex(t.Addr), Kind: analysis.LockOther}
		if tr == nil {
			w.Function = "(no trace)"
			out.Waits = append(out.Waits, w)
			continue
		}
		w.Function = waitFunction(tr)
		i, kind := waitKind(tr)
		w.Kind = kind
		if i >= 0 {
			lk := lockKinds[i]
			lock, err := k.findLock(l, lk.lockType, lk.waiterType, t, tr, byAddr)
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("locks: PID %d waits on a %s: %v", t.PID, lk.lockType, err))
			} else {
				if locks[lock.addr] == nil {
					lk := k.readLock(l, lock, kind, byAddr, syms)
					locks[lock.addr] = &lk
				}
				waitOf[t.Addr] = lock.addr
				lk := *locks[lock.addr]
				w.Lock = &lk
			}
		}
		out.Waits = append(out.Waits, w)
	}
	// Every waiter of a lock found waits on it, D state or not.
	for addr, lk := range locks {
		for _, pid := range lk.Waiters {
			for a, t := range byAddr {
				if t.PID == pid && waitOf[a] == 0 {
					waitOf[a] = addr
				}
			}
		}
	}
	k.chains(out, locks, waitOf, byAddr, traces, running)
	out.Missing = n.Missing()
	return out, warnings, nil
}

// foundLock is a lock located from a waiter: its address and its wait
// list in order.
type foundLock struct {
	addr     uint64
	lockType string
	waiters  []uint64 // tasks
}

// findLock finds the waiter of task t on its stack and the lock at the
// head of its wait list.
func (k *Kernel) findLock(l *lockLayout, lockType, waiterType string, t Task, tr *analysis.Trace, byAddr map[uint64]Task) (foundLock, error) {
	wl, ok := l.waitList[lockType]
	if !ok {
		return foundLock{}, fmt.Errorf("the layout of struct %s and its waiter is missing", lockType)
	}
	listOff, taskOff := l.waiterList[waiterType], l.waiterTask[waiterType]
	onStack := func(node, task uint64) bool {
		tk, ok := byAddr[task]
		return ok && tk.Stack != 0 && node >= tk.Stack && node < tk.Stack+l.threadSize
	}
	// Scan from the innermost frame to the top of the stack.
	var sp uint64
	if len(tr.Frames) > 0 {
		sp = uint64(tr.Frames[0].SP)
	}
	if sp < t.Stack || sp >= t.Stack+l.threadSize {
		sp = t.Stack
	}
	end := min(t.Stack+l.threadSize, sp+maxWaitScanBytes)
	sp &^= 7
	words, err := k.u64s(sp, int(end-sp)/8)
	if err != nil {
		return foundLock{}, fmt.Errorf("reading its stack: %w", err)
	}
	for i := range words {
		node := sp + 8*uint64(i) + listOff // the waiter's list_head
		if uint64(i)+taskOff/8 >= uint64(len(words)) || words[i+int(taskOff/8)] != t.Addr {
			continue
		}
		next, err1 := k.ptr(node)
		prev, err2 := k.ptr(node + 8)
		if err1 != nil || err2 != nil || next == 0 || prev == 0 || (next|prev)&7 != 0 {
			continue // not a list node; the back links below decide
		}
		if back, err := k.ptr(next + 8); err != nil || back != node {
			continue
		}
		if fwd, err := k.ptr(prev); err != nil || fwd != node {
			continue
		}
		// The list node that is no task's waiter on that task's stack is
		// the lock's wait_list.
		cur := next
		for steps := 0; cur != node && steps < maxListEntries; steps++ {
			owner, err := k.ptr(cur - listOff + taskOff)
			if err != nil || !onStack(cur-listOff, owner) {
				f := foundLock{addr: cur - wl, lockType: lockType}
				k.listWalk(cur, func(e uint64) error {
					if task, err := k.ptr(e - listOff + taskOff); err == nil {
						f.waiters = append(f.waiters, task)
					}
					return nil
				})
				return f, nil
			}
			if cur, err = k.ptr(cur); err != nil {
				break
			}
		}
		return foundLock{}, fmt.Errorf("the wait list through its waiter at %#x has no lock", node)
	}
	return foundLock{}, fmt.Errorf("no %s naming it on its stack", waiterType)
}

// readLock reads a lock's owner (a mutex's owner, an rwsem's writer or
// its count of readers) and names it.
func (k *Kernel) readLock(l *lockLayout, f foundLock, waitKind string, byAddr map[uint64]Task, syms func(uint64) string) analysis.Lock {
	lk := analysis.Lock{Kind: waitKind, Addr: analysis.Hex(f.addr), Symbol: syms(f.addr), Waiters: []int32{}}
	for _, w := range f.waiters {
		if t, ok := byAddr[w]; ok {
			lk.Waiters = append(lk.Waiters, t.PID)
		}
	}
	var owner uint64
	switch f.lockType {
	case "mutex":
		if l.hasMutexOwner {
			v, _ := k.u64(f.addr + l.mutexOwner)
			owner = v &^ ownerFlagsMask
		}
	case "rw_semaphore":
		lk.Kind = analysis.LockRwsemWrite // held for writing unless readers hold it
		if l.hasRwsemOwner {
			count, _ := k.u64(f.addr + l.rwsemCount)
			v, _ := k.u64(f.addr + l.rwsemOwner)
			if count&rwsemWriterLocked != 0 {
				owner = v &^ ownerFlagsMask
			} else if r := count >> rwsemReaderShift & (1<<rwsemReaderBits - 1); r > 0 {
				lk.Kind, lk.Readers = analysis.LockRwsemRead, int(r)
			}
		}
	case "semaphore":
		lk.Kind = analysis.LockSemaphore
	}
	if t, ok := byAddr[owner]; ok {
		lk.Owner, lk.OwnerTask = t.PID, analysis.Hex(owner)
	} else if owner != 0 {
		lk.OwnerTask = analysis.Hex(owner)
	}
	return lk
}

// chains groups the locks into wait chains: a chain starts at a lock no
// other lock's owner waits on and follows each owner to the lock it waits
// on, until an owner that waits on none (the head) or a lock already in
// the chain (a deadlock). Locks only on cycles become one chain per cycle.
func (k *Kernel) chains(out *analysis.Locks, locks map[uint64]*analysis.Lock, waitOf map[uint64]uint64, byAddr map[uint64]Task,
	traces map[uint64]*analysis.Trace, running map[uint64]int) {
	next := func(lock uint64) (uint64, bool) {
		o := uint64(locks[lock].OwnerTask)
		nl, ok := waitOf[o]
		return nl, ok && o != 0 && locks[nl] != nil
	}
	hasPred := map[uint64]bool{}
	var addrs []uint64
	for a := range locks {
		addrs = append(addrs, a)
		if nl, ok := next(a); ok {
			hasPred[nl] = true
		}
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i] < addrs[j] })
	comms := map[int32]string{}
	for _, t := range byAddr {
		comms[t.PID] = t.Comm
	}
	comm := func(pid int32) string { return comms[pid] }
	var u *unwinder
	head := func(task uint64) analysis.ChainTask {
		t := byAddr[task]
		c := analysis.ChainTask{PID: t.PID, Comm: t.Comm, Task: analysis.Hex(task), State: t.State, CPU: t.CPU}
		if cpu, ok := running[task]; ok {
			c.Running, c.CPU = true, cpu
		}
		tr := traces[task]
		if tr == nil && task != 0 {
			if u == nil {
				u, _ = k.newUnwinder()
			}
			bt := traceOf(k.taskBacktrace(u, t))
			tr = &bt
			traces[task] = tr
		}
		if tr != nil {
			c.Trace = tr
			c.Function = waitFunction(tr)
		}
		return c
	}
	build := func(start uint64) analysis.WaitChain {
		ch := analysis.WaitChain{Locks: []analysis.Lock{}}
		inChain := map[uint64]bool{}
		waiters := map[int32]bool{}
		cur := start
		var reentry *analysis.Lock
		for {
			inChain[cur] = true
			lk := *locks[cur]
			ch.Locks = append(ch.Locks, lk)
			for _, p := range lk.Waiters {
				waiters[p] = true
			}
			nl, ok := next(cur)
			if !ok {
				ch.Head = head(uint64(lk.OwnerTask))
				break
			}
			if inChain[nl] {
				ch.Cycle, reentry = true, locks[nl]
				ch.Head = head(uint64(lk.OwnerTask))
				break
			}
			cur = nl
		}
		ch.Blocked = len(waiters)
		ch.Text = chainText(ch, reentry, comm)
		return ch
	}
	// First the chains from locks no owner waits on; what is left after
	// them lies on cycles: one chain per cycle, from its lowest lock.
	done := map[uint64]bool{}
	for _, startsOnly := range []bool{true, false} {
		for _, a := range addrs {
			if done[a] || startsOnly && hasPred[a] {
				continue
			}
			ch := build(a)
			for _, lk := range ch.Locks {
				done[uint64(lk.Addr)] = true
			}
			out.Chains = append(out.Chains, ch)
		}
	}
	// Each cycle once, as a deadlock: the locks on it.
	seenCycle := map[uint64]bool{}
	for _, ch := range out.Chains {
		if !ch.Cycle {
			continue
		}
		last := ch.Locks[len(ch.Locks)-1]
		nl, _ := next(uint64(last.Addr))
		if seenCycle[nl] {
			continue
		}
		var cyc []uint64
		for c, i := nl, 0; i <= len(locks); i++ {
			cyc = append(cyc, c)
			seenCycle[c] = true
			if c, _ = next(c); c == nl {
				break
			}
		}
		low := 0
		for i, c := range cyc {
			if c < cyc[low] {
				low = i
			}
		}
		dl := build(cyc[low])
		out.Deadlocks = append(out.Deadlocks, dl)
	}
	sort.SliceStable(out.Chains, func(i, j int) bool { return out.Chains[i].Blocked > out.Chains[j].Blocked })
}

// chainText says a chain in one sentence; reentry is the lock a cycle
// closes on, and comm names a PID's task.
func chainText(ch analysis.WaitChain, reentry *analysis.Lock, comm func(int32) string) string {
	var b strings.Builder
	lockName := func(lk analysis.Lock) string {
		kind := map[string]string{analysis.LockMutex: "mutex", analysis.LockRwsemRead: "rwsem", analysis.LockRwsemWrite: "rwsem",
			analysis.LockSemaphore: "semaphore"}[lk.Kind]
		if lk.Symbol != "" {
			return kind + " " + lk.Symbol
		}
		return fmt.Sprintf("%s %#x", kind, uint64(lk.Addr))
	}
	for i, lk := range ch.Locks {
		if i == 0 {
			fmt.Fprintf(&b, "%d %s on %s", len(lk.Waiters), plural(len(lk.Waiters), "task waits", "tasks wait"), lockName(lk))
		} else {
			fmt.Fprintf(&b, ", which waits on %s", lockName(lk))
		}
		switch {
		case lk.Owner != 0:
			fmt.Fprintf(&b, " held by PID %d", lk.Owner)
			if c := comm(lk.Owner); c != "" {
				fmt.Fprintf(&b, " (%s)", c)
			}
		case lk.Readers > 0:
			fmt.Fprintf(&b, " held by %d %s", lk.Readers, plural(lk.Readers, "reader", "readers"))
		case lk.OwnerTask != 0:
			fmt.Fprintf(&b, " held by task %#x", uint64(lk.OwnerTask))
		default:
			b.WriteString(" (the kernel records no owner)")
		}
	}
	h := ch.Head
	switch {
	case ch.Cycle:
		// The last owner waits on a lock already in the chain.
		fmt.Fprintf(&b, ", which waits on %s: a deadlock", lockName(*reentry))
	case h.PID == 0 && h.Task == 0:
	case h.Running:
		fmt.Fprintf(&b, ", running on CPU %d", h.CPU)
		if h.Function != "" {
			fmt.Fprintf(&b, " in %s", h.Function)
		}
	case h.Function != "":
		fmt.Fprintf(&b, ", sleeping (%s) in %s", h.State, h.Function)
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// dataSymbols names a kernel or module variable holding an address
// ("crashmod_lock_a [crashmod]", "mutexes+0x40"); "" when none does.
// Module symbols are read on first use.
func (k *Kernel) dataSymbols() func(uint64) string {
	var mods []modDataSyms
	loaded := false
	name := func(s Symbol, addr uint64, mod string) string {
		n := s.Name
		if addr != s.Addr {
			n = fmt.Sprintf("%s+%#x", s.Name, addr-s.Addr)
		}
		if mod != "" {
			n += " [" + mod + "]"
		}
		return n
	}
	return func(addr uint64) string {
		if s, ok := k.Syms.Symbolize(addr); ok && s.Addr <= addr && (s.Size == 0 || addr < s.Addr+s.Size) && !isText(s.Type) {
			return name(s, addr, "")
		}
		if !loaded {
			loaded = true
			mods = k.moduleDataSymbols()
		}
		for _, m := range mods {
			for _, s := range m.syms {
				if addr >= s.Addr && addr < s.Addr+max(s.Size, 1) {
					return name(s, addr, m.name)
				}
			}
		}
		return ""
	}
}

// modDataSyms are one module's data symbols.
type modDataSyms struct {
	name string
	syms []Symbol
}

// moduleDataSymbols reads the STT_OBJECT symbols of every module's
// kallsyms (module.kallsyms: symtab, num_symtab, strtab).
func (k *Kernel) moduleDataSymbols() []modDataSyms {
	mods, _, err := k.Modules()
	if err != nil {
		return nil
	}
	ksOff, err1 := k.off("module", "kallsyms")
	o, err2 := k.offsets("mod_kallsyms", "symtab", "num_symtab", "strtab")
	if err1 != nil || err2 != nil {
		return nil
	}
	var out []modDataSyms
	for _, m := range mods {
		mk, err := k.ptr(m.Addr + ksOff)
		if err != nil || mk == 0 {
			continue
		}
		symtab, _ := k.ptr(mk + o[0])
		num, _ := k.u32(mk + o[1])
		strtab, _ := k.ptr(mk + o[2])
		if symtab == 0 || strtab == 0 || num == 0 || num > maxModuleSyms {
			continue
		}
		b := make([]byte, 24*int(num))
		if err := k.mem.read(b, symtab); err != nil {
			continue
		}
		bo := k.Dump.ByteOrder
		md := modDataSyms{name: m.Name}
		for i := 0; i < int(num); i++ {
			e := b[24*i:]
			if e[4]&0xf != 1 { // STT_OBJECT
				continue
			}
			name, err := k.strAt(strtab+uint64(bo.Uint32(e[0:])), 128)
			if err != nil || name == "" {
				continue
			}
			md.syms = append(md.syms, Symbol{Name: name, Addr: bo.Uint64(e[8:]), Size: bo.Uint64(e[16:]), Type: 'd'})
		}
		out = append(out, md)
	}
	return out
}
