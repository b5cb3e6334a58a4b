package report_test

import (
	"testing"

	"github.com/vmcore/vmcore/report"
)

// TestIssue16 holds, inline, minimal excerpts of the reports issue 16 found
// titled wrong: each is cut from a real report (the suite's or the labelled
// set's) down to the lines the title depends on.
func TestIssue16(t *testing.T) {
	for _, tc := range []struct {
		name, text, title string
		kind              report.Kind
	}{
		{
			// syzbot names the caller of the list operation, not
			// __list_del_entry_valid (testdata/oops/083).
			"kernel BUG at lib/list_debug.c",
			`list_del corruption. prev->next should be ffff98679438a5d0, but was ca53e83f5e8cf5a8
kernel BUG at lib/list_debug.c:51!
invalid opcode: 0000 [#1] SMP PTI
RIP: 0010:__list_del_entry_valid.cold+0x31/0x47
Call Trace:
 __dentry_kill+0x89/0x180
 dput+0x20e/0x3c0
 __fput+0x12a/0x260
`,
			"BUG: corrupted list in __dentry_kill", report.KindListCorruption,
		},
		{
			"stack guard page",
			`BUG: stack guard page was hit at 000000008e97aa5f (stack is 000000004a387f8f..00000000620ebc37)
kernel stack overflow (double-fault): 0000 [#1] SMP PTI
RIP: 0010:ocf_metadata_get_core_info+0x2c/0x60 [cas_cache]
Call Trace:
 ocf_engine_io_count+0x10/0x20 [cas_cache]
 ocf_engine_push_req_front+0x30/0x90 [cas_cache]
 process_one_work+0x1a7/0x360
 worker_thread+0x30/0x390
`,
			"BUG: stack guard page was hit in ocf_engine_push_req_front", report.KindStackOverflow,
		},
		{
			// The poster replaced the task's name: the title does not
			// depend on it.
			"hung task with a replaced name",
			`INFO: task <hidden> blocked for more than 120 seconds.
      Not tainted 5.10.0 #1
"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
Call Trace:
 __schedule+0x282/0x870
 schedule+0x46/0xb0
 ldsem_down_write+0x1f6/0x2a0
 tty_ldisc_lock+0x17/0x50
 tty_ldisc_hangup+0xb3/0x1f0
 __tty_hangup+0x2ec/0x480
`,
			// Lock and wait primitives are skipped, as syzbot does.
			"INFO: task hung in tty_ldisc_hangup", report.KindHungTask,
		},
		{
			// The '?' frame before the interrupted code is stale stack
			// contents: the stall is titled by the frame before the
			// first dispatch point after the timer interrupt.
			"RCU stall with an unreliable frame",
			`[  100.000001][    C0] rcu: INFO: rcu_sched self-detected stall on CPU
[  100.000002][    C0] Call Trace:
[  100.000003][    C0]  <IRQ>
[  100.000004][    C0]  ? stale_function+0x10/0x20
[  100.000005][    C0]  update_process_times+0x9a/0xd0
[  100.000006][    C0]  smp_apic_timer_interrupt+0x6f/0x130
[  100.000007][    C0]  apic_timer_interrupt+0xf/0x20
[  100.000008][    C0]  </IRQ>
[  100.000009][    C0] RIP: 0010:_raw_spin_lock+0x10/0x20
[  100.000010][    C0]  ? stale_too+0x1/0x2
[  100.000011][    C0]  nf_conntrack_cleanup+0x40/0x80
[  100.000012][    C0]  nf_ct_iterate+0x90/0x100
[  100.000013][    C0]  ctnetlink_del_conntrack+0x3c/0x80
[  100.000014][    C0]  nfnetlink_rcv_msg+0x2a0/0x300
[  100.000015][    C0]  netlink_rcv_skb+0x4c/0x120
`,
			"INFO: rcu detected stall in ctnetlink_del_conntrack", report.KindRCUStall,
		},
		{
			"kernel panic: Attempted to kill init! without the exit code",
			"Kernel panic - not syncing: Attempted to kill init! exitcode=0x00007f00\n",
			"kernel panic: Attempted to kill init!", report.KindPanic,
		},
		{
			// The KASAN report, not the panic panic_on_warn makes of it.
			"KASAN before panic_on_warn",
			`BUG: KASAN: use-after-free in tcp_retransmit_timer+0x2bd/0x2f0
Read of size 8 at addr ffff88806a4d0c20 by task swapper/0/0
Call Trace:
 kasan_report+0x10/0x20
 tcp_retransmit_timer+0x2bd/0x2f0
 tcp_write_timer_handler+0x1a0/0x200
Kernel panic - not syncing: panic_on_warn set ...
Call Trace:
 panic+0x1f0/0x3c0
 end_report+0x40/0x50
`,
			"KASAN: use-after-free Read in tcp_retransmit_timer", report.KindKASAN,
		},
		{
			// lockdep: no report was found at all before.
			"possible deadlock",
			`WARNING: possible circular locking dependency detected
openssl/315 is trying to acquire lock:
c426b840 (&pcr->fcrypt.sem){+.+.}-{3:3}, at: cryptodev_ioctl+0x1cc/0xe1c [cryptodev]
but task is already holding lock:
c426be40 (&ses_new->sem){+.+.}-{3:3}, at: cryptodev_ioctl+0x1b0/0xe1c [cryptodev]
`,
			"possible deadlock in cryptodev_ioctl", report.KindLockdep,
		},
		{
			// kmemleak's own report, without syzkaller's "BUG: memory leak".
			"memory leak",
			`unreferenced object 0xffff940d27c6aae0 (size 32):
  comm "osu_bibw", pid 8915, jiffies 4556610972 (age 18089.050s)
  backtrace:
    [<ffffffffa3382c35>] kmalloc_trace+0x25/0x90
    [<ffffffffc0aa96a7>] amdgpu_vm_update_range+0x97/0x890 [amdgpu]
`,
			"memory leak in amdgpu_vm_update_range", report.KindMemoryLeak,
		},
		{
			"UBSAN",
			`UBSAN: shift-out-of-bounds in drivers/usb/usbip/vhci_hcd.c:601:23
shift exponent 768 is too large for 32-bit type 'int'
Call Trace:
 dump_stack_lvl+0x89/0xb0
 __ubsan_handle_shift_out_of_bounds+0x1d6/0x3a0
 vhci_hub_control+0x1bd6/0x1d00
 usb_hcd_submit_urb+0x4b1/0x1000
`,
			"UBSAN: shift-out-of-bounds in vhci_hub_control", report.KindUBSAN,
		},
		{
			"arm64 Internal error",
			`Internal error: synchronous external abort: 96000210 [#1] PREEMPT SMP
pc : rockchip_pcie_rd_conf+0x1c4/0x2a0
lr : rockchip_pcie_rd_conf+0x1b4/0x2a0
Call trace:
 rockchip_pcie_rd_conf+0x1c4/0x2a0
 pci_bus_read_config_dword+0x88/0xd0
`,
			"Internal error in rockchip_pcie_rd_conf", report.KindArmFault,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := report.Primary(report.Parse(tc.text))
			if p == nil {
				t.Fatal("no report found")
			}
			if p.Title != tc.title || p.Type != tc.kind {
				t.Errorf("got %q (%s), want %q (%s)", p.Title, p.Type, tc.title, tc.kind)
			}
		})
	}
}
