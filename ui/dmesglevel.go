package ui

import (
	"strings"

	"github.com/vmcore/vmcore/report"
)

// vmcore-dmesg.txt (kexec-tools' vmcore-dmesg, makedumpfile --dump-dmesg)
// writes each record as "[seconds] text", without the record's level, so
// the level filter had nothing to filter on. The level is read back from
// the text: the lines of an oops report are printed at the kernel's
// default level (KERN_DEFAULT, shown as warning), and the messages that
// head reports, panics and known failures have the level their printk
// call gives them. A line no rule knows is info, the level most kernel
// messages have; a line without a timestamp continues the record above.

// dmesgRule gives the level of lines whose text starts with prefix (or,
// with anywhere set, contains it). The first rule that matches wins, so
// the specific come before the general.
type dmesgRule struct {
	prefix   string
	anywhere bool
	level    int
}

// dmesgRules: the printk levels of the kernel's own messages (6.x, x86_64 and arm64; the
// call that prints each is named).
var dmesgRules = []dmesgRule{
	{prefix: "Kernel panic - not syncing", level: 0},                    // panic(): pr_emerg
	{prefix: "---[ end Kernel panic", level: 0},                         // panic(): pr_emerg
	{prefix: "Kernel Offset:", level: 0},                                // dump_kernel_offset(): pr_emerg
	{prefix: "watchdog: BUG: soft lockup", level: 0},                    // watchdog_timer_fn(): pr_emerg
	{prefix: "BUG: soft lockup", level: 0},                              // older kernels' prefix-less form
	{prefix: "Watchdog detected hard LOCKUP", anywhere: true, level: 0}, // watchdog_hardlockup_check(): pr_emerg
	{prefix: "[Hardware Error]", anywhere: true, level: 0},              // mce_panic(), print_mce(): pr_emerg
	{prefix: "BUG: kernel NULL pointer dereference", level: 1},          // page_fault_oops(): pr_alert
	{prefix: "BUG: unable to handle", level: 1},                         // page_fault_oops(): pr_alert
	{prefix: "#PF: ", level: 1},                                         // page_fault_oops(): pr_alert
	{prefix: "Unable to handle kernel ", level: 1},                      // arm64 die_kernel_fault(): pr_alert
	{prefix: "Mem abort info:", level: 1},                               // arm64 mem_abort_decode(): pr_alert
	{prefix: "Data abort info:", level: 1},                              // arm64 data_abort_decode(): pr_alert
	{prefix: "  ESR = ", level: 1},                                      // arm64 mem_abort_decode(): pr_alert
	{prefix: "  EC = ", level: 1},                                       // arm64 mem_abort_decode(): pr_alert
	{prefix: "  SET = ", level: 1},                                      // arm64 mem_abort_decode(): pr_alert
	{prefix: "  EA = ", level: 1},                                       // arm64 mem_abort_decode(): pr_alert
	{prefix: "  FSC = ", level: 1},                                      // arm64 mem_abort_decode(): pr_alert
	{prefix: "  ISV = ", level: 1},                                      // arm64 data_abort_decode(): pr_alert
	{prefix: "  CM = ", level: 1},                                       // arm64 data_abort_decode(): pr_alert
	{prefix: " pgtable: ", anywhere: true, level: 1},                    // arm64 show_pte(): pr_alert
	{prefix: "] pgd=", anywhere: true, level: 1},                        // arm64 show_pte(): pr_alert
	{prefix: "Internal error: ", level: 0},                              // arm/arm64 __die(): KERN_EMERG
	{prefix: "kernel BUG at ", level: 2},
	{prefix: "SMP: stopping secondary CPUs", level: 2},                             // arm64 smp_send_stop(): pr_crit                                           // report_bug(): pr_crit
	{prefix: "EXT4-fs error", level: 2},                                            // __ext4_error(): KERN_CRIT
	{prefix: "BUG: ", level: 3},                                                    // KASAN, sleeping in atomic, bad page: pr_err
	{prefix: "UBSAN: ", level: 3},                                                  // ubsan_prologue(): pr_err
	{prefix: "INFO: task ", level: 3},                                              // check_hung_task(): pr_err
	{prefix: "rcu: INFO: ", level: 3},                                              // print_other_cpu_stall(): pr_err
	{prefix: "Out of memory", level: 3},                                            // oom_kill_process(), out_of_memory(): pr_err
	{prefix: "I/O error", anywhere: true, level: 3},                                // blk_print_req_error(): pr_err_ratelimited
	{prefix: "Oops: ", level: 4},                                                   // __die_header(): KERN_DEFAULT
	{prefix: "general protection fault", level: 4},                                 // die_addr(): KERN_DEFAULT
	{prefix: "WARNING: ", level: 4},                                                // __warn(): pr_warn
	{prefix: "invoked oom-killer", anywhere: true, level: 4},                       // dump_header(): pr_warn
	{prefix: "loading out-of-tree module taints kernel", anywhere: true, level: 4}, // module_augment_kernel_taints(): pr_warn
	{prefix: "module verification failed", anywhere: true, level: 5},               // pr_notice_once
	{prefix: "segfault at ", anywhere: true, level: 6},                             // show_signal_msg(): KERN_INFO
}

// dmesgLevels infers a level for every line of a vmcore-dmesg.txt.
func dmesgLevels(lines []string) []int {
	out := make([]int, len(lines))
	inReport := make([]bool, len(lines))
	for _, r := range report.Parse(strings.Join(lines, "\n")) {
		// The report proper starts at its header; the lines the parser
		// took in before it (what the system did last) keep their own.
		start := max(r.Lines[0], 0)
		for i := start; i <= r.Lines[1] && i < len(lines); i++ {
			if r.Header != "" && strings.Contains(lines[i], r.Header) {
				start = i
				break
			}
		}
		for i := start; i <= r.Lines[1] && i < len(lines); i++ {
			inReport[i] = true
		}
	}
	for i, l := range lines {
		_, text, stamped := splitStamp(l)
		if !stamped && i > 0 {
			out[i] = out[i-1] // a record's continuation line
			continue
		}
		out[i] = 6
		if inReport[i] {
			out[i] = 4
		}
		for _, r := range dmesgRules {
			if r.anywhere && strings.Contains(text, r.prefix) || !r.anywhere && strings.HasPrefix(text, r.prefix) {
				out[i] = r.level
				break
			}
		}
	}
	return out
}

// splitStamp splits "[    3.760498] text" into the timestamp and the
// text; stamped is false for a line without one.
func splitStamp(l string) (stamp, text string, stamped bool) {
	if !strings.HasPrefix(l, "[") {
		return "", l, false
	}
	end := strings.Index(l, "] ")
	if end < 0 {
		return "", l, false
	}
	for _, c := range strings.TrimSpace(l[1:end]) {
		if (c < '0' || c > '9') && c != '.' {
			return "", l, false
		}
	}
	return l[:end+1], l[end+2:], true
}
