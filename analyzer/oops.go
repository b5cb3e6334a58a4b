package analyzer

import (
	"regexp"
	"strings"
	"sync"
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
	Function  string      `json:"function,omitempty"`
	Frames    []OopsFrame `json:"frames"`
	Modules   []string    `json:"modules,omitempty"` // "Modules linked in:"
	Taint     string      `json:"taint,omitempty"`   // letters of "Tainted: G   O E"
	Corrupted bool        `json:"corrupted"`
	Reason    string      `json:"corrupted_reason,omitempty"`
	Lines     [2]int      `json:"lines"` // first and last line of the report in the input (0-based)
	Header    string      `json:"header"`
	weak      int
}

// OopsFrame is one frame of a report's call trace.
type OopsFrame struct {
	Function   string `json:"function"`
	Offset     string `json:"offset,omitempty"` // "0x12/0x34"
	Module     string `json:"module,omitempty"`
	Unreliable bool   `json:"unreliable,omitempty"` // printed with '?'
}

// oopsFormat recognises one kind of report by its header line. title is a
// template: {{FUNC}} is the guilty function, $1… the header's groups.
type oopsFormat struct {
	typ    string
	header lazyRE
	title  string
	// funcFrom says where the guilty function comes from: "rip" (the
	// faulting instruction, then the trace), "trace", "header" (a function
	// named in the header itself, then the trace), or "" (none).
	funcFrom string
	// weak ranks informational reports (1 hardware errors, 2 module load
	// failures, 3 module signature notices): the crash is explained by a
	// report of rank 0 when there is one, else by the lowest rank.
	weak int
}

// oopsFormats is the recognition table, most specific first.
var oopsFormats = []oopsFormat{
	{"KASAN", re(`BUG: KASAN: ([a-z-]+) in ([\w.]+)`), "KASAN: $1 {{ACCESS}} in {{FUNC}}", "header", 0},
	{"KFENCE", re(`BUG: KFENCE: ([a-z -]+?)( read| write)? in ([\w.]+)`), "KFENCE: $1$2 in {{FUNC}}", "header", 0},
	{"UBSAN", re(`UBSAN: ([a-z-]+) in `), "UBSAN: $1 in {{FUNC}}", "trace", 0},
	{"NULL pointer dereference", re(`BUG: (?:kernel NULL pointer dereference|unable to handle kernel NULL pointer dereference)|^Unable to handle kernel NULL pointer dereference`), "BUG: unable to handle kernel NULL pointer dereference in {{FUNC}}", "rip", 0},
	{"page fault", re(`BUG: unable to handle (?:page fault for address|kernel paging request)|^Unable to handle kernel paging request`), "BUG: unable to handle kernel paging request in {{FUNC}}", "rip", 0},
	{"general protection fault", re(`general protection fault(?:, |: )`), "general protection fault in {{FUNC}}", "rip", 0},
	{"BUG", re(`kernel BUG at [^ ]+!`), "kernel BUG in {{FUNC}}", "rip", 0},
	{"WARNING", re(`WARNING: (?:CPU: \d+ PID: \d+ )?at [^ ]+ ([\w.]+)\+0x`), "WARNING in {{FUNC}}", "header", 0},
	{"WARNING", re(`WARNING: [^ ]+:\d+ at ([\w.]+)\+0x`), "WARNING in {{FUNC}}", "header", 0}, // 6.19+: "WARNING: file:line at func+0x…, CPU#…"
	{"WARNING", re(`WARNING: CPU: \d+ PID: \d+ at(?: [^ ]+)?\s*$`), "WARNING in {{FUNC}}", "wrapped", 0},
	{"soft lockup", re(`BUG: soft lockup - CPU#\d+ stuck for`), "BUG: soft lockup in {{FUNC}}", "rip", 0},
	{"hard lockup", re(`Watchdog detected hard LOCKUP on cpu`), "BUG: hard lockup in {{FUNC}}", "rip", 0},
	{"hung task", re(`INFO: task .+:\d+ blocked for more than \d+ seconds`), "INFO: task hung in {{FUNC}}", "trace", 0},
	{"RCU stall", re(`INFO: rcu_(?:sched|preempt|bh) (?:self-)?detected (?:stall|stalls|expedited stalls)`), "INFO: rcu detected stall in {{FUNC}}", "rip", 0},
	{"divide error", re(`divide error: [0-9a-f]{4}`), "divide error in {{FUNC}}", "rip", 0},
	{"invalid opcode", re(`invalid opcode: [0-9a-f]{4}`), "invalid opcode in {{FUNC}}", "rip", 0},
	{"double fault", re(`PANIC: double fault`), "double fault in {{FUNC}}", "rip", 0},
	{"stack-protector", re(`Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: ([\w.]+)`), "kernel panic: stack-protector: Kernel stack is corrupted in: $1", "header", 0},
	{"OOM panic", re(`Kernel panic - not syncing: (Out of memory.*|System is deadlocked on memory.*)`), "kernel panic: $1", "", 0},
	{"panic", re(`Kernel panic - not syncing: (.*)`), "kernel panic: $1", "trace", 0},
	{"MCE", re(`mce: \[Hardware Error\]`), "MCE: Hardware Error", "", 1},
	{"module load", re(`\w+: Unknown symbol (\w+)`), "module load: Unknown symbol $1", "", 2},
	{"module signature", re(`(Key was rejected by service|module verification failed|Loading of unsigned module is rejected)`), "module signature: $1", "", 3},
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
// and the level, in any combination.
var (
	linePrefix = re(`^(?:<\d>)?(?:[A-Z][a-z]{2}\s+\d+ [\d:]+ \S+ kernel:\s*|\d{4}-\d\d-\d\dT[\d:.]+(?:[+-][\d:]+|Z)? \S+ kernel:\s*)?(?:<\d>)?(?:\[\s*\d+\.\d+\]|\[\w{3} \w{3}\s+\d+ [\d:]+ \d{4}\])?(?:\[\s*([TC]\d+)\])?\s?`)
	frameLine  = re(`^\s*(?:\[<[0-9a-f]+>\]\s*)?(\? )?([\w.$]+)\+(0x[0-9a-f]+/0x[0-9a-f]+)(?: \[(\w+)\])?`)
	ripLine    = re(`^(?:RIP: [0-9a-f]{4}:(?:\[<[0-9a-f]+>\]\s+\[<[0-9a-f]+>\] )?|pc : |PC is at |EIP: [0-9a-f]{4}:\[<[0-9a-f]+>\] )([\w.$]+)\+0x`)
	endLine    = re(`---\[ end (?:trace|Kernel panic)`)
	taintLine  = re(`Tainted: ([A-Z ]+?)\s+[0-9]`)
	numbers    = re(`\b0x[0-9a-fA-F]+\b|\b\d+\b`)
)

// genericFrames are never the guilty function: they report, panic, lock,
// schedule, allocate or enter exceptions on behalf of the real culprit.
var genericFrames = re(
	`^(dump_stack|dump_stack_lvl|show_stack|show_regs|__show_regs|print_|printk|_printk|vprintk|panic|nmi_panic|__crash_kexec|crash_kexec|machine_kexec|check_panic_on_warn|__warn|warn_slowpath|report_bug|handle_bug|do_trap|do_error_trap|die|__die|oops_end|oops_begin|exc_|asm_exc_|asm_sysvec_|sysvec_|__sysvec_|irq_exit|common_interrupt|page_fault|__do_page_fault|do_page_fault|do_user_addr_fault|handle_page_fault|do_kern_addr_fault|bad_area|__bad_area|no_context|page_fault_oops|kernelmode_fixup_or_oops|spurious_kernel_fault|fixup_exception|kasan_|__kasan_|__asan_|asan_|check_memory_region|print_address_description|print_report|ubsan_|__ubsan_|kfence_|__kfence_|_raw_spin_|spin_|_raw_read_|_raw_write_|queued_spin|native_queued|mutex_|__mutex_|down|__down|up_|rwsem_|__rwsem_|rt_mutex|__rt_mutex|schedule|__schedule|io_schedule|preempt_schedule|wait_for_completion|__wait_for_common|wait_for_common|do_wait_for_common|kmalloc|__kmalloc|kmem_cache_alloc|kmem_cache_free|kfree|__kmem_cache|slab_|__slab_|___slab_|alloc_pages|__alloc_pages|alloc_page|__get_free_pages|memcpy|memset|memmove|__memcpy|__memset|strcpy|strlen|strncpy|watchdog_timer_fn|__hrtimer_run_queues|hrtimer_interrupt|watchdog_|rcu_|__rcu_|update_process_times|tick_|nmi_|default_do_nmi|asm_|entry_|do_syscall_64|__x64_sys_|ret_from_fork|kthread$|worker_thread|process_one_work|smp_call_function|generic_exec_single|csd_lock|lock_acquire|lock_release|__lock_acquire|warn_alloc|out_of_memory|oom_kill|dump_header|do_raw_spin_|native_queued_spin|queued_write|queued_read|console_|vprintk|printk_|arch_stack_walk|stack_trace_|__delay|delay_|udelay|__const_udelay|mwait|__folio_lock|folio_wait|__lock_page|wait_on_page|bit_wait|out_of_line_wait_on_bit|__wait_on_bit|__cond_resched|_cond_resched|cpu_relax|native_safe_halt|default_idle|irqentry_|smp_apic_timer_interrupt|apic_timer_interrupt|do_IRQ|irq_enter|mempool_|krealloc|__list_del_entry_valid|__list_add_valid|list_del|__list_del|bt_err|bt_warn|_?dev_err|_?dev_warn|_?dev_info|_?_?dev_printk|dev_vprintk)`)

// genericFrame reports whether a frame name is reporting machinery.
func genericFrame(name string) bool {
	base, _, _ := strings.Cut(name, ".") // __handle_sysrq.cold → __handle_sysrq
	return genericFrames.MatchString(base)
}

// maxReportLines bounds one report.
const maxReportLines = 300

// ParseOops finds every report in text (a kernel log, console log or
// pasted text), in order. It never fails: text without a report gives nil,
// and a report cut short or interleaved with others is marked Corrupted.
func ParseOops(text string) []OopsReport {
	raw := strings.Split(text, "\n")
	if len(raw) > 1<<22 {
		raw = raw[len(raw)-1<<22:] // the end of a huge log is where a crash is
	}
	lines := make([]string, len(raw))
	callers := make([]string, len(raw))
	stamped := make([]bool, len(raw))
	for i, l := range raw {
		l = strings.TrimRight(l, "\r")
		if m := linePrefix.FindStringSubmatchIndex(l); m != nil {
			if m[2] >= 0 {
				callers[i] = l[m[2]:m[3]]
			}
			stamped[i] = m[1] > 0
			l = l[m[1]:]
		}
		lines[i] = l
	}
	// A mail client or a terminal wraps long lines: in a log whose lines
	// carry timestamps, a line without one that does not start with white
	// space (the kernel's own continuation lines are indented) continues
	// the line before it.
	for i := len(lines) - 1; i > 0; i-- {
		if stamped[i-1] && !stamped[i] && lines[i] != "" && lines[i][0] != ' ' && lines[i][0] != '\t' && lines[i-1] != "" {
			lines[i-1] = strings.TrimRight(lines[i-1], " ") + " " + lines[i]
			lines[i] = ""
		}
	}
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
	return reports
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

func matchHeader(l string) (*oopsFormat, []string) {
	for i := range oopsFormats {
		if m := oopsFormats[i].header.FindStringSubmatch(l); m != nil {
			return &oopsFormats[i], m
		}
	}
	return nil, nil
}

func buildReport(f *oopsFormat, m []string, lines, callers []string, start int) OopsReport {
	r := OopsReport{Type: f.typ, Header: strings.TrimSpace(lines[start]), weak: f.weak, Frames: []OopsFrame{}}
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
			r.Frames = append(r.Frames, OopsFrame{Function: fm[2], Offset: fm[3], Module: fm[4], Unreliable: fm[1] != ""})
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
		cands = append(cands, traceCandidates(r.Frames)...)
	case "rip", "wrapped":
		if headerFunc != "" {
			cands = append(cands, headerFunc)
		}
		if rip != "" {
			cands = append(cands, rip)
		}
		cands = append(cands, traceCandidates(r.Frames)...)
	case "trace":
		cands = append(cands, traceCandidates(r.Frames)...)
	}
	var guilty []string
	for _, c := range cands {
		if !genericFrame(c) {
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
	if len(guilty) > 0 {
		r.Function = guilty[0]
	}
	if f.funcFrom != "" && r.Function == "" && len(r.Frames) == 0 && rip == "" {
		r.Corrupted, r.Reason = true, "no call trace and no faulting instruction"
	}
	if f.typ == "invalid opcode" && bugUD2(lines[start:end+1]) {
		// BUG() without CONFIG_DEBUG_BUGVERBOSE: only the ud2 at RIP
		// ("<0f> 0b" in the Code: line) tells it from a bad instruction.
		f = &oopsFormat{typ: "BUG", title: "kernel BUG in {{FUNC}}"}
		r.Type = f.typ
	}
	r.Title = expandTitle(f, m, r.Function, access)
	if len(guilty) > 1 && strings.Contains(f.title, "{{FUNC}}") {
		r.AltTitles = append(r.AltTitles, expandTitle(f, m, guilty[1], access))
	}
	return r
}

func traceCandidates(frames []OopsFrame) []string {
	var out []string
	for _, fr := range frames {
		if !fr.Unreliable {
			out = append(out, fr.Function)
		}
	}
	return out
}

func expandTitle(f *oopsFormat, m []string, fn, access string) string {
	t := f.title
	for k := len(m) - 1; k >= 1; k-- {
		t = strings.ReplaceAll(t, "$"+string(rune('0'+k)), m[k])
	}
	if access == "" {
		t = strings.ReplaceAll(t, " {{ACCESS}}", "")
	}
	t = strings.ReplaceAll(t, "{{ACCESS}}", access)
	if fn == "" {
		t = strings.ReplaceAll(t, " in {{FUNC}}", "")
	}
	t = strings.ReplaceAll(t, "{{FUNC}}", stripSuffixes(fn))
	if f.typ == "panic" || f.typ == "OOM panic" {
		t = numbers.ReplaceAllString(t, "N")
	}
	return strings.TrimSpace(t)
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

// bugUD2 reports whether a report's Code: line shows ud2 at the faulting
// instruction, which is how BUG() traps on x86.
func bugUD2(lines []string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, "Code: ") && strings.Contains(l, "<0f> 0b") {
			return true
		}
	}
	return false
}
