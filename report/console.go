package analyzer

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vmcore/vmcore/analysis"
)

// OopsReport is one oops, BUG, WARNING, lockup, stall or panic report found
// in a kernel log or console text.
type OopsReport struct {
	// Type is the kind of failure: "general protection fault", "WARNING",
	// "soft lockup", … (see oopsFormats).
	Type string `json:"type"`
	// Title is the normalized one-line title, in the convention syzbot uses
	// ("general protection fault in F"): addresses, offsets, CPU and PID
	// numbers and counters removed, so the same bug has the same title.
	Title string `json:"title"`
	// AltTitles are other titles the same bug may carry (for example the
	// panic that followed, or the title with the next candidate function).
	AltTitles []string `json:"alt_titles,omitempty"`
	// Function is the guilty function: the first frame outside generic
	// reporting, panic, locking, scheduling and allocation code.
	Function  string               `json:"function,omitempty"`
	Frames    []analysis.OopsFrame `json:"frames"`
	Modules   []string             `json:"modules,omitempty"` // "Modules linked in:"
	Taint     string               `json:"taint,omitempty"`   // letters of "Tainted: G   O E"
	Corrupted bool                 `json:"corrupted"`
	Reason    string               `json:"corrupted_reason,omitempty"`
	Lines     [2]int               `json:"lines"` // first and last line of the report in the input (0-based)
	Header    string               `json:"header"`
	weak      int
}

// oopsFormat recognises one kind of report by its header line. title is a
// template: {{FUNC}} is the guilty function, {{ACCESS}} the KASAN access
// (Read or Write), $1… the header's groups.
type oopsFormat struct {
	typ string
	// key is a literal every header of the format contains: header runs
	// only on lines that have it, which keeps a huge log cheap to scan.
	key    string
	header lazyRE
	title  string
	// funcFrom says where the guilty function comes from: "rip" (the
	// faulting instruction, then the trace), "trace", "header" (a function
	// named in the header itself, then the faulting instruction and the
	// trace), "wrapped" (a header whose function a mail client moved to
	// the next lines), or "" (none).
	funcFrom string
	// weak ranks informational reports (1 hardware errors, 2 module load
	// failures, 3 module signature notices): the crash is explained by a
	// report of rank 0 when there is one, else by the lowest rank.
	weak int
}

// oopsFormats is the recognition table, most specific first.
var oopsFormats = []oopsFormat{
	{"KASAN", "BUG: KASAN: ", re(`BUG: KASAN: ([a-z-]+) in ([\w.]+)`), "KASAN: $1 {{ACCESS}} in {{FUNC}}", "header", 0},
	{"KFENCE", "BUG: KFENCE: ", re(`BUG: KFENCE: ([a-z -]+?)( read| write)? in ([\w.]+)`), "KFENCE: $1$2 in {{FUNC}}", "header", 0},
	{"UBSAN", "UBSAN: ", re(`UBSAN: ([a-z-]+) in `), "UBSAN: $1 in {{FUNC}}", "trace", 0},
	{"NULL pointer dereference", "NULL pointer dereference", re(`BUG: (?:kernel NULL pointer dereference|unable to handle kernel NULL pointer dereference)|^Unable to handle kernel NULL pointer dereference`), "BUG: unable to handle kernel NULL pointer dereference in {{FUNC}}", "rip", 0},
	{"page fault", "to handle ", re(`BUG: unable to handle (?:page fault for address|kernel paging request)|^Unable to handle kernel paging request`), "BUG: unable to handle kernel paging request in {{FUNC}}", "rip", 0},
	{"general protection fault", "general protection fault", re(`general protection fault(?:, |: )`), "general protection fault in {{FUNC}}", "rip", 0},
	{"BUG", "kernel BUG at ", re(`kernel BUG at [^ ]+!`), "kernel BUG in {{FUNC}}", "rip", 0},
	// BUG() without CONFIG_DEBUG_BUGVERBOSE (lib/bug.c report_bug): the
	// bug table has no file and line, so the kernel names the function
	// ("Kernel BUG at f+0x1/0x2 [verbose debug info unavailable]"), or
	// only its address.
	{"BUG", "ernel BUG at ", re(`[Kk]ernel BUG at (?:([\w.]+)\+0x[0-9a-f]+|\S+)`), "kernel BUG in {{FUNC}}", "header", 0},
	{"WARNING", "WARNING: ", re(`WARNING: (?:CPU: \d+ PID: \d+ )?at [^ ]+ ([\w.]+)\+0x`), "WARNING in {{FUNC}}", "header", 0},
	{"WARNING", "WARNING: ", re(`WARNING: [^ ]+:\d+ at ([\w.]+)\+0x`), "WARNING in {{FUNC}}", "header", 0}, // 6.19+: "WARNING: file:line at func+0x…, CPU#…"
	{"WARNING", "WARNING: ", re(`WARNING: CPU: \d+ PID: \d+ at(?: [^ ]+)?\s*$`), "WARNING in {{FUNC}}", "wrapped", 0},
	{"soft lockup", "BUG: soft lockup", re(`BUG: soft lockup - CPU#\d+ stuck for`), "BUG: soft lockup in {{FUNC}}", "rip", 0},
	{"hard lockup", "hard LOCKUP on cpu", re(`Watchdog detected hard LOCKUP on cpu`), "BUG: hard lockup in {{FUNC}}", "rip", 0},
	{"hung task", " blocked for more than ", re(`INFO: task .+:\d+ blocked for more than \d+ seconds`), "INFO: task hung in {{FUNC}}", "trace", 0},
	{"RCU stall", "INFO: rcu_", re(`INFO: rcu_(?:sched|preempt|bh) (?:self-)?detected (?:stall|stalls|expedited stalls)`), "INFO: rcu detected stall in {{FUNC}}", "rip", 0},
	{"divide error", "divide error: ", re(`divide error: [0-9a-f]{4}`), "divide error in {{FUNC}}", "rip", 0},
	// ud2 that is not in the bug table: BUG() in a kernel built without
	// CONFIG_BUG, __builtin_trap, a bad jump. With a bug table entry the
	// "kernel BUG at" line comes first and the BUG format above holds it.
	{"invalid opcode", "invalid opcode: ", re(`invalid opcode: [0-9a-f]{4}`), "invalid opcode in {{FUNC}}", "rip", 0},
	{"double fault", "PANIC: double fault", re(`PANIC: double fault`), "double fault in {{FUNC}}", "rip", 0},
	{"stack-protector", "stack-protector: ", re(`Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: ([\w.]+)`), "kernel panic: stack-protector: Kernel stack is corrupted in: $1", "header", 0},
	{"OOM panic", "Kernel panic - not syncing: ", re(`Kernel panic - not syncing: (Out of memory.*|System is deadlocked on memory.*)`), "kernel panic: $1", "", 0},
	{"panic", "Kernel panic - not syncing: ", re(`Kernel panic - not syncing: (.*)`), "kernel panic: $1", "trace", 0},
	{"MCE", "[Hardware Error]", re(`mce: \[Hardware Error\]`), "MCE: Hardware Error", "", 1},
	{"module load", "Unknown symbol ", re(`\w+: Unknown symbol (\w+)`), "module load: Unknown symbol $1", "", 2},
	{"module signature", "Key was rejected by service", re(`(Key was rejected by service)`), "module signature: $1", "", 3},
	{"module signature", "module verification failed", re(`(module verification failed)`), "module signature: $1", "", 3},
	{"module signature", "Loading of unsigned module is rejected", re(`(Loading of unsigned module is rejected)`), "module signature: $1", "", 3},
}

// lazyRE is a regular expression compiled on first use, so programs that
// never parse an oops (vmcorectl log) do not pay for compiling the table.
type lazyRE struct {
	src  string
	once *sync.Once
	re   **regexp.Regexp
}

func re(s string) lazyRE { return lazyRE{src: s, once: new(sync.Once), re: new(*regexp.Regexp)} }

func (l lazyRE) get() *regexp.Regexp {
	l.once.Do(func() { *l.re = regexp.MustCompile(l.src) })
	return *l.re
}

// FindStringSubmatch, FindStringSubmatchIndex, MatchString and
// ReplaceAllString forward to the compiled expression.
func (l lazyRE) FindStringSubmatch(s string) []string   { return l.get().FindStringSubmatch(s) }
func (l lazyRE) FindStringSubmatchIndex(s string) []int { return l.get().FindStringSubmatchIndex(s) }
func (l lazyRE) MatchString(s string) bool              { return l.get().MatchString(s) }
func (l lazyRE) ReplaceAllString(s, repl string) string { return l.get().ReplaceAllString(s, repl) }

// Line prefixes to strip: syslog's "kernel:", the timestamp, the caller id
// and the level, in any combination. A reporter's indentation before them
// goes too.
var (
	linePrefix = re(`^(?:<\d>)?(?:[A-Z][a-z]{2}\s+\d+ [\d:]+ \S+ kernel:\s*|\d{4}-\d\d-\d\dT[\d:.]+(?:[+-][\d:]+|Z)? \S+ kernel:\s*)?(?:<\d>)?(?:\[\s*\d+\.\d+\]|\[\w{3} \w{3}\s+\d+ [\d:]+ \d{4}\])?(?:\[\s*([TC]\d+)\])?\s?`)
	// frameLine is a call trace frame: x86 and arm ("[<pc>] ? f+0x1/0x2
	// [mod]"), powerpc ("[sp] [pc] f+0x1/0x2 (unreliable)").
	frameLine = re(`^\s*(?:\[<[0-9a-f]+>\]\s*|\[[0-9a-f]{8,16}\] \[[0-9a-f]{8,16}\]\s*)?(\? )?([\w.$]+)\+(0x[0-9a-f]+/0x[0-9a-f]+)(?: \[(\w+)\])?( \(unreliable\))?`)
	ripLine   = re(`^(?:RIP: [0-9a-f]{4}:(?:\[<[0-9a-f]+>\]\s+\[<[0-9a-f]+>\] )?|pc : |PC is at |EIP: [0-9a-f]{4}:\[<[0-9a-f]+>\] )([\w.$]+)\+0x`)
	endLine   = re(`---\[ end (?:trace|Kernel panic)`)
	taintLine = re(`Tainted: ([A-Z ]+?)\s+[0-9]`)
	numbers   = re(`\b0x[0-9a-fA-F]+\b|\b\d+\b`)
	// editorNumber is a line number that a reporter's editor, pager or
	// `cat -n` put in front of each line.
	editorNumber = re(`^[ \t]*(\d{1,9})(?:[ \t]+|[:|][ \t]?|$)`)
)

// genericFrames are never the guilty function: they report, panic, lock,
// schedule, allocate or enter exceptions on behalf of the real culprit, or
// drop a reference for callers all over the kernel (iput, ihold, dput: the
// bug is almost always in the caller, and syzbot skips them too).
var genericFrames = re(
	`^(dump_stack|dump_stack_lvl|show_stack|show_regs|__show_regs|print_|printk|_printk|vprintk|panic|nmi_panic|__crash_kexec|crash_kexec|machine_kexec|check_panic_on_warn|__warn|warn_slowpath|report_bug|handle_bug|do_trap|do_error_trap|die|__die|oops_end|oops_begin|exc_|asm_exc_|asm_sysvec_|sysvec_|__sysvec_|irq_exit|common_interrupt|page_fault|__do_page_fault|do_page_fault|do_user_addr_fault|handle_page_fault|do_kern_addr_fault|bad_area|__bad_area|no_context|page_fault_oops|kernelmode_fixup_or_oops|spurious_kernel_fault|fixup_exception|kasan_|__kasan_|__asan_|asan_|check_memory_region|print_address_description|print_report|ubsan_|__ubsan_|kfence_|__kfence_|_raw_spin_|spin_|_raw_read_|_raw_write_|queued_spin|native_queued|mutex_|__mutex_|down|__down|up_|rwsem_|__rwsem_|rt_mutex|__rt_mutex|schedule|__schedule|io_schedule|preempt_schedule|wait_for_completion|__wait_for_common|wait_for_common|do_wait_for_common|kmalloc|__kmalloc|kmem_cache_alloc|kmem_cache_free|kfree|__kmem_cache|slab_|__slab_|___slab_|alloc_pages|__alloc_pages|alloc_page|__get_free_pages|memcpy|memset|memmove|__memcpy|__memset|strcpy|strlen|strncpy|watchdog_timer_fn|__hrtimer_run_queues|hrtimer_interrupt|watchdog_|rcu_|__rcu_|update_process_times|tick_|nmi_|default_do_nmi|asm_|entry_|do_syscall_64|__x64_sys_|ret_from_fork|kthread$|worker_thread|process_one_work|smp_call_function|generic_exec_single|csd_lock|lock_acquire|lock_release|__lock_acquire|warn_alloc|out_of_memory|oom_kill|dump_header|do_raw_spin_|native_queued_spin|queued_write|queued_read|console_|vprintk|printk_|arch_stack_walk|stack_trace_|__delay|delay_|udelay|__const_udelay|mwait|__folio_lock|folio_wait|__lock_page|wait_on_page|bit_wait|out_of_line_wait_on_bit|__wait_on_bit|__cond_resched|_cond_resched|cpu_relax|native_safe_halt|default_idle|irqentry_|smp_apic_timer_interrupt|apic_timer_interrupt|do_IRQ|irq_enter|mempool_|krealloc|__list_del_entry_valid|__list_add_valid|list_del|__list_del|bt_err|bt_warn|_?dev_err|_?dev_warn|_?dev_info|_?_?dev_printk|dev_vprintk|iput$|iput_final$|ihold$|dput$|fast_dput$)`)

// genericFrame reports whether a frame name is reporting machinery.
func genericFrame(name string) bool {
	base, _, _ := strings.Cut(name, ".") // __handle_sysrq.cold → __handle_sysrq
	return genericFrames.MatchString(base)
}

// Bounds on the input: a huge log is cut to its last maxLogLines lines (the
// end of a log is where a crash is), and a line to maxLineLen bytes (a
// printk record is at most 2 KiB; what is longer is not kernel output).
// One report spans at most maxReportLines lines.
const (
	maxLogLines    = 1 << 22
	maxLineLen     = 4096
	maxReportLines = 300
)

// ParseOops finds every report in text (a kernel log, console log or
// pasted text), in order. It never fails: text without a report gives nil,
// and a report cut short or interleaved with others is marked Corrupted.
// Time and memory are linear in the size of text, with the bounds above.
func ParseOops(text string) []OopsReport {
	lines, callers, first := consoleLines(text)
	var reports []OopsReport
	for i := 0; i < len(lines); i++ {
		f, m := matchHeader(lines[i])
		if f == nil {
			continue
		}
		r := buildReport(f, m, lines, callers, i)
		n := len(reports)
		if n > 0 && f.typ == "panic" && reports[n-1].weak == 0 && isFatalAfter(r.Header) {
			// "Fatal exception", "panic_on_warn set …": this panic only
			// ends the report before it, which keeps it as another title.
			reports[n-1].AltTitles = append(reports[n-1].AltTitles, r.Title)
			reports[n-1].Lines[1] = max(reports[n-1].Lines[1], r.Lines[1])
		} else {
			reports = append(reports, r)
		}
		if r.Lines[1] > i {
			i = r.Lines[1]
		}
	}
	for i := range reports {
		reports[i].Lines[0] += first
		reports[i].Lines[1] += first
	}
	return reports
}

// consoleLines splits text into lines and undoes what logging, editors and
// mail did to them, so that the formats match the kernel's own words. It
// removes, in order: a reporter's line numbers (see editorNumbers), the
// no-break spaces a mail client wrote for runs of spaces, the prefixes
// linePrefix names (with any indentation before them; the caller id, [T123]
// or [C1], is kept in callers to tell interleaved contexts apart), double
// spacing (see doubleSpaced), and the breaks a mail client or terminal put
// in long lines. first is the index in text of lines[0].
func consoleLines(text string) (lines, callers []string, first int) {
	if n := strings.Count(text, "\n"); n >= maxLogLines {
		cut := len(text)
		for range maxLogLines {
			cut = strings.LastIndexByte(text[:cut], '\n')
		}
		text, first = text[cut+1:], n+1-maxLogLines
	}
	raw := strings.Split(text, "\n")
	for i, l := range raw {
		if len(l) > maxLineLen {
			l = l[:maxLineLen]
		}
		raw[i] = strings.TrimRight(l, "\r")
	}
	numbers := editorNumbers(raw)
	blank := make([]bool, len(raw))
	for i, l := range raw {
		if numbers != nil {
			l = l[numbers[i]:]
		}
		if strings.Contains(l, "\u00a0") {
			l = strings.ReplaceAll(l, "\u00a0", " ")
		}
		raw[i], blank[i] = l, strings.TrimSpace(l) == ""
	}
	dedent(raw, blank)
	lines = make([]string, len(raw))
	callers = make([]string, len(raw))
	stamped := make([]bool, len(raw))
	for i, l := range raw {
		body := strings.TrimLeft(l, " \t")
		if m := linePrefix.FindStringSubmatchIndex(body); m != nil && strings.TrimSpace(body[:m[1]]) != "" {
			if m[2] >= 0 {
				callers[i] = body[m[2]:m[3]]
			}
			stamped[i] = true
			l = body[m[1]:]
		}
		lines[i] = l
	}
	spacing := doubleSpaced(blank)
	// A mail client or a terminal wraps long lines: in a log whose lines
	// carry prefixes, the lines without one that do not start with white
	// space (the kernel's own continuation lines are indented) continue
	// the prefixed line before them. A break right after a '/' split a
	// path, so no space goes back there.
	host, last := -1, ""
	var joined strings.Builder
	flush := func() {
		if host >= 0 && joined.Len() > 0 {
			lines[host] = joined.String()
		}
		host = -1
		joined.Reset()
	}
	for i, l := range lines {
		switch {
		case stamped[i]:
			flush()
			if l != "" {
				host, last = i, strings.TrimRight(l, " ")
			}
		case blank[i]:
			if spacing == nil || !spacing[i] {
				flush()
			}
		case host >= 0 && l[0] != ' ' && l[0] != '\t':
			if joined.Len() == 0 {
				joined.WriteString(last)
			}
			if joined.Len()+1+len(l) > maxLineLen {
				flush()
				continue
			}
			if !strings.HasSuffix(last, "/") {
				joined.WriteByte(' ')
			}
			last = strings.TrimRight(l, " ")
			joined.WriteString(last)
			lines[i] = ""
		default:
			flush()
		}
	}
	flush()
	return lines, callers, first
}

// dedent removes the indentation a reporter gave a whole block of text (a
// run of lines without a blank one): the white space all its lines start
// with. A block of one line is left alone, as the kernel indents lines of
// its own.
func dedent(raw []string, blank []bool) {
	for i := 0; i < len(raw); {
		if blank[i] {
			i++
			continue
		}
		j, indent := i+1, raw[i][:len(raw[i])-len(strings.TrimLeft(raw[i], " \t"))]
		for ; j < len(raw) && !blank[j] && indent != ""; j++ {
			for !strings.HasPrefix(raw[j], indent) {
				indent = indent[:len(indent)-1]
			}
		}
		for ; j < len(raw) && !blank[j]; j++ {
		}
		if indent != "" && j-i > 1 {
			for k := i; k < j; k++ {
				raw[k] = raw[k][len(indent):]
			}
		}
		i = j
	}
}

// editorNumbers finds the line numbers a reporter's editor, pager or
// `cat -n` put in front of the lines of a log: a run of at least three
// lines numbered n, n+1, n+2…, where two numbered lines may have a few
// unnumbered (wrapped) lines between them. It returns how many bytes to cut
// from the front of each line, or nil when no line is numbered.
func editorNumbers(raw []string) []int {
	const minRun, maxWrapped = 3, 4
	type numbered struct{ line, n, end int }
	var cut []int
	var run []numbered
	flush := func() {
		if len(run) >= minRun {
			if cut == nil {
				cut = make([]int, len(raw))
			}
			for _, x := range run {
				cut[x.line] = x.end
			}
		}
		run = run[:0]
	}
	for i, l := range raw {
		if len(run) > 0 && i-run[len(run)-1].line > maxWrapped+1 {
			flush()
		}
		if l == "" || (l[0] != ' ' && l[0] != '\t' && (l[0] < '0' || l[0] > '9')) {
			continue
		}
		m := editorNumber.FindStringSubmatchIndex(l)
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(l[m[2]:m[3]])
		if err != nil {
			continue
		}
		if len(run) > 0 && n != run[len(run)-1].n+1 {
			flush()
		}
		run = append(run, numbered{i, n, m[1]})
	}
	flush()
	return cut
}

// doubleSpaced finds the blank lines that only double-space a stretch of
// text (dmesg pasted into a mail client that doubles every line break): a
// chain of at least four blocks of text lines, each separated from the next
// by one blank line, at least half of the blocks a single line. It returns
// nil when there is none.
func doubleSpaced(blank []bool) []bool {
	const minBlocks = 4
	var spacing []bool
	var chain, single int // blocks in the chain, and how many are one line
	var gaps []int        // the blank lines between the chain's blocks
	flush := func() {
		if chain >= minBlocks && 2*single >= chain {
			if spacing == nil {
				spacing = make([]bool, len(blank))
			}
			for _, g := range gaps {
				spacing[g] = true
			}
		}
		chain, single, gaps = 0, 0, gaps[:0]
	}
	for i := 0; i < len(blank); {
		j := i
		for j < len(blank) && blank[j] == blank[i] {
			j++
		}
		switch {
		case !blank[i]:
			chain++
			if j-i == 1 {
				single++
			}
		case j-i == 1 && chain > 0 && j < len(blank):
			gaps = append(gaps, i)
		default:
			flush()
		}
		i = j
	}
	flush()
	return spacing
}

// isFatalAfter tells panics that only follow an earlier report.
func isFatalAfter(header string) bool {
	for _, s := range []string{"Fatal exception", "Fatal exception in interrupt", "panic_on_warn set", "softlockup: hung tasks",
		"hung_task: blocked tasks", "hard LOCKUP", "Fatal Machine check"} {
		if strings.Contains(header, s) {
			return true
		}
	}
	return false
}

// matchHeader finds the format whose header l is. The end marker
// "---[ end Kernel panic - not syncing: … ]---" repeats a panic's header
// and is none.
func matchHeader(l string) (*oopsFormat, []string) {
	if strings.Contains(l, "---[ end ") && endLine.MatchString(l) {
		return nil, nil
	}
	for i := range oopsFormats {
		if !strings.Contains(l, oopsFormats[i].key) {
			continue
		}
		if m := oopsFormats[i].header.FindStringSubmatch(l); m != nil {
			return &oopsFormats[i], m
		}
	}
	return nil, nil
}

func buildReport(f *oopsFormat, m []string, lines, callers []string, start int) OopsReport {
	r := OopsReport{Type: f.typ, Header: strings.TrimSpace(lines[start]), weak: f.weak, Frames: []analysis.OopsFrame{}}
	caller := callers[start]
	end := start
	inTrace := false
	rip := ""
	access := ""
	headerFunc := ""
	start0 := start // the header line the title is taken from
	for j := start; j < len(lines) && j < start+maxReportLines; j++ {
		l := lines[j]
		if f.funcFrom == "wrapped" && j > start && j <= start+3 && headerFunc == "" {
			// A WARNING header wrapped by a mail client: the file and
			// function come on the next lines.
			if fm := frameLine.FindStringSubmatch(l); fm != nil && !strings.HasPrefix(l, "RIP") {
				headerFunc = fm[2]
				continue
			}
		}
		if j > start {
			if caller != "" && callers[j] != "" && callers[j] != caller {
				if !inTrace {
					continue // another CPU's line in the middle: skip it
				}
				r.Corrupted, r.Reason = true, "lines of another context interleaved in the call trace"
				continue
			}
			if g, gm := matchHeader(l); g != nil {
				switch {
				case g.typ == f.typ && j == start+1 && strings.Contains(lines[start], "[inline]"):
					// KASAN names an [inline] function first, then repeats
					// the header with the function it was inlined into.
					m, start0 = gm, j
				case f.typ == "BUG" && g.typ == "invalid opcode":
					// kernel BUG's ud2 reports itself as an invalid opcode.
				case g.typ == "panic" && f.typ != "panic" && isFatalAfter(l):
					// The panic this report led to; its trace follows.
					r.AltTitles = append(r.AltTitles, expandTitle(g, gm, "", ""))
				case g.typ == "panic" && f.typ != "panic":
					end = j - 1
					j = len(lines) // a later panic of its own
					continue
				default:
					j = len(lines) // the next report
					continue
				}
			}
		}
		end = j
		if endLine.MatchString(l) {
			break
		}
		switch {
		case strings.HasPrefix(l, "Call Trace:"), strings.HasPrefix(l, "Call trace:"):
			inTrace = true
			continue
		case strings.HasPrefix(l, "Modules linked in:"):
			r.Modules = strings.Fields(strings.TrimPrefix(l, "Modules linked in:"))
			continue
		}
		if t := taintLine.FindStringSubmatch(l); t != nil && r.Taint == "" {
			r.Taint = strings.ReplaceAll(strings.TrimSpace(t[1]), " ", "")
		}
		if rm := ripLine.FindStringSubmatch(l); rm != nil && rip == "" {
			rip = rm[1]
		}
		if strings.Contains(l, "Read of size") {
			access = "Read"
		} else if strings.Contains(l, "Write of size") {
			access = "Write"
		}
		if fm := frameLine.FindStringSubmatch(l); fm != nil && (inTrace || f.typ == "hung task" || f.typ == "KFENCE") && !strings.HasPrefix(l, "RIP:") && !strings.HasPrefix(l, "pc :") && !strings.HasPrefix(l, "lr :") {
			r.Frames = append(r.Frames, analysis.OopsFrame{Function: fm[2], Offset: fm[3], Module: fm[4], Unreliable: fm[1] != "" || fm[5] != ""})
		}
	}
	r.Lines = [2]int{start, end}
	// The guilty function.
	var cands []string
	switch f.funcFrom {
	case "header":
		// A function the header names as [inline] is not a frame of its
		// own: the title names the function it was inlined into.
		if len(m) > 1 && !strings.Contains(lines[start0], "[inline]") {
			fn := m[len(m)-1]
			if f.typ == "KASAN" {
				fn = m[2]
			}
			cands = append(cands, fn)
		}
		cands = append(cands, rip)
		cands = append(cands, traceCandidates(r.Frames)...)
	case "rip", "wrapped":
		cands = append(cands, headerFunc, rip)
		cands = append(cands, traceCandidates(r.Frames)...)
	case "trace":
		cands = append(cands, traceCandidates(r.Frames)...)
	}
	var guilty []string // each function once: the second one makes an alternative title
	for _, c := range cands {
		if c != "" && !genericFrame(c) && !slices.ContainsFunc(guilty, func(g string) bool { return stripSuffixes(g) == stripSuffixes(c) }) {
			guilty = append(guilty, c)
		}
	}
	if len(guilty) == 0 && f.funcFrom != "" {
		// Only '?' frames (a bad RIP, a trace found by scanning): the
		// first of them is the best guess left.
		for _, fr := range r.Frames {
			if !genericFrame(fr.Function) {
				guilty = append(guilty, fr.Function)
				break
			}
		}
	}
	if len(guilty) == 0 && f.funcFrom != "" && rip != "" {
		// Nothing but generic code: the faulting function still says
		// more than no function (a double fault in the page fault
		// handler, a lockup spinning in a lock).
		guilty = append(guilty, rip)
	}
	if len(guilty) > 0 {
		r.Function = guilty[0]
	}
	if f.funcFrom != "" && r.Function == "" && len(r.Frames) == 0 && rip == "" {
		r.Corrupted, r.Reason = true, "no call trace and no faulting instruction"
	}
	r.Title = expandTitle(f, m, r.Function, access)
	if len(guilty) > 1 && strings.Contains(f.title, "{{FUNC}}") {
		r.AltTitles = append(r.AltTitles, expandTitle(f, m, guilty[1], access))
	}
	return r
}

func traceCandidates(frames []analysis.OopsFrame) []string {
	var out []string
	for _, fr := range frames {
		if !fr.Unreliable {
			out = append(out, fr.Function)
		}
	}
	return out
}

// expandTitle fills in a format's title template in one pass, so that text
// from the log (a panic reason) is never expanded again. A title whose
// function or access is unknown drops " in {{FUNC}}" or " {{ACCESS}}".
func expandTitle(f *oopsFormat, m []string, fn, access string) string {
	var b strings.Builder
	for t := f.title; t != ""; {
		switch {
		case strings.HasPrefix(t, " in {{FUNC}}") && fn == "":
			t = t[len(" in {{FUNC}}"):]
		case strings.HasPrefix(t, "{{FUNC}}"):
			b.WriteString(stripSuffixes(fn))
			t = t[len("{{FUNC}}"):]
		case strings.HasPrefix(t, " {{ACCESS}}") && access == "":
			t = t[len(" {{ACCESS}}"):]
		case strings.HasPrefix(t, "{{ACCESS}}"):
			b.WriteString(access)
			t = t[len("{{ACCESS}}"):]
		case len(t) > 1 && t[0] == '$' && t[1] >= '1' && t[1] <= '9':
			if k := int(t[1] - '0'); k < len(m) {
				b.WriteString(m[k])
			}
			t = t[2:]
		default:
			b.WriteByte(t[0])
			t = t[1:]
		}
	}
	title := b.String()
	if f.typ == "panic" || f.typ == "OOM panic" {
		title = numbers.ReplaceAllString(title, "N")
	}
	return strings.TrimSpace(title)
}

// stripSuffixes drops compiler clone suffixes: foo.cold, foo.isra.0, foo.constprop.0, foo.part.0.
func stripSuffixes(fn string) string {
	if i := strings.IndexByte(fn, '.'); i > 0 {
		return fn[:i]
	}
	return fn
}

// PrimaryOops is the report that explains the crash: the first one that is
// not informational (module loading), else the first.
func PrimaryOops(reports []OopsReport) *OopsReport {
	best := -1
	for i := range reports {
		if best < 0 || reports[i].weak < reports[best].weak {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	return &reports[best]
}
