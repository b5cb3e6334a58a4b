package analysis

// The sections after the backtraces: what a support engineer asks crash
// next (kmem -i, kmem -s, ps's RSS, foreach UN bt and who holds the lock,
// runq, dev -d, mount). Each section is nil when it was not computed;
// Missing names, in kernel terms, what a section could not read ("struct
// kmem_cache_node has no member total_objects (CONFIG_SLUB_DEBUG)"), so a
// partial section says exactly what it lacks.

// Memory is the kernel's memory accounting at the crash: /proc/meminfo's
// summary (crash's kmem -i), each zone with its watermarks and its buddy
// free lists (/proc/buddyinfo), each node's totals. Counts are pages of
// PageSize bytes unless a name says otherwise.
type Memory struct {
	PageSize uint64 `json:"page_size"`
	// Total is totalram_pages: the pages the buddy allocator manages.
	Total     uint64 `json:"total"`
	Free      uint64 `json:"free"`      // NR_FREE_PAGES
	Available uint64 `json:"available"` // MemAvailable, as si_mem_available() estimates it
	// Buffers is the page cache of block devices (nr_blockdev_pages()).
	Buffers uint64 `json:"buffers"`
	// Cached is the page cache without swap cache and buffers, as
	// /proc/meminfo and crash count it.
	Cached        uint64 `json:"cached"`
	SwapCached    uint64 `json:"swap_cached"`
	ActiveAnon    uint64 `json:"active_anon"`
	InactiveAnon  uint64 `json:"inactive_anon"`
	ActiveFile    uint64 `json:"active_file"`
	InactiveFile  uint64 `json:"inactive_file"`
	Unevictable   uint64 `json:"unevictable"`
	Mlocked       uint64 `json:"mlocked"`
	Dirty         uint64 `json:"dirty"`
	Writeback     uint64 `json:"writeback"`
	AnonPages     uint64 `json:"anon_pages"`
	Mapped        uint64 `json:"mapped"`
	Shmem         uint64 `json:"shmem"`
	SlabReclaim   uint64 `json:"slab_reclaimable"`
	SlabUnreclaim uint64 `json:"slab_unreclaimable"`
	// KernelStackKB is the memory of kernel stacks in KiB, as the kernel
	// counts it (NR_KERNEL_STACK_KB).
	KernelStackKB uint64 `json:"kernel_stack_kb"`
	PageTables    uint64 `json:"page_tables"`
	SwapTotal     uint64 `json:"swap_total"`
	SwapFree      uint64 `json:"swap_free"`
	// HugePages counts the huge pages of every size in base pages (crash's
	// TOTAL HUGE); the default size's own counts follow.
	HugePages        uint64 `json:"huge_pages"`
	HugePagesFree    uint64 `json:"huge_pages_free"`
	HugePageSize     uint64 `json:"huge_page_size"` // bytes, of the default huge page size
	HugePagesTotalNr uint64 `json:"huge_pages_nr"`  // HugePages_Total of the default size
	HugePagesFreeNr  uint64 `json:"huge_pages_free_nr"`
	// CommitLimit and Committed are the overcommit accounting
	// (vm_commit_limit(), vm_committed_as summed over the CPUs).
	CommitLimit uint64       `json:"commit_limit"`
	Committed   uint64       `json:"committed"`
	Nodes       []MemoryNode `json:"nodes"`
	Zones       []Zone       `json:"zones"`
	Missing     []string     `json:"missing"`
}

// MemoryNode is one NUMA node's memory (a machine without NUMA has node 0).
type MemoryNode struct {
	Node          int    `json:"node"`
	Present       uint64 `json:"present"`
	Managed       uint64 `json:"managed"` // sum of its zones'
	Free          uint64 `json:"free"`
	ActiveAnon    uint64 `json:"active_anon"`
	InactiveAnon  uint64 `json:"inactive_anon"`
	ActiveFile    uint64 `json:"active_file"`
	InactiveFile  uint64 `json:"inactive_file"`
	Shmem         uint64 `json:"shmem"`
	SlabReclaim   uint64 `json:"slab_reclaimable"`
	SlabUnreclaim uint64 `json:"slab_unreclaimable"`
}

// Zone is one memory zone of a node: its size, its watermarks (below min
// only atomic and reclaim allocations succeed; kswapd wakes below low and
// sleeps above high) and the free blocks of each order of its buddy
// allocator, as /proc/buddyinfo shows them.
type Zone struct {
	Node    int    `json:"node"`
	Name    string `json:"name"` // "DMA", "DMA32", "Normal", "Movable", "Device"
	Addr    Hex    `json:"zone"` // struct zone address
	Spanned uint64 `json:"spanned"`
	Present uint64 `json:"present"`
	Managed uint64 `json:"managed"`
	Free    uint64 `json:"free"`
	// Min, Low and High are the watermarks with any boost added, as the
	// allocator compares them.
	Min  uint64 `json:"min"`
	Low  uint64 `json:"low"`
	High uint64 `json:"high"`
	// FreeBlocks[i] is the number of free blocks of 2^i pages.
	FreeBlocks []uint64 `json:"free_blocks"`
}

// Slab is the slab allocator's caches (crash's kmem -s, slabtop).
type Slab struct {
	Allocator string `json:"allocator"` // "slub"
	// Caches has every cache, largest memory first.
	Caches []SlabCache `json:"caches"`
	// Bytes is the memory of all the caches' slabs.
	Bytes   uint64   `json:"bytes"`
	Missing []string `json:"missing"`
}

// SlabCache is one slab cache (struct kmem_cache).
type SlabCache struct {
	Name       string `json:"name"`
	Addr       Hex    `json:"cache"`       // struct kmem_cache address
	ObjectSize uint64 `json:"object_size"` // bytes asked for
	Size       uint64 `json:"size"`        // bytes per object with metadata and alignment
	Allocated  uint64 `json:"allocated"`   // objects in use
	Total      uint64 `json:"total"`       // objects in its slabs, free or not
	Slabs      uint64 `json:"slabs"`
	SlabSize   uint64 `json:"slab_size"` // bytes of one slab (PAGE_SIZE << order)
	// Bytes is the memory its slabs hold (Slabs × SlabSize).
	Bytes       uint64 `json:"bytes"`
	Reclaimable bool   `json:"reclaimable"` // SLAB_RECLAIM_ACCOUNT
	// Error says why the counts are partial (a damaged list).
	Error string `json:"error,omitempty"`
}

// TaskMemory is the memory every process holds, as the OOM killer weighs
// it, and every memory cgroup those processes are in.
type TaskMemory struct {
	// Tasks has one entry per process with an address space (threads
	// share it), highest OOM badness first.
	Tasks []ProcessMemory `json:"tasks"`
	// Cgroups has the memory cgroups of those processes and their
	// ancestors, most memory first.
	Cgroups []MemoryCgroup `json:"cgroups"`
	Missing []string       `json:"missing"`
}

// ProcessMemory is one process's memory: its mm_struct's counters plus
// the counts its threads have not yet folded in. Pages unless named
// otherwise.
type ProcessMemory struct {
	PID     int32  `json:"pid"` // the thread group id
	Comm    string `json:"comm"`
	Task    Hex    `json:"task"` // the thread group leader's task_struct
	UID     uint32 `json:"uid"`
	Threads int    `json:"threads"`
	TotalVM uint64 `json:"total_vm"`
	// RSS is resident pages: Anon + File + Shmem, the counts not yet
	// added to the mm_struct's included (the threads' before 6.2, the
	// CPUs' since), as crash and drgn count.
	RSS uint64 `json:"rss"`
	// MMRSS is the resident pages the mm_struct has counted
	// (get_mm_rss(); since 6.2 the per-CPU counters' central counts):
	// what /proc/PID/status and the OOM killer's task dump show.
	MMRSS          uint64 `json:"mm_rss"`
	Anon           uint64 `json:"anon"`
	File           uint64 `json:"file"`
	Shmem          uint64 `json:"shmem"`
	Swap           uint64 `json:"swap"` // swap entries (MM_SWAPENTS)
	PageTableBytes uint64 `json:"page_table_bytes"`
	OOMScoreAdj    int    `json:"oom_score_adj"`
	// Points is the OOM killer's badness (oom_badness()): MMRSS, swap and
	// page tables in pages, plus oom_score_adj thousandths of all memory
	// (RAM and swap); the process a system-wide OOM would choose has the
	// most. Unkillable processes (oom_score_adj -1000) have the minimum.
	Points int64 `json:"points"`
	// Cgroup is the path of its memory cgroup ("/" for the root).
	Cgroup string `json:"cgroup,omitempty"`
}

// MemoryCgroup is one memory cgroup (struct mem_cgroup).
type MemoryCgroup struct {
	Path  string `json:"path"`
	Addr  Hex    `json:"mem_cgroup"`
	Usage uint64 `json:"usage"` // pages charged (memory.current)
	// Limit is memory.max in pages; 0 means no limit.
	Limit     uint64 `json:"limit"`
	SwapUsage uint64 `json:"swap_usage"`
	// Failcnt counts charges that hit the limit.
	Failcnt uint64 `json:"failcnt"`
	// OOM and OOMKill count the cgroup's OOM events and kills
	// (memory.events oom, oom_kill).
	OOM     uint64 `json:"oom"`
	OOMKill uint64 `json:"oom_kill"`
	// Processes and RSS sum the processes in it (not its descendants).
	Processes int    `json:"processes"`
	RSS       uint64 `json:"rss"`
}

// Locks is what the blocked (D state) tasks wait on: the lock, its owner,
// and chains of owners that themselves wait, with cycles (deadlocks)
// called out.
type Locks struct {
	// Waits has one entry per blocked task.
	Waits []LockWait `json:"waits"`
	// Chains are the wait chains, most blocked tasks first.
	Chains []WaitChain `json:"chains"`
	// Deadlocks are the chains that end where they started.
	Deadlocks []WaitChain `json:"deadlocks"`
	Missing   []string    `json:"missing"`
}

// Lock kinds, as LockWait.Kind and Lock.Kind name them.
const (
	LockMutex      = "mutex"
	LockRwsemRead  = "rwsem_read"  // waits to read an rw_semaphore
	LockRwsemWrite = "rwsem_write" // waits to write it
	LockSemaphore  = "semaphore"
	LockIO         = "io"    // waits for I/O, not on a lock
	LockOther      = "other" // anything else (a completion, a wait queue, ...)
)

// LockWait is what one blocked task waits on.
type LockWait struct {
	PID  int32  `json:"pid"`
	Comm string `json:"comm"`
	Task Hex    `json:"task"`
	Kind string `json:"kind"` // LockMutex, …, LockIO, LockOther
	// Function is where it sleeps: the first frame outside the scheduler
	// and the lock's own slow path.
	Function string `json:"function,omitempty"`
	// Lock is the lock it waits on (nil for io and other).
	Lock *Lock `json:"lock,omitempty"`
}

// Lock is one sleeping lock with waiters.
type Lock struct {
	Kind string `json:"kind"` // LockMutex, LockRwsemRead/Write (as the rwsem is held), LockSemaphore
	Addr Hex    `json:"addr"`
	// Symbol names the lock when it is a kernel or module variable
	// ("crashmod_lock_a [crashmod]").
	Symbol string `json:"symbol,omitempty"`
	// Owner is the PID holding it, 0 when the kernel records no owner (a
	// semaphore, readers of an rwsem) or nobody holds it.
	Owner     int32 `json:"owner,omitempty"`
	OwnerTask Hex   `json:"owner_task,omitempty"`
	// Readers is how many readers hold an rwsem.
	Readers int `json:"readers,omitempty"`
	// Waiters are the PIDs queued on it, first in line first.
	Waiters []int32 `json:"waiters"`
}

// WaitChain is a chain of blocked tasks: the waiters of the first lock
// wait for its owner, who waits on the next lock, and so on to the head,
// a task that waits on no lock (running, or sleeping on something else)
// — or back to the first lock's owner (a deadlock).
type WaitChain struct {
	Locks []Lock `json:"locks"`
	// Head is the task the chain ends at; in a deadlock, the owner of
	// the first lock.
	Head  ChainTask `json:"head"`
	Cycle bool      `json:"cycle"`
	// Blocked counts the distinct tasks waiting anywhere in the chain.
	Blocked int `json:"blocked"`
	// Text says it in a sentence: "2 tasks wait on mutex crashmod_lock_a
	// held by PID 831, which waits on …".
	Text string `json:"text"`
}

// ChainTask is the task at the head of a wait chain, with its stack.
type ChainTask struct {
	PID   int32  `json:"pid"`
	Comm  string `json:"comm"`
	Task  Hex    `json:"task"`
	State string `json:"state"`
	CPU   int    `json:"cpu"`
	// Running says it was on a CPU at the crash.
	Running bool `json:"running"`
	// Function is where it sleeps or runs.
	Function string `json:"function,omitempty"`
	Trace    *Trace `json:"trace,omitempty"`
}

// RunQueues is every online CPU's run queue (crash's runq -t).
type RunQueues struct {
	CPUs    []RunQueue `json:"cpus"`
	Missing []string   `json:"missing"`
}

// RunQueue is one CPU's run queue: the task on the CPU and the tasks
// queued behind it.
type RunQueue struct {
	CPU int `json:"cpu"`
	RQ  Hex `json:"rq"` // struct rq address
	// Clock is rq->clock, nanoseconds: the CPU's scheduler clock at its
	// last update (its last tick, on a busy CPU); crash's runq -t.
	Clock     uint64         `json:"clock_ns"`
	NrRunning uint32         `json:"nr_running"`
	Current   RunQueueTask   `json:"current"`
	Queued    []RunQueueTask `json:"queued"`
}

// RunQueueTask is a task on a run queue.
type RunQueueTask struct {
	PID   int32  `json:"pid"`
	Comm  string `json:"comm"`
	Task  Hex    `json:"task"`
	Class string `json:"class"` // "rt", "fair", "dl", "idle", "stop"
	Prio  int    `json:"prio"`
	// LastArrival is when it last got the CPU (sched_info.last_arrival,
	// on the rq clock); crash's runq -t shows it for the current task.
	LastArrival uint64 `json:"last_arrival_ns"`
	// Waiting is how long a queued task has waited for the CPU
	// (rq->clock - sched_info.last_queued), or how long the current task
	// has run (rq->clock - last_arrival); 0 when unknown.
	Waiting uint64 `json:"waiting_ns"`
	Running uint64 `json:"running_ns,omitempty"`
}

// Block is the block devices with their requests in flight (crash's dev -d).
type Block struct {
	Disks   []Disk   `json:"disks"`
	Missing []string `json:"missing"`
}

// Disk is one disk (struct gendisk).
type Disk struct {
	Name    string `json:"name"`
	Major   uint32 `json:"major"`
	Minor   uint32 `json:"minor"`
	Gendisk Hex    `json:"gendisk"`
	Queue   Hex    `json:"queue"` // struct request_queue
	// MQ says the queue is blk-mq; its requests are then listed.
	MQ bool `json:"mq"`
	// Reads and Writes count the requests in flight, as crash's dev -d.
	Reads  uint64 `json:"reads"`
	Writes uint64 `json:"writes"`
	// Requests are the requests in flight, oldest first (at most 64).
	Requests []Request `json:"requests"`
	// OldestAge is the age of the oldest request in flight, nanoseconds.
	OldestAge uint64 `json:"oldest_age_ns"`
}

// Request is one block request in flight.
type Request struct {
	Addr   Hex    `json:"request"`
	Tag    int    `json:"tag"`
	Op     string `json:"op"` // "read", "write", "flush", "discard", …
	Sector uint64 `json:"sector"`
	Bytes  uint64 `json:"bytes"`
	// Age is how long ago it was started (start_time_ns), nanoseconds.
	Age uint64 `json:"age_ns"`
}

// Filesystems is the initial mount namespace's mounts with their
// superblocks' state (crash's mount).
type Filesystems struct {
	Mounts  []Mount  `json:"mounts"`
	Missing []string `json:"missing"`
}

// Mount is one mount and its superblock.
type Mount struct {
	Mount      Hex    `json:"mount"` // struct mount
	Superblock Hex    `json:"superblock"`
	Type       string `json:"type"`
	Device     string `json:"device"`
	Dir        string `json:"dir"`
	// ReadOnly is set when the superblock or the mount is read-only.
	ReadOnly bool `json:"read_only"`
	// Frozen is the superblock's freeze level: "" (not frozen), "write",
	// "pagefault", "fs", "complete".
	Frozen string `json:"frozen,omitempty"`
	// Flags are the superblock's s_flags by name ("SB_RDONLY", …).
	Flags []string `json:"flags"`
	// WritebackError is the last writeback error recorded on the
	// superblock (s_wb_err), as an errno name ("EIO").
	WritebackError string `json:"writeback_error,omitempty"`
}

// Findings are the facts the sections establish that explain a crash,
// computed once so that the knowledge base and the views cite the same
// ones. Each is nil when the dump does not show it.
type Findings struct {
	// OOM names the process and memory cgroup holding the memory when
	// the kernel ran out of it (the log shows an OOM) .
	OOM *OOMFinding `json:"oom,omitempty"`
	// Slab is set when unreclaimable slab holds more than
	// SlabUnreclaimableThreshold of the memory.
	Slab *SlabFinding `json:"slab,omitempty"`
	// WaitChain is the wait chain holding the most blocked tasks.
	WaitChain *WaitChain `json:"wait_chain,omitempty"`
	// Deadlock is the first cycle of lock owners.
	Deadlock *WaitChain `json:"deadlock,omitempty"`
	// Starved is the CPU whose queued tasks waited longest, when one
	// waited StarvedThresholdNS or more.
	Starved *StarvedCPU `json:"starved,omitempty"`
	// StuckIO is the disk with the oldest request in flight, when it has
	// been in flight StuckIOThresholdNS or more.
	StuckIO *StuckIO `json:"stuck_io,omitempty"`
	// BlockedIO is set when blocked tasks wait for I/O (in io_schedule)
	// rather than on a lock: a device or filesystem that stopped
	// completing requests.
	BlockedIO *BlockedIO `json:"blocked_io,omitempty"`
}

// BlockedIO is the blocked tasks waiting for I/O.
type BlockedIO struct {
	PIDs []int32 `json:"pids"`
	// Functions are where they sleep, most tasks first.
	Functions []string `json:"functions"`
	Text      string   `json:"text"`
}

// Thresholds of the findings: unreclaimable slab above this share of
// memory sets Findings.Slab; a queued task waiting this long for its CPU
// sets Findings.Starved (a busy CPU's queue turns over within tens of
// milliseconds); a request in flight this long sets Findings.StuckIO.
const (
	SlabUnreclaimableThreshold = 0.25
	StarvedThresholdNS         = 1e9
	StuckIOThresholdNS         = 1e9
)

// OOMFinding is who held the memory in an out-of-memory crash.
type OOMFinding struct {
	// Scope is "memcg" when a memory cgroup hit its limit, else "system".
	Scope string `json:"scope"`
	// Cgroup is the cgroup at its limit (Scope memcg), or the cgroup of
	// the process.
	Cgroup      string `json:"cgroup,omitempty"`
	CgroupUsage uint64 `json:"cgroup_usage,omitempty"` // pages
	CgroupLimit uint64 `json:"cgroup_limit,omitempty"` // pages
	// The process with the most OOM badness in the scope.
	PID    int32  `json:"pid"`
	Comm   string `json:"comm"`
	RSS    uint64 `json:"rss"` // pages
	Swap   uint64 `json:"swap"`
	Points int64  `json:"points"`
	Text   string `json:"text"`
}

// SlabFinding is unreclaimable slab over the threshold.
type SlabFinding struct {
	Bytes    uint64  `json:"bytes"`
	Fraction float64 `json:"fraction"` // of total memory
	// Caches are the largest caches, largest first (at most 5).
	Caches []string `json:"caches"`
	Text   string   `json:"text"`
}

// StarvedCPU is a CPU with tasks queued behind its current task.
type StarvedCPU struct {
	CPU     int    `json:"cpu"`
	PID     int32  `json:"pid"` // the task on the CPU
	Comm    string `json:"comm"`
	Queued  int    `json:"queued"`
	Longest uint64 `json:"longest_wait_ns"`
	Text    string `json:"text"`
}

// StuckIO is the disk with the oldest request in flight.
type StuckIO struct {
	Disk     string `json:"disk"`
	InFlight uint64 `json:"in_flight"`
	Oldest   uint64 `json:"oldest_age_ns"`
	Text     string `json:"text"`
}
