package analyzer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// The sections after the backtraces, checked against crash's output for
// the same commands (kmem -i, kmem -z, kmem -s, ps, runq, runq -t, dev -d,
// mount, foreach UN bt) where crash reads the dump, and against drgn's
// helpers everywhere (drgn-meminfo, -slabs, -runq, -mounts, -blocked,
// -disks.json from testdata/corpus/drgn_refs.py; drgn-sections.json from
// testdata/corpus/sections_refs.py). A dump without a reference skips
// that check; every check logs how many values it compared.

// sectionDocs caches one analysis (from BTF and kallsyms) per dump.
var sectionDocs sync.Map

// sectionDumps calls fn with the analysis of one kdump-compressed dump per
// crash in the corpus.
func sectionDumps(t *testing.T, fn func(t *testing.T, dc corpus.Dump, a *analysis.Document)) {
	seen := map[string]bool{}
	for _, dc := range corpus.All(t) {
		if dc.Format != "kdump-zlib" || seen[dc.Dir] {
			continue
		}
		seen[dc.Dir] = true
		t.Run(dc.Label(), func(t *testing.T) {
			v, ok := sectionDocs.Load(dc.Dir)
			if !ok {
				v, _ = sectionDocs.LoadOrStore(dc.Dir, sectionDoc(t, dc))
			}
			a := v.(*analysis.Document)
			if a.Debuginfo.Source == analysis.SourceVMCOREINFO {
				t.Skipf("neither BTF and kallsyms nor a DWARF vmlinux: %v", a.Warnings)
			}
			if len(a.Tasks) == 0 {
				// TestTasksMatchDrgn fails for this dump: nothing here could be read either.
				t.Skipf("the analyzer reads no task of this dump (%d warnings, the first: %.200s)", len(a.Warnings), strings.Join(a.Warnings, "; "))
			}
			fn(t, dc, a)
		})
	}
}

// sectionDoc analyses a dump from its BTF and kallsyms, or, for a kernel
// whose symbols VMCOREINFO does not locate (before 6.0), with the DWARF
// vmlinux testdata/corpus/make.sh unpacks, when there is one.
func sectionDoc(t *testing.T, dc corpus.Dump) *analysis.Document {
	d, err := vmcore.Open(dc.Files...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a := analyzer.Analyze(context.Background(), d, analyzer.Options{})
	if a.Debuginfo.Source != analysis.SourceVMCOREINFO {
		return a
	}
	rel := d.Info.OSRelease()
	p := filepath.Join(corpus.RepoRoot(), ".cache", "kernels", rel, "usr", "lib", "debug", "boot", "vmlinux-"+rel)
	if _, err := os.Stat(p); err != nil {
		return a
	}
	v, err := analyzer.OpenVmlinux(p, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	return analyzer.Analyze(context.Background(), d, analyzer.Options{Vmlinux: v})
}

// readJSON reads a JSON reference, skipping the test without it.
func readJSON(t *testing.T, dc corpus.Dump, name string, v any) bool {
	b, ok := dc.ReadRef(name)
	if !ok {
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return true
}

// refLines calls fn with the submatches of every line of a text reference
// that re matches; it reports false when the dump has no such reference.
func refLines(dc corpus.Dump, name string, re *regexp.Regexp, fn func(m []string)) bool {
	ref, ok := dc.ReadRef(name)
	if !ok {
		return false
	}
	for _, l := range strings.Split(string(ref), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			fn(m)
		}
	}
	return true
}

// crashVersions are the crash builds that left a reference of command cmd
// ("kmem-i"): "crash" (Debian's crash 8.0.2, crash-kmem-i.txt) and any
// other the generator ran ("crash806": 8.0.6, crash806-kmem-i.txt).
func crashVersions(dc corpus.Dump, cmd string) []string {
	files, _ := filepath.Glob(dc.Ref("crash*-" + cmd + ".txt"))
	var out []string
	for _, f := range files {
		if _, ok := dc.ReadRef(filepath.Base(f)); ok {
			out = append(out, strings.TrimSuffix(filepath.Base(f), "-"+cmd+".txt"))
		}
	}
	return out
}

// crashCheck runs check as a subtest per crash build that left the
// reference of cmd, and skips without any.
func crashCheck(t *testing.T, dc corpus.Dump, cmd string, check func(t *testing.T, crash string, ref []byte)) {
	vs := crashVersions(dc, cmd)
	if len(vs) == 0 {
		t.Skipf("no crash %s reference", cmd)
	}
	for _, v := range vs {
		ref, _ := dc.ReadRef(v + "-" + cmd + ".txt")
		t.Run(v, func(t *testing.T) { check(t, v, ref) })
	}
}

// crashReadTasks says whether a crash build found the task list: crash
// 8.0.2 does not on these Debian 6.1 dumps ("active task … not found in
// PID hash"), and then lists only the running tasks in ps and none in
// foreach UN bt. It compares that build's ps with drgn's.
func crashReadTasks(dc corpus.Dump, crash string) bool {
	cps, ok1 := dc.ReadRef(crash + "-ps.txt")
	dps, ok2 := dc.ReadRef("drgn-ps.txt")
	if !ok1 || !ok2 {
		return ok1
	}
	listed := strings.Count(string(cps), "\n") - 1
	drgn := strings.Count(string(dps), "\n") - 1 // drgn lists no idle task but the first
	return listed >= drgn
}

// sectionsRef is testdata/corpus/sections_refs.py's output.
type sectionsRef struct {
	Zones     []analysis.Zone `json:"zones"`
	Meminfo   map[string]uint64
	Processes []struct {
		PID                     int32  `json:"pid"`
		Comm                    string `json:"comm"`
		File, Anon, Shmem, Swap int64
		TotalVM                 uint64 `json:"total_vm"`
		Pgtables                uint64 `json:"pgtables_bytes"`
		OOMScoreAdj             int    `json:"oom_score_adj"`
		UID                     uint32 `json:"uid"`
		Memcg                   string `json:"memcg"`
	} `json:"processes"`
	Memcgs []struct {
		Path    string `json:"path"`
		Addr    string `json:"mem_cgroup"`
		Usage   int64  `json:"usage"`
		Max     uint64 `json:"max"`
		Failcnt uint64 `json:"failcnt"`
	} `json:"memcgs"`
	Locks []struct {
		PID       int32  `json:"pid"`
		Kind      string `json:"kind"`
		Lock      string `json:"lock"`
		OwnerPID  int32  `json:"owner_pid"`
		OwnerTask string `json:"owner_task"`
		Error     string `json:"error"`
	} `json:"locks"`
	Runq []struct {
		CPU         int               `json:"cpu"`
		Clock       uint64            `json:"clock"`
		Curr        int32             `json:"curr"`
		LastArrival uint64            `json:"curr_last_arrival"`
		LastQueued  map[string]uint64 `json:"queued_last_queued"`
	} `json:"runq"`
	Disks struct {
		Disks []struct {
			Name     string `json:"name"`
			Requests []struct {
				Request string `json:"request"`
				State   int    `json:"state"`
			} `json:"requests"`
		} `json:"disks"`
	} `json:"disks"`
	Superblocks []struct {
		Dst      string `json:"dst"`
		SB       string `json:"superblock"`
		Flags    uint64 `json:"s_flags"`
		Frozen   int    `json:"frozen"`
		WBErr    uint32 `json:"s_wb_err"`
		MntFlags uint32 `json:"mnt_flags"`
	} `json:"superblocks"`
	Cmdline string `json:"cmdline"`
}

func readSectionsRef(t *testing.T, dc corpus.Dump) (*sectionsRef, bool) {
	var r sectionsRef
	if !readJSON(t, dc, "drgn-sections.json", &r) {
		return nil, false
	}
	return &r, true
}

// counter compares one value and counts the comparison.
type counter struct {
	t    *testing.T
	what string
	n    int
}

func (c *counter) eq(name string, got, want any) {
	c.t.Helper()
	c.n++
	if fmt.Sprint(got) != fmt.Sprint(want) {
		c.t.Errorf("%s %s: got %v, %s %v", c.what, name, got, strings.Fields(c.what)[0], want)
	}
}

func (c *counter) done() { c.t.Logf("%s: %d values equal", c.what, c.n) }

// crashRows maps the first field of kmem -i's rows (TOTAL MEM, FREE, …)
// to their PAGES column.
var kmemIRow = regexp.MustCompile(`^\s*([A-Z][A-Z ]*[A-Z])\s+(\d+)\s`)

func TestMemoryMatchesCrash(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		m := a.Memory
		if m == nil {
			t.Fatalf("no memory section: %v", a.Warnings)
		}
		crashCheck(t, dc, "kmem-i", func(t *testing.T, crash string, ref []byte) {
			want := map[string]uint64{}
			for _, l := range strings.Split(string(ref), "\n") {
				if r := kmemIRow.FindStringSubmatch(l); r != nil {
					want[r[1]], _ = strconv.ParseUint(r[2], 10, 64)
				}
			}
			c := &counter{t: t, what: crash + " kmem -i"}
			c.eq("TOTAL MEM", m.Total, want["TOTAL MEM"])
			c.eq("FREE", m.Free, want["FREE"])
			c.eq("USED", m.Total-m.Free, want["USED"])
			c.eq("BUFFERS", m.Buffers, want["BUFFERS"])
			c.eq("CACHED", m.Cached, want["CACHED"])
			c.eq("TOTAL HUGE", m.HugePages, want["TOTAL HUGE"])
			c.eq("HUGE FREE", m.HugePagesFree, want["HUGE FREE"])
			c.eq("TOTAL SWAP", m.SwapTotal, want["TOTAL SWAP"])
			c.eq("SWAP FREE", m.SwapFree, want["SWAP FREE"])
			c.eq("COMMIT LIMIT", m.CommitLimit, want["COMMIT LIMIT"])
			// crash 8.0.2 looks for NR_SLAB_RECLAIMABLE, which 5.9 renamed
			// NR_SLAB_RECLAIMABLE_B; it then counts the pages flagged PG_slab,
			// which since compound slabs are the slabs' head pages: the number
			// of slabs kmem -s lists.
			if slab := m.SlabReclaim + m.SlabUnreclaim; slab != want["SLAB"] && a.Slab != nil {
				var slabs uint64
				for _, sc := range a.Slab.Caches {
					slabs += sc.Slabs
				}
				c.eq("SLAB (slabs counted as crash 8.0.2 does)", slabs, want["SLAB"])
			} else {
				c.eq("SLAB", slab, want["SLAB"])
			}
			// crash reads vm_committed_as.count alone; the kernel (and we) add
			// the per-CPU deltas, at most a batch per CPU apart.
			if d := int64(m.Committed) - int64(want["COMMITTED"]); d < -1<<16 || d > 1<<16 {
				t.Errorf("COMMITTED %d, crash %d", m.Committed, want["COMMITTED"])
			}
			c.done()
		})
	})
}

func TestMemoryMatchesDrgn(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		m := a.Memory
		if m == nil {
			t.Fatalf("no memory section: %v", a.Warnings)
		}
		checked := false
		var mi map[string]any
		if readJSON(t, dc, "drgn-meminfo.json", &mi) {
			checked = true
			c := &counter{t: t, what: "drgn meminfo"}
			for name, got := range map[string]uint64{"MemTotal": m.Total, "MemFree": m.Free, "Buffers": m.Buffers,
				"Cached": m.Cached, "SwapCache": m.SwapCached, "Active(anon)": m.ActiveAnon, "Inactive(anon)": m.InactiveAnon,
				"Active(file)": m.ActiveFile, "Inactive(file)": m.InactiveFile, "Unevictable": m.Unevictable,
				"Mlocked": m.Mlocked, "Dirty": m.Dirty, "Writeback": m.Writeback, "AnonPages": m.AnonPages,
				"Mapped": m.Mapped, "Shmem": m.Shmem, "SReclaimable": m.SlabReclaim, "SUnreclaim": m.SlabUnreclaim,
				"KernelStack_kB": m.KernelStackKB, "PageTables": m.PageTables, "CommitLimit": m.CommitLimit} {
				if w, ok := mi[name].(float64); ok {
					c.eq(name, got, uint64(w))
				}
			}
			if ps, ok := mi["page_size"].(float64); ok {
				c.eq("page_size", m.PageSize, uint64(ps))
			}
			c.done()
		}
		if r, ok := readSectionsRef(t, dc); ok {
			checked = true
			c := &counter{t: t, what: "drgn zones"}
			c.eq("number of populated zones", len(m.Zones), len(r.Zones))
			for i := range min(len(m.Zones), len(r.Zones)) {
				g, w := m.Zones[i], r.Zones[i]
				g.Addr = 0
				c.eq(fmt.Sprintf("node %d zone %s", w.Node, w.Name), fmt.Sprintf("%+v", g), fmt.Sprintf("%+v", w))
			}
			c.eq("committed", m.Committed, r.Meminfo["committed"])
			c.eq("huge_pages", m.HugePages, r.Meminfo["huge_pages"])
			c.eq("huge_pages_free", m.HugePagesFree, r.Meminfo["huge_pages_free"])
			c.eq("swap_total", m.SwapTotal, r.Meminfo["swap_total"])
			c.eq("swap_free", m.SwapFree, r.Meminfo["swap_free"])
			c.done()
		}
		if !checked {
			t.Skip("no drgn meminfo or sections reference")
		}
	})
}

// kmemZZone is a zone header of crash's kmem -z and its sizes.
var (
	kmemZZone  = regexp.MustCompile(`^NODE: (\d+)\s+ZONE: \d+\s+ADDR: ([0-9a-f]+)\s+NAME: "([^"]+)"`)
	kmemZSizes = regexp.MustCompile(`SIZE: (\d+)(?:\s+PRESENT: (\d+))?\s+MIN/LOW/HIGH: (\d+)/(\d+)/(\d+)`)
	kmemZFree  = regexp.MustCompile(`^\s+NR_FREE_PAGES: (\d+)`)
)

func TestZonesMatchCrash(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		byAddr := map[uint64]analysis.Zone{}
		for _, z := range a.Memory.Zones {
			byAddr[uint64(z.Addr)] = z
		}
		crashCheck(t, dc, "kmem-z", func(t *testing.T, crash string, ref []byte) {
			c := &counter{t: t, what: crash + " kmem -z"}
			var cur *analysis.Zone
			for _, l := range strings.Split(string(ref), "\n") {
				if m := kmemZZone.FindStringSubmatch(l); m != nil {
					addr, _ := strconv.ParseUint(m[2], 16, 64)
					z, ok := byAddr[addr]
					cur = nil
					if ok {
						cur = &z
						c.eq("zone "+m[3]+" name", z.Name, m[3])
					}
					continue
				}
				if cur == nil {
					continue
				}
				if m := kmemZSizes.FindStringSubmatch(l); m != nil {
					c.eq(cur.Name+" SIZE", cur.Spanned, m[1])
					if m[2] != "" { // crash omits PRESENT when it equals SIZE
						c.eq(cur.Name+" PRESENT", cur.Present, m[2])
					} else {
						c.eq(cur.Name+" PRESENT", cur.Present, m[1])
					}
					c.eq(cur.Name+" MIN/LOW/HIGH", fmt.Sprintf("%d/%d/%d", cur.Min, cur.Low, cur.High), m[3]+"/"+m[4]+"/"+m[5])
				}
				if m := kmemZFree.FindStringSubmatch(l); m != nil {
					c.eq(cur.Name+" NR_FREE_PAGES", cur.Free, m[1])
				}
			}
			if c.n < 2*len(a.Memory.Zones) {
				t.Errorf("crash's kmem -z shows %d values for %d populated zones", c.n, len(a.Memory.Zones))
			}
			c.done()
		})
	})
}

// kmemSRow is a cache of crash's kmem -s.
var kmemSRow = regexp.MustCompile(`^([0-9a-f]{16})\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)k\s+(\S+)`)

func TestSlabMatchesCrash(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		if a.Slab == nil {
			t.Fatalf("no slab section: %v", a.Warnings)
		}
		got := map[string]string{}
		for _, sc := range a.Slab.Caches {
			got[fmt.Sprintf("%016x", uint64(sc.Addr))] = fmt.Sprintf("%d %d %d %d %d %s", sc.ObjectSize, sc.Allocated, sc.Total, sc.Slabs, sc.SlabSize/1024, sc.Name)
		}
		crashCheck(t, dc, "kmem-s", func(t *testing.T, crash string, _ []byte) {
			c := &counter{t: t, what: crash + " kmem -s"}
			rows := 0
			refLines(dc, crash+"-kmem-s.txt", kmemSRow, func(m []string) {
				rows++
				c.eq("cache "+m[7], got[m[1]], strings.Join(m[2:], " "))
			})
			c.eq("number of caches", len(a.Slab.Caches), rows)
			c.done()
		})
	})
}

func TestSlabMatchesDrgn(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		var ref []struct {
			Name       string `json:"name"`
			Addr       string `json:"address"`
			ObjectSize uint64 `json:"object_size"`
			Size       uint64 `json:"size"`
			Slabs      uint64 `json:"num_slabs"`
			Objs       uint64 `json:"num_objs"`
			Active     uint64 `json:"active_objs"`
			Error      string `json:"error"`
		}
		if !readJSON(t, dc, "drgn-slabs.json", &ref) {
			t.Skip("no drgn slabs reference")
		}
		got := map[string]analysis.SlabCache{}
		for _, sc := range a.Slab.Caches {
			got[fmt.Sprintf("%#x", uint64(sc.Addr))] = sc
		}
		c := &counter{t: t, what: "drgn slab_cache_usage"}
		c.eq("number of caches", len(a.Slab.Caches), len(ref))
		for _, r := range ref {
			if r.Error != "" {
				continue
			}
			g := got[r.Addr]
			c.eq(r.Name, fmt.Sprintf("%s %d %d %d %d", g.Name, g.ObjectSize, g.Size, g.Slabs, g.Total),
				fmt.Sprintf("%s %d %d %d %d", r.Name, r.ObjectSize, r.Size, r.Slabs, r.Objs))
			// drgn 0.2.0 counts a CPU slab's free objects on the CPU's
			// freelist only, not those other CPUs freed to the slab's own
			// freelist (objects - inuse of a frozen slab), which crash and
			// we count: its allocated count can only be higher.
			c.eq(r.Name+" allocated at most drgn's", g.Allocated <= r.Active, true)
		}
		c.done()
	})
}

// psRow is a task of crash's ps: PID, TASK, VSZ and RSS (KiB), COMM.
var psRow = regexp.MustCompile(`^[> ]\s*(\d+)\s+-?\d+\s+\d+\s+([0-9a-f]+)\s+\S+\s+[\d.]+\s+(\d+)\s+(\d+)\s+(.*)$`)

func TestTaskMemoryMatchesCrash(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		tm := a.TaskMemory
		if tm == nil {
			t.Fatalf("no task memory section: %v", a.Warnings)
		}
		byPID := map[int32]analysis.ProcessMemory{}
		for _, p := range tm.Tasks {
			byPID[p.PID] = p
		}
		kib := a.Memory.PageSize / 1024
		crashCheck(t, dc, "ps", func(t *testing.T, crash string, _ []byte) {
			c := &counter{t: t, what: crash + " ps"}
			refLines(dc, crash+"-ps.txt", psRow, func(m []string) {
				pid, _ := strconv.ParseInt(m[1], 10, 32)
				p, ok := byPID[int32(pid)]
				if m[3] == "0" || !ok {
					return // a kernel thread, or a thread whose process its leader lists
				}
				// crash's RSS counts file and anonymous pages, and since
				// 8.0.4 (commit 69f38d7, "Fix ps/vm commands to display
				// correct memory usage") shmem too; Debian's 8.0.2 is
				// "crash".
				rss := p.File + p.Anon
				if crash != "crash" {
					rss += p.Shmem
				}
				c.eq(fmt.Sprintf("PID %d VSZ", pid), p.TotalVM*kib, m[3])
				c.eq(fmt.Sprintf("PID %d RSS", pid), rss*kib, m[4])
			})
			if c.n == 0 {
				t.Skip("crash's ps lists no process with memory")
			}
			c.done()
		})
	})
}

func TestTaskMemoryMatchesDrgn(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		r, ok := readSectionsRef(t, dc)
		if !ok {
			t.Skip("no drgn sections reference")
		}
		tm := a.TaskMemory
		c := &counter{t: t, what: "drgn task_rss"}
		c.eq("number of processes", len(tm.Tasks), len(r.Processes))
		byPID := map[int32]analysis.ProcessMemory{}
		for _, p := range tm.Tasks {
			byPID[p.PID] = p
		}
		for _, w := range r.Processes {
			g := byPID[w.PID]
			c.eq(fmt.Sprintf("PID %d", w.PID), fmt.Sprintf("%s file %d anon %d shmem %d swap %d vm %d pgtables %d adj %d uid %d cgroup %s",
				g.Comm, g.File, g.Anon, g.Shmem, g.Swap, g.TotalVM, g.PageTableBytes, g.OOMScoreAdj, g.UID, g.Cgroup),
				fmt.Sprintf("%s file %d anon %d shmem %d swap %d vm %d pgtables %d adj %d uid %d cgroup %s",
					w.Comm, max(w.File, 0), max(w.Anon, 0), max(w.Shmem, 0), max(w.Swap, 0), w.TotalVM, w.Pgtables, w.OOMScoreAdj, w.UID, w.Memcg))
		}
		byPath := map[string]analysis.MemoryCgroup{}
		for _, cg := range tm.Cgroups {
			byPath[cg.Path] = cg
		}
		for _, w := range r.Memcgs {
			g := byPath[w.Path]
			limit := w.Max
			if limit >= (1<<63-1)/a.Memory.PageSize { // PAGE_COUNTER_MAX: no limit
				limit = 0
			}
			c.eq("memory cgroup "+w.Path, fmt.Sprintf("%#x %d %d %d", uint64(g.Addr), g.Usage, g.Limit, g.Failcnt),
				fmt.Sprintf("%s %d %d %d", w.Addr, max(w.Usage, 0), limit, w.Failcnt))
		}
		c.done()
	})
}

func TestLocksMatchDrgn(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		l := a.Locks
		if l == nil {
			t.Fatalf("no locks section: %v", a.Warnings)
		}
		waits := map[int32]analysis.LockWait{}
		for _, w := range l.Waits {
			waits[w.PID] = w
		}
		checked := false
		var blocked []struct {
			PID int32 `json:"pid"`
		}
		if readJSON(t, dc, "drgn-blocked.json", &blocked) {
			checked = true
			c := &counter{t: t, what: "drgn blocked"}
			c.eq("blocked tasks", len(l.Waits), len(blocked))
			for _, b := range blocked {
				_, ok := waits[b.PID]
				c.eq(fmt.Sprintf("PID %d blocked", b.PID), ok, true)
			}
			c.done()
		}
		if r, ok := readSectionsRef(t, dc); ok {
			checked = true
			c := &counter{t: t, what: "drgn lock frames"}
			for _, w := range r.Locks {
				if w.Lock == "" {
					continue // not in a lock slow path, or drgn could not read the lock
				}
				g := waits[w.PID]
				got := "no lock"
				if g.Lock != nil {
					got = fmt.Sprintf("%#x owner %d", uint64(g.Lock.Addr), g.Lock.Owner)
				}
				c.eq(fmt.Sprintf("PID %d waits on", w.PID), got, fmt.Sprintf("%s owner %d", w.Lock, w.OwnerPID))
			}
			c.done()
		}
		if !checked {
			t.Skip("no drgn blocked or sections reference")
		}
	})
}

// runq -t rows: " CPU 0: 6147653204" then the current task's last arrival.
var (
	runqTCPU  = regexp.MustCompile(`^\s*CPU (\d+): (\d+)$`)
	runqTTask = regexp.MustCompile(`^\s+(\d+)\s+PID: (\d+)\s+TASK: ([0-9a-f]+)`)
	runqCPU   = regexp.MustCompile(`^CPU (\d+) RUNQUEUE: ([0-9a-f]+)`)
	runqCurr  = regexp.MustCompile(`^\s+CURRENT: PID: (\d+)\s+TASK: ([0-9a-f]+)`)
	runqTask  = regexp.MustCompile(`^\s+\[\s*(\d+)\] PID: (\d+)\s+TASK: ([0-9a-f]+)`)
)

func TestRunQueuesMatchCrash(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		rq := a.RunQueues
		if rq == nil {
			t.Fatalf("no run queue section: %v", a.Warnings)
		}
		byCPU := map[int]analysis.RunQueue{}
		for _, q := range rq.CPUs {
			byCPU[q.CPU] = q
		}
		checked := false
		for _, crash := range crashVersions(dc, "runq-t") {
			ref, _ := dc.ReadRef(crash + "-runq-t.txt")
			checked = true
			c := &counter{t: t, what: crash + " runq -t"}
			cpu := -1
			for _, l := range strings.Split(string(ref), "\n") {
				if m := runqTCPU.FindStringSubmatch(l); m != nil {
					cpu, _ = strconv.Atoi(m[1])
					c.eq(fmt.Sprintf("CPU %d clock", cpu), byCPU[cpu].Clock, m[2])
				} else if m := runqTTask.FindStringSubmatch(l); m != nil && cpu >= 0 {
					q := byCPU[cpu]
					arrival, _ := strconv.ParseUint(m[1], 10, 64) // zero-padded to the clock's width
					c.eq(fmt.Sprintf("CPU %d current", cpu), fmt.Sprintf("%d %x %d", q.Current.PID, uint64(q.Current.Task), q.Current.LastArrival),
						fmt.Sprintf("%s %s %d", m[2], m[3], arrival))
				}
			}
			c.done()
		}
		for _, crash := range crashVersions(dc, "runq") {
			ref, _ := dc.ReadRef(crash + "-runq.txt")
			checked = true
			c := &counter{t: t, what: crash + " runq"}
			cpu := -1
			queued := map[int][]string{}
			for _, l := range strings.Split(string(ref), "\n") {
				if m := runqCPU.FindStringSubmatch(l); m != nil {
					cpu, _ = strconv.Atoi(m[1])
					c.eq(fmt.Sprintf("CPU %d rq", cpu), fmt.Sprintf("%x", uint64(byCPU[cpu].RQ)), m[2])
					queued[cpu] = []string{}
				} else if m := runqCurr.FindStringSubmatch(l); m != nil {
					c.eq(fmt.Sprintf("CPU %d current", cpu), fmt.Sprintf("%d %x", byCPU[cpu].Current.PID, uint64(byCPU[cpu].Current.Task)), m[1]+" "+m[2])
				} else if m := runqTask.FindStringSubmatch(l); m != nil {
					queued[cpu] = append(queued[cpu], fmt.Sprintf("%s %s %s", m[1], m[2], m[3]))
				}
			}
			for cpu, want := range queued {
				if !crashReadTasks(dc, crash) {
					break // this crash lists only the tasks it found: the running ones
				}
				var got []string
				for _, qt := range byCPU[cpu].Queued {
					got = append(got, fmt.Sprintf("%d %d %x", qt.Prio, qt.PID, uint64(qt.Task)))
				}
				sort.Strings(got)
				sort.Strings(want)
				c.eq(fmt.Sprintf("CPU %d queued", cpu), got, want)
			}
			c.done()
		}
		var drgnRunq []struct {
			CPU       int    `json:"cpu"`
			RQ        string `json:"rq"`
			NrRunning uint32 `json:"nr_running"`
			Clock     uint64 `json:"clock"`
			Curr      struct {
				PID int32 `json:"pid"`
			} `json:"curr"`
			Fair, RT []struct {
				PID  int32 `json:"pid"`
				Prio int   `json:"prio"`
			}
		}
		if readJSON(t, dc, "drgn-runq.json", &drgnRunq) {
			checked = true
			c := &counter{t: t, what: "drgn runq"}
			c.eq("online CPUs", len(rq.CPUs), len(drgnRunq))
			for _, w := range drgnRunq {
				g := byCPU[w.CPU]
				var want, got []string
				for _, qt := range append(w.Fair, w.RT...) {
					if qt.PID != w.Curr.PID || qt.PID == 0 {
						want = append(want, fmt.Sprintf("%d/%d", qt.PID, qt.Prio))
					}
				}
				for _, qt := range g.Queued {
					got = append(got, fmt.Sprintf("%d/%d", qt.PID, qt.Prio))
				}
				sort.Strings(got)
				sort.Strings(want)
				c.eq(fmt.Sprintf("CPU %d", w.CPU), fmt.Sprintf("rq %#x clock %d nr_running %d current %d queued %v", uint64(g.RQ), g.Clock, g.NrRunning, g.Current.PID, got),
					fmt.Sprintf("rq %s clock %d nr_running %d current %d queued %v", w.RQ, w.Clock, w.NrRunning, w.Curr.PID, want))
			}
			c.done()
		}
		if r, ok := readSectionsRef(t, dc); ok {
			checked = true
			c := &counter{t: t, what: "drgn sched_info"}
			for _, w := range r.Runq {
				g := byCPU[w.CPU]
				c.eq(fmt.Sprintf("CPU %d current's last arrival", w.CPU), g.Current.LastArrival, w.LastArrival)
				for _, qt := range g.Queued {
					lq, ok := w.LastQueued[fmt.Sprint(qt.PID)]
					if !ok {
						continue
					}
					want := uint64(0)
					if lq != 0 && lq <= w.Clock {
						want = w.Clock - lq
					}
					c.eq(fmt.Sprintf("CPU %d PID %d waiting", w.CPU, qt.PID), qt.Waiting, want)
				}
			}
			c.done()
		}
		if !checked {
			t.Skip("no run queue reference")
		}
	})
}

// devDRow is a disk of crash's dev -d.
var devDRow = regexp.MustCompile(`^\s*(\d+)\s+([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+(\d+)\s+(\d+)\s+(\d+)`)

func TestDisksMatchCrash(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		b := a.Block
		if b == nil {
			t.Fatalf("no block section: %v", a.Warnings)
		}
		byName := map[string]analysis.Disk{}
		for _, d := range b.Disks {
			byName[d.Name] = d
		}
		checked := false
		for _, crash := range crashVersions(dc, "dev-d") {
			c := &counter{t: t, what: crash + " dev -d"}
			rows := 0
			if refLines(dc, crash+"-dev-d.txt", devDRow, func(m []string) {
				rows++
				d := byName[m[3]]
				c.eq("disk "+m[3], fmt.Sprintf("%d %x %x %d %d %d", d.Major, uint64(d.Gendisk), uint64(d.Queue), d.Reads+d.Writes, d.Reads, d.Writes),
					strings.Join([]string{m[1], m[2], m[4], m[5], m[6], m[7]}, " "))
			}) {
				checked = true
				// crash skips ram and loop disks.
				n := 0
				for _, d := range b.Disks {
					if !strings.HasPrefix(d.Name, "ram") && !strings.HasPrefix(d.Name, "loop") {
						n++
					}
				}
				c.eq("number of disks", n, rows)
				c.done()
			}
		}
		var disks []struct {
			Name  string `json:"name"`
			Gdisk string `json:"gendisk"`
			Major uint32 `json:"major"`
			Minor uint32 `json:"minor"`
		}
		if readJSON(t, dc, "drgn-disks.json", &disks) {
			checked = true
			c := &counter{t: t, what: "drgn for_each_disk"}
			c.eq("number of disks", len(b.Disks), len(disks))
			for _, w := range disks {
				g := byName[w.Name]
				c.eq("disk "+w.Name, fmt.Sprintf("%#x %d:%d", uint64(g.Gendisk), g.Major, g.Minor), fmt.Sprintf("%s %d:%d", w.Gdisk, w.Major, w.Minor))
			}
			c.done()
		}
		if r, ok := readSectionsRef(t, dc); ok {
			checked = true
			c := &counter{t: t, what: "drgn busy requests"}
			for _, w := range r.Disks.Disks {
				var want []string
				for _, rq := range w.Requests {
					if rq.State == 1 { // MQ_RQ_IN_FLIGHT
						want = append(want, rq.Request)
					}
				}
				var got []string
				for _, rq := range byName[w.Name].Requests {
					got = append(got, fmt.Sprintf("%#x", uint64(rq.Addr)))
				}
				sort.Strings(got)
				sort.Strings(want)
				c.eq("disk "+w.Name+" requests in flight", got, want)
			}
			c.done()
		}
		if !checked {
			t.Skip("no disk reference")
		}
	})
}

// mountRow is a mount of crash's mount.
var mountRow = regexp.MustCompile(`^([0-9a-f]{16}) ([0-9a-f]{16}) (\S+)\s+(\S+)\s+(\S+)`)

func TestMountsMatchCrash(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		f := a.Filesystems
		if f == nil {
			t.Fatalf("no filesystems section: %v", a.Warnings)
		}
		byMount := map[string]analysis.Mount{}
		for _, m := range f.Mounts {
			byMount[fmt.Sprintf("%016x", uint64(m.Mount))] = m
		}
		checked := false
		for _, crash := range crashVersions(dc, "mount") {
			c := &counter{t: t, what: crash + " mount"}
			rows := 0
			if refLines(dc, crash+"-mount.txt", mountRow, func(m []string) {
				rows++
				g := byMount[m[1]]
				c.eq("mount "+m[1], fmt.Sprintf("%016x %s %s %s", uint64(g.Superblock), g.Type, g.Device, g.Dir), strings.Join(m[2:], " "))
			}) {
				checked = true
				c.eq("number of mounts", len(f.Mounts), rows)
				c.done()
			}
		}
		var mounts []struct {
			Src, Dst, Fstype, Mount string
		}
		if readJSON(t, dc, "drgn-mounts.json", &mounts) {
			checked = true
			c := &counter{t: t, what: "drgn for_each_mount"}
			c.eq("number of mounts", len(f.Mounts), len(mounts))
			for i, w := range mounts {
				if i < len(f.Mounts) {
					g := f.Mounts[i]
					c.eq("mount "+w.Dst, fmt.Sprintf("%#x %s %s %s", uint64(g.Mount), g.Device, g.Dir, g.Type), fmt.Sprintf("%s %s %s %s", w.Mount, w.Src, w.Dst, w.Fstype))
				}
			}
			c.done()
		}
		if r, ok := readSectionsRef(t, dc); ok {
			checked = true
			c := &counter{t: t, what: "drgn superblocks"}
			for i, w := range r.Superblocks {
				if i >= len(f.Mounts) {
					break
				}
				g := f.Mounts[i]
				frozen := []string{"", "write", "pagefault", "fs", "complete"}[min(w.Frozen, 4)]
				c.eq("mount "+w.Dst, fmt.Sprintf("%#x ro %v frozen %q wb_err %v flags %d", uint64(g.Superblock), g.ReadOnly, g.Frozen, g.WritebackError != "", len(g.Flags)),
					fmt.Sprintf("%s ro %v frozen %q wb_err %v flags %d", w.SB, w.Flags&1 != 0 || w.MntFlags&0x40 != 0, frozen, w.WBErr&0xfff != 0, popcountKnown(w.Flags)))
			}
			c.eq("command line", a.System.CommandLine, r.Cmdline)
			c.done()
		}
		if !checked {
			t.Skip("no mount reference")
		}
	})
}

// popcountKnown counts the superblock flags the analyzer names.
func popcountKnown(flags uint64) int {
	const known = 1<<0 | 1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<6 | 1<<7 | 1<<10 | 1<<11 | 1<<15 | 1<<16 | 1<<17 |
		1<<22 | 1<<23 | 1<<25 | 1<<26 | 1<<27 | 1<<28 | 1<<29 | 1<<30 | 1<<31
	n := 0
	for f := flags & known; f != 0; f &= f - 1 {
		n++
	}
	return n
}

// TestBlockedMatchCrash compares the blocked tasks with crash's foreach UN bt.
func TestBlockedMatchCrash(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		crashCheck(t, dc, "foreach-un-bt", func(t *testing.T, crash string, ref []byte) {
			if !crashReadTasks(dc, crash) {
				t.Skipf("%s did not find the task list of this dump (its ps lists fewer tasks than drgn's)", crash)
			}
			var want []string
			for _, m := range regexp.MustCompile(`(?m)^PID: (\d+)`).FindAllStringSubmatch(string(ref), -1) {
				want = append(want, m[1])
			}
			var got []string
			for _, w := range a.Locks.Waits {
				got = append(got, fmt.Sprint(w.PID))
			}
			sort.Strings(got)
			sort.Strings(want)
			c := &counter{t: t, what: crash + " foreach UN bt"}
			c.eq("blocked PIDs", got, want)
			c.done()
		})
	})
}

// TestTaskMemoryMatchesOOMReport compares the processes' and memory
// cgroups' memory with what the kernel itself printed when it ran out of
// memory, moments before the dump: the OOM killer's task dump ("Tasks
// state (memory values in pages)": total_vm, rss as get_mm_rss(),
// pgtables_bytes, swapents, oom_score_adj) and, for a cgroup's OOM, the
// cgroup's "memory: usage …kB, limit …kB, failcnt …".
func TestTaskMemoryMatchesOOMReport(t *testing.T) {
	memcgUsage := regexp.MustCompile(`^memory: usage (\d+)kB, limit (\d+)kB, failcnt (\d+)`)
	memcgPath := regexp.MustCompile(`^Memory cgroup stats for (\S+):`)
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		tm := a.TaskMemory
		if tm == nil {
			t.Fatalf("no task memory section: %v", a.Warnings)
		}
		byPID := map[int32]analysis.ProcessMemory{}
		for _, p := range tm.Tasks {
			byPID[p.PID] = p
		}
		byPath := map[string]analysis.MemoryCgroup{}
		for _, cg := range tm.Cgroups {
			byPath[cg.Path] = cg
		}
		kib := a.Memory.PageSize / 1024
		c := &counter{t: t, what: "the kernel's OOM report"}
		var tasks corpus.OOMTaskTable
		var usage []string
		for _, r := range a.Log {
			for _, l := range strings.Split(r.Text, "\n") {
				l = strings.TrimSpace(l)
				if m := memcgUsage.FindStringSubmatch(l); m != nil {
					usage = m[1:]
					continue
				}
				if m := memcgPath.FindStringSubmatch(l); m != nil && usage != nil {
					cg := byPath[m[1]]
					limit := cg.Limit * kib
					c.eq("memory cgroup "+m[1], fmt.Sprintf("usage %dkB limit %dkB failcnt %d", cg.Usage*kib, limit, cg.Failcnt),
						fmt.Sprintf("usage %skB limit %skB failcnt %s", usage[0], usage[1], usage[2]))
					usage = nil
					continue
				}
				col, ok := tasks.Row(l)
				if !ok {
					continue
				}
				pid, _ := strconv.ParseInt(col["tgid"], 10, 32)
				p, ok := byPID[int32(pid)]
				if !ok {
					t.Errorf("PID %d of the OOM report is not in the task memory section", pid)
					continue
				}
				c.eq(fmt.Sprintf("PID %d", pid), fmt.Sprintf("uid %d total_vm %d rss %d pgtables_bytes %d swapents %d oom_score_adj %d %s",
					p.UID, p.TotalVM, p.MMRSS, p.PageTableBytes, p.Swap, p.OOMScoreAdj, p.Comm),
					fmt.Sprintf("uid %s total_vm %s rss %s pgtables_bytes %s swapents %s oom_score_adj %s %s",
						col["uid"], col["total_vm"], col["rss"], col["pgtables_bytes"], col["swapents"], col["oom_score_adj"], col["name"]))
			}
		}
		if c.n == 0 {
			t.Skip("the log holds no OOM report")
		}
		c.done()
	})
}

// TestScenarioFindings checks that each scenario of the generator gives
// the finding it was made for: the ABBA deadlock of two kernel threads,
// the process in the memory cgroup at its limit, the writer waiting for
// I/O on a suspended device mapper device, the busy loops queued behind
// the CPU that locked up.
func TestScenarioFindings(t *testing.T) {
	sectionDumps(t, func(t *testing.T, dc corpus.Dump, a *analysis.Document) {
		f := a.Findings
		switch dc.Scenario {
		case "mutex-deadlock":
			d := f.Deadlock
			if d == nil || len(d.Locks) != 2 || !d.Cycle {
				t.Fatalf("no two-lock deadlock: %+v", d)
			}
			for _, lk := range d.Locks {
				if lk.Kind != analysis.LockMutex || lk.Owner == 0 || len(lk.Waiters) != 1 {
					t.Errorf("lock %+v: want a mutex with its owner and one waiter", lk)
				}
			}
			if d.Locks[0].Owner != d.Locks[1].Waiters[0] || d.Locks[1].Owner != d.Locks[0].Waiters[0] {
				t.Errorf("the owners do not wait on each other's lock: %s", d.Text)
			}
			t.Log(d.Text)
		case "oom-cgroup":
			o := f.OOM
			if o == nil || o.Scope != "memcg" || o.Cgroup != "/corpus-hog" || o.Comm != "hog" || o.CgroupUsage < o.CgroupLimit {
				t.Fatalf("want hog in /corpus-hog at its limit: %+v", o)
			}
			t.Log(o.Text)
		case "hung-io":
			b := f.BlockedIO
			if b == nil || len(b.PIDs) == 0 {
				t.Fatalf("no task blocked on I/O: %+v", a.Locks)
			}
			t.Log(b.Text)
		case "soft-lockup-runq":
			s := f.Starved
			if s == nil || s.Queued < 3 {
				t.Fatalf("want the three busy loops queued behind the locked-up CPU: %+v", s)
			}
			t.Log(s.Text)
		default:
			t.Skip("no finding expected of this scenario")
		}
	})
}
