package report

import (
	"strings"
	"sync"
)

// stackRule says where a report's guilty frame comes from.
type stackRule struct {
	// parts are matched one after the other down the report: a part that
	// is an expression advances to the first line it matches and yields
	// the frames its groups capture; trace reads a call trace's frames up
	// to the next trace. Each trace (and the end) picks one frame from
	// what was yielded since the last.
	parts []part
	// parts2 is tried when parts find no frame.
	parts2 []part
	// skip are this rule's frames that are never guilty, on top of
	// skipEverywhere: expressions matched anywhere in the name.
	skip []string
	// pick chooses the guilty frame among the frames left after the
	// skips; nil takes the first. It returns the frame and its index, or
	// "" when none fits.
	pick func(frames []string) (string, int)

	once sync.Once
	own  *nameSet // skip
}

// part is one step of a stackRule: an expression, or a call trace.
type part struct {
	re    lazyRE
	trace bool
}

// trace reads a call trace.
var trace = part{trace: true}

// at advances to the first line the expression matches.
func at(l lazyRE) part { return part{re: l} }

// stackStarts begin a call trace: a trace part stops reading frames at the
// next one. The KASAN allocation and free stacks, kmemleak's backtrace and
// KMSAN's origin stacks are traces too.
var stackStarts = []lazyRE{
	rx(`Call (?:T|t)race`),
	rx(`Allocated:`),
	rx(`Allocated by task [0-9]+:`),
	rx(`Freed:`),
	rx(`Freed by task [0-9]+:`),
	rx(`[^k] backtrace(?: \(crc [[:xdigit:]]*\))?:`).needs("backtrace"), // kmemleak's, not lockdep's "stack backtrace:"
	rx(`Backtrace:`),
	rx(`Uninit was stored to memory at`),
	riscvStackStart,
}

// riscvStackStart is the last line of riscv's show_regs(), which prints the
// stack without a "Call Trace:" line.
var riscvStackStart = rx(`status: [0-9a-f]{16} badaddr: [0-9a-f]{16} cause: [0-9a-f]{16}`).needs("badaddr")

// frameLines match a call trace frame and capture its function.
var frameLines = []lazyRE{
	rx(`^ *(?:{{PC}} ){0,2}{{FUNC}}`),
	// arm: "[<pc>] (f) from [<lr>] (g+0x…)": f is the frame, g its
	// caller, and the top frame is only in the first line's f.
	rx(`^ *{{PC}} \(([a-zA-Z0-9_.]+)\) from {{PC}} \({{FUNC}}`).needs(") from "),
}

// corruptedFrames in a report mean another stack was printed into it: the
// report is corrupted. The symbol may carry any suffix (".isra.7",
// ".cold").
var corruptedFrames = []lazyRE{
	rx(`^( \[\<?(?:0x)?[0-9a-f]+\>?\])? should_fail(slab)?(\.[a-z0-9.]+)?\+0x`).needs("should_fail"), // fault injection
}

// skipEverywhere are functions that are never the guilty frame of any
// report: they report, trap, check, allocate, lock, copy, format, walk
// lists or wait on behalf of their caller, where the bug is. Each entry is
// an expression matched anywhere in the name (syzkaller's list).
var skipEverywhere = names(
	"__sanitizer",
	"__asan",
	"kasan",
	"hwasan",
	"__msan",
	"kmsan",
	"kcsan_setup_watchpoint",
	"check_memory_region",
	"check_heap_object",
	"check_object",
	"read_word_at_a_time",
	"(read|write)_once_.*nocheck",
	"print_address_description",
	"panic",
	"invalid_op",
	"report_bug",
	"fixup_bug",
	"print_report",
	"print_usage_bug",
	"do_error",
	`_trap$|do_trap`,
	"show_stack",
	"dump_stack",
	"walk_stack",
	"dump_backtrace",
	"warn_slowpath",
	"warn_alloc",
	"warn_bogus",
	"__warn",
	"alloc_page",
	"k?v?(?:m|z|c)alloc", // kmalloc, kzalloc, kvmalloc, kcalloc, vmalloc…
	"krealloc",
	"kmem_cache",
	"allocate_slab",
	"__alloc_frozen_pages_noprof",
	"folio_(?:alloc|unlock)",
	"filemap_alloc_folio",
	"__filemap_get_folio",
	"find_or_create_page",
	"do_read_cache_folio",
	"read_cache_page",
	"pagecache_get_page",
	"grab_cache_page_write_begin",
	"slab_",
	"debug_object",
	"timer_is_static_object",
	"work_is_static_object",
	"__might_fault",
	"print_unlock",
	"imbalance_bug",
	"lockdep",
	"bh_enable",
	"bh_disable",
	"perf_trace",
	"lock_acquire",
	"lock_release",
	"lock_class",
	"mark_lock",
	"(reacquire|mark)_held_locks",
	"raw_spin_rq",
	"spin_lock",
	"spin_trylock",
	"spin_unlock",
	"read_lock",
	"read_trylock",
	"write_lock",
	"write_trylock",
	"read_unlock",
	"write_unlock",
	"^down$",
	"down_read",
	"down_write",
	"down_read_trylock",
	"down_write_trylock",
	"down_trylock",
	"up_read",
	"up_write",
	"^mutex_",
	"^__mutex_",
	"^rt_mutex_",
	"owner_on_cpu",
	"osq_lock",
	"osq_unlock",
	"atomic(64)?_(dec|inc|read|set|or|xor|and|add|sub|fetch|xchg|cmpxchg|try)",
	"(set|clear|change|test)_bit",
	"__wake_up",
	"^refcount_",
	"^kref_",
	"ref_tracker",
	"seqprop_assert",
	"memcpy",
	"memcmp",
	"memset",
	"memchr",
	"memmove",
	"memdup",
	"strcmp",
	"strncmp",
	"strcpy",
	"strlcpy",
	"strncpy",
	"strscpy",
	"strlen",
	"strstr",
	"strnstr",
	"strnlen",
	"strchr",
	"strdup",
	"strndup",
	"copy_to_user",
	"copy_from_user",
	"copy_to_iter",
	"copy_from_iter",
	"copy_page_to_iter",
	"copy_page_from_iter",
	"copy_folio_to_iter",
	"^copyin$",
	"^copyout$",
	"put_user",
	"get_user",
	"might_fault",
	"might_sleep",
	"list_add",
	"list_del",
	"list_replace",
	"list_move",
	"list_splice",
	"^rb_",
	"^__rb_",
	"_indirect_thunk_", // retpolines
	"string",           // vsnprintf's helpers: string, string_nocheck…
	"pointer",
	"snprintf",
	"scnprintf",
	"kasprintf",
	"kvasprintf",
	"printk",
	"va_format",
	"dev_info",
	"dev_notice",
	"dev_warn",
	"dev_err",
	"dev_alert",
	"dev_crit",
	"dev_emerg",
	"program_check_exception", // powerpc's trap for WARN and BUG
	"program_check_common",
	"del_timer",
	"flush_work",
	"__cancel_work_timer",
	"cancel_work_sync",
	"try_to_grab_pending",
	"flush_workqueue",
	"drain_workqueue",
	"destroy_workqueue",
	"queue_work",
	"finish_wait",
	"kthread_stop",
	"kobject_",
	"add_uevent_var",
	"get_device_parent",
	"device_add",
	"device_del",
	"device_unregister",
	"device_destroy",
	"device_release",
	"devres_release_all",
	"hwrng_unregister",
	"i2c_del_adapter",
	"__unregister_client",
	"device_for_each_child",
	"rollback_registered",
	"unregister_netdev",
	"sysfs_remove",
	"device_remove_file",
	"tty_unregister_device",
	"dummy_urb_enqueue",
	"usb_kill_urb",
	"usb_kill_anchored_urbs",
	"usb_control_msg",
	"usb_hcd_submit_urb",
	"usb_submit_urb",
	"^complete$",
	"wait_for_completion",
	"^kv?free$",
	"kfree_skb",
	"readb$",
	"readw$",
	"readl$",
	"readq$",
	"writeb$",
	"writew$",
	"writel$",
	"writeq$",
	"logic_in",
	"logic_out",
	"^crc\\d+",
	"crc_itu_t",
	"__might_resched",
	"assertfail",
	"^iput$", // reference drops: the caller dropped one too many
	"^iput_final$",
	"^ihold$",
	"hex_dump_to_buffer",
	"print_hex_dump",
	"^klist_",
	"(trace|lockdep)_(hard|soft)irq",
	"^(un)?lock_page",
	"stack_trace_consume_entry",
	"arch_stack_walk",
	"stack_trace_save",
	"insert_work",
	"__queue_delayed_work",
	"queue_delayed_work_on",
	"ida_free",
	"do_(kernel|translation)_fault", // arm64's fault handling
	"do_mem_abort",
	"el1_abort",
	"el1h_64_sync(?:_handler)?",
	"print_tainted",
	"xas_(?:start|load|find)",
	"find_lock_entries",
	"truncate_inode_pages_range",
	"__phys_addr",
	"__fortify_report",
	"cleanup_srcu_struct",
	"rhashtable_lookup",
	"extract_(user|iter)_to_sg",
	"drop_nlink",
	"^get_taint$",
	"^put_device$",
	"lock_timer_base",
	"__timer_delete_sync",
	"sk_stop_timer_sync",
	"__mod_timer",
	"fast_dput",
	"dput",
	"mark_buffer_dirty",
)

// genericFrames are the functions the project's own rule (before the
// report package) never took as guilty, matched at the start of the name:
// reporting, panic, exception and interrupt entry, locking, scheduling,
// allocation, watchdog, printk and delay code, and the reference drops
// (iput, dput) whose callers hold the bug. They pick the best guess when a
// class's stack rule finds no frame, and complete IsGenericFrame.
var genericFrames = prefixNames(
	"dump_stack",
	"dump_stack_lvl",
	"show_stack",
	"show_regs",
	"__show_regs",
	"print_",
	"printk",
	"_printk",
	"vprintk",
	"panic",
	"nmi_panic",
	"__crash_kexec",
	"crash_kexec",
	"machine_kexec",
	"check_panic_on_warn",
	"__warn",
	"warn_slowpath",
	"report_bug",
	"handle_bug",
	"do_trap",
	"do_error_trap",
	"die",
	"__die",
	"oops_end",
	"oops_begin",
	"exc_",
	"asm_exc_",
	"asm_sysvec_",
	"sysvec_",
	"__sysvec_",
	"irq_exit",
	"common_interrupt",
	"page_fault",
	"__do_page_fault",
	"do_page_fault",
	"do_user_addr_fault",
	"handle_page_fault",
	"do_kern_addr_fault",
	"bad_area",
	"__bad_area",
	"no_context",
	"page_fault_oops",
	"kernelmode_fixup_or_oops",
	"spurious_kernel_fault",
	"fixup_exception",
	"kasan_",
	"__kasan_",
	"__asan_",
	"asan_",
	"check_memory_region",
	"print_address_description",
	"print_report",
	"ubsan_",
	"__ubsan_",
	"kfence_",
	"__kfence_",
	"_raw_spin_",
	"spin_",
	"_raw_read_",
	"_raw_write_",
	"queued_spin",
	"native_queued",
	"mutex_",
	"__mutex_",
	"down",
	"__down",
	"up_",
	"rwsem_",
	"__rwsem_",
	"rt_mutex",
	"__rt_mutex",
	"schedule",
	"__schedule",
	"io_schedule",
	"preempt_schedule",
	"wait_for_completion",
	"__wait_for_common",
	"wait_for_common",
	"do_wait_for_common",
	"kmalloc",
	"__kmalloc",
	"kmem_cache_alloc",
	"kmem_cache_free",
	"kfree",
	"__kmem_cache",
	"slab_",
	"__slab_",
	"___slab_",
	"alloc_pages",
	"__alloc_pages",
	"alloc_page",
	"__get_free_pages",
	"memcpy",
	"memset",
	"memmove",
	"__memcpy",
	"__memset",
	"strcpy",
	"strlen",
	"strncpy",
	"watchdog_timer_fn",
	"__hrtimer_run_queues",
	"hrtimer_interrupt",
	"watchdog_",
	"rcu_",
	"__rcu_",
	"update_process_times",
	"tick_",
	"nmi_",
	"default_do_nmi",
	"asm_",
	"entry_",
	"do_syscall_64",
	"__x64_sys_",
	"ret_from_fork",
	"kthread$",
	"worker_thread",
	"process_one_work",
	"smp_call_function",
	"generic_exec_single",
	"csd_lock",
	"lock_acquire",
	"lock_release",
	"__lock_acquire",
	"warn_alloc",
	"out_of_memory",
	"oom_kill",
	"dump_header",
	"do_raw_spin_",
	"native_queued_spin",
	"queued_write",
	"queued_read",
	"console_",
	"printk_",
	"arch_stack_walk",
	"stack_trace_",
	"__delay",
	"delay_",
	"udelay",
	"__const_udelay",
	"mwait",
	"__folio_lock",
	"folio_wait",
	"__lock_page",
	"wait_on_page",
	"bit_wait",
	"out_of_line_wait_on_bit",
	"__wait_on_bit",
	"__cond_resched",
	"_cond_resched",
	"cpu_relax",
	"native_safe_halt",
	"default_idle",
	"irqentry_",
	"smp_apic_timer_interrupt",
	"apic_timer_interrupt",
	"do_IRQ",
	"irq_enter",
	"mempool_",
	"krealloc",
	"__list_del_entry_valid",
	"__list_add_valid",
	"list_del",
	"__list_del",
	"bt_err",
	"bt_warn",
	"_?dev_err",
	"_?dev_warn",
	"_?dev_info",
	"_?_?dev_printk",
	"dev_vprintk",
	"iput$",
	"iput_final$",
	"ihold$",
	"dput$",
	"fast_dput$",
)

// skips reports whether the rule skips frame.
func (s *stackRule) skips(frame string) bool {
	s.once.Do(func() { s.own = names(s.skip...) })
	return skipEverywhere.match(frame) || s.own.match(frame)
}

// stripPrefixes are system call entry prefixes: the same call has other
// ones on other architectures and kernels, so a frame keeps the shortest
// name that removing one of them gives.
var stripPrefixes = []string{
	"SYSC_",
	"SyS_",
	"sys_",
	"__x64_",
	"__ia32_",
	"__arm64_",
	"____sys_",
	"___sys_",
	"__sys_",
	"__se_",
	"__se_sys_",
	"__do_sys_",
	"compat_SYSC_",
	"compat_SyS_",
	"ksys_",
}

// canonicalFrame is frame without its system call prefix.
func canonicalFrame(frame string) string {
	best := frame
	for _, p := range stripPrefixes {
		if s := strings.TrimPrefix(frame, p); len(s) < len(best) {
			best = s
		}
	}
	return best
}

// guiltyFrames reads the frames a rule names from text (a report from its
// title on). It returns one frame per trace of the rule ("corrupted" where
// none was found) and whether every trace gave one.
func (s *stackRule) guiltyFrames(text string) ([]string, bool) {
	lines := strings.Split(text, "\n")
	frames, ok := s.walk(lines, s.parts)
	if !ok && len(s.parts2) > 0 {
		frames, ok = s.walk(lines, s.parts2)
	}
	return frames, ok
}

// walk matches parts down lines (see stackRule.parts).
func (s *stackRule) walk(lines []string, parts []part) ([]string, bool) {
	var yielded, picked []string
	ok, traces := true, 0
	add := func(m []string) {
		for _, f := range m[1:] {
			if strings.HasPrefix(f, "_R") || strings.HasPrefix(f, "_Z") {
				f = demangle(f)
			}
			if f != "" && !s.skips(f) {
				yielded = append(yielded, f)
			}
		}
	}
	done := func() {
		f := s.choose(yielded)
		if f == "" {
			f, ok = "corrupted", false
		}
		picked, yielded = append(picked, f), nil
	}
	i := 0
	for p := 0; ; p++ {
		if p == len(parts) || parts[p].trace && traces > 0 {
			done()
		}
		if p == len(parts) {
			break
		}
		if !parts[p].trace {
			for i < len(lines) {
				l := lines[i]
				i++
				if matchAny(l, corruptedFrames) {
					ok = false
					break
				}
				if m := parts[p].re.FindStringSubmatch(l); m != nil {
					add(m)
					break
				}
			}
			continue
		}
		traces++
	frames:
		for i < len(lines) {
			l := lines[i]
			i++
			switch {
			case matchAny(l, corruptedFrames):
				ok = false
				break frames
			case matchAny(l, stackStarts):
				break frames
			}
			if p+1 < len(parts) && !parts[p+1].trace {
				if m := parts[p+1].re.FindStringSubmatch(l); m != nil {
					add(m)
					p++
					break frames
				}
			}
			for _, fl := range frameLines {
				if m := fl.FindStringSubmatch(l); m != nil {
					add(m)
					break
				}
			}
		}
	}
	return picked, ok
}

// choose picks the guilty frame among frames.
func (s *stackRule) choose(frames []string) string {
	if len(frames) == 0 {
		return ""
	}
	canon := make([]string, len(frames))
	for i, f := range frames {
		canon[i] = canonicalFrame(f)
	}
	if s.pick == nil {
		return canon[0]
	}
	f, _ := s.pick(canon)
	return f
}

// matchAny reports whether any expression matches l.
func matchAny(l string, res []lazyRE) bool {
	for _, r := range res {
		if r.MatchString(l) {
			return true
		}
	}
	return false
}

// stallFrame picks a stall's or lockup's frame. The stalled CPU loops in
// some code, across several functions, and the trace shows a random point
// of the loop: the top frame would make many titles of one bug. The frame
// just before the first dispatch point (a system call, a work item, a
// timer, a file operation) names the work instead; for ioctl, read, write
// and the socket calls that frame is the driver's or protocol's handler.
func stallFrame(frames []string) (string, int) {
	prev, prevIdx := frames[0], 0
	for i, f := range frames {
		if stallAnchors.match(f) {
			if strings.Contains(f, "smp_call_function") {
				return "smp_call_function", i
			}
			return prev, prevIdx
		}
		prev, prevIdx = f, i
	}
	return "", -1
}

// stallAnchors dispatch work: a stall's frame is the one before them.
var stallAnchors = names(
	"process_one_work", // workqueue
	"do_syscall_",      // system call entry
	"do_fast_syscall_",
	"sysenter_dispatch",
	"tracesys_phase2",
	"el0_svc_handler",
	"invoke_syscall",
	"ret_fast_syscall", // arm
	"netif_receive_skb",
	"do_softirq",
	"call_timer_fn",
	"_run_timers",
	"run_timer_softirq",
	"hrtimer_run",
	"run_ksoftirqd",
	"smpboot_thread_fn",
	"^kthread$",
	"start_secondary",
	"cpu_startup_entry",
	"ret_from_fork",
	// File operations: the handler before them names the device.
	"vfs_write",
	"vfs_read",
	"vfs_iter_read",
	"vfs_iter_write",
	"do_iter_read",
	"do_iter_write",
	"call_read_iter",
	"call_write_iter",
	"new_sync_read",
	"new_sync_write",
	// debugfs wraps a file's operations in full_proxy_*: the handler
	// before the proxy names the file's owner (a driver, a test module).
	"full_proxy_",
	"vfs_ioctl",
	"ksys_ioctl", // vfs_ioctl may be inlined
	"compat_ioctl",
	"compat_sys_ioctl",
	"blkdev_driver_ioctl",
	"blkdev_ioctl",
	"do_iter_readv_writev",
	"^call_mmap",
	"mmap_region",
	"do_mmap",
	"do_dentry_open",
	"vfs_open",
	// Socket operations: the handler before them names the protocol.
	"^sock_sendmsg",
	"^sock_recvmsg",
	"^sock_release",
	"^__sock_release",
	"^setsockopt$",
	"kernel_setsockopt",
	"sock_common_setsockopt",
	"^listen$",
	"kernel_listen",
	"sk_common_release",
	"^sock_mmap",
	"^accept$",
	"kernel_accept",
	"^sock_do_ioctl",
	"^sock_ioctl",
	"^compat_sock_ioctl",
	"^nfnetlink_rcv_msg",
	"^rtnetlink_rcv_msg",
	"^netlink_dump",
	"^(sys_)?(socketpair|connect|ioctl)",
	// Page faults.
	"__do_fault",
	"do_page_fault",
	"^page_fault$",
	// Work run on the way back to user space.
	"__fput",
	"task_work_run",
	"exit_to_usermode",
	"smp_call_function",
	"tasklet_action",
	"tasklet_hi_action",
)

// hungTaskFrame picks a hung task's frame. A hung task is the victim of
// whatever holds what it waits for: hangs on synchronize_rcu and rtnl_lock
// are one bug each whoever waits; otherwise the first frame that is not a
// lock, a wait or the scheduler names what the task was doing
// (tty_ldisc_hangup, not ldsem_down_write).
func hungTaskFrame(frames []string) (string, int) {
	for i, f := range frames {
		for _, a := range hungTaskAnchors {
			if strings.Contains(f, a.frame) {
				if a.title != "" {
					return a.title, i
				}
				return f, i
			}
		}
	}
next:
	for i, f := range frames {
		for _, s := range hungTaskSkips {
			if strings.Contains(f, s) {
				continue next
			}
		}
		return f, i
	}
	return "", -1
}

// hungTaskAnchors group hung tasks: a task waiting in one of these is
// titled by it (or by title, for the RCU grace period waits).
var hungTaskAnchors = []struct{ frame, title string }{
	{"rtnl_lock", ""},
	{"synchronize_rcu", "synchronize_rcu"},
	{"synchronize_srcu", "synchronize_rcu"},
	{"synchronize_net", "synchronize_rcu"},
	{"synchronize_sched", "synchronize_rcu"},
}

// hungTaskSkips are parts of the names of lock, wait and scheduler frames.
var hungTaskSkips = []string{
	"sched",
	"_lock",
	"_slowlock",
	"down",
	"rwsem",
	"completion",
	"kthread",
	"wait",
	"synchronize",
	"context_switch",
	"__switch_to",
	"cancel_delayed_work",
	"rcu_barrier",
}
