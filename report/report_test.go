package report_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/report"
)

// scenarioOops is what each corpus scenario's log must yield: the scenario
// defines the bug (testdata/corpus/crashmod), so these are facts.
var scenarioOops = map[string]struct{ typ, title, function string }{
	"sysrq-c":           {"panic", "kernel panic: sysrq triggered crash", "sysrq_handle_crash"},
	"lkdtm-exception":   {"NULL pointer dereference", "BUG: unable to handle kernel NULL pointer dereference in lkdtm_EXCEPTION", "lkdtm_EXCEPTION"},
	"module-null-deref": {"NULL pointer dereference", "BUG: unable to handle kernel NULL pointer dereference in crashmod_null_deref", "crashmod_null_deref"},
	"bug":               {"BUG", "kernel BUG in crashmod_bug", "crashmod_bug"},
	"panic":             {"panic", "kernel panic: crashmod: deliberate panic from module", "crashmod_panic"},
	"hung-task":         {"hung task", "INFO: task hung in crashmod_hung", "crashmod_hung"},
	// A lockup's title names the handler before the dispatch point, as
	// syzbot's do (the loop's top frame varies from report to report):
	// here the module's debugfs write handler, before debugfs's proxy.
	"soft-lockup":      {"soft lockup", "BUG: soft lockup in crashmod_trigger_write", "crashmod_trigger_write"},
	"soft-lockup-runq": {"soft lockup", "BUG: soft lockup in crashmod_trigger_write", "crashmod_trigger_write"},
	"warn":             {"WARNING", "WARNING in crashmod_warn", "crashmod_warn"},
	"oom":              {"OOM panic", "kernel panic: Out of memory: system-wide panic_on_oom is enabled", ""},
	// Two kthreads take two mutexes in opposite orders; hung_task_panic.
	// syzbot's hung-task rule skips the scheduler and the mutex.
	"mutex-deadlock": {"hung task", "INFO: task hung in crashmod_abba_thread", "crashmod_abba_thread"},
}

// TestOopsCorpus parses every corpus dump's kernel log (makedumpfile's
// reference text, timestamps and all) and checks the report that explains
// the crash.
func TestOopsCorpus(t *testing.T) {
	seen := map[string]bool{}
	for _, dc := range corpus.All(t) {
		want, ok := scenarioOops[dc.Scenario]
		log, ok2 := dc.ReadRef("dmesg.makedumpfile.txt")
		if !ok || !ok2 || seen[dc.Dir] {
			continue
		}
		seen[dc.Dir] = true
		if dc.Scenario == "sysrq-c" && strings.Contains(dc.Label(), "arm64") {
			// sysrq_handle_crash ends in its call to the noreturn
			// panic(): arm64's trace shows the return address as the
			// next function, sysrq_reset_seq_param_set+0x0, so the log
			// never names sysrq_handle_crash; its caller is next.
			want.function = "__handle_sysrq"
		}
		t.Run(dc.Label(), func(t *testing.T) {
			p := report.Primary(report.Parse(string(log)))
			if p == nil {
				t.Fatal("no report found")
			}
			if string(p.Type) != want.typ || p.Title != want.title || p.Function != want.function || p.Corrupted {
				t.Errorf("got %q %q in %q (corrupted %v %s), want %q %q in %q", p.Type, p.Title, p.Function, p.Corrupted, p.Reason, want.typ, want.title, want.function)
			}
			if want.function != "" && len(p.Frames) == 0 {
				t.Errorf("no call trace frames")
			}
		})
	}
}

// TestOopsBadInput: empty, binary and huge inputs return promptly without a
// report; a report whose lines interleave with another CPU's is split by
// caller id, or marked corrupted.
func TestOopsBadInput(t *testing.T) {
	if r := report.Parse(""); r != nil {
		t.Errorf("empty input: %v", r)
	}
	garbage := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range garbage {
		garbage[i] = byte(rng.IntN(256))
	}
	report.Parse(string(garbage))
	big := strings.Repeat("[    1.000000] usb 1-1: new high-speed USB device number 2 using xhci_hcd\n", 1<<17) // ~10 MB
	if r := report.Parse(big); r != nil {
		t.Errorf("a log without a crash gave %d reports", len(r))
	}

	interleaved := `[   10.000001][    C1] BUG: kernel NULL pointer dereference, address: 0000000000000000
[   10.000002][    C1] #PF: supervisor read access in kernel mode
[   10.000003][    C0] WARNING: CPU: 0 PID: 7 at fs/inode.c:100 iput+0x10/0x20
[   10.000004][    C1] RIP: 0010:foo_read+0x12/0x40 [foo]
[   10.000005][    C1] Call Trace:
[   10.000006][    C0] Call Trace:
[   10.000007][    C1]  <TASK>
[   10.000008][    C0]  evict+0x1/0x2
[   10.000009][    C1]  vfs_read+0x99/0x140
[   10.000010][    C1]  ksys_read+0x6b/0xf0
[   10.000011][    C1]  </TASK>
`
	r := report.Parse(interleaved)
	if len(r) == 0 || r[0].Title != "BUG: unable to handle kernel NULL pointer dereference in foo_read" {
		t.Fatalf("interleaved: %+v", r)
	}
	for _, f := range r[0].Frames {
		if f.Function == "evict" {
			t.Errorf("CPU 0's frame in CPU 1's report")
		}
	}
	if r[0].Corrupted {
		t.Errorf("printk caller ids tell the reports apart, yet the report is corrupted: %s", r[0].Reason)
	}
	// Cut right after the header: corrupted, with a reason.
	cut := report.Parse("general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP\n")
	if len(cut) != 1 || !cut[0].Corrupted || cut[0].Reason == "" || cut[0].Title != "general protection fault in corrupted" {
		t.Errorf("cut report: %+v", cut)
	}
	var buf bytes.Buffer
	for i := 0; i < 1000; i++ {
		buf.WriteString("Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b\n")
	}
	if r := report.Parse(buf.String()); len(r) != 1000 || r[0].Title != "kernel panic: Attempted to kill init!" {
		t.Errorf("repeated panics: %d, %q", len(r), r[0].Title)
	}
}

// TestOopsConsoleMess: what logging, editors and mail do to a report's lines
// must not change its title. Each case is a minimal excerpt of a report in
// testdata/oops, named after its file.
func TestOopsConsoleMess(t *testing.T) {
	for _, tc := range []struct {
		name, text, title, function string
	}{
		{
			// Every line tab-indented by the reporter, in front of the
			// timestamp and the printk caller id.
			"043-tab-indented-caller-ids",
			"\t[  156.833652][ T4188] BUG: KASAN: use-after-free in __list_del_entry_valid+0x52/0x81\n" +
				"\t[  156.835662][ T4188] Read of size 8 at addr ffff8881f34e0a50 by task mount/4188\n" +
				"\t[  156.840490][ T4188] Call Trace:\n" +
				"\t[  156.841195][ T4188]  dump_stack+0xc1/0x11a\n" +
				"\t[  156.850973][ T4188]  __asan_load8+0x54/0x90\n" +
				"\t[  156.852261][ T4188]  __list_del_entry_valid+0x52/0x81\n" +
				"\t[  156.853120][ T4188]  clean_dirty_subvols+0x7f/0x200\n",
			"KASAN: use-after-free Read in clean_dirty_subvols", "clean_dirty_subvols",
		},
		{
			// Every line indented by one space, no timestamps.
			"003-space-indented",
			` BUG: kernel NULL pointer dereference, address: 0000000000000028
 #PF: supervisor read access in kernel mode
 Oops: 0000 [#1] PREEMPT SMP PTI
 RIP: 0010:blk_throtl_update_limit_valid+0x1f/0x110
 Call Trace:
  <TASK>
  throtl_pd_offline+0x40/0x70
`,
			"BUG: unable to handle kernel NULL pointer dereference in blk_throtl_update_limit_valid", "blk_throtl_update_limit_valid",
		},
		{
			// dmesg -T pasted double spaced, and the header broken
			// after a '/' with a blank line in between.
			"058-double-spaced-split-header",
			`[Sun Aug  9 12:21:35 2020] ------------[ cut here ]------------

[Sun Aug  9 12:21:35 2020] kernel BUG at fs/btrfs/

relocation.c:2626!

[Sun Aug  9 12:21:35 2020] invalid opcode: 0000 [#1] SMP PTI

[Sun Aug  9 12:21:35 2020] Hardware name: FUJITSU D3401-H1/D3401-H1, 
BIOS V5.0.0.11 R1.14.0 for D3401-H1x                    06/09/2016

[Sun Aug  9 12:21:35 2020] RIP: 0010:select_reloc_root+0x5b/0x19f [btrfs]

[Sun Aug  9 12:21:35 2020] Call Trace:

[Sun Aug  9 12:21:35 2020]  do_relocation+0xb6/0x4c2 [btrfs]
`,
			"kernel BUG in select_reloc_root", "select_reloc_root",
		},
		{
			// The reporter's editor numbered the lines; the mail client
			// wrapped some of them.
			"060-line-numbers",
			`1146  <0>[33685.629591] traps: PANIC: double fault, error_code: 0x0
1147  <4>[33685.629593] double fault: 0000 [#1] SMP NOPTI
1148  <4>[33685.629594] CPU: 10 PID: 2118287 Comm: kworker/10:0
Tainted: P           OE     5.11.8-051108-generic #202103200636
1149  <4>[33685.629595] Hardware name: ASUSTeK COMPUTER INC. KRPG-U8
Series/KRPG-U8 Series, BIOS 4201 09/25/2020
1150  <4>[33685.629595] Workqueue: xfs-conv/md12 xfs_end_io [xfs]
1151  <4>[33685.629596] RIP: 0010:__slab_free+0x23/0x340
1152  <4>[33685.629597] Code: 4c fe ff ff 0f 1f 00 0f 1f 44 00 00 55
48 89 e5 41 57 49 89 cf 41 56 49 89 fe 41 55 41 54 49 89 f4 53 48 83
e4 f0 48 83 ec 70 <48> 89 54 24 28 0f 1f 44 00 00 41 8b 46 28 4d 8b 6c
24 20 49 8b 5c
1162  <4>[33685.629602] Call Trace:
1163  <4>[33685.629603]  <IRQ>
1164  <4>[33685.629603]  ? kfree+0x3bc/0x3e0
1165  <4>[33685.629603]  ? mempool_kfree+0xe/0x10
1166  <4>[33685.629603]  ? mempool_kfree+0xe/0x10
1167  <4>[33685.629604]  ? mempool_free+0x2f/0x80
1168  <4>[33685.629604]  ? md_end_io+0x4a/0x70
`,
			"PANIC: double fault in md_end_io", "md_end_io",
		},
		{
			// No-break spaces in the timestamps, the panic line wrapped;
			// powerpc frames.
			"068-nbsp-wrapped-panic-ppc64",
			"[NNN 0.057420] Kernel panic - not syncing: VFS: Unable to mount root fs \n" +
				"on unknown-block(0,0)\n" +
				"[NNN 0.057430] Call Trace:\n" +
				"[NNN 0.057431] [c000000003703ab0] [c000000000d1e71c] \n" +
				"dump_stack_lvl+0x70/0xa4 (unreliable)\n" +
				"[NNN 0.057439] [c000000003703af0] [c0000000001513fc] panic+0x174/0x428\n" +
				"[NNN 0.057443] [c000000003703b90] [c000000002005794] \n" +
				"mount_block_root+0x26c/0x2a0\n",
			"kernel panic: VFS: Unable to mount root fs on unknown-block(NUM,NUM)", "mount_block_root",
		},
		{
			// BUG() without CONFIG_DEBUG_BUGVERBOSE names the function.
			"057-kernel-bug-no-verbose",
			`Kernel BUG at nfsd4_probe_callback_sync+0x1094/0x25b0 [nfsd] [verbose debug info unavailable]
Oops: invalid opcode: 0000 [#1] SMP NOPTI
RIP: 0010:nfsd4_probe_callback_sync+0x1094/0x25b0 [nfsd]
Code: 31 e4 e8 8e 7a 0b e1 eb 08 <0f> 0b 41 bc f4 ff ff ff 48 83 c4 08
Call Trace:
 <TASK>
 ? nfsd4_probe_callback_sync+0x1094/0x25b0 [nfsd]
 nfsd4_client_tracking_init+0x39/0x150 [nfsd]
`,
			"kernel BUG in nfsd4_probe_callback_sync", "nfsd4_probe_callback_sync",
		},
		{
			// ud2 without a BUG line: the kernel says invalid opcode,
			// and so does the title.
			"055-ud2-without-bug-line",
			`CacheFiles: Assertion failed
invalid opcode: 0000 [#1]
RIP: 0010:cachefiles_read_or_alloc_pages+0x9e/0x5cf
Code: 48 c7 c7 30 fc e8 81 e8 c3 7a e7 ff <0f> 0b 49 8b 46 28 ba 0c 00 00 00
Call Trace:
 __fscache_read_or_alloc_pages+0x1a6/0x1f2
`,
			"invalid opcode in cachefiles_read_or_alloc_pages", "cachefiles_read_or_alloc_pages",
		},
		{
			// iput drops a reference for callers all over the kernel.
			"015-rip-in-iput",
			`general protection fault, probably for non-canonical address 0xdffffc000000001a: 0000 [#1] PREEMPT SMP KASAN
RIP: 0010:iput+0x40/0x8f0 fs/inode.c:1764
Call Trace:
 <TASK>
 btrfs_orphan_cleanup+0xa55/0xcf0 fs/btrfs/inode.c:3629
 create_snapshot+0x520/0x7e0 fs/btrfs/ioctl.c:852
`,
			"general protection fault in btrfs_orphan_cleanup", "btrfs_orphan_cleanup",
		},
		{
			// Nothing but generic code: the faulting function is left.
			"059-double-fault-in-generic-code",
			`[    0.000000] PANIC: double fault, error_code: 0x0
[    0.000000] RIP: 0010:no_context+0x38/0x4b0
[    0.000000] Call Trace:
[    0.000000] Kernel panic - not syncing: Machine halted.
`,
			"PANIC: double fault in no_context", "no_context",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.ReplaceAll(tc.text, "[NNN", "[\u00a0\u00a0\u00a0")
			p := report.Primary(report.Parse(text))
			if p == nil {
				t.Fatal("no report found")
			}
			if p.Title != tc.title || p.Function != tc.function {
				t.Errorf("got %q in %q, want %q in %q", p.Title, p.Function, tc.title, tc.function)
			}
			if len(p.Frames) == 0 && tc.name != "059-double-fault-in-generic-code" {
				t.Errorf("no frames")
			}
		})
	}
}

// TestOopsEndMarkerIsNoReport: "---[ end Kernel panic - not syncing: … ]---"
// repeats the panic line; it is neither a report nor another title.
func TestOopsEndMarkerIsNoReport(t *testing.T) {
	r := report.Parse(`Oops: divide error: 0000 [#1] PREEMPT SMP PTI
RIP: 0010:btrfs_delalloc_reserve_metadata+0x11e/0x5a0 [btrfs]
Call Trace:
 btrfs_dio_iomap_begin+0x5ad/0xae0 [btrfs]
Kernel panic - not syncing: Fatal exception
---[ end Kernel panic - not syncing: Fatal exception ]---
`)
	if len(r) != 1 || r[0].Panic != "kernel panic: Fatal exception" || !slices.Equal(r[0].AltTitles, []string{"kernel panic: Fatal exception"}) {
		t.Errorf("%d reports: %+v", len(r), r)
	}
}

// TestPanicBelongsToTheLastReport: the panic a hung task report leads to
// (hung_task_panic) is the last report's, not every report's before it
// (the mutex-deadlock corpus scenario's log, cut down).
func TestPanicBelongsToTheLastReport(t *testing.T) {
	r := report.Parse(`crashmod: module verification failed: signature and/or required key missing - tainting kernel
INFO: task crashmod_ab:133 blocked for more than 5 seconds.
Call trace:
 __switch_to+0xe8/0x120
 mutex_lock+0x78/0x90
 crashmod_abba_thread+0x50/0x7c [crashmod]
INFO: task crashmod_ba:134 blocked for more than 5 seconds.
Call trace:
 __switch_to+0xe8/0x120
 mutex_lock+0x78/0x90
 crashmod_abba_thread+0x50/0x7c [crashmod]
Kernel panic - not syncing: hung_task: blocked tasks
`)
	if len(r) != 3 || r[0].Panic != "" || r[1].Panic != "" || r[2].Panic != "kernel panic: hung_task: blocked tasks" {
		t.Fatalf("%+v", r)
	}
	if p := report.Primary(r); p != &r[1] || p.Title != "INFO: task hung in crashmod_abba_thread" {
		t.Errorf("primary %+v", p)
	}
}

// TestOopsTitleFromLogIsNotExpanded: a panic reason is text from the log; a
// "{{FUNC}}" or "$1" in it stays as it is.
func TestOopsTitleFromLogIsNotExpanded(t *testing.T) {
	r := report.Parse("Kernel panic - not syncing: {{FUNC}} $1 {{ACCESS}}\nCall Trace:\n foo+0x1/0x2\n")
	if len(r) != 1 || r[0].Title != "kernel panic: {{FUNC}} $NUM {{ACCESS}}" {
		t.Errorf("%+v", r)
	}
}

// TestOopsHugeInput runs the parser on 100 MB of log, of binary garbage and
// of empty lines. Each takes a second or two: the parser is linear, with a
// bounded line length and line count, and keeps no more than a few slices
// of per-line strings. A crash at the end of a log longer than the bound is
// still found, at its line in the input.
func TestOopsHugeInput(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB inputs")
	}
	const size = 100 << 20
	oops := "[ 2000.000001] BUG: kernel NULL pointer dereference, address: 0000000000000000\n" +
		"[ 2000.000002] RIP: 0010:foo_read+0x12/0x40 [foo]\n" +
		"[ 2000.000003] Call Trace:\n" +
		"[ 2000.000004]  vfs_read+0x99/0x140\n"
	var b strings.Builder
	b.Grow(size + len(oops))
	line := "[ 1234.567890] usb 1-1: new high-speed USB device number 2 using xhci_hcd\n"
	for b.Len() < size/2 {
		b.WriteString(line)
	}
	mid := strings.Count(b.String(), "\n")
	b.WriteString(oops)
	for b.Len() < size {
		b.WriteString(line)
	}
	end := strings.Count(b.String(), "\n")
	b.WriteString(oops)
	const title = "BUG: unable to handle kernel NULL pointer dereference in foo_read"
	start := time.Now()
	r := report.Parse(b.String())
	t.Logf("%d MB of log: %v", b.Len()>>20, time.Since(start))
	if len(r) != 2 || r[0].Title != title || r[1].Title != title || r[0].Lines[0] != mid || r[1].Lines[0] != end {
		t.Errorf("log: %d reports, want 2 at lines %d and %d: %+v", len(r), mid, end, r)
	}

	garbage := make([]byte, size)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	start = time.Now()
	r = report.Parse(string(garbage))
	t.Logf("%d MB of garbage: %v", len(garbage)>>20, time.Since(start))
	if len(r) != 0 {
		t.Errorf("garbage: %d reports", len(r))
	}

	empty := strings.Repeat("\n", size) + oops
	start = time.Now()
	r = report.Parse(empty)
	t.Logf("%d MB of empty lines: %v", len(empty)>>20, time.Since(start))
	if len(r) != 1 || r[0].Title != title || r[0].Lines[0] != size {
		t.Errorf("empty lines: %+v", r)
	}
}

// FuzzParse checks the invariants of Parse on any text: every report
// has a title, reports come in order, their lines lie inside the input,
// frames and functions are names, and a title holds no template left over
// unless the log itself had one. The seeds are the labelled reports.
func FuzzParse(f *testing.F) {
	for _, dc := range corpus.Find(corpus.Roots()...) {
		if b, ok := dc.ReadRef("oops-calltrace.txt"); ok {
			f.Add(string(b))
		}
		if len(dc.Files) > 0 {
			break
		}
	}
	files, _ := filepath.Glob(filepath.Join(corpus.RepoRoot(), "testdata", "oops", "[0-9]*.txt"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("BUG: KASAN: use-after-free in foo+0x1/0x2\nRead of size 8 at addr x\nCall Trace:\n bar+0x1/0x2\n")
	f.Fuzz(func(t *testing.T, s string) {
		reports := report.Parse(s)
		if (report.Primary(reports) == nil) != (len(reports) == 0) {
			t.Fatalf("Primary disagrees with %d reports", len(reports))
		}
		lines := strings.Count(s, "\n") + 1
		for i, r := range reports {
			if r.Title == "" || r.Type == "" || r.Frames == nil {
				t.Fatalf("report without title, type or frames: %+v", r)
			}
			if r.Lines[0] < 0 || r.Lines[1] < r.Lines[0] || r.Lines[1] >= lines {
				t.Fatalf("lines %v outside the input's %d: %+v", r.Lines, lines, r)
			}
			if i > 0 && r.Lines[0] <= reports[i-1].Lines[0] {
				t.Fatalf("report %d starts at line %d, before report %d at %d", i, r.Lines[0], i-1, reports[i-1].Lines[0])
			}
			if strings.ContainsAny(r.Function, " \t\n") {
				t.Fatalf("function %q is no name", r.Function)
			}
			for _, fr := range r.Frames {
				if fr.Function == "" || strings.ContainsAny(fr.Function, " \t\n") {
					t.Fatalf("frame %+v is no name", fr)
				}
			}
			if !strings.Contains(s, "{{") && strings.Contains(r.Title+strings.Join(r.AltTitles, ""), "{{") {
				t.Fatalf("template left in a title: %q %q", r.Title, r.AltTitles)
			}
		}
	})
}
