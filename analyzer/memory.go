package analyzer

import (
	"fmt"
	"slices"

	"github.com/vmcore/vmcore/analysis"
)

// Memory reads the kernel's memory accounting: the global vmstat counters
// /proc/meminfo and crash's kmem -i report, the overcommit, swap and huge
// page counts, and every node's zones with their watermarks and buddy
// free-list counts. It reads counters only (a few KiB), never the page
// array, so it works on dumps that exclude free and cache pages. What the
// kernel's types or symbols lack is named in Missing; read failures are
// warnings.
func (k *Kernel) Memory() (*analysis.Memory, []string, error) {
	n := k.needs()
	m := &analysis.Memory{PageSize: uint64(k.Dump.PageSize), Nodes: []analysis.MemoryNode{}, Zones: []analysis.Zone{}}
	var warnings []string
	warn := func(what string, err error) { warnings = append(warnings, fmt.Sprintf("memory: %s: %v", what, err)) }

	vs := k.readVMStat(n, warn)
	if a, ok := n.sym("_totalram_pages", "totalram_pages"); ok {
		if v, err := k.i64(a); err == nil {
			m.Total = positive(v)
		} else {
			warn("totalram_pages", err)
		}
	}
	m.Free = vs.get("NR_FREE_PAGES")
	m.ActiveAnon, m.InactiveAnon = vs.get("NR_ACTIVE_ANON"), vs.get("NR_INACTIVE_ANON")
	m.ActiveFile, m.InactiveFile = vs.get("NR_ACTIVE_FILE"), vs.get("NR_INACTIVE_FILE")
	m.Unevictable, m.Mlocked = vs.get("NR_UNEVICTABLE"), vs.get("NR_MLOCK")
	m.Dirty, m.Writeback = vs.get("NR_FILE_DIRTY"), vs.get("NR_WRITEBACK")
	m.AnonPages, m.Mapped, m.Shmem = vs.get("NR_ANON_MAPPED"), vs.get("NR_FILE_MAPPED"), vs.get("NR_SHMEM")
	m.SlabReclaim = vs.get("NR_SLAB_RECLAIMABLE_B", "NR_SLAB_RECLAIMABLE")
	m.SlabUnreclaim = vs.get("NR_SLAB_UNRECLAIMABLE_B", "NR_SLAB_UNRECLAIMABLE")
	m.KernelStackKB = vs.get("NR_KERNEL_STACK_KB")
	m.PageTables = vs.get("NR_PAGETABLE")

	m.Buffers = k.blockdevPages(n, warn)
	if vs.has("NR_SWAPCACHE") {
		m.SwapCached = vs.get("NR_SWAPCACHE")
	} else {
		m.SwapCached = k.swapCachePages(n, warn)
	}
	if cached := int64(vs.get("NR_FILE_PAGES")) - int64(m.SwapCached) - int64(m.Buffers); cached > 0 {
		m.Cached = uint64(cached)
	}
	k.readSwap(n, m, warn)
	k.readHugePages(n, m, warn)
	k.readCommit(n, m, warn)

	lowWatermarks := k.readNodes(n, m, warn)
	// si_mem_available(): free memory above the reserves, plus the page
	// cache and reclaimable slab that reclaim could free without falling
	// below the low watermarks.
	var reserve uint64
	if a, ok := n.sym("totalreserve_pages"); ok {
		if v, err := k.u64(a); err == nil {
			reserve = v
		}
	}
	avail := int64(m.Free) - int64(reserve)
	pagecache := int64(m.ActiveFile + m.InactiveFile)
	pagecache -= min(pagecache/2, int64(lowWatermarks))
	avail += pagecache
	reclaimable := int64(m.SlabReclaim + vs.get("NR_KERNEL_MISC_RECLAIMABLE"))
	avail += reclaimable - min(reclaimable/2, int64(lowWatermarks))
	m.Available = positive(avail)

	m.Missing = append(n.Missing(), vs.missing...)
	return m, warnings, nil
}

// vmStat is the global vmstat counters: vm_zone_stat[] and vm_node_stat[]
// (and vm_numa_stat is not needed), read whole once.
type vmStat struct {
	k       *Kernel
	zv, nv  []uint64
	missing []string
}

// readVMStat reads vm_zone_stat[NR_VM_ZONE_STAT_ITEMS] and
// vm_node_stat[NR_VM_NODE_STAT_ITEMS].
func (k *Kernel) readVMStat(n *layoutNeeds, warn func(string, error)) *vmStat {
	vs := &vmStat{k: k}
	read := func(sym, enum, count string) []uint64 {
		a, ok := n.sym(sym)
		c, ok2 := n.enum(enum, count)
		if !ok || !ok2 || c <= 0 || c > 512 {
			return nil
		}
		w, err := k.u64s(a, int(c))
		if err != nil {
			warn(sym, err)
			return nil
		}
		for i := range w {
			w[i] = positive(int64(w[i]))
		}
		return w
	}
	vs.zv = read("vm_zone_stat", "zone_stat_item", "NR_VM_ZONE_STAT_ITEMS")
	vs.nv = read("vm_node_stat", "node_stat_item", "NR_VM_NODE_STAT_ITEMS")
	return vs
}

// lookup finds a counter's enum and index; NR_PAGETABLE, for one, moved
// from the zone counters (5.10) to the node counters (5.11).
func (vs *vmStat) lookup(name string) (node bool, i int64, ok bool) {
	if v, err := vs.k.enumIn("zone_stat_item", name); err == nil {
		return false, v, true
	}
	if v, err := vs.k.enumIn("node_stat_item", name); err == nil {
		return true, v, true
	}
	return false, 0, false
}

func (vs *vmStat) has(name string) bool { _, _, ok := vs.lookup(name); return ok }

// get returns the first counter of names the kernel has; a counter none of
// whose names exists is recorded as missing and reads 0.
func (vs *vmStat) get(names ...string) uint64 {
	for _, name := range names {
		node, i, ok := vs.lookup(name)
		if !ok {
			continue
		}
		w := vs.zv
		if node {
			w = vs.nv
		}
		if i < 0 || i >= int64(len(w)) {
			return 0
		}
		return w[i]
	}
	s := fmt.Sprintf("vmstat counter %s", names[0])
	for _, m := range vs.missing {
		if m == s {
			return 0
		}
	}
	vs.missing = append(vs.missing, s)
	return 0
}

// blockdevPages is nr_blockdev_pages(): the page cache of every block
// device inode on blockdev_superblock (the "Buffers" of /proc/meminfo).
func (k *Kernel) blockdevPages(n *layoutNeeds, warn func(string, error)) uint64 {
	sbp, ok1 := n.sym("blockdev_superblock")
	sInodes, ok2 := n.off("super_block", "s_inodes")
	iSBList, ok3 := n.off("inode", "i_sb_list")
	iMapping, ok4 := n.off("inode", "i_mapping")
	nrpages, ok5 := n.off("address_space", "nrpages")
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return 0
	}
	sb, err := k.ptr(sbp)
	if err != nil || sb == 0 {
		warn("blockdev_superblock", err)
		return 0
	}
	var pages uint64
	err = k.listWalk(sb+sInodes, func(node uint64) error {
		mapping, err := k.ptr(node - iSBList + iMapping)
		if err != nil || mapping == 0 {
			return nil
		}
		if v, err := k.u64(mapping + nrpages); err == nil {
			pages += v
		}
		return nil
	})
	if err != nil {
		warn("block device inodes", err)
	}
	return pages
}

// swapCachePages is total_swapcache_pages() of kernels before 5.13 (which
// have no NR_SWAPCACHE): the pages of each swap type's address spaces.
func (k *Kernel) swapCachePages(n *layoutNeeds, warn func(string, error)) uint64 {
	nrTypes, ok1 := n.sym("nr_swapfiles")
	spaces, ok2 := n.sym("swapper_spaces")
	nrSpaces, ok3 := n.sym("nr_swapper_spaces")
	asSize, ok4 := n.size("address_space")
	nrpages, ok5 := n.off("address_space", "nrpages")
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return 0
	}
	types, err := k.u32(nrTypes)
	if err != nil || types > 64 {
		return 0
	}
	var pages uint64
	for t := uint64(0); t < uint64(types); t++ {
		banks, err1 := k.u32(nrSpaces + 4*t)
		base, err2 := k.ptr(spaces + 8*t)
		if err1 != nil || err2 != nil || base == 0 || banks > 1<<20 {
			continue
		}
		for b := uint64(0); b < uint64(banks); b++ {
			v, err := k.u64(base + b*asSize + nrpages)
			if err != nil {
				warn("swapper_spaces", err)
				break
			}
			pages += v
		}
	}
	return pages
}

// readSwap reads total_swap_pages and nr_swap_pages.
func (k *Kernel) readSwap(n *layoutNeeds, m *analysis.Memory, warn func(string, error)) {
	if a, ok := n.sym("total_swap_pages"); ok {
		if v, err := k.i64(a); err == nil {
			m.SwapTotal = positive(v)
		} else {
			warn("total_swap_pages", err)
		}
	}
	if a, ok := n.sym("nr_swap_pages"); ok {
		if v, err := k.i64(a); err == nil {
			m.SwapFree = positive(v)
		} else {
			warn("nr_swap_pages", err)
		}
	}
}

// readHugePages sums hstates[0..hugetlb_max_hstate). A kernel without
// hugetlbfs has neither symbol and no huge pages.
func (k *Kernel) readHugePages(n *layoutNeeds, m *analysis.Memory, warn func(string, error)) {
	hs, ok := k.Syms.Lookup("hstates")
	maxA, ok2 := k.Syms.Lookup("hugetlb_max_hstate")
	if !ok || !ok2 {
		return
	}
	size, ok3 := n.size("hstate")
	order, ok4 := n.off("hstate", "order")
	nr, ok5 := n.off("hstate", "nr_huge_pages")
	free, ok6 := n.off("hstate", "free_huge_pages")
	if !ok3 || !ok4 || !ok5 || !ok6 {
		return
	}
	count, err := k.u32(maxA)
	if err != nil || count > 16 {
		warn("hugetlb_max_hstate", err)
		return
	}
	def := uint32(0)
	if a, ok := k.Syms.Lookup("default_hstate_idx"); ok {
		def, _ = k.u32(a)
	}
	for i := uint64(0); i < uint64(count); i++ {
		h := hs + i*size
		o, err1 := k.u32(h + order)
		total, err2 := k.u64(h + nr)
		fr, err3 := k.u64(h + free)
		if err1 != nil || err2 != nil || err3 != nil || o > 30 {
			warn(fmt.Sprintf("hstates[%d]", i), fmt.Errorf("unreadable"))
			continue
		}
		m.HugePages += total << o
		m.HugePagesFree += fr << o
		if uint32(i) == def {
			m.HugePageSize = m.PageSize << o
			m.HugePagesTotalNr, m.HugePagesFreeNr = total, fr
		}
	}
}

// readCommit reads the overcommit limit and the committed address space.
func (k *Kernel) readCommit(n *layoutNeeds, m *analysis.Memory, warn func(string, error)) {
	var limit uint64
	kb, ok := k.Syms.Lookup("sysctl_overcommit_kbytes")
	if ok {
		if v, err := k.u64(kb); err == nil && v > 0 {
			limit = v * 1024 / m.PageSize
			ok = true
		} else {
			ok = false
		}
	}
	if !ok {
		if a, found := n.sym("sysctl_overcommit_ratio"); found {
			if r, err := k.u32(a); err == nil {
				limit = (m.Total - min(m.HugePages, m.Total)) * uint64(r) / 100
			}
		}
	}
	m.CommitLimit = limit + m.SwapTotal
	a, ok := n.sym("vm_committed_as")
	if !ok {
		return
	}
	_, sum, err := k.percpuCounter(n, a)
	if err != nil {
		warn("vm_committed_as", err)
	}
	m.Committed = positive(sum)
}

// percpuCounter reads a struct percpu_counter: central is what
// percpu_counter_read() gives, the count the kernel's approximate readers
// see; sum is percpu_counter_sum(), with every online CPU's unfolded delta.
func (k *Kernel) percpuCounter(n *layoutNeeds, pc uint64) (central, sum int64, err error) {
	count, ok := n.off("percpu_counter", "count")
	if !ok {
		return 0, 0, errMissing
	}
	if central, err = k.i64(pc + count); err != nil {
		return 0, 0, err
	}
	sum = central
	counters, ok := n.off("percpu_counter", "counters")
	if !ok {
		return central, sum, nil
	}
	p, err := k.ptr(pc + counters)
	if err != nil || p == 0 {
		return central, sum, err
	}
	offs, err := k.PerCPUOffsets()
	if err != nil {
		return central, sum, err
	}
	cpus, err := k.OnlineCPUs()
	if err != nil {
		return central, sum, err
	}
	for _, c := range cpus {
		if c < len(offs) {
			if v, err := k.i32(p + offs[c]); err == nil {
				sum += int64(v)
			}
		}
	}
	return central, sum, nil
}

// readNodes reads every online node's zones and node counters into m, and
// returns the sum of the zones' low watermarks (for MemAvailable).
func (k *Kernel) readNodes(n *layoutNeeds, m *analysis.Memory, warn func(string, error)) uint64 {
	nodes := k.nodeData(n)
	if len(nodes) == 0 {
		return 0
	}
	zones, ok1 := n.off("pglist_data", "node_zones")
	zoneSize, ok2 := n.size("zone")
	nrZones, ok3 := n.enum("zone_type", "__MAX_NR_ZONES")
	present, _ := n.off("pglist_data", "node_present_pages")
	if !ok1 || !ok2 || !ok3 || nrZones <= 0 || nrZones > 16 {
		return 0
	}
	zl := k.zoneLayout(n)
	nodeVM, hasNodeVM := n.off("pglist_data", "vm_stat")
	nodeItems, _ := n.enum("node_stat_item", "NR_VM_NODE_STAT_ITEMS")
	var low uint64
	for _, nd := range nodes {
		mn := analysis.MemoryNode{Node: nd.id}
		if v, err := k.u64(nd.pgdat + present); err == nil {
			mn.Present = v
		}
		for z := uint64(0); z < uint64(nrZones); z++ {
			zone, ok := k.readZone(zl, nd.pgdat+zones+z*zoneSize, nd.id, warn)
			if !ok {
				continue
			}
			low += zone.Low
			mn.Managed += zone.Managed
			mn.Free += zone.Free
			if zone.Present > 0 {
				m.Zones = append(m.Zones, zone)
			}
		}
		if hasNodeVM && nodeItems > 0 && nodeItems <= 512 {
			if w, err := k.u64s(nd.pgdat+nodeVM, int(nodeItems)); err == nil {
				get := func(names ...string) uint64 {
					for _, name := range names {
						if i, err := k.enumIn("node_stat_item", name); err == nil && i >= 0 && i < int64(len(w)) {
							return positive(int64(w[i]))
						}
					}
					return 0
				}
				mn.ActiveAnon, mn.InactiveAnon = get("NR_ACTIVE_ANON"), get("NR_INACTIVE_ANON")
				mn.ActiveFile, mn.InactiveFile = get("NR_ACTIVE_FILE"), get("NR_INACTIVE_FILE")
				mn.Shmem = get("NR_SHMEM")
				mn.SlabReclaim = get("NR_SLAB_RECLAIMABLE_B", "NR_SLAB_RECLAIMABLE")
				mn.SlabUnreclaim = get("NR_SLAB_UNRECLAIMABLE_B", "NR_SLAB_UNRECLAIMABLE")
			} else {
				warn(fmt.Sprintf("node %d counters", nd.id), err)
			}
		}
		m.Nodes = append(m.Nodes, mn)
	}
	return low
}

// pgdat is one node's struct pglist_data.
type pgdat struct {
	id    int
	pgdat uint64
}

// nodeData lists the nodes: node_data[] on NUMA kernels (its length from
// VMCOREINFO, or nr_node_ids), else contig_page_data.
func (k *Kernel) nodeData(n *layoutNeeds) []pgdat {
	if a, ok := k.Syms.Lookup("contig_page_data"); ok {
		return []pgdat{{0, a}}
	}
	nd, ok := n.sym("node_data")
	if !ok {
		return nil
	}
	count := int64(0)
	if a, ok := k.Syms.Lookup("nr_node_ids"); ok {
		if v, err := k.u32(a); err == nil {
			count = int64(v)
		}
	}
	if l, ok := k.Dump.Info.Length("node_data"); ok && (count <= 0 || l < count) {
		count = l
	}
	count = min(max(count, 1), 1<<10)
	var out []pgdat
	for i := int64(0); i < count; i++ {
		if p, err := k.ptr(nd + 8*uint64(i)); err == nil && p != 0 {
			out = append(out, pgdat{int(i), p})
		}
	}
	return out
}

// zoneLayout is what readZone needs of struct zone.
type zoneLayout struct {
	name, spanned, present, managed, watermark, boost, freeArea, vmStat uint64
	hasBoost, hasVMStat                                                 bool
	areaSize, nrFree, orders                                            uint64
	wmMin, wmLow, wmHigh                                                int64
	freeItem                                                            int64
	ok                                                                  bool
}

func (k *Kernel) zoneLayout(n *layoutNeeds) *zoneLayout {
	l := &zoneLayout{}
	var ok [8]bool
	l.name, ok[0] = n.off("zone", "name")
	l.spanned, ok[1] = n.off("zone", "spanned_pages")
	l.present, ok[2] = n.off("zone", "present_pages")
	l.managed, ok[3] = n.off("zone", "managed_pages")
	l.watermark, ok[4] = n.off("zone", "_watermark", "watermark")
	l.freeArea, ok[5] = n.off("zone", "free_area")
	l.areaSize, ok[6] = n.size("free_area")
	l.nrFree, ok[7] = n.off("free_area", "nr_free")
	l.boost, l.hasBoost = n.off("zone", "watermark_boost")
	l.vmStat, l.hasVMStat = n.off("zone", "vm_stat")
	l.orders, _ = n.arrayLen("zone", "free_area")
	l.wmMin, _ = n.enum("zone_watermarks", "WMARK_MIN")
	l.wmLow, _ = n.enum("zone_watermarks", "WMARK_LOW")
	l.wmHigh, _ = n.enum("zone_watermarks", "WMARK_HIGH")
	l.freeItem, _ = n.enum("zone_stat_item", "NR_FREE_PAGES")
	l.ok = !slices.Contains(ok[:], false) && l.orders > 0 && l.orders <= 64
	return l
}

// readZone reads one struct zone; ok is false when it cannot be read.
func (k *Kernel) readZone(l *zoneLayout, zone uint64, node int, warn func(string, error)) (analysis.Zone, bool) {
	z := analysis.Zone{Node: node, Addr: analysis.Hex(zone), FreeBlocks: []uint64{}}
	if !l.ok {
		return z, false
	}
	var err error
	if z.Name, err = k.cstr(zone+l.name, 32); err != nil {
		warn(fmt.Sprintf("zone at %#x", zone), err)
		return z, false
	}
	z.Spanned, _ = k.u64(zone + l.spanned)
	z.Present, _ = k.u64(zone + l.present)
	managed, _ := k.i64(zone + l.managed)
	z.Managed = positive(managed)
	var boost uint64
	if l.hasBoost {
		boost, _ = k.u64(zone + l.boost)
	}
	wm := func(i int64) uint64 {
		v, _ := k.u64(zone + l.watermark + 8*uint64(i))
		return v + boost
	}
	z.Min, z.Low, z.High = wm(l.wmMin), wm(l.wmLow), wm(l.wmHigh)
	if l.hasVMStat {
		free, _ := k.i64(zone + l.vmStat + 8*uint64(l.freeItem))
		z.Free = positive(free)
	}
	for o := uint64(0); o < l.orders; o++ {
		v, err := k.u64(zone + l.freeArea + o*l.areaSize + l.nrFree)
		if err != nil {
			warn(fmt.Sprintf("zone %s free_area[%d]", z.Name, o), err)
			break
		}
		z.FreeBlocks = append(z.FreeBlocks, v)
	}
	return z, true
}
