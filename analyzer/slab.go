package analyzer

import (
	"fmt"
	"math/bits"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/vmcore/vmcore/analysis"
)

// SLUB's constants that are not in the types: the order/objects packing of
// struct kmem_cache_order_objects (OO_SHIFT), and the cache flag
// SLAB_RECLAIM_ACCOUNT.
const (
	slubOOShift          = 16
	slabReclaimAccount   = 0x00020000
	maxSlabCaches        = 1 << 14
	maxPartialSlabs      = 1 << 20
	maxFreelistObjects   = 1 << 15 // a slab holds at most 2^15-1 objects (objects:15)
	slabCountersInUseLen = 16
)

// slubLayout is what the SLUB walk needs, by name from the kernel's types.
type slubLayout struct {
	slabType                                         string // "slab" (5.17+) or "page"
	name, objSize, size, oo, offset, random, flags   uint64
	cpuSlab, node, list                              uint64
	hasRandom                                        bool
	nodes                                            uint64 // entries of kmem_cache.node[] to look at
	cpuFreelist, cpuSlabPtr, cpuPartial              uint64
	hasCPUPartial                                    bool
	slabList, slabNext, slabCounters, slabCache      uint64
	nodeNrPartial, nodePartial, nodeNrSlabs, nodeObj uint64
}

func (k *Kernel) slubLayout(n *layoutNeeds) (*slubLayout, bool) {
	if !n.has("kmem_cache", "cpu_slab") {
		if n.has("kmem_cache", "cpu_cache") || n.has("kmem_cache", "array") {
			n.miss("the SLAB allocator (CONFIG_SLAB): only SLUB's caches are read")
		} else {
			n.miss("struct kmem_cache has no member cpu_slab (SLUB)")
		}
		return nil, false
	}
	l := &slubLayout{slabType: "slab"}
	if !n.has("slab", "slab_cache") {
		l.slabType = "page" // before 5.17 the slab fields are struct page's
	}
	var ok [18]bool
	l.name, ok[0] = n.off("kmem_cache", "name")
	l.objSize, ok[1] = n.off("kmem_cache", "object_size")
	l.size, ok[2] = n.off("kmem_cache", "size")
	l.oo, ok[3] = n.off("kmem_cache", "oo")
	l.offset, ok[4] = n.off("kmem_cache", "offset")
	l.flags, ok[5] = n.off("kmem_cache", "flags")
	l.cpuSlab, ok[6] = n.off("kmem_cache", "cpu_slab")
	l.node, ok[7] = n.off("kmem_cache", "node")
	l.list, ok[8] = n.off("kmem_cache", "list")
	l.cpuFreelist, ok[9] = n.off("kmem_cache_cpu", "freelist")
	l.cpuSlabPtr, ok[10] = n.off("kmem_cache_cpu", "slab", "page")
	l.slabList, ok[11] = n.off(l.slabType, "slab_list", "lru")
	l.slabCounters, ok[12] = n.off(l.slabType, "counters")
	l.slabCache, ok[13] = n.off(l.slabType, "slab_cache")
	l.nodeNrPartial, ok[14] = n.off("kmem_cache_node", "nr_partial")
	l.nodePartial, ok[15] = n.off("kmem_cache_node", "partial")
	l.nodeNrSlabs, ok[16] = n.off("kmem_cache_node", "nr_slabs")
	l.nodeObj, ok[17] = n.off("kmem_cache_node", "total_objects")
	l.random, l.hasRandom = n.tryOffOK("kmem_cache", "random") // CONFIG_SLAB_FREELIST_HARDENED
	l.cpuPartial, l.hasCPUPartial = n.tryOffOK("kmem_cache_cpu", "partial")
	if l.hasCPUPartial {
		l.slabNext, l.hasCPUPartial = n.off(l.slabType, "next")
	}
	if !ok[16] || !ok[17] {
		n.miss("CONFIG_SLUB_DEBUG's per-node slab and object counts")
	}
	for _, b := range ok {
		if !b {
			return nil, false
		}
	}
	l.nodes = 1
	if c, ok := n.arrayLen("kmem_cache", "node"); ok {
		l.nodes = c
	}
	if a, ok := k.Syms.Lookup("nr_node_ids"); ok {
		if v, err := k.u32(a); err == nil && v > 0 && uint64(v) < l.nodes {
			l.nodes = uint64(v)
		}
	}
	l.nodes = min(l.nodes, 1<<10)
	return l, true
}

// parallel calls fn(0) … fn(n-1) on as many goroutines as the process
// may run at once (at most 8), and returns when all have returned.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), 8, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// tryOffOK is tryOff for one path, as (offset, found).
func (n *layoutNeeds) tryOffOK(typ, path string) (uint64, bool) {
	o, i := n.tryOff(typ, path)
	return o, i >= 0
}

// Slab reads every SLUB cache on slab_caches with its object and slab
// counts, as crash's kmem -s computes them: the per-node totals
// (CONFIG_SLUB_DEBUG) less the free objects on the per-node and per-CPU
// partial slabs and the per-CPU freelists. The caches come sorted by the
// memory their slabs hold.
func (k *Kernel) Slab() (*analysis.Slab, []string, error) {
	n := k.needs()
	s := &analysis.Slab{Allocator: "slub", Caches: []analysis.SlabCache{}}
	l, ok := k.slubLayout(n)
	head, ok2 := n.sym("slab_caches")
	if !ok || !ok2 {
		s.Missing = n.Missing()
		return s, nil, errMissing
	}
	var warnings []string
	offs, err := k.PerCPUOffsets()
	if err != nil {
		return s, nil, err
	}
	cpus, err := k.OnlineCPUs()
	if err != nil {
		return s, nil, err
	}
	var caches []uint64
	werr := k.listWalk(head, func(node uint64) error {
		if len(caches) >= maxSlabCaches {
			return fmt.Errorf("more than %d caches", maxSlabCaches)
		}
		caches = append(caches, node-l.list)
		return nil
	})
	if werr != nil {
		warnings = append(warnings, "slab: slab_caches: "+werr.Error())
	}
	// Counting the CPUs' freelists reads every page of every CPU slab
	// (their objects are in random order): most of the section's page
	// reads, each a page to decompress, so the caches are read in
	// parallel. The dump's reads are safe for concurrent use.
	out := make([]analysis.SlabCache, len(caches))
	errs := make([]error, len(caches))
	parallel(len(caches), func(i int) {
		if errs[i] = k.mem.check(); errs[i] == nil { // a cancelled analysis reads no more caches
			out[i], errs[i] = k.slabCache(l, caches[i], offs, cpus)
		}
	})
	if err := k.mem.check(); err != nil {
		return s, warnings, err
	}
	for i, c := range out {
		if err := errs[i]; err != nil {
			warnings = append(warnings, fmt.Sprintf("slab: cache at %#x: %v", caches[i], err))
			if c.Name == "" {
				continue
			}
			c.Error = err.Error()
		}
		s.Caches = append(s.Caches, c)
		s.Bytes += c.Bytes
	}
	sort.SliceStable(s.Caches, func(i, j int) bool { return s.Caches[i].Bytes > s.Caches[j].Bytes })
	s.Missing = n.Missing()
	return s, warnings, nil
}

// slabCache reads one cache. A damaged list of it leaves the counts read
// so far and an error.
func (k *Kernel) slabCache(l *slubLayout, cache uint64, offs []uint64, cpus []int) (analysis.SlabCache, error) {
	c := analysis.SlabCache{Addr: analysis.Hex(cache)}
	var err error
	if c.Name, err = k.cstr(cache+l.name, 64); err != nil {
		return c, fmt.Errorf("name: %w", err)
	}
	objSize, _ := k.u32(cache + l.objSize)
	size, _ := k.u32(cache + l.size)
	oo, _ := k.u32(cache + l.oo)
	offset, _ := k.u32(cache + l.offset)
	flags, _ := k.u32(cache + l.flags)
	c.ObjectSize, c.Size = uint64(objSize), uint64(size)
	c.SlabSize = uint64(k.Dump.PageSize) << (oo >> slubOOShift)
	c.Reclaimable = flags&slabReclaimAccount != 0
	var random uint64
	if l.hasRandom {
		random, _ = k.u64(cache + l.random)
	}
	var total, free, slabs uint64
	var firstErr error
	keep := func(e error) {
		if firstErr == nil {
			firstErr = e
		}
	}
	cpuSlab, err := k.ptr(cache + l.cpuSlab)
	if err != nil {
		return c, fmt.Errorf("cpu_slab: %w", err)
	}
	for _, cpu := range cpus {
		if cpu >= len(offs) || cpuSlab == 0 {
			continue
		}
		kc := cpuSlab + offs[cpu]
		slab, err := k.ptr(kc + l.cpuSlabPtr)
		if err != nil {
			keep(fmt.Errorf("cpu %d slab: %w", cpu, err))
			continue
		}
		if slab != 0 {
			inuse, objects, err := k.slabCounts(l, slab)
			if err != nil {
				keep(fmt.Errorf("cpu %d slab %#x: %w", cpu, slab, err))
			} else {
				free += objects - min(inuse, objects)
				fl, _ := k.ptr(kc + l.cpuFreelist)
				nfree, err := k.freelistLen(fl, uint64(offset), random, objects)
				if err != nil {
					keep(fmt.Errorf("cpu %d freelist: %w", cpu, err))
				}
				free += nfree
			}
		}
		if l.hasCPUPartial {
			p, _ := k.ptr(kc + l.cpuPartial)
			for i := 0; p != 0 && i < maxPartialSlabs; i++ {
				inuse, objects, err := k.slabCounts(l, p)
				if err != nil {
					keep(fmt.Errorf("cpu %d partial slab %#x: %w", cpu, p, err))
					break
				}
				free += objects - min(inuse, objects)
				if p, err = k.ptr(p + l.slabNext); err != nil {
					keep(fmt.Errorf("cpu %d partial list: %w", cpu, err))
					break
				}
			}
		}
	}
	for i := uint64(0); i < l.nodes; i++ {
		node, err := k.ptr(cache + l.node + 8*i)
		if err != nil || node == 0 {
			continue
		}
		nr, err1 := k.i64(node + l.nodeNrSlabs)
		objs, err2 := k.i64(node + l.nodeObj)
		if err1 != nil || err2 != nil {
			keep(fmt.Errorf("node %d counts unreadable", i))
			continue
		}
		slabs += positive(nr)
		total += positive(objs)
		werr := k.listWalk(node+l.nodePartial, func(e uint64) error {
			inuse, objects, err := k.slabCounts(l, e-l.slabList)
			if err != nil {
				return err
			}
			free += objects - min(inuse, objects)
			return nil
		})
		if werr != nil {
			keep(fmt.Errorf("node %d partial list: %w", i, werr))
		}
	}
	c.Total, c.Slabs = total, slabs
	c.Allocated = total - min(free, total)
	c.Bytes = slabs * c.SlabSize
	return c, firstErr
}

// slabCounts decodes a slab's counters word: inuse:16, objects:15,
// frozen:1, allocated from the low bits on a little-endian machine and
// from the high bits on a big-endian one.
func (k *Kernel) slabCounts(l *slubLayout, slab uint64) (inuse, objects uint64, err error) {
	v, err := k.u32(slab + l.slabCounters)
	if err != nil {
		return 0, 0, err
	}
	if k.Dump.ByteOrder.Uint16([]byte{1, 0}) != 1 { // big-endian: the first field is the top bits
		return uint64(v >> slabCountersInUseLen), uint64((v >> 1) & 0x7fff), nil
	}
	return uint64(v & 0xffff), uint64((v >> slabCountersInUseLen) & 0x7fff), nil
}

// freelistLen counts a SLUB freelist: each free object holds the next
// one's address at offset, stored as ptr ^ random ^ swab(&ptr) when the
// kernel hardens its freelists (CONFIG_SLAB_FREELIST_HARDENED, random set).
func (k *Kernel) freelistLen(p, offset, random, limit uint64) (uint64, error) {
	var n uint64
	seen := map[uint64]bool{}
	for p != 0 {
		if n > min(limit, maxFreelistObjects) || seen[p] {
			return n, fmt.Errorf("freelist at %#x loops or exceeds the slab", p)
		}
		seen[p] = true
		n++
		slot := p + offset
		v, err := k.u64(slot)
		if err != nil {
			return n, err
		}
		if random != 0 {
			v ^= random ^ bits.ReverseBytes64(slot)
		}
		p = v
	}
	return n, nil
}
