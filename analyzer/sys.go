package analyzer

import (
	"fmt"
	"strings"
	"time"

	"github.com/vmcore/vmcore/analyzer/printk"
)

// System is what crash's `sys` reports about a crashed kernel.
type System struct {
	Release  string        `json:"release"`
	Version  string        `json:"version"`
	Machine  string        `json:"machine"`
	Nodename string        `json:"nodename"`
	CPUs     int           `json:"cpus"` // online CPUs
	Date     time.Time     `json:"date"` // the crash time (VMCOREINFO CRASHTIME)
	Uptime   time.Duration `json:"uptime_ns"`
	LoadAvg  [3]float64    `json:"load_average"`
	// Tasks counts every task, the CPUs' idle tasks included; crash's
	// TASKS counts the same set when it can walk the task list.
	Tasks int `json:"tasks"`
	// Memory is the RAM the kernel saw: present pages of every node.
	Memory uint64 `json:"memory"`
	// Panic is the log line that best says why the kernel died, chosen as
	// crash does (an oops or BUG line over the panic that followed it).
	Panic     string   `json:"panic"`
	PanicCPU  int      `json:"panic_cpu"` // -1 when no CPU claimed the panic
	Warnings  []string `json:"warnings,omitempty"`
	PanicKind string   `json:"-"` // "oops" when Panic is an oops header line
}

// Sys gathers the `sys` summary. lg is the kernel log (for the panic
// message; nil when it could not be read) and tasks the task list, both
// read once by the caller. Fields it cannot read stay zero and are named
// in Warnings.
func (k *Kernel) Sys(lg *printk.Log, tasks []Task) *System {
	s := &System{PanicCPU: -1, Tasks: len(tasks)}
	warn := func(what string, err error) { s.Warnings = append(s.Warnings, fmt.Sprintf("%s: %v", what, err)) }
	if u, err := Utsname(k.Dump); err == nil {
		s.Release, s.Version, s.Machine, s.Nodename = u.Release, u.Version, u.Machine, u.Nodename
	} else {
		warn("utsname", err)
	}
	if cpus, err := k.OnlineCPUs(); err == nil {
		s.CPUs = len(cpus)
	} else {
		warn("online CPUs", err)
	}
	if ct, ok := k.Dump.Info.CrashTime(); ok {
		s.Date = time.Unix(ct, 0).UTC()
	}
	if up, err := k.uptime(); err == nil {
		s.Uptime = up
	} else {
		warn("uptime", err)
	}
	// With the tick stopped on idle CPUs the timekeeper can lag by seconds;
	// the panic's own log lines were stamped moments before the dump.
	if lg != nil && len(lg.Records) > 0 {
		s.Uptime = max(s.Uptime, time.Duration(lg.Records[len(lg.Records)-1].TimeNS))
	}
	// crash counts uptime in jiffies; so do we when HZ can be recognised.
	if up, ok := k.jiffiesUptime(s.Uptime); ok {
		s.Uptime = up
	}
	if a, err := k.sym("avenrun"); err == nil {
		for i := range s.LoadAvg {
			v, err := k.u64(a + 8*uint64(i))
			if err != nil {
				warn("avenrun", err)
				break
			}
			s.LoadAvg[i] = loadAverage(v)
		}
	} else {
		warn("load average", err)
	}
	if m, err := k.memory(); err == nil {
		s.Memory = m
	} else {
		warn("memory", err)
	}
	if cpu, err := k.PanicCPU(); err == nil {
		s.PanicCPU = cpu
	} else {
		warn("panic CPU", err)
	}
	if lg != nil {
		s.Panic, s.PanicKind = PanicMessage(lg)
	}
	return s
}

// loadAverage converts an avenrun fixed-point value (FSHIFT 11) the way the
// kernel prints /proc/loadavg: integer part, and two decimals truncated.
func loadAverage(v uint64) float64 {
	const fshift, fixed1 = 11, 1 << 11
	v += fixed1 / 200 // get_avenrun(…, FIXED_1/200, …): round to two decimals
	whole := v >> fshift
	frac := ((v & (fixed1 - 1)) * 100) >> fshift
	return float64(whole) + float64(frac)/100
}

// uptime is CLOCK_MONOTONIC at the timekeeper's last update
// (tk_core.timekeeper.tkr_mono.base), which needs neither HZ nor jiffies.
func (k *Kernel) uptime() (time.Duration, error) {
	tk, err := k.sym("tk_core")
	if err != nil {
		return 0, err
	}
	// tk_core is an anonymous struct { seqcount_raw_spinlock_t seq; struct
	// timekeeper timekeeper; }, which BTF does not describe: the timekeeper
	// follows the sequence count, 8-byte aligned.
	tkOff := uint64(8)
	if seq, err := k.Types.Size("seqcount_raw_spinlock"); err == nil {
		tkOff = (seq + 7) &^ 7
	}
	base, err := k.Types.Offset("timekeeper", "tkr_mono.base")
	if err != nil {
		return 0, err
	}
	ns, err := k.u64(tk + tkOff + base)
	if err != nil {
		return 0, err
	}
	if int64(ns) < 0 {
		return 0, fmt.Errorf("monotonic clock reads %d", int64(ns))
	}
	return time.Duration(ns), nil
}

// jiffiesUptime is (jiffies_64 - INITIAL_JIFFIES) / HZ. HZ is not in the
// dump's metadata, but INITIAL_JIFFIES is -300*HZ (as a 32-bit value), so
// only the right HZ gives an uptime near the clock-based estimate.
func (k *Kernel) jiffiesUptime(estimate time.Duration) (time.Duration, bool) {
	a, ok := k.Syms.Lookup("jiffies_64")
	if !ok {
		return 0, false
	}
	j, err := k.u64(a)
	if err != nil {
		return 0, false
	}
	for _, hz := range []uint64{100, 250, 300, 1000, 24, 32, 48, 64, 128, 200, 256, 512, 1024} {
		initial := uint64(uint32(-300 * int64(hz)))
		if j < initial {
			continue
		}
		up := time.Duration((j-initial)/hz) * time.Second
		if d := up - estimate; d > -2*time.Second && d < 2*time.Second {
			return up, true
		}
	}
	return 0, false
}

// memory sums node_present_pages over the nodes of node_data[] (NUMA
// kernels) or contig_page_data.
func (k *Kernel) memory() (uint64, error) {
	present, err := k.off("pglist_data", "node_present_pages")
	if err != nil {
		return 0, err
	}
	ps := uint64(k.Dump.PageSize)
	if a, ok := k.Syms.Lookup("contig_page_data"); ok {
		n, err := k.u64(a + present)
		return n * ps, err
	}
	nd, err := k.sym("node_data")
	if err != nil {
		return 0, err
	}
	n := int64(1)
	if l, ok := k.Dump.Info.Length("node_data"); ok && l > 0 && l <= 1<<12 {
		n = l
	}
	var pages uint64
	for i := int64(0); i < n; i++ {
		p, err := k.ptr(nd + 8*uint64(i))
		if err != nil || p == 0 {
			continue
		}
		v, err := k.u64(p + present)
		if err != nil {
			return 0, fmt.Errorf("node %d: %w", i, err)
		}
		pages += v
	}
	return pages * ps, nil
}

// PanicCPU returns the CPU that panicked: panic_cpu (4.5+), or x86's
// crashing_cpu; -1 and an error when neither says.
func (k *Kernel) PanicCPU() (int, error) {
	for _, name := range []string{"panic_cpu", "crashing_cpu"} {
		a, ok := k.Syms.Lookup(name)
		if !ok {
			continue
		}
		v, err := k.u32(a)
		if err != nil {
			return -1, err
		}
		if int32(v) >= 0 {
			return int(int32(v)), nil
		}
	}
	return -1, fmt.Errorf("neither panic_cpu nor crashing_cpu names a CPU")
}

// panicLines are the log lines that say why the kernel died, most telling
// first: the trigger of a test crash, an oops header or a BUG line, and only
// then the panic they led to.
var panicLines = []struct {
	prefix string
	kind   string
}{
	{"SysRq : Crash", "sysrq"},
	{"SysRq : Trigger a crash", "sysrq"},
	{"Kernel panic: ", "panic"},
	{"Oops: ", "oops"},
	{"kernel BUG at", "bug"},
	{"Kernel panic - not syncing: ", "panic"},
}

// PanicMessage picks the panic message from the log, and its kind.
func PanicMessage(lg *printk.Log) (msg, kind string) {
	for _, p := range panicLines {
		for i := range lg.Records {
			t := lg.Records[i].Text
			if j := strings.Index(t, p.prefix); j >= 0 {
				line := t[j:]
				if nl := strings.IndexByte(line, '\n'); nl >= 0 {
					line = line[:nl]
				}
				line = strings.TrimRight(line, " \n")
				if p.kind == "bug" {
					// "kernel BUG at /build/dir/file.c:57!": keep the file's base name.
					file := strings.TrimPrefix(line, p.prefix+" ")
					if i := strings.LastIndexByte(file, '/'); i >= 0 {
						line = p.prefix + " " + file[i+1:]
					}
				}
				return line, p.kind
			}
		}
	}
	return "", ""
}
