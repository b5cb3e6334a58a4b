package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
)

// sectionCommand is a command that prints one section of the analysis:
// laid out as crash prints the same answer, or with --json as the
// document holds it. get returns the section, nil when it was not
// computed (the warnings say why).
func sectionCommand(s IO, use, short, long string, section analyzer.Section, get func(*analysis.Document) any,
	print func(w io.Writer, a *analysis.Document) error) (*cobra.Command, *dumpFlags) {
	c := dumpCommand(use, short, long)
	f := addDumpFlags(c.Flags())
	asJSON := c.Flags().Bool("json", false, "print the section of the analysis document")
	c.RunE = func(c *cobra.Command, args []string) error {
		a, err := f.document(c.Context(), args, section, s)
		if err != nil {
			return err
		}
		warnAll(s.Err, a.Warnings)
		v := get(a)
		if isNil(v) {
			return fmt.Errorf("the dump gave no %s section (see the warnings)", use)
		}
		if *asJSON {
			return writeJSON(s.Out, v)
		}
		return print(s.Out, a)
	}
	return c, f
}

// isNil says whether a section pointer held in an interface is nil.
func isNil(v any) bool {
	switch x := v.(type) {
	case *analysis.Memory:
		return x == nil
	case *analysis.Slab:
		return x == nil
	case *analysis.TaskMemory:
		return x == nil
	case *analysis.Locks:
		return x == nil
	case *analysis.RunQueues:
		return x == nil
	case *analysis.Block:
		return x == nil
	case *analysis.Filesystems:
		return x == nil
	}
	return v == nil
}

// printMissing prints what a section could not read.
func printMissing(w io.Writer, missing []string) {
	for _, m := range missing {
		fmt.Fprintf(w, "missing: %s\n", m)
	}
}

func newMemCmd(s IO) *cobra.Command {
	c, _ := sectionCommand(s, "mem", "Print the memory summary, zones and buddy lists, as crash's kmem -i",
		`Print the kernel's memory accounting as crash's kmem -i does (pages, size, share of all
memory): total, free, used, available, shared memory, buffers, page cache, slab (reclaimable
and not), kernel stacks, page tables, huge pages, swap, the overcommit limit and what is
committed. Then every node's zones with their watermarks (min, low, high), and the free blocks
of each order of the buddy allocator, as /proc/buddyinfo.`,
		analyzer.SectionMemory, func(a *analysis.Document) any { return a.Memory }, func(w io.Writer, a *analysis.Document) error {
			printMemory(w, a.Memory)
			return nil
		})
	return c
}

// pagesText is a page count as crash's pages_to_size prints it: "0",
// "60 KB", "5.7 MB", "1 GB" (".0" dropped).
func pagesText(pages, pageSize uint64) string {
	if pages == 0 {
		return "0"
	}
	total := float64(pages) * float64(pageSize)
	var s string
	switch {
	case total >= 1<<30:
		s = fmt.Sprintf("%.1f GB", total/(1<<30))
	case total >= 1<<20:
		s = fmt.Sprintf("%.1f MB", total/(1<<20))
	default:
		return fmt.Sprintf("%d KB", uint64(total/1024))
	}
	return strings.Replace(s, ".0 ", " ", 1)
}

func printMemory(w io.Writer, m *analysis.Memory) {
	ps := m.PageSize
	pct := func(n, of uint64) uint64 {
		if of == 0 {
			return 0
		}
		return n * 100 / of
	}
	row := func(name string, n uint64, of string, total uint64) {
		if of == "" {
			fmt.Fprintf(w, "%13s  %7d  %11s         ----\n", name, n, pagesText(n, ps))
			return
		}
		fmt.Fprintf(w, "%13s  %7d  %11s  %3d%% of %s\n", name, n, pagesText(n, ps), pct(n, total), of)
	}
	fmt.Fprint(w, "                 PAGES        TOTAL      PERCENTAGE\n")
	row("TOTAL MEM", m.Total, "", 0)
	mem := func(name string, n uint64) { row(name, n, "TOTAL MEM", m.Total) }
	mem("FREE", m.Free)
	mem("USED", m.Total-min(m.Free, m.Total))
	mem("AVAILABLE", m.Available)
	mem("SHMEM", m.Shmem)
	mem("BUFFERS", m.Buffers)
	mem("CACHED", m.Cached)
	mem("SLAB", m.SlabReclaim+m.SlabUnreclaim)
	mem("RECLAIMABLE", m.SlabReclaim)
	mem("UNRECLAIMABLE", m.SlabUnreclaim)
	mem("KERNEL STACK", m.KernelStackKB*1024/max(ps, 1))
	mem("PAGE TABLES", m.PageTables)
	fmt.Fprintln(w)
	row("TOTAL HUGE", m.HugePages, "", 0)
	row("HUGE FREE", m.HugePagesFree, "TOTAL HUGE", m.HugePages)
	fmt.Fprintln(w)
	row("TOTAL SWAP", m.SwapTotal, "", 0)
	row("SWAP USED", m.SwapTotal-min(m.SwapFree, m.SwapTotal), "TOTAL SWAP", m.SwapTotal)
	row("SWAP FREE", m.SwapFree, "TOTAL SWAP", m.SwapTotal)
	fmt.Fprintln(w)
	row("COMMIT LIMIT", m.CommitLimit, "", 0)
	row("COMMITTED", m.Committed, "TOTAL LIMIT", m.CommitLimit)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "NODE\tZONE\tSPANNED\tPRESENT\tMANAGED\tFREE\tMIN\tLOW\tHIGH\t")
	for _, z := range m.Zones {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", z.Node, z.Name, z.Spanned, z.Present, z.Managed, z.Free, z.Min, z.Low, z.High)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, z := range m.Zones {
		fmt.Fprintf(w, "Node %d, zone %8s ", z.Node, z.Name)
		for _, n := range z.FreeBlocks {
			fmt.Fprintf(w, "%6d ", n)
		}
		fmt.Fprintln(w)
	}
	printMissing(w, m.Missing)
}

func newSlabCmd(s IO) *cobra.Command {
	var top int
	c, _ := sectionCommand(s, "slab", "List the slab caches by memory, as crash's kmem -s",
		`List the slab caches as crash's kmem -s does (struct kmem_cache address, object size,
objects allocated and in all, slabs, slab size, name), largest memory first, with the memory
each holds; --top limits the list (0: every cache).`,
		analyzer.SectionSlab, func(a *analysis.Document) any { return a.Slab }, func(w io.Writer, a *analysis.Document) error {
			return printSlab(w, a.Slab, top)
		})
	c.Flags().IntVarP(&top, "top", "n", 25, "the `N` caches holding the most memory (0: all)")
	return c
}

func printSlab(w io.Writer, s *analysis.Slab, top int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CACHE\tOBJSIZE\tALLOCATED\tTOTAL\tSLABS\tSSIZE\tMEMORY\tNAME")
	for i, c := range s.Caches {
		if top > 0 && i >= top {
			break
		}
		fmt.Fprintf(tw, "%x\t%d\t%d\t%d\t%d\t%dk\t%s\t%s\n", uint64(c.Addr), c.ObjectSize, c.Allocated, c.Total, c.Slabs,
			c.SlabSize/1024, bytesText(c.Bytes), c.Name)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d caches, %s in slabs\n", len(s.Caches), bytesText(s.Bytes))
	printMissing(w, s.Missing)
	return nil
}

// bytesText prints a size in binary units: "32.0 MiB".
func bytesText(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n), ""
	for _, s := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v, u = v/1024, s
		if v < 1024 {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", v, u)
}

func newRSSCmd(s IO) *cobra.Command {
	var top int
	c, _ := sectionCommand(s, "rss", "List processes and memory cgroups by memory, as the OOM killer weighs them",
		`List every process with an address space as the OOM killer's task dump does (PID, UID,
total_vm, RSS, page tables, swap entries, oom_score_adj, name), highest OOM badness first,
with its memory cgroup; then the memory cgroups with their usage, limit, failed charges and
OOM events. Sizes are pages unless marked; --top limits the processes (0: all).`,
		analyzer.SectionTaskMemory, func(a *analysis.Document) any { return a.TaskMemory }, func(w io.Writer, a *analysis.Document) error {
			return printTaskMemory(w, a, top)
		})
	c.Flags().IntVarP(&top, "top", "n", 25, "the `N` processes with the most OOM badness (0: all)")
	return c
}

func printTaskMemory(w io.Writer, a *analysis.Document, top int) error {
	tm := a.TaskMemory
	if f := a.Findings.OOM; f != nil {
		fmt.Fprintf(w, "OOM: %s\n\n", f.Text)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "PID\tUID\tTOTAL_VM\tRSS\tANON\tFILE\tSHMEM\tPGTABLES_BYTES\tSWAPENTS\tOOM_SCORE_ADJ\tPOINTS\t NAME\t CGROUP")
	for i, p := range tm.Tasks {
		if top > 0 && i >= top {
			break
		}
		points := fmt.Sprint(p.Points)
		if p.OOMScoreAdj == -1000 {
			points = "-"
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t %s\t %s\n", p.PID, p.UID, p.TotalVM, p.RSS, p.Anon, p.File,
			p.Shmem, p.PageTableBytes, p.Swap, p.OOMScoreAdj, points, p.Comm, p.Cgroup)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(tm.Cgroups) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "MEM_CGROUP\tUSAGE\tLIMIT\tSWAP\tFAILCNT\tOOM\tOOM_KILL\tPROCS\tRSS\t PATH")
		for _, c := range tm.Cgroups {
			limit := "max"
			if c.Limit > 0 {
				limit = fmt.Sprint(c.Limit)
			}
			fmt.Fprintf(tw, "%x\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t %s\n", uint64(c.Addr), c.Usage, limit, c.SwapUsage, c.Failcnt, c.OOM,
				c.OOMKill, c.Processes, c.RSS, c.Path)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	printMissing(w, tm.Missing)
	return nil
}

func newLocksCmd(s IO) *cobra.Command {
	c, _ := sectionCommand(s, "locks", "Show what the blocked tasks wait on: locks, owners, wait chains, deadlocks",
		`For every task in uninterruptible sleep (D), the lock it waits on (a mutex, an rw_semaphore,
a semaphore) and the task holding it, grouped into wait chains that end at a task waiting on
no lock (with its stack) or close on themselves: a deadlock. Tasks waiting for I/O or
anything else are listed with where they sleep.`,
		analyzer.SectionLocks, func(a *analysis.Document) any { return a.Locks }, func(w io.Writer, a *analysis.Document) error {
			printLocks(w, a.Locks)
			return nil
		})
	return c
}

func printLocks(w io.Writer, l *analysis.Locks) {
	for _, d := range l.Deadlocks {
		fmt.Fprintf(w, "DEADLOCK: %s\n", d.Text)
	}
	if len(l.Deadlocks) > 0 {
		fmt.Fprintln(w)
	}
	printed := map[string]bool{}
	for _, d := range l.Deadlocks {
		printed[d.Text] = true
	}
	for _, ch := range l.Chains {
		if printed[ch.Text] {
			continue // a deadlock and nothing more
		}
		fmt.Fprintf(w, "CHAIN: %s\n", ch.Text)
		for _, lk := range ch.Locks {
			fmt.Fprintf(w, "  %-11s %x %s  owner %d  waiters %v\n", lk.Kind, uint64(lk.Addr), lk.Symbol, lk.Owner, lk.Waiters)
		}
		if ch.Head.Trace != nil && !ch.Cycle {
			fmt.Fprintln(w, "  head:")
			printTrace(indent(w, "    "), *ch.Head.Trace)
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tCOMM\tWAITS ON\tLOCK\tOWNER\tIN")
	for _, wt := range l.Waits {
		lock, owner := "-", "-"
		if wt.Lock != nil {
			lock = fmt.Sprintf("%x", uint64(wt.Lock.Addr))
			if wt.Lock.Symbol != "" {
				lock += " " + wt.Lock.Symbol
			}
			if wt.Lock.Owner != 0 {
				owner = fmt.Sprint(wt.Lock.Owner)
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", wt.PID, wt.Comm, wt.Kind, lock, owner, wt.Function)
	}
	tw.Flush()
	if len(l.Waits) == 0 {
		fmt.Fprintln(w, "no task is blocked (D)")
	}
	printMissing(w, l.Missing)
}

// indentWriter prefixes every line.
type indentWriter struct {
	w      io.Writer
	prefix string
	start  bool
}

func indent(w io.Writer, prefix string) io.Writer {
	return &indentWriter{w: w, prefix: prefix, start: true}
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line == "" {
			continue
		}
		if iw.start {
			io.WriteString(iw.w, iw.prefix)
		}
		if _, err := io.WriteString(iw.w, line); err != nil {
			return 0, err
		}
		iw.start = strings.HasSuffix(line, "\n")
	}
	return len(p), nil
}

func newRunqCmd(s IO) *cobra.Command {
	c, _ := sectionCommand(s, "runq", "List every CPU's run queue with its clock, as crash's runq -t",
		`List every online CPU's run queue as crash's runq does, with crash's runq -t timestamps: the
queue's clock (rq->clock), the task on the CPU with when it got there and how long it has run,
and the real-time, deadline and fair tasks queued behind it with how long each has waited.`,
		analyzer.SectionRunQueues, func(a *analysis.Document) any { return a.RunQueues }, func(w io.Writer, a *analysis.Document) error {
			printRunQueues(w, a.RunQueues)
			return nil
		})
	return c
}

func seconds(ns uint64) string { return fmt.Sprintf("%.3fs", time.Duration(ns).Seconds()) }

func printRunQueues(w io.Writer, r *analysis.RunQueues) {
	for i, q := range r.CPUs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "CPU %d RUNQUEUE: %x  CLOCK: %d\n", q.CPU, uint64(q.RQ), q.Clock)
		c := q.Current
		fmt.Fprintf(w, "  CURRENT: PID: %-6d TASK: %x  COMMAND: %q  %s", c.PID, uint64(c.Task), c.Comm, c.Class)
		if c.LastArrival != 0 {
			fmt.Fprintf(w, ", arrived %d, running %s", c.LastArrival, seconds(c.Running))
		}
		fmt.Fprintln(w)
		if len(q.Queued) == 0 {
			fmt.Fprintln(w, "     [no tasks queued]")
		}
		for _, t := range q.Queued {
			fmt.Fprintf(w, "     [%3d] PID: %-6d TASK: %x  COMMAND: %q  %s", t.Prio, t.PID, uint64(t.Task), t.Comm, t.Class)
			if t.Waiting > 0 {
				fmt.Fprintf(w, ", waiting %s", seconds(t.Waiting))
			}
			fmt.Fprintln(w)
		}
	}
	printMissing(w, r.Missing)
}

func newDevCmd(s IO) *cobra.Command {
	c, _ := sectionCommand(s, "dev", "List the disks with their requests in flight, as crash's dev -d",
		`List the disks as crash's dev -d does (major, struct gendisk, name, request queue, requests in
flight: all, reads, writes), with the age of the oldest request in flight; each blk-mq
request in flight follows its disk (address, tag, operation, sector, bytes, age).`,
		analyzer.SectionIO, func(a *analysis.Document) any { return a.Block }, func(w io.Writer, a *analysis.Document) error {
			printDisks(w, a.Block)
			return nil
		})
	return c
}

func printDisks(w io.Writer, b *analysis.Block) {
	fmt.Fprintln(w, "MAJOR GENDISK            NAME       REQUEST_QUEUE      TOTAL  READ WRITE  OLDEST")
	for _, d := range b.Disks {
		oldest := "-"
		if d.OldestAge > 0 {
			oldest = seconds(d.OldestAge)
		}
		fmt.Fprintf(w, "%5d %-16x   %-10s %-16x   %5d %5d %5d  %s\n", d.Major, uint64(d.Gendisk), d.Name, uint64(d.Queue),
			d.Reads+d.Writes, d.Reads, d.Writes, oldest)
		for _, r := range d.Requests {
			fmt.Fprintf(w, "      request %x  tag %d  %s  sector %d  %d bytes  age %s\n", uint64(r.Addr), r.Tag, r.Op, r.Sector, r.Bytes, seconds(r.Age))
		}
	}
	printMissing(w, b.Missing)
}

func newMountCmd(s IO) *cobra.Command {
	c, _ := sectionCommand(s, "mount", "List the mounts with their superblocks' state, as crash's mount",
		`List the mounts of the initial mount namespace as crash's mount does (struct mount, super
block, type, device, directory), with each superblock's state: read-only, frozen (and at which
level), the last writeback error; then the kernel's command line.`,
		analyzer.SectionIO|analyzer.SectionSys, func(a *analysis.Document) any { return a.Filesystems }, func(w io.Writer, a *analysis.Document) error {
			printMounts(w, a)
			return nil
		})
	return c
}

func printMounts(w io.Writer, a *analysis.Document) {
	f := a.Filesystems
	fmt.Fprintln(w, "     MOUNT           SUPERBLK     TYPE   DEVNAME   DIRNAME   STATE")
	for _, m := range f.Mounts {
		var state []string
		if m.ReadOnly {
			state = append(state, "ro")
		} else {
			state = append(state, "rw")
		}
		if m.Frozen != "" {
			state = append(state, "frozen:"+m.Frozen)
		}
		if m.WritebackError != "" {
			state = append(state, "wb_err:"+m.WritebackError)
		}
		fmt.Fprintf(w, "%x %x %-6s %-9s %-9s %s\n", uint64(m.Mount), uint64(m.Superblock), m.Type, m.Device, m.Dir, strings.Join(state, ","))
	}
	printMissing(w, f.Missing)
	if a.System != nil && a.System.CommandLine != "" {
		fmt.Fprintf(w, "\nCOMMAND LINE: %s\n", a.System.CommandLine)
	}
}

// printFindings prints the findings of the sections, one line each.
func printFindings(w io.Writer, f analysis.Findings) {
	lines := map[string]string{}
	if f.OOM != nil {
		lines["oom"] = f.OOM.Text
	}
	if f.Slab != nil {
		lines["slab"] = f.Slab.Text
	}
	if f.Deadlock != nil {
		lines["deadlock"] = f.Deadlock.Text
	} else if f.WaitChain != nil {
		lines["wait chain"] = f.WaitChain.Text
	}
	if f.Starved != nil {
		lines["run queue"] = f.Starved.Text
	}
	if f.StuckIO != nil {
		lines["I/O"] = f.StuckIO.Text
	}
	if f.BlockedIO != nil {
		lines["blocked I/O"] = f.BlockedIO.Text
	}
	keys := make([]string, 0, len(lines))
	for k := range lines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s: %s\n", k, lines[k])
	}
}
