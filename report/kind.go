package report

// Kind is the kind of failure a report shows. Kinds are coarser than
// titles: every "WARNING in F" is a WARNING, every "possible deadlock in
// F" and "inconsistent lock state in F" a Lockdep report. The knowledge
// base's rules and the UI key on them.
type Kind string

// The kinds of report. The names of the kinds the project had before the
// report package (NULL pointer dereference … module signature) are kept:
// stored analyses and KB articles use them.
const (
	KindKASAN        Kind = "KASAN"  // KASAN: use-after-free, out-of-bounds, invalid-free…
	KindKFENCE       Kind = "KFENCE" // KFENCE: use-after-free read, memory corruption…
	KindKMSAN        Kind = "KMSAN"  // KMSAN: uninit-value, kernel-infoleak…
	KindKCSAN        Kind = "KCSAN"  // KCSAN: data-race
	KindUBSAN        Kind = "UBSAN"  // UBSAN: shift-out-of-bounds, array-index-out-of-bounds…
	KindNullDeref    Kind = "NULL pointer dereference"
	KindPageFault    Kind = "page fault" // unable to handle kernel paging request
	KindGPF          Kind = "general protection fault"
	KindStackSegment Kind = "stack segment fault"
	// KindArmFault is arm's and arm64's "Unhandled fault", "Internal
	// error" (a synchronous external abort, an Oops - BUG) and
	// "Alignment trap".
	KindArmFault Kind = "arm fault"
	KindBUG      Kind = "BUG" // kernel BUG at file:line
	// KindListCorruption is CONFIG_DEBUG_LIST finding a corrupted list
	// (kernel BUG at lib/list_debug.c).
	KindListCorruption Kind = "list corruption"
	// KindUsercopy is a hardened usercopy check failing.
	KindUsercopy Kind = "bad usercopy"
	KindWARNING  Kind = "WARNING"
	// KindLockdep is a lockdep report: possible deadlock, inconsistent lock
	// state, bad unlock balance, lock held when returning to user space…
	KindLockdep Kind = "lockdep"
	// KindAtomicSleep is sleeping in atomic context: scheduling while
	// atomic, sleeping function called from invalid context, a spinlock
	// bug.
	KindAtomicSleep Kind = "atomic sleep"
	KindMemoryLeak  Kind = "memory leak" // kmemleak
	KindBadPage     Kind = "bad page"    // BUG: Bad page state / map / cache
	KindSoftLockup  Kind = "soft lockup"
	KindHardLockup  Kind = "hard lockup"
	KindHungTask    Kind = "hung task"
	KindRCUStall    Kind = "RCU stall"
	// KindWorkqueueLockup is a workqueue pool stuck for too long.
	KindWorkqueueLockup Kind = "workqueue lockup"
	// KindStackOverflow is a kernel stack overflow: the stack guard page
	// hit, "kernel stack overflow", a corrupted stack end.
	KindStackOverflow  Kind = "stack overflow"
	KindStackProtector Kind = "stack-protector" // a stack canary overwritten
	KindDivideError    Kind = "divide error"
	KindInvalidOpcode  Kind = "invalid opcode"
	KindInt3           Kind = "int3"
	KindDoubleFault    Kind = "double fault"
	KindOOMPanic       Kind = "OOM panic" // panic on out of memory
	KindPanic          Kind = "panic"     // any other Kernel panic - not syncing
	// KindRefcountLeak is unregister_netdevice waiting for a device's
	// references to drop.
	KindRefcountLeak Kind = "refcount leak"
	// KindVFS is a VFS consistency check from older kernels: busy inodes
	// after unmount, a file's count at zero.
	KindVFS Kind = "VFS"
	// KindReboot is a kernel that booted again in the middle of a console
	// log without having printed a report.
	KindReboot Kind = "unexpected reboot"
	// KindTrusty is an ARM Trusty TEE panic reported through its driver.
	KindTrusty Kind = "trusty"
	// KindRust is a panic in Rust kernel code.
	KindRust Kind = "rust panic"
	// KindFuzzer is syzkaller's own failure (SYZFAIL, SYZFATAL).
	KindFuzzer Kind = "fuzzer failure"
	// KindBUGOther is any other "BUG:" line the kernel prints.
	KindBUGOther Kind = "BUG report"
	// KindZFS is an assertion of OpenZFS's SPL failing (VERIFY…
	// failed, PANIC at): the thread stops, the kernel goes on.
	KindZFS Kind = "ZFS assertion"
	// Informational reports: the crash is explained by another report
	// when the text has one.
	KindFilesystem Kind = "filesystem error" // EXT4-fs error, remounted read-only, XFS shut down
	KindIOError    Kind = "I/O error"        // a block device failed a request
	// KindAllocFailure is a page allocation that failed (warn_alloc).
	KindAllocFailure    Kind = "allocation failure"
	KindGPU             Kind = "GPU fault"        // NVRM: Xid, amdgpu ring timeouts
	KindMCE             Kind = "MCE"              // mce: [Hardware Error]
	KindModuleLoad      Kind = "module load"      // Unknown symbol
	KindModuleSignature Kind = "module signature" // module verification failed…
)
