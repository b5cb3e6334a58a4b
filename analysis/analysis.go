// Package analysis is the analysis document: everything read from one crash
// dump, as `vmcorectl analyze --json` prints it and the service stores it.
// Package analyzer builds it, kb adds its suggestions, and the API, the web
// UI and the command line read it. It holds types only, so every reader can
// import it without the dump and kernel code behind it.
//
// docs/analysis-schema.md describes every field. Within one Schema fields
// are only ever added; a rename or removal takes a new Schema.
package analysis

import (
	"fmt"
	"strconv"
	"time"
)

// Schema names the document's version.
const Schema = "vmcore.analysis/v3"

// Hex is an address or a mask, written in JSON as a "0x…" string.
type Hex uint64

// MarshalText writes 0x-prefixed hex.
func (h Hex) MarshalText() ([]byte, error) { return []byte(fmt.Sprintf("%#x", uint64(h))), nil }

// UnmarshalText reads a number in any base strconv.ParseUint(s, 0, 64)
// accepts, so a stored document reads back.
func (h *Hex) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 0, 64)
	if err != nil {
		return fmt.Errorf("analysis: %q is not a hex number", b)
	}
	*h = Hex(v)
	return nil
}

// Document is the analysis of one dump. Every list is present (possibly
// empty); sections that could not be computed are nil, and Warnings says
// why.
type Document struct {
	Schema string `json:"schema"`
	Dump   Dump   `json:"dump"`
	// System is crash's `sys` summary.
	System *System `json:"system,omitempty"`
	// Panic names the panicking CPU and task.
	Panic *Panic `json:"panic,omitempty"`
	// Backtraces has one trace per online CPU: the task running there.
	Backtraces []Trace `json:"backtraces"`
	// Blocked has a trace per task in uninterruptible sleep (D).
	Blocked []Trace `json:"blocked"`
	// BlockedGroups groups the blocked tasks by identical stack.
	BlockedGroups []BlockedGroup `json:"blocked_groups"`
	Modules       []Module       `json:"modules"`
	// Tasks is every task, as crash's ps lists them.
	Tasks []Task `json:"tasks"`
	// The sections after the backtraces (sections.go).
	Memory      *Memory      `json:"memory,omitempty"`
	Slab        *Slab        `json:"slab,omitempty"`
	TaskMemory  *TaskMemory  `json:"task_memory,omitempty"`
	Locks       *Locks       `json:"locks,omitempty"`
	RunQueues   *RunQueues   `json:"runqueues,omitempty"`
	Block       *Block       `json:"block,omitempty"`
	Filesystems *Filesystems `json:"filesystems,omitempty"`
	// Findings are the facts those sections establish, for the knowledge
	// base.
	Findings  Findings  `json:"findings"`
	Taint     *Taint    `json:"taint,omitempty"`
	Debuginfo Debuginfo `json:"debuginfo"`
	Log       []Record  `json:"log"`
	Oops      *Oops     `json:"oops,omitempty"`
	// KB holds the knowledge-base articles this crash matches, best
	// first. The analyzer leaves it empty; package kb fills it, so the
	// command line and the service give the same answer.
	KB       []Suggestion `json:"kb"`
	Warnings []string     `json:"warnings"`
	Steps    []Step       `json:"steps"`
}

// New returns an empty document of the current Schema, every list present.
func New() *Document {
	return &Document{Schema: Schema, Backtraces: []Trace{}, Blocked: []Trace{}, BlockedGroups: []BlockedGroup{},
		Modules: []Module{}, Tasks: []Task{}, Log: []Record{}, KB: []Suggestion{}, Warnings: []string{}, Steps: []Step{}}
}

// Dump says what the dump file is.
type Dump struct {
	Format      string `json:"format"`      // "elf", "kdump-compressed", "diskdump"
	Compression string `json:"compression"` // page compression: "zlib", "lzo", "snappy", "zstd", "none", "mixed"
	Flattened   bool   `json:"flattened"`
	SplitFiles  int    `json:"split_files"`
	DumpLevel   int    `json:"dump_level"` // makedumpfile -d; -1 unknown
	BuildID     string `json:"build_id,omitempty"`
	Arch        string `json:"arch,omitempty"` // "x86_64", "aarch64"
	// Partial is set when the dump lacks pages it should hold (cut short).
	Partial bool `json:"partial"`
}

// System is crash's `sys` summary of the crashed kernel.
type System struct {
	Release  string `json:"release"`
	Version  string `json:"version"`
	Machine  string `json:"machine"`
	Nodename string `json:"nodename"`
	CPUs     int    `json:"cpus"` // online CPUs
	// Date is the crash time (VMCOREINFO CRASHTIME), nil when unknown.
	Date          *time.Time `json:"date,omitempty"`
	UptimeSeconds float64    `json:"uptime_seconds"`
	LoadAverage   [3]float64 `json:"load_average"`
	// Tasks counts every task, the CPUs' idle tasks included, as crash's
	// TASKS does when it can walk the task list.
	Tasks int `json:"tasks"`
	// Memory is the RAM the kernel saw, in bytes: present pages of every node.
	Memory uint64 `json:"memory"`
	// CommandLine is the kernel's command line (saved_command_line).
	CommandLine string `json:"command_line,omitempty"`
	// Panic is the log line that best says why the kernel died, chosen as
	// crash does (an oops or BUG line over the panic that followed it).
	Panic string `json:"panic"`
	// PanicKind is "oops" when Panic is an oops header line (crash then
	// adds "check log for details").
	PanicKind string `json:"panic_kind,omitempty"`
}

// Uptime is UptimeSeconds as a duration.
func (s *System) Uptime() time.Duration { return time.Duration(s.UptimeSeconds * float64(time.Second)) }

// UptimeText is the uptime as crash shows it: "00:00:03", "2 days, 01:02:03".
func (s *System) UptimeText() string {
	up := int64(s.UptimeSeconds)
	hms := fmt.Sprintf("%02d:%02d:%02d", up%86400/3600, up%3600/60, up%60)
	if days := up / 86400; days > 0 {
		return fmt.Sprintf("%d days, %s", days, hms)
	}
	return hms
}

// Panic names the panicking CPU and its task.
type Panic struct {
	CPU  int    `json:"cpu"`
	PID  int32  `json:"pid"`
	Comm string `json:"comm"`
}

// Trace is one task's stack trace.
type Trace struct {
	CPU    int     `json:"cpu"`
	PID    int32   `json:"pid"`
	Comm   string  `json:"comm"`
	Task   Hex     `json:"task"` // address of its task_struct
	Panic  bool    `json:"panic"`
	Frames []Frame `json:"frames"`
	// Error says why the unwinder stopped before the end of the stack.
	Error string `json:"error,omitempty"`
}

// Frame is one frame of a kernel stack trace.
type Frame struct {
	// Function is the function's name from DWARF when known
	// ("__handle_sysrq"), else Symbol.
	Function string `json:"function"`
	// Symbol is the symbol holding PC, which the kernel's own oops prints
	// (e.g. "__handle_sysrq.cold").
	Symbol string `json:"symbol,omitempty"`
	Offset Hex    `json:"offset"` // from the start of Symbol
	Module string `json:"module,omitempty"`
	PC     Hex    `json:"pc"`
	SP     Hex    `json:"sp"`
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Inline bool   `json:"inline"`
	// Reliable frames are the ones the kernel's own unwinder would give;
	// frames from fallbacks (frame pointers, stack scans) are not, and
	// the kernel's oops marks those '?'.
	Reliable bool `json:"reliable"`
	// User marks the user-space pc the kernel was entered from.
	User bool `json:"user,omitempty"`
	// Regs is the exception frame (struct pt_regs) the unwinder crossed
	// to reach this frame.
	Regs *Regs `json:"regs,omitempty"`
}

// Regs is a register set saved by an exception or by the crash: the
// kernel's names for them in struct pt_regs order, and their values.
type Regs struct {
	Arch   string   `json:"arch"`  // "x86_64", "aarch64"
	Names  []string `json:"names"` // "ip", "sp", "bp", … / "x0" … "x30", "sp", "pc", "pstate"
	Values []Hex    `json:"values"`
}

// Get returns the named register.
func (r *Regs) Get(name string) (uint64, bool) {
	for i, n := range r.Names {
		if n == name && i < len(r.Values) {
			return uint64(r.Values[i]), true
		}
	}
	return 0, false
}

// BlockedGroup is a set of blocked tasks with the same stack.
type BlockedGroup struct {
	Count int     `json:"count"`
	PIDs  []int32 `json:"pids"`
	Trace Trace   `json:"trace"` // the first task's
}

// Task is one task, as ps shows it.
type Task struct {
	PID   int32  `json:"pid"`
	PPID  int32  `json:"ppid"`
	CPU   int    `json:"cpu"`
	State string `json:"state"` // one letter: R S D T t X Z P I
	Comm  string `json:"comm"`
	Task  Hex    `json:"task"` // address of its task_struct
	Idle  bool   `json:"idle,omitempty"`
	// Active marks the task running on a CPU at the crash (crash's ps
	// marks it '>').
	Active bool `json:"active,omitempty"`
}

// Module is one loaded kernel module.
type Module struct {
	Name   string `json:"name"`
	Addr   Hex    `json:"addr"` // address of its struct module
	Base   Hex    `json:"base"` // start of its core text
	Size   uint64 `json:"size"` // bytes of its core (non-init) memory, as crash's mod
	State  string `json:"state"`
	Taints string `json:"taints"` // letters, as crash's mod -t
}

// Taint decodes the kernel's taint mask.
type Taint struct {
	Mask  Hex         `json:"mask"`
	Flags []TaintFlag `json:"flags"`
}

// TaintFlag is one bit of the kernel's taint mask: its letter and meaning.
type TaintFlag struct {
	Bit         int    `json:"bit"`
	Letter      string `json:"letter"`
	Description string `json:"description"`
}

// TaintFlags are the kernel's taint bits (kernel/panic.c taint_flags[]),
// with what each letter means.
var TaintFlags = []TaintFlag{
	{0, "P", "proprietary module was loaded"},
	{1, "F", "module was force loaded"},
	{2, "S", "kernel running on an out of specification system"},
	{3, "R", "module was force unloaded"},
	{4, "M", "processor reported a Machine Check Exception (MCE)"},
	{5, "B", "bad page referenced or some unexpected page flags"},
	{6, "U", "taint requested by userspace application"},
	{7, "D", "kernel died recently, i.e. there was an OOPS or BUG"},
	{8, "A", "an ACPI table was overridden by user"},
	{9, "W", "kernel issued warning"},
	{10, "C", "staging driver was loaded"},
	{11, "I", "workaround for bug in platform firmware applied"},
	{12, "O", "externally-built (out-of-tree) module was loaded"},
	{13, "E", "unsigned module was loaded"},
	{14, "L", "soft lockup occurred"},
	{15, "K", "kernel has been live patched"},
	{16, "X", "auxiliary taint, defined for and used by distros"},
	{17, "T", "kernel was built with the struct randomization plugin"},
	{18, "N", "an in-kernel test has been run"},
	{19, "J", "userspace used a mutating debug operation in fwctl"},
}

// TaintDescription explains a taint letter: "unsigned module was loaded"
// for "E", or "unknown taint".
func TaintDescription(letter string) string {
	for _, f := range TaintFlags {
		if f.Letter == letter {
			return f.Description
		}
	}
	return "unknown taint"
}

// Debuginfo sources, as Debuginfo.Source names them.
const (
	SourceDWARF = "dwarf" // a DWARF vmlinux
	// SourceBTF is the dump's BTF and kallsyms, located by VMCOREINFO (6.0+).
	SourceBTF = "btf+kallsyms"
	// SourceKallsymsScan is the dump's BTF and kallsyms, whose tables were
	// found by searching the kernel image (before 6.0).
	SourceKallsymsScan = "btf+kallsyms-scan"
	// SourceSystemMap is the dump's BTF and the kernel's System.map.
	SourceSystemMap  = "btf+system.map"
	SourceVMCOREINFO = "vmcoreinfo" // nothing but VMCOREINFO: the log only
)

// Debuginfo says where symbols and types came from.
type Debuginfo struct {
	Source string `json:"source"`
}

// Record is one kernel log record.
type Record struct {
	Seq      uint64 `json:"seq"`
	TimeNS   uint64 `json:"ts_nsec"`
	Level    int    `json:"level"`
	Facility int    `json:"facility"`
	Flags    int    `json:"flags"`
	CallerID uint32 `json:"caller_id"` // CONFIG_PRINTK_CALLER: thread id, or CPU id | 0x80000000
	// HasCaller is set when the kernel recorded the caller (always since
	// 5.10; with CONFIG_PRINTK_CALLER before).
	HasCaller bool   `json:"has_caller,omitempty"`
	Text      string `json:"text"`
	Subsystem string `json:"subsystem,omitempty"`
	Device    string `json:"device,omitempty"`
}

// Record flags (enum printk_info_flags / legacy log_flags).
const (
	LogNewline = 2 // text ended with a newline
	LogCont    = 8 // a fragment of a continuation line
)

// Oops is the report in the log that explains the crash.
type Oops struct {
	// Title is the syzbot-style one-line title ("WARNING in f"), with
	// addresses and numbers removed: the crash signature.
	Title string `json:"title"`
	// Type is the kind of report: "NULL pointer dereference", "WARNING", …
	Type string `json:"type"`
	// Function is the guilty function.
	Function  string      `json:"function,omitempty"`
	AltTitles []string    `json:"alt_titles,omitempty"`
	Frames    []OopsFrame `json:"frames"`
	Modules   []string    `json:"modules,omitempty"` // "Modules linked in:"
	Taint     string      `json:"taint,omitempty"`   // letters of "Tainted:"
	Corrupted bool        `json:"corrupted"`
	Reason    string      `json:"corrupted_reason,omitempty"`
	// Reports counts the reports the log holds.
	Reports int `json:"reports"`
}

// OopsFrame is one frame of a report's call trace, as the kernel printed it.
type OopsFrame struct {
	Function   string `json:"function"`
	Offset     string `json:"offset,omitempty"` // "0x12/0x34"
	Module     string `json:"module,omitempty"`
	Unreliable bool   `json:"unreliable,omitempty"` // printed with '?'
}

// Suggestion is one knowledge-base article suggested for a crash, with why.
type Suggestion struct {
	ID         string  `json:"id"`
	Title      string  `json:"title"`
	Confidence float64 `json:"confidence"` // 0..1
	// Evidence lists each fact that matched, in words an engineer can
	// check: "frame `nf_conntrack_in` in the call trace".
	Evidence []string `json:"evidence"`
}

// Step records how long one analysis step took and whether it failed.
type Step struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

// RegDisplay is one register as crash and the kernel's oops show it.
type RegDisplay struct {
	Name  string // "RIP", "RSP", … / "pc", "lr", "sp", "x0", …
	Value uint64
}

// regDisplayOrder is, per architecture, the order and names in which the
// kernel's oops (__show_regs) shows a register set: kernel name -> shown name.
var regDisplayOrder = map[string][][2]string{
	"x86_64": {{"ip", "RIP"}, {"sp", "RSP"}, {"flags", "RFLAGS"}, {"ax", "RAX"}, {"bx", "RBX"}, {"cx", "RCX"},
		{"dx", "RDX"}, {"si", "RSI"}, {"di", "RDI"}, {"bp", "RBP"}, {"r8", "R8"}, {"r9", "R9"}, {"r10", "R10"},
		{"r11", "R11"}, {"r12", "R12"}, {"r13", "R13"}, {"r14", "R14"}, {"r15", "R15"}, {"orig_ax", "ORIG_RAX"},
		{"cs", "CS"}, {"ss", "SS"}},
}

// Display lists the registers in the order the kernel's oops shows them
// for the architecture, under the names it uses; registers of an
// architecture without such an order come as they are stored.
func (r *Regs) Display() []RegDisplay {
	order, ok := regDisplayOrder[r.Arch]
	if !ok {
		out := make([]RegDisplay, 0, len(r.Names))
		for i, n := range r.Names {
			if i < len(r.Values) {
				out = append(out, RegDisplay{n, uint64(r.Values[i])})
			}
		}
		return out
	}
	out := make([]RegDisplay, 0, len(order))
	for _, o := range order {
		if v, ok := r.Get(o[0]); ok {
			out = append(out, RegDisplay{o[1], v})
		}
	}
	return out
}
