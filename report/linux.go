package report

import (
	"strings"
	"sync"
)

// class is one class of report: the lines that start a report of it hold
// key, and its formats tell the reports of the class apart. The facts (the
// kernel's wording, syzbot's titles and skip rules) are those of syzkaller's
// pkg/report/linux.go.
type class struct {
	// key is a literal every header line of the class holds: the table is
	// tried only on lines that have one, which keeps a huge log cheap.
	key string
	// kind is the kind of a report of the class that no format matches:
	// its title is its header line from key on.
	kind    Kind
	formats []format
	// ignore are lines that hold key but start no report.
	ignore []lazyRE
	// info: the class's reports are informational (see Primary); any
	// other report ends one.
	info bool
	// continues says a line of the class in the middle of another report
	// belongs to that report (the panic it caused, the trap a BUG went
	// through) instead of starting a report of its own.
	continues bool
}

// format is one kind of report within a class.
type format struct {
	kind Kind
	// title finds the report: the earliest match in the report's text
	// wins, the first format on a tie. It may span lines.
	title lazyRE
	// report, when set, must match too: its groups, not title's, fill the
	// template, and a report that matches title but not report is
	// corrupted.
	report lazyRE
	// fmt is the title template: $1…$9 are the groups of report (or
	// title), {{FUNC}} the frame stack picks, {{FUNC2}} the frame of the
	// stack's second trace.
	fmt string
	// alt are templates of alternative titles.
	alt []string
	// stack says where the guilty frames come from; nil for a title
	// without one.
	stack *stackRule
	// noStack: the report needs no call trace to be whole.
	noStack bool
	// corrupted: a report that matches this format is corrupted (a header
	// cut short, a panic whose report was lost).
	corrupted bool
	// rank orders informational reports after real ones (see Primary).
	rank int
}

// Regular expression macros, as in syzkaller's table.
var macros = strings.NewReplacer(
	"{{ADDR}}", `0x[0-9a-f]+`,
	"{{PC}}", `\[\<?(?:0x)?[0-9a-f]+\>?\]`,
	"{{FUNC}}", `([a-zA-Z0-9_]+)(?:\.|\+)`,
	"{{SRC}}", `([a-zA-Z0-9-_/.]+\.[a-z]+:[0-9]+)`,
	"{{TASK}}", `[\s\S]{0,100}?`,
)

// rx is a regular expression with the macros expanded, compiled (and
// expanded) on first use.
func rx(s string) lazyRE { l := re(s); l.macros = true; return l }

// Stack parts shared by many formats.
var (
	// ripFrame is the faulting instruction: x86's RIP/EIP, powerpc's NIP,
	// arm64's "pc :", arm's "PC is at".
	ripFrame  = rx(`(?:IP|NIP|pc |PC is at):? (?:(?:[0-9]+:)?(?:{{PC}} +){0,2}{{FUNC}}|(?:[0-9]+:)?0x[0-9a-f]+|(?:[0-9]+:)?{{PC}} +\[< *\(null\)>\] +\(null\)|[0-9]+: +\(null\))`)
	callTrace = rx(`(?:Call (?:T|t)race:)|(?:Backtrace:)`)
)

// Stack rules shared by many formats.
var (
	// ripThenTrace: the faulting function, else the call trace.
	ripThenTrace = &stackRule{parts: []part{at(ripFrame), at(callTrace), trace}}
	// traceOnly: the call trace after "Call Trace:".
	traceOnly = &stackRule{parts: []part{at(callTrace), trace}}
	// ripOnly: the faulting function alone.
	ripOnly = &stackRule{parts: []part{at(ripFrame)}}
)

// warningStack is a WARNING's: the function at RIP (x86) or the interrupt
// (powerpc), else the call trace, with this format's skips.
func warningStack(skip ...string) *stackRule {
	return &stackRule{
		parts:  []part{at(rx(`(?:` + ripFrame.src + `|--- interrupt: [0-9]+ at {{FUNC}})`)), trace},
		parts2: []part{at(callTrace), trace},
		skip:   skip,
	}
}

// linuxClasses is the recognition table, tried in this order on each line.
// It is built on first use: the table's thousand allocations (its slices
// and lazy expressions) are not paid by programs that never parse an oops,
// such as vmcorectl log.
var linuxClasses = sync.OnceValue(buildLinuxClasses)

func buildLinuxClasses() []class {
	return []class{
		{
			key:  "BUG:",
			kind: KindBUGOther,
			formats: []format{
				{
					kind:   KindKASAN,
					title:  rx(`BUG: KASAN:`),
					report: rx(`BUG: KASAN: ([a-z\-]+) in {{FUNC}}(?:.*\n)+?.*(Read|Write) (?:of size|at addr) (?:[0-9a-f]+)`),
					fmt:    "KASAN: $1 $3 in {{FUNC}}",
					alt:    []string{"bad-access in {{FUNC}}"},
					stack: &stackRule{
						parts: []part{at(rx(`BUG: KASAN: (?:[a-z\-]+) in {{FUNC}}`)), at(callTrace), trace},
						// KASAN_HW_TAGS reports go through the arm64 fault path.
						skip: []string{
							"kernel_fault",
							"tag_check",
							"mem_abort",
							"^el1_",
							"^el1h_",
						},
					},
				},
				{
					kind:   KindKASAN,
					title:  rx(`BUG: KASAN:`),
					report: rx(`BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}`),
					fmt:    "KASAN: invalid-free in {{FUNC}}",
					alt:    []string{"invalid-free in {{FUNC}}"},
					stack: &stackRule{
						parts: []part{at(rx(`BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}`)), at(callTrace), trace},
						skip:  []string{"slab_", "kfree", "vunmap", "vfree"},
					},
				},
				{
					kind:  KindKASAN,
					title: rx(`BUG: KASAN: ([a-z\-]+) on address(?:.*\n)+?.*(Read|Write) of size ([0-9]+)`),
					fmt:   "KASAN: $1 $2",
				},
				{
					kind:      KindKASAN,
					title:     rx(`BUG: KASAN: (.*)`),
					fmt:       "KASAN: $1",
					corrupted: true,
				},
				{
					kind:   KindKMSAN,
					title:  rx(`BUG: KMSAN: kernel-usb-infoleak`),
					report: rx(`BUG: KMSAN: kernel-usb-infoleak in {{FUNC}}`),
					fmt:    "KMSAN: kernel-usb-infoleak in {{FUNC}}",
					alt:    []string{"KMSAN origin in {{FUNC2}}"},
					stack: &stackRule{
						parts: []part{trace, at(rx(`(Local variable .* created at:|Uninit was created at:)`)), trace},
						skip:  []string{"alloc_skb", "usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg", "usb_control_msg"},
					},
					noStack: true,
				},
				{
					kind:   KindKMSAN,
					title:  rx(`BUG: KMSAN:`),
					report: rx(`BUG: KMSAN: ([a-z\-]+) in {{FUNC}}`),
					fmt:    "KMSAN: $1 in {{FUNC}}",
					alt:    []string{"bad-access in {{FUNC}}"},
					stack: &stackRule{
						parts: []part{trace, at(rx(`(Local variable .* created at:|Uninit was created at:)`)), trace},
						skip: []string{
							"alloc_skb",
							"netlink_ack",
							"netlink_rcv_skb",
							// Encryption is where the uninit value is used, but
							// generic crypto code names no bug.
							"_encrypt$",
							"^(?:crypto|cipher|drbg|rng)_",
						},
					},
					noStack: true,
				},
				{
					kind:    KindKCSAN,
					title:   rx(`BUG: KCSAN:`),
					report:  rx(`BUG: KCSAN: (.*)`),
					fmt:     "KCSAN: $1",
					noStack: true,
				},
				{
					kind:  KindKFENCE,
					title: rx(`BUG: KFENCE: (use-after-free|out-of-bounds) (read|write) in {{FUNC}}`),
					fmt:   "KFENCE: $1 $2 in {{FUNC}}",
					alt:   []string{"bad-access in {{FUNC}}"},
					stack: kfenceStack,
				},
				{
					kind:    KindKFENCE,
					title:   rx(`BUG: KFENCE: invalid free in {{FUNC}}`),
					fmt:     "KFENCE: invalid free in {{FUNC}}",
					alt:     []string{"invalid-free in {{FUNC}}"},
					stack:   kfenceStack,
					noStack: true,
				},
				{
					kind:  KindKFENCE,
					title: rx(`BUG: KFENCE: invalid (read|write) in {{FUNC}}`),
					fmt:   "KFENCE: invalid $1 in {{FUNC}}",
					alt:   []string{"bad-access in {{FUNC}}"},
					stack: kfenceStack,
				},
				{
					kind:    KindKFENCE,
					title:   rx(`BUG: KFENCE: memory corruption in {{FUNC}}`),
					fmt:     "KFENCE: memory corruption in {{FUNC}}",
					stack:   kfenceStack,
					noStack: true,
				},
				{
					kind:  KindPageFault,
					title: rx(`BUG: (?:unable to handle kernel paging request|unable to handle page fault for address|Unable to handle kernel data access)`),
					fmt:   "BUG: unable to handle kernel paging request in {{FUNC}}",
					alt:   []string{"bad-access in {{FUNC}}"},
					stack: ripThenTrace,
				},
				{
					kind:  KindNullDeref,
					title: rx(`BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference|Kernel NULL pointer dereference)`),
					fmt:   "BUG: unable to handle kernel NULL pointer dereference in {{FUNC}}",
					alt:   []string{"bad-access in {{FUNC}}"},
					stack: ripThenTrace,
				},
				{
					// The kernel prints the header in two printk calls: the
					// second half gets lost or mixed with other output.
					kind:      KindPageFault,
					title:     rx(`BUG: (?:unable to handle kernel|Unable to handle kernel)`),
					fmt:       "BUG: unable to handle kernel",
					corrupted: true,
				},
				{
					kind:  KindAtomicSleep,
					title: rx(`BUG: (spinlock|rwlock) (lockup suspected|already unlocked|recursion|cpu recursion|bad magic|wrong owner|wrong CPU|trylock failure on UP)`),
					fmt:   "BUG: $1 $2 in {{FUNC}}",
					stack: &stackRule{
						parts: []part{at(callTrace), trace},
						skip: []string{
							"spin_",
							"_lock",
							"_unlock",
						},
					},
				},
				{
					kind:  KindSoftLockup,
					title: rx(`BUG: soft lockup`),
					fmt:   "BUG: soft lockup in {{FUNC}}",
					alt:   []string{"stall in {{FUNC}}"},
					stack: &stackRule{parts: []part{at(ripFrame), at(callTrace), trace}, pick: stallFrame},
				},
				{
					kind:   KindLockdep,
					title:  rx(`BUG: .*still has locks held!`),
					report: rx(`BUG: .*still has locks held!(?:.*\n)+?.*{{PC}} +{{FUNC}}`),
					fmt:    "BUG: still has locks held in $1",
				},
				{
					kind:  KindAtomicSleep,
					title: rx(`BUG: scheduling while atomic`),
					fmt:   "BUG: scheduling while atomic in {{FUNC}}",
					stack: &stackRule{
						parts: []part{at(callTrace), trace},
						skip: []string{
							"schedule",
						},
					},
				},
				{
					kind:    KindLockdep,
					title:   rx(`BUG: lock held when returning to user space`),
					report:  rx(`BUG: lock held when returning to user space(?:.*\n)+?.*leaving the kernel with locks still held(?:.*\n)+?.*at: (?:{{PC}} +)?{{FUNC}}`),
					fmt:     "BUG: lock held when returning to user space in $1",
					noStack: true,
				},
				{
					kind:  KindLockdep,
					title: rx(`BUG: bad unlock balance detected!`),
					fmt:   "BUG: bad unlock balance in {{FUNC}}",
					stack: &stackRule{parts: []part{at(rx(`{{PC}} +{{FUNC}}`)), at(callTrace), trace}},
				},
				{
					kind:   KindLockdep,
					title:  rx(`BUG: held lock freed!`),
					report: rx(`BUG: held lock freed!(?:.*\n)+?.*{{PC}} +{{FUNC}}`),
					fmt:    "BUG: held lock freed in $1",
				},
				{kind: KindBadPage, title: rx(`BUG: Bad rss-counter state`), fmt: "BUG: Bad rss-counter state", noStack: true},
				{kind: KindBadPage, title: rx(`BUG: non-zero nr_ptes on freeing mm`), fmt: "BUG: non-zero nr_ptes on freeing mm", noStack: true},
				{kind: KindBadPage, title: rx(`BUG: non-zero nr_pmds on freeing mm`), fmt: "BUG: non-zero nr_pmds on freeing mm", noStack: true},
				{
					// The filesystem type and block device the kernel names
					// (loop0, loop1…) would split one bug into many.
					kind:   KindVFS,
					title:  rx(`BUG: Dentry .* still in use`),
					report: rx(`BUG: Dentry .* still in use \([0-9]+\) \[(unmount) of ([^\]]+)\]`),
					fmt:    "BUG: Dentry still in use in $1",
					alt:    []string{"BUG: Dentry still in use [$1 of $2]"},
				},
				{
					kind:  KindBadPage,
					title: rx(`BUG: Bad page (state|cache)`),
					fmt:   "BUG: Bad page $1 in {{FUNC}}",
					stack: &stackRule{
						// The page's allocation stack (page_owner) names the
						// bug; the stack that found the page is only the
						// victim. Without page_owner the report is corrupted.
						parts: []part{at(rx(`page last allocated`)), trace},
						skip: []string{
							"(free|put|get|update|release)_page",
							"free_unref",
							"^_*folio",
							"truncate_inode_pages",
							"page_frag_free",
							"alloc",
							"vmap",
							"page_owner",
						},
					},
				},
				{kind: KindBadPage, title: rx(`BUG: Bad page map`), fmt: "BUG: Bad page map"},
				{kind: KindWorkqueueLockup, title: rx(`BUG: workqueue lockup`), fmt: "BUG: workqueue lockup", noStack: true},
				{
					kind:  KindAtomicSleep,
					title: rx(`BUG: sleeping function called from invalid context at (.*)`),
					fmt:   "BUG: sleeping function called from invalid context in {{FUNC}}",
					stack: traceOnly,
				},
				{
					kind:  KindAtomicSleep,
					title: rx(`BUG: using ([a-z_]+)\(\) in preemptible`),
					fmt:   "BUG: using $1() in preemptible code in {{FUNC}}",
					stack: &stackRule{
						parts: []part{at(callTrace), trace},
						skip:  []string{"dump_stack", "preemption", "preempt", "debug_", "processor_id", "this_cpu"},
					},
				},
				{
					kind:    KindLockdep,
					title:   rx(`BUG: workqueue leaked lock or atomic`),
					report:  rx(`BUG: workqueue leaked lock or atomic(?:.*\n)+?.*last function: ([a-zA-Z0-9_]+)\n`),
					fmt:     "BUG: workqueue leaked lock or atomic in $1",
					noStack: true,
				},
				{
					kind:  KindMemoryLeak,
					title: rx(`BUG: memory leak`),
					fmt:   "memory leak in {{FUNC}}",
					stack: memoryLeakStack,
				},
				{
					kind:  KindStackOverflow,
					title: rx(`BUG: .*stack guard page was hit at`),
					fmt:   "BUG: stack guard page was hit in {{FUNC}}",
					alt:   []string{"stack-overflow in {{FUNC}}"},
					stack: &stackRule{parts: []part{at(ripFrame), at(callTrace), trace}, pick: stallFrame},
				},
				{
					// arm and arm64 word it so; x86 says "WARNING: locking
					// bug", and the title is x86's so both make one bug.
					kind:  KindLockdep,
					title: rx(`BUG: Invalid wait context`),
					fmt:   "WARNING: locking bug in {{FUNC}}",
					stack: &stackRule{
						parts: []part{at(callTrace), trace},
						skip: []string{
							"lock_sock",
							"release_sock",
						},
					},
				},
				{
					kind:      KindBUGOther,
					title:     rx(`BUG:[[:space:]]*(?:\n|$)`),
					fmt:       "BUG: corrupted",
					corrupted: true,
				},
			},
			ignore: []lazyRE{
				rx(`ODEBUG:`),      // CONFIG_DEBUG_OBJECTS
				rx(`Boot_DEBUG:`),  // Android, at boot
				rx(`xlog_status:`), // Android
				rx(`DEBUG:`),       // Android ART
				rx(`BUG: no syscalls can create resource`),
			},
		},
		{
			key:  "WARNING:",
			kind: KindWARNING,
			formats: []format{
				{
					kind:  KindWARNING,
					title: rx(`WARNING: .*lib/debugobjects\.c.* (?:debug_print|debug_check|at)`),
					fmt:   "WARNING: ODEBUG bug in {{FUNC}}",
					// Every user of debug objects reports through it.
					stack: warningStack(

						"debug_",
						"rcu",
						"hrtimer_",
						"timer_",
						"work_",
						"percpu_",
						"vunmap",
						"vfree",
						"__free_",
						"debug_check",
						"kobject_",
					),
				},
				{
					kind:  KindUsercopy,
					title: rx(`WARNING: .*mm/usercopy\.c.* (?:usercopy_warn|at)`),
					fmt:   "WARNING: bad usercopy in {{FUNC}}",
					stack: warningStack(

						"usercopy",
						"__check",
					),
				},
				{
					kind:  KindWARNING,
					title: rx(`WARNING: .*lib/kobject\.c.* (?:kobject_|at)`),
					fmt:   "WARNING: kobject bug in {{FUNC}}",
					stack: warningStack("kobject_"),
				},
				{
					kind:  KindWARNING,
					title: rx(`WARNING: .*fs/proc/generic\.c.* (?:proc_register|at)`),
					fmt:   "WARNING: proc registration bug in {{FUNC}}",
					stack: warningStack("proc_"),
				},
				{
					kind:  KindWARNING,
					title: rx(`WARNING: .*lib/refcount\.c.* (?:refcount_|at)`),
					fmt:   "WARNING: refcount bug in {{FUNC}}",
					stack: warningStack(

						"refcount",
						"kobject_",
					),
				},
				{
					kind:  KindLockdep,
					title: rx(`WARNING: .*kernel/locking/lockdep\.c.*lock_`),
					fmt:   "WARNING: locking bug in {{FUNC}}",
					stack: warningStack(

						"lock_sock",
						"release_sock",
					),
				},
				{
					kind:   KindLockdep,
					title:  rx(`WARNING: .*still has locks held!`),
					report: rx(`WARNING: .*still has locks held!(?:.*\n)+?.*at: {{FUNC}}`),
					fmt:    "WARNING: still has locks held in $1",
				},
				{
					kind:  KindLockdep,
					title: rx(`WARNING: Nested lock was not taken`),
					fmt:   "WARNING: nested lock was not taken in {{FUNC}}",
					stack: warningStack(),
				},
				{
					kind:    KindLockdep,
					title:   rx(`WARNING: lock held when returning to user space`),
					report:  rx(`WARNING: lock held when returning to user space(?:.*\n)+?.*leaving the kernel with locks still held(?:.*\n)+?.*at: (?:{{PC}} +)?{{FUNC}}`),
					fmt:     "WARNING: lock held when returning to user space in $1",
					noStack: true,
				},
				{
					kind:  KindWARNING,
					title: rx(`WARNING: .*mm/.*\.c.* k?.?malloc`),
					fmt:   "WARNING: kmalloc bug in {{FUNC}}",
					stack: warningStack(

						"kmalloc",
						"krealloc",
						"slab",
						"kmem",
					),
				},
				{
					kind:  KindWARNING,
					title: rx(`WARNING: .*mm/vmalloc.c.*__vmalloc_node`),
					fmt:   "WARNING: zero-size vmalloc in {{FUNC}}",
					stack: warningStack(),
				},
				{
					kind:  KindWARNING,
					title: rx(`WARNING: .* usb_submit_urb`),
					fmt:   "WARNING in {{FUNC}}/usb_submit_urb",
					stack: warningStack(

						"usb_submit_urb",
						"usb_start_wait_urb",
						"usb_bulk_msg",
						"usb_interrupt_msg",
						"usb_control_msg",
					),
				},
				{
					// 6.19+: "WARNING: file:line at 0x…, CPU#N: comm/pid" when
					// the symbol is unknown.
					kind:  KindWARNING,
					title: rx(`WARNING: {{SRC}} at 0x\d+, CPU#\d+`),
					fmt:   "WARNING in {{FUNC}}",
					stack: warningStack(),
				},
				{
					kind:  KindWARNING,
					title: rx(`WARNING: .* at {{SRC}} {{FUNC}}`),
					fmt:   "WARNING in {{FUNC}}",
					stack: warningStack(),
				},
				{
					// 6.19+: "WARNING: file:line at func+0x…, CPU#N: comm/pid".
					kind:  KindWARNING,
					title: rx(`WARNING: {{SRC}} at {{FUNC}}`),
					fmt:   "WARNING in {{FUNC}}",
					stack: warningStack(),
				},
				{
					kind:  KindWARNING,
					title: rx(`WARNING: \[.*\] {{SRC}} at {{FUNC}}.*`),
					fmt:   "WARNING in {{FUNC}}",
					stack: warningStack(),
				},
				{
					kind:   KindLockdep,
					title:  rx(`WARNING: possible circular locking dependency detected`),
					report: rx(`WARNING: possible circular locking dependency detected(?:.*\n)+?.*is trying to acquire lock`),
					fmt:    "possible deadlock in {{FUNC}}",
					stack: &stackRule{
						parts: []part{at(rx(`at: (?:{{PC}} +)?{{FUNC}}`)), at(rx(`at: (?:{{PC}} +)?{{FUNC}}`)), trace},
						// The workqueue takes locks of the work items it runs:
						// a deadlock seen in these is the work item's.
						skip: []string{
							"process_one_work",
							"flush_workqueue",
							"drain_workqueue",
							"destroy_workqueue",
						},
					},
				},
				{
					kind:   KindLockdep,
					title:  rx(`WARNING: possible irq lock inversion dependency detected`),
					report: rx(`WARNING: possible irq lock inversion dependency detected(?:.*\n)+?.*just changed the state of lock(?:.*\n)+?.*at: (?:{{PC}} +)?{{FUNC}}`),
					fmt:    "possible deadlock in $1",
				},
				{
					kind:  KindLockdep,
					title: rx(`WARNING: .*-safe -> .*-unsafe lock order detected`),
					fmt:   "possible deadlock in {{FUNC}}",
					stack: &stackRule{parts: []part{at(rx(`which became (?:.*) at:`)), trace}},
				},
				{
					kind:   KindLockdep,
					title:  rx(`WARNING: possible recursive locking detected`),
					report: rx(`WARNING: possible recursive locking detected(?:.*\n)+?.*is trying to acquire lock(?:.*\n)+?.*at: (?:{{PC}} +)?{{FUNC}}`),
					fmt:    "possible deadlock in $1",
				},
				{
					kind:   KindLockdep,
					title:  rx(`WARNING: inconsistent lock state`),
					report: rx(`WARNING: inconsistent lock state(?:.*\n)+?.*takes(?:.*\n)+?.*at: (?:{{PC}} +)?{{FUNC}}`),
					fmt:    "inconsistent lock state in {{FUNC}}",
					stack:  traceOnly,
				},
				{
					kind:   KindLockdep,
					title:  rx(`WARNING: suspicious RCU usage`),
					report: rx(`WARNING: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}`),
					fmt:    "WARNING: suspicious RCU usage in {{FUNC}}",
					stack:  rcuUsageStack,
				},
				{
					kind:    KindWARNING,
					title:   rx(`WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad '([^']+)' value`),
					fmt:     "WARNING: kernel stack regs has bad '$1' value",
					noStack: true,
				},
				{
					kind:    KindWARNING,
					title:   rx(`WARNING: kernel stack frame pointer at [0-9a-f]+ in [^ ]* has bad value`),
					fmt:     "WARNING: kernel stack frame pointer has bad value",
					noStack: true,
				},
				{
					kind:  KindLockdep,
					title: rx(`WARNING: bad unlock balance detected!`),
					fmt:   "WARNING: bad unlock balance in {{FUNC}}",
					stack: &stackRule{parts: []part{at(rx(`{{PC}} +{{FUNC}}`)), at(callTrace), trace}},
				},
				{
					kind:   KindLockdep,
					title:  rx(`WARNING: held lock freed!`),
					report: rx(`WARNING: held lock freed!(?:.*\n)+?.*at:(?: {{PC}})? +{{FUNC}}`),
					fmt:    "WARNING: held lock freed in $1",
				},
				{
					kind:    KindWARNING,
					title:   rx(`WARNING: kernel stack regs .* has bad 'bp' value`),
					fmt:     "WARNING: kernel stack regs has bad value",
					noStack: true,
				},
				{
					kind:    KindWARNING,
					title:   rx(`WARNING: kernel stack frame pointer .* has bad value`),
					fmt:     "WARNING: kernel stack regs has bad value",
					noStack: true,
				},
				{
					// A header a mail client broke after "at": the file and
					// function come on the next line.
					kind:  KindWARNING,
					title: rx(`WARNING: CPU: \d+ PID: \d+ at(?: \S+)?\s*\n\s*(?:\S+:\d+ )?{{FUNC}}`),
					fmt:   "WARNING in {{FUNC}}",
					stack: warningStack(),
				},
				{
					kind:      KindWARNING,
					title:     rx(`WARNING:[[:space:]]*(?:\n|$)`),
					fmt:       "WARNING: corrupted",
					corrupted: true,
				},
			},
			ignore: []lazyRE{
				rx(`WARNING: /etc/ssh/moduli does not exist, using fixed modulus`), // sshd
				rx(`WARNING: workqueue cpumask: online intersect > possible intersect`),
				rx(`WARNING: [Tt]he mand mount option`),
				rx(`WARNING: Unsupported flag value\(s\) of 0x%x in DT_FLAGS_1`), // glibc, when dumped
				rx(`WARNING: Unprivileged eBPF is enabled with eIBRS`),
				rx(`WARNING: fbcon: Driver '(.*)' missed to adjust virtual screen size`),
				rx(`WARNING: See https.* for mitigation options.`),
				rx(`WARNING: kernel not compiled with CPU_SRSO`),
				rx(`EXT4-[Ff][Ss](?: \(.*\))?:`), // __ext4_msg
				rx(`(?i)warning: .* uses (deprecated v2 capabilities|wireless extensions)`),
				rx(`XFS \(\w+\): WARNING`),
			},
		},
		{
			key:  "INFO:",
			kind: KindBUGOther,
			formats: []format{
				{
					kind:   KindLockdep,
					title:  rx(`INFO: possible circular locking dependency detected`),
					report: rx(`INFO: possible circular locking dependency detected \](?:.*\n)+?.*is trying to acquire lock(?:.*\n)+?.*at: {{PC}} +{{FUNC}}`),
					fmt:    "possible deadlock in $1",
				},
				{
					kind:   KindLockdep,
					title:  rx(`INFO: possible irq lock inversion dependency detected`),
					report: rx(`INFO: possible irq lock inversion dependency detected \](?:.*\n)+?.*just changed the state of lock(?:.*\n)+?.*at: {{PC}} +{{FUNC}}`),
					fmt:    "possible deadlock in $1",
				},
				{
					kind:   KindLockdep,
					title:  rx(`INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected`),
					report: rx(`INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected \](?:.*\n)+?.*is trying to acquire(?:.*\n)+?.*at: {{PC}} +{{FUNC}}`),
					fmt:    "possible deadlock in $1",
				},
				{
					kind:   KindLockdep,
					title:  rx(`INFO: possible recursive locking detected`),
					report: rx(`INFO: possible recursive locking detected \](?:.*\n)+?.*is trying to acquire lock(?:.*\n)+?.*at: {{PC}} +{{FUNC}}`),
					fmt:    "possible deadlock in $1",
				},
				{
					kind:   KindLockdep,
					title:  rx(`INFO: inconsistent lock state`),
					report: rx(`INFO: inconsistent lock state \](?:.*\n)+?.*takes(?:.*\n)+?.*at: {{PC}} +{{FUNC}}`),
					fmt:    "inconsistent lock state in $1",
				},
				{
					kind:  KindRCUStall,
					title: rx(`INFO: rcu_(?:preempt|sched|bh|tasks) (?:self-)?detected(?: expedited)? stall`),
					fmt:   "INFO: rcu detected stall in {{FUNC}}",
					alt:   []string{"stall in {{FUNC}}"},
					stack: &stackRule{
						// The interrupted code, after the timer interrupt
						// that found the stall; '?' frames never count.
						parts:  []part{at(rx(`apic_timer_interrupt`)), at(ripFrame), trace},
						parts2: []part{at(rx(`(?:apic_timer_interrupt|Exception stack|el1h_64_irq)`)), trace},
						skip:   []string{"apic_timer_interrupt", "rcu"},
						pick:   stallFrame,
					},
				},
				{
					kind:  KindLockdep,
					title: rx(`INFO: trying to register non-static key`),
					fmt:   "INFO: trying to register non-static key in {{FUNC}}",
					stack: &stackRule{
						parts: []part{at(callTrace), trace},
						skip: []string{
							"stack",
							"lock",
							"IRQ",
						},
					},
				},
				{
					kind:   KindLockdep,
					title:  rx(`INFO: suspicious RCU usage`),
					report: rx(`INFO: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}`),
					fmt:    "INFO: suspicious RCU usage in {{FUNC}}",
					stack:  rcuUsageStack,
				},
				{
					// The task's name may be anything, even what a poster
					// replaced it with.
					kind:  KindHungTask,
					title: rx(`INFO: task {{TASK}} blocked (?:in I/O wait )?for more than [0-9]+ seconds`),
					fmt:   "INFO: task hung in {{FUNC}}",
					alt:   []string{"hang in {{FUNC}}"},
					stack: &stackRule{parts: []part{at(callTrace), trace}, pick: hungTaskFrame},
				},
				{
					kind:  KindHungTask,
					title: rx(`INFO: task {{TASK}} can't die for more than .* seconds`),
					fmt:   "INFO: task can't die in {{FUNC}}",
					alt:   []string{"hang in {{FUNC}}"},
					stack: &stackRule{
						parts: []part{at(callTrace), trace},
						skip: []string{
							"schedule",
						},
					},
				},
				{
					// An old KASAN report that lost its header.
					kind:      KindKASAN,
					title:     rx(`INFO: (Freed|Allocated) in (.*)`),
					fmt:       "INFO: $1 in $2",
					corrupted: true,
				},
				{
					kind:      KindBUGOther,
					title:     rx(`INFO:[[:space:]]*(?:\n|$)`),
					fmt:       "INFO: corrupted",
					corrupted: true,
				},
			},
			ignore: []lazyRE{
				rx(`INFO: lockdep is turned off`),
				rx(`INFO: Stall ended before state dump start`),
				rx(`INFO: NMI handler`),
				rx(`INFO: recovery required on readonly filesystem`),
				rx(`(handler|interrupt).*took too long`),
				rx(`INFO: sys_.* is not present in /proc/kallsyms`), // syzkaller's own output
				rx(`INFO: no syscalls can create resource`),         // syzkaller's own output
				rx(`rmt_storage:INFO:`),                             // Android
				rx(`_INFO:`),                                        // "INVALID BTF_INFO:NUM"
			},
		},
		{
			key: "Unable to handle kernel",
			formats: []format{
				{
					kind:  KindNullDeref,
					title: rx(`Unable to handle kernel (NULL pointer dereference)`),
					fmt:   "BUG: unable to handle kernel $1 in {{FUNC}}",
					alt:   []string{"bad-access in {{FUNC}}"},
					stack: ripThenTrace,
				},
				{
					kind:  KindPageFault,
					title: rx(`Unable to handle kernel (paging request|access to user memory)`),
					fmt:   "BUG: unable to handle kernel $1 in {{FUNC}}",
					alt:   []string{"bad-access in {{FUNC}}"},
					stack: ripThenTrace,
				},
			},
		},
		{
			key: "general protection fault",
			formats: []format{
				{
					kind:  KindGPF,
					title: rx(`general protection fault.*:`),
					fmt:   "general protection fault in {{FUNC}}",
					alt:   []string{"bad-access in {{FUNC}}"},
					stack: ripThenTrace,
				},
			},
			ignore: []lazyRE{
				rx(`general protection fault .* error:\d+ in `), // a user-space process's
			},
		},
		{
			key: "stack segment: ",
			formats: []format{
				{kind: KindStackSegment, title: rx(`stack segment: `), fmt: "stack segment fault in {{FUNC}}", stack: ripThenTrace},
			},
		},
		{
			key:       "Kernel panic",
			kind:      KindPanic,
			continues: true,
			formats: []format{
				{
					// A corrupted stack may leave no symbol for the function.
					kind:    KindStackProtector,
					title:   rx(`Kernel panic - not syncing: stack-protector:`),
					report:  rx(`Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: {{FUNC}}`),
					fmt:     "kernel panic: stack is corrupted in $1",
					noStack: true,
				},
				{
					kind:   KindStackProtector,
					title:  rx(`Kernel panic - not syncing: stack-protector:`),
					report: rx(`Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: [a-f0-9]+`),
					fmt:    "kernel panic: stack is corrupted in {{FUNC}}",
					stack: &stackRule{
						parts: []part{at(callTrace), trace},
						skip: []string{
							"stack_chk",
						},
					},
				},
				{
					kind:   KindStackOverflow,
					title:  rx(`Kernel panic - not syncing: corrupted stack end`),
					report: rx(`Kernel panic - not syncing: corrupted stack end detected inside scheduler`),
					fmt:    "kernel panic: corrupted stack end in {{FUNC}}",
					alt:    []string{"stack-overflow in {{FUNC}}"},
					stack: &stackRule{
						parts: []part{at(callTrace), trace},
						skip: []string{
							"schedule",
							"retint_kernel",
						},
						pick: stallFrame,
					},
				},
				{
					kind:  KindStackOverflow,
					title: rx(`Kernel panic - not syncing: kernel stack overflow`),
					fmt:   "kernel stack overflow in {{FUNC}}",
					alt:   []string{"stack-overflow in {{FUNC}}"},
					stack: &stackRule{
						parts: []part{at(callTrace), trace},
						skip: []string{
							"bad_stack",
						},
						pick: stallFrame,
					},
				},
				{
					// The exit code is the dying init's: one bug, many codes.
					kind:  KindPanic,
					title: rx(`Kernel panic - not syncing: Attempted to kill init!`),
					fmt:   "kernel panic: Attempted to kill init!",
				},
				{
					kind:  KindPanic,
					title: rx(`Kernel panic - not syncing: Couldn't open N_TTY ldisc for [^ ]+ --- error -[0-9]+`),
					fmt:   "kernel panic: Couldn't open N_TTY ldisc",
				},
				{
					// Printed after an oops: alone, the oops before it was lost.
					kind:      KindPanic,
					title:     rx(`Kernel panic - not syncing: Fatal exception`),
					fmt:       "kernel panic: Fatal exception",
					corrupted: true,
				},
				{
					// The same after a WARNING or a sanitizer report.
					kind:      KindPanic,
					title:     rx(`Kernel panic - not syncing: panic_on_warn set`),
					fmt:       "kernel panic: panic_on_warn set",
					corrupted: true,
				},
				{
					// The same after a hung task report.
					kind:      KindPanic,
					title:     rx(`Kernel panic - not syncing: hung_task: blocked tasks`),
					fmt:       "kernel panic: hung_task: blocked tasks",
					corrupted: true,
				},
				{
					// A machine check the kernel could not survive.
					kind:  KindMCE,
					title: rx(`Kernel panic - not syncing: (Fatal (?:local )?[Mm]achine check.*)`),
					fmt:   "kernel panic: $1",
				},
				{
					kind:  KindOOMPanic,
					title: rx(`Kernel panic - not syncing: ((?:Out of memory|System is deadlocked on memory).*)`),
					fmt:   "kernel panic: $1",
				},
				{
					kind:  KindPanic,
					title: rx(`Kernel panic - not syncing: (.*)`),
					fmt:   "kernel panic: $1",
				},
			},
		},
		{
			key:       "PANIC: double fault",
			continues: true,
			formats: []format{
				{kind: KindDoubleFault, title: rx(`PANIC: double fault`), fmt: "PANIC: double fault in {{FUNC}}", stack: ripOnly},
			},
		},
		{
			key: "rust_kernel: panicked",
			formats: []format{
				{
					kind:   KindRust,
					title:  rx(`rust_kernel: panicked`),
					report: rx(`rust_kernel: panicked at [^\n]*?\n(.+?)\n`),
					fmt:    "$1 in {{FUNC}}",
					stack: &stackRule{
						parts: []part{at(callTrace), trace},
						skip: []string{
							`__rustc::rust_begin_unwind`,
						},
					},
				},
			},
		},
		{
			key: "kernel BUG",
			formats: []format{
				{
					kind:  KindUsercopy,
					title: rx(`kernel BUG at mm/usercopy.c`),
					fmt:   "BUG: bad usercopy in {{FUNC}}",
					stack: &stackRule{
						parts: []part{at(callTrace), trace},
						skip: []string{
							"usercopy",
							"__check",
						},
					},
				},
				{
					// CONFIG_DEBUG_LIST found the list broken: the caller of
					// the list operation is named, not __list_del_entry_valid.
					kind:  KindListCorruption,
					title: rx(`kernel BUG at lib/list_debug.c`),
					fmt:   "BUG: corrupted list in {{FUNC}}",
					alt:   []string{"bad-access in {{FUNC}}"}, // memory corruption or a race, often
					stack: traceOnly,
				},
				{
					kind:  KindBUG,
					title: rx(`kernel BUG at (.*)`),
					fmt:   "kernel BUG in {{FUNC}}",
					// skb helpers BUG_ON on their callers' mistakes.
					stack: &stackRule{
						parts: []part{at(ripFrame), at(callTrace), trace},
						skip: []string{
							"^skb_",
						},
					},
				},
			},
		},
		{
			// BUG() without CONFIG_DEBUG_BUGVERBOSE: "Kernel BUG at
			// f+0x1/0x2 [verbose debug info unavailable]".
			key: "Kernel BUG",
			formats: []format{
				{kind: KindBUG, title: rx(`Kernel BUG at {{FUNC}}0x[0-9a-f]+/0x[0-9a-f]+`), fmt: "kernel BUG in $1"},
				{kind: KindBUG, title: rx(`Kernel BUG (.*)`), fmt: "kernel BUG $1"},
			},
		},
		{
			key: "BUG kmalloc-",
			formats: []format{
				{kind: KindKASAN, title: rx(`BUG kmalloc-.*: Object already free`), fmt: "BUG: Object already free"},
			},
		},
		{
			key: "divide error:",
			formats: []format{
				{kind: KindDivideError, title: rx(`divide error: `), fmt: "divide error in {{FUNC}}", stack: ripOnly},
			},
		},
		{
			// A misspelling of the above in 5.9 (9d06c4027f21).
			key: "divide_error:",
			formats: []format{
				{kind: KindDivideError, title: rx(`divide_error: `), fmt: "divide error in {{FUNC}}", stack: ripOnly},
			},
		},
		{
			key:       "invalid opcode:",
			continues: true,
			formats: []format{
				{kind: KindInvalidOpcode, title: rx(`invalid opcode: `), fmt: "invalid opcode in {{FUNC}}", stack: ripOnly},
			},
		},
		{
			key: "int3:",
			formats: []format{
				{kind: KindInt3, title: rx(`int3: `), fmt: "int3 in {{FUNC}}", stack: ripThenTrace},
			},
		},
		{
			key: "UBSAN:",
			formats: []format{
				{
					kind:   KindUBSAN,
					title:  rx(`UBSAN:`),
					report: rx(`UBSAN: Undefined behaviour in`),
					fmt:    "UBSAN: undefined-behaviour in {{FUNC}}",
					stack:  ubsanStack,
				},
				{
					kind:  KindUBSAN,
					title: rx(`UBSAN: array-index-out-of-bounds in`),
					fmt:   "UBSAN: array-index-out-of-bounds in {{FUNC}}",
					alt:   []string{"bad-access in {{FUNC}}"},
					stack: ubsanStack,
				},
				{
					kind:   KindUBSAN,
					title:  rx(`UBSAN:`),
					report: rx(`UBSAN: (.*?) in`),
					fmt:    "UBSAN: $1 in {{FUNC}}",
					stack:  ubsanStack,
				},
			},
		},
		{
			key: "Booting the kernel.",
			formats: []format{
				{kind: KindReboot, title: rx(`^Booting the kernel`), fmt: "unexpected kernel reboot", noStack: true, rank: rankInfo},
			},
			ignore: []lazyRE{
				// The fuzzer echoed boot messages back as a mount option.
				rx(`Parsing ELF|Decompressing Linux|Unknown parameter '`),
			},
		},
		{
			key:       "unregister_netdevice: waiting for",
			continues: true,
			formats: []format{
				{
					kind:    KindRefcountLeak,
					title:   rx(`unregister_netdevice: waiting for (?:.*) to become free`),
					fmt:     "unregister_netdevice: waiting for DEV to become free",
					noStack: true,
				},
			},
		},
		{
			key: "VFS: Close: file count is 0",
			formats: []format{
				{kind: KindVFS, title: rx(`VFS: Close: file count is 0`), fmt: "VFS: Close: file count is zero (use-after-free)", noStack: true},
			},
		},
		{
			key: "VFS: Busy inodes after unmount",
			formats: []format{
				{kind: KindVFS, title: rx(`VFS: Busy inodes after unmount`), fmt: "VFS: Busy inodes after unmount (use-after-free)", noStack: true},
			},
		},
		{
			// arm64 reports some faults as "Internal error: synchronous
			// external abort" where arm says "Unable to handle kernel paging
			// request": the alternative title joins them.
			key:       "Internal error:",
			continues: true,
			formats: []format{
				{kind: KindArmFault, title: rx(`Internal error:`), fmt: "Internal error in {{FUNC}}", alt: []string{"bad-access in {{FUNC}}"}, stack: ripThenTrace},
			},
		},
		{
			// arm's NULL dereference ("Unhandled fault: page domain fault"),
			// x86's general protection fault.
			key: "Unhandled fault:",
			formats: []format{
				{kind: KindArmFault, title: rx(`Unhandled fault:`), fmt: "Unhandled fault in {{FUNC}}", alt: []string{"bad-access in {{FUNC}}"}, stack: ripThenTrace},
			},
		},
		{
			key: "Alignment trap:",
			formats: []format{
				{kind: KindArmFault, title: rx(`Alignment trap:`), fmt: "Alignment trap in {{FUNC}}", stack: ripThenTrace},
			},
		},
		{
			key: "trusty: panic",
			formats: []format{
				{
					kind:    KindTrusty,
					title:   rx(`trusty: panic.* ASSERT FAILED`),
					report:  rx(`trusty: panic \(.*?\):(?: DEBUG)? ASSERT FAILED at \(.*?\): (.+)`),
					fmt:     "trusty: ASSERT FAILED: $1",
					noStack: true,
				},
				{
					kind:      KindTrusty,
					title:     rx(`trusty: panic.* ASSERT FAILED.*: *(.*)`),
					fmt:       "trusty: ASSERT FAILED: $1",
					corrupted: true,
				},
				{
					kind:    KindTrusty,
					title:   rx(`trusty: panic`),
					report:  rx(`trusty: panic \(.*?\): (.+)`),
					fmt:     "trusty: panic: $1",
					noStack: true,
				},
			},
		},
		{
			key: "SYZFAIL:",
			formats: []format{
				{kind: KindFuzzer, title: rx(`SYZFAIL:(.*)`), fmt: "SYZFAIL:$1", noStack: true},
			},
		},
		{
			key: "SYZFATAL:",
			formats: []format{
				{kind: KindFuzzer, title: rx(`SYZFATAL:(.*)`), fmt: "SYZFATAL:$1", noStack: true},
			},
		},
		// The project's own classes: reports syzbot does not title, which
		// are the crashes of the field.
		{
			// kmemleak's own report, as /sys/kernel/debug/kmemleak shows it:
			// syzkaller prints "BUG: memory leak" before it, a user does not.
			// Inside syzkaller's report it is that report's body.
			key:       "unreferenced object 0x",
			continues: true,
			formats: []format{
				{kind: KindMemoryLeak, title: rx(`unreferenced object 0x[0-9a-f]+ \(size`), fmt: "memory leak in {{FUNC}}", stack: memoryLeakStack},
			},
		},
		{
			key: "hard LOCKUP on cpu",
			formats: []format{
				{
					kind:  KindHardLockup,
					title: rx(`Watchdog detected hard LOCKUP on cpu`),
					fmt:   "BUG: hard lockup in {{FUNC}}",
					// A CPU spinning with interrupts off waits in a delay or
					// a spin loop for whatever its caller polls.
					stack: &stackRule{
						parts: []part{at(ripFrame), at(callTrace), trace},
						skip: []string{
							"delay",
							"mwait",
							"cpu_relax",
						},
					},
				},
			},
		},
		{
			// OpenZFS's SPL: "VERIFY3(…) failed (…)", then this line and the
			// stack of the thread it stopped.
			key: "PANIC at ",
			formats: []format{
				{kind: KindZFS, title: rx(`PANIC at [\w.]+:\d+:(\w+)\(\)`), fmt: "ZFS: PANIC in $1", noStack: true},
			},
		},
		// Failures of the field that print no report of their own: they title
		// a log that has nothing worse, and never end another report.
		{
			key:       "EXT4-fs error",
			info:      true,
			continues: true,
			formats: []format{
				{kind: KindFilesystem, title: rx(`EXT4-fs error \(device [^)]*\): (\w+)`), fmt: "EXT4-fs error in $1", noStack: true, rank: rankInfo},
			},
		},
		{
			key:       "Remounting filesystem read-only",
			info:      true,
			continues: true,
			formats: []format{
				{kind: KindFilesystem, title: rx(`(EXT\d-fs) \([^)]*\): Remounting filesystem read-only`), fmt: "$1: remounting filesystem read-only", noStack: true, rank: rankInfo},
			},
		},
		{
			key:       "Shutting down filesystem",
			info:      true,
			continues: true,
			formats: []format{
				{kind: KindFilesystem, title: rx(`XFS \([^)]*\):.*Shutting down filesystem`), fmt: "XFS: shutting down filesystem", noStack: true, rank: rankInfo},
			},
		},
		{
			key:       "Buffer I/O error on dev",
			info:      true,
			continues: true,
			formats: []format{
				{kind: KindIOError, title: rx(`Buffer I/O error on dev`), fmt: "Buffer I/O error on dev DEV", noStack: true, rank: rankInfo},
			},
		},
		{
			// blk_update_request (before 5.10) and blk_print_req_error.
			key:       " error, dev ",
			info:      true,
			continues: true,
			formats: []format{
				{kind: KindIOError, title: rx(`(?:I/O|critical medium|critical target|critical space allocation|timeout|recoverable transport) error, dev \w+, sector`), fmt: "I/O error, dev DEV", noStack: true, rank: rankInfo},
			},
		},
		{
			key:       "page allocation failure",
			info:      true,
			continues: true,
			formats: []format{
				{
					kind:  KindAllocFailure,
					title: rx(`page allocation failure[:.] order:\d+`),
					fmt:   "page allocation failure in {{FUNC}}",
					// The caller that asked for the memory, past the
					// allocator.
					stack: &stackRule{
						parts: []part{at(callTrace), trace},
						skip: []string{
							"alloc",
							"slab",
							"kmalloc",
							"compact",
							"get_page_from_freelist",
						},
					},
					rank: rankInfo,
				},
			},
		},
		{
			key:       "NVRM: Xid",
			info:      true,
			continues: true,
			formats: []format{
				{kind: KindGPU, title: rx(`NVRM: Xid`), fmt: "NVRM: Xid", noStack: true, rank: rankInfo},
			},
		},
		{
			key:       "*ERROR* ring ",
			info:      true,
			continues: true,
			formats: []format{
				{kind: KindGPU, title: rx(`\*ERROR\* ring \S+ timeout`), fmt: "GPU: ring timeout", noStack: true, rank: rankInfo},
			},
		},
		{
			key:  "[Hardware Error]",
			info: true,
			formats: []format{
				{kind: KindMCE, title: rx(`\[Hardware Error\]`), fmt: "MCE: Hardware Error", noStack: true, rank: rankInfo},
			},
		},
		{
			key:  "Unknown symbol ",
			info: true,
			formats: []format{
				{kind: KindModuleLoad, title: rx(`\w+: Unknown symbol (\w+)`), fmt: "module load: Unknown symbol $1", noStack: true, rank: rankModuleLoad},
			},
		},
		{
			key:  "Key was rejected by service",
			info: true,
			formats: []format{
				{kind: KindModuleSignature, title: rx(`(Key was rejected by service)`), fmt: "module signature: $1", noStack: true, rank: rankModuleSignature},
			},
		},
		{
			key:  "module verification failed",
			info: true,
			formats: []format{
				{kind: KindModuleSignature, title: rx(`(module verification failed)`), fmt: "module signature: $1", noStack: true, rank: rankModuleSignature},
			},
		},
		{
			key:  "Loading of unsigned module is rejected",
			info: true,
			formats: []format{
				{kind: KindModuleSignature, title: rx(`(Loading of unsigned module is rejected)`), fmt: "module signature: $1", noStack: true, rank: rankModuleSignature},
			},
		},
	}
}

// Ranks of informational reports (see Primary).
const (
	rankInfo            = 1 // a machine check the kernel survived, a reboot
	rankModuleLoad      = 2
	rankModuleSignature = 3
)

var (
	// rcuUsageStack: the call trace past RCU itself and the allocators
	// that check RCU on their callers' behalf.
	rcuUsageStack = &stackRule{
		parts: []part{at(callTrace), trace},
		skip: []string{
			"rcu",
			"kmem",
			"slab",
		},
	}
	// memoryLeakStack: the allocation's backtrace, past the allocator and
	// its wrappers, names the leaking caller.
	memoryLeakStack = &stackRule{
		parts: []part{at(rx(`backtrace(?: \(crc [[:xdigit:]]*\))?:`)), trace},
		skip: []string{
			"kmemleak",
			"mmap",
			"kmem",
			"slab",
			"alloc",
			"create_object",
			"idr_get",
			"list_lru_init",
			"kasprintf",
			"kvasprintf",
			"pcpu_create",
			"strdup",
			"strndup",
			"memdup",
		},
	}
	kfenceStack = &stackRule{parts: []part{at(rx(`BUG: KFENCE: (?:[a-z\- ]+) in {{FUNC}}`)), trace}}
	ubsanStack  = &stackRule{

		parts: []part{at(callTrace), trace},

		skip: []string{

			"ubsan",

			"overflow",
		},
	}
)

// infoWithStack are messages that print a stack but are no bug: in the
// middle of a report they end it.
var infoWithStack = []string{
	"vmalloc: allocation failure:",
	"FAULT_INJECTION: forcing a failure",
	"FAULT_FLAG_ALLOW_RETRY missing",
}
