package analyzer

import (
	"fmt"
	"math/bits"
	"sort"

	"github.com/vmcore/vmcore/analysis"
)

// Bounds of the block walks: disks, hardware queues of one disk, tags of
// one queue, requests listed per disk.
const (
	maxDisks         = 1 << 14
	maxHWQueues      = 1 << 12
	maxTags          = 1 << 16
	maxListedRequest = 64
)

// reqOps names the request operations (enum req_op, the low REQ_OP_BITS
// of cmd_flags), stable since 4.10; an odd op writes.
var reqOps = map[uint32]string{0: "read", 1: "write", 2: "flush", 3: "discard", 5: "secure_erase",
	7: "write_same", 9: "write_zeroes", 10: "zone_open", 11: "zone_close", 12: "zone_finish",
	13: "zone_append", 15: "zone_reset", 17: "zone_reset_all", 34: "drv_in", 35: "drv_out"}

const reqOpMask = 0xff // (1 << REQ_OP_BITS) - 1

// blockLayout is what the disk walk reads, by name.
type blockLayout struct {
	diskType                                uint64
	klistList, knodeNode, knodeKlist        uint64
	privKnode, privDevice, devType          uint64
	viaBdev                                 bool // 5.11+: gendisk.part0 is a struct block_device *
	bdDevice, bdDisk, bdStats               uint64
	hdDev, part0, hdStats                   uint64
	diskName, major, minor, queue           uint64
	mqOps                                   uint64
	hctxTable, hwCtx, nrHW                  uint64
	xarray                                  bool
	hctxTags, tagsNr, tagsNrRes, tagsRqs    uint64
	bitmapTags, resTags                     uint64
	tagsPtr                                 bool // 5.10: bitmap_tags is a struct sbitmap_queue *
	sbqSB, sbDepth, sbShift, sbMapNr, sbMap uint64
	wordSize, wordWord, wordCleared         uint64
	hasCleared                              bool
	rqQ, rqFlags, rqState, rqSector, rqLen  uint64
	rqStart, rqTag                          uint64
	hasSector, hasLen, hasStart, hasTag     bool
	inFlight                                int64
	statsInFlight                           uint64
	hasStats, mqOK                          bool
}

func (k *Kernel) blockLayout(n *layoutNeeds) (*blockLayout, bool) {
	l := &blockLayout{}
	var ok [14]bool
	l.diskType, ok[0] = n.sym("disk_type")
	l.klistList, ok[1] = n.off("klist", "k_list")
	l.knodeNode, ok[2] = n.off("klist_node", "n_node")
	l.knodeKlist, ok[3] = n.off("klist_node", "n_klist")
	l.privKnode, ok[4] = n.off("device_private", "knode_class")
	l.privDevice, ok[5] = n.off("device_private", "device")
	l.devType, ok[6] = n.off("device", "type")
	l.diskName, ok[7] = n.off("gendisk", "disk_name")
	l.major, ok[8] = n.off("gendisk", "major")
	l.minor, ok[9] = n.off("gendisk", "first_minor")
	l.queue, ok[10] = n.off("gendisk", "queue")
	l.part0, ok[13] = n.off("gendisk", "part0")
	if n.has("block_device", "bd_device") {
		l.viaBdev = true
		l.bdDevice, ok[11] = n.off("block_device", "bd_device")
		l.bdDisk, ok[12] = n.off("block_device", "bd_disk")
		l.bdStats, l.hasStats = n.off("block_device", "bd_stats")
	} else {
		l.hdDev, ok[11] = n.off("hd_struct", "__dev")
		l.hdStats, l.hasStats = n.off("hd_struct", "dkstats")
		ok[12] = true
	}
	if l.hasStats {
		l.statsInFlight, l.hasStats = n.off("disk_stats", "in_flight")
	}
	for _, b := range ok {
		if !b {
			return l, false
		}
	}
	// blk-mq's tags, as crash's dev -d counts them.
	var m [20]bool
	l.mqOps, m[0] = n.off("request_queue", "mq_ops")
	if o, found := n.tryOffOK("request_queue", "hctx_table"); found { // 5.19+: an xarray
		l.hctxTable, l.xarray, m[1], m[2] = o, true, true, true
	} else {
		l.hwCtx, m[1] = n.off("request_queue", "queue_hw_ctx")
		l.nrHW, m[2] = n.off("request_queue", "nr_hw_queues")
	}
	l.hctxTags, m[3] = n.off("blk_mq_hw_ctx", "tags")
	l.tagsNr, m[4] = n.off("blk_mq_tags", "nr_tags")
	l.tagsNrRes, m[5] = n.off("blk_mq_tags", "nr_reserved_tags")
	l.tagsRqs, m[6] = n.off("blk_mq_tags", "rqs")
	l.bitmapTags, m[7] = n.off("blk_mq_tags", "bitmap_tags")
	l.resTags, m[8] = n.off("blk_mq_tags", "breserved_tags")
	l.tagsPtr = n.has("blk_mq_tags", "__bitmap_tags") // 5.10 points bitmap_tags at __bitmap_tags
	l.sbqSB, m[9] = n.off("sbitmap_queue", "sb")
	l.sbDepth, m[10] = n.off("sbitmap", "depth")
	l.sbShift, m[11] = n.off("sbitmap", "shift")
	l.sbMapNr, m[12] = n.off("sbitmap", "map_nr")
	l.sbMap, m[13] = n.off("sbitmap", "map")
	l.wordSize, m[14] = n.size("sbitmap_word")
	l.wordWord, m[15] = n.off("sbitmap_word", "word")
	l.wordCleared, l.hasCleared = n.tryOffOK("sbitmap_word", "cleared")
	l.rqQ, m[16] = n.off("request", "q")
	l.rqFlags, m[17] = n.off("request", "cmd_flags")
	l.rqState, m[18] = n.off("request", "state")
	l.inFlight, m[19] = n.enum("mq_rq_state", "MQ_RQ_IN_FLIGHT")
	l.rqSector, l.hasSector = n.off("request", "__sector")
	l.rqLen, l.hasLen = n.off("request", "__data_len")
	l.rqStart, l.hasStart = n.off("request", "start_time_ns")
	l.rqTag, l.hasTag = n.off("request", "tag")
	l.mqOK = true
	for _, b := range m {
		l.mqOK = l.mqOK && b
	}
	return l, true
}

// Block lists the disks of block_class (the devices whose type is
// disk_type, as crash's dev -d finds them) with the requests in flight:
// on a blk-mq queue the driver tags in use whose request is in flight,
// each with its age; on a bio-based queue (device mapper, md) the
// per-CPU in-flight counters.
func (k *Kernel) Block() (*analysis.Block, []string, error) {
	n := k.needs()
	b := &analysis.Block{Disks: []analysis.Disk{}}
	l, ok := k.blockLayout(n)
	devices, ok2 := k.blockClassDevices(n)
	if !ok || !ok2 {
		b.Missing = n.Missing()
		return b, nil, errMissing
	}
	var warnings []string
	warn := func(format string, args ...any) { warnings = append(warnings, "block: "+fmt.Sprintf(format, args...)) }
	now, err := k.uptime()
	if err != nil {
		warn("the monotonic clock, for request ages: %v", err)
	}
	offs, _ := k.PerCPUOffsets()
	seen := map[uint64]bool{}
	werr := k.listWalk(devices+l.klistList, func(node uint64) error {
		if len(seen) > maxDisks {
			return fmt.Errorf("more than %d devices", maxDisks)
		}
		knode := node - l.knodeNode
		if nk, err := k.ptr(knode + l.knodeKlist); err != nil || nk&1 != 0 {
			return nil // a dead klist node
		}
		dev, err := k.ptr(knode - l.privKnode + l.privDevice)
		if err != nil || dev == 0 {
			return nil
		}
		if t, err := k.ptr(dev + l.devType); err != nil || t != l.diskType {
			return nil // a partition
		}
		var disk uint64
		if l.viaBdev {
			disk, err = k.ptr(dev - l.bdDevice + l.bdDisk)
		} else {
			disk = dev - l.hdDev - l.part0
		}
		if err != nil || disk == 0 || seen[disk] {
			return nil
		}
		seen[disk] = true
		d, err := k.disk(l, disk, uint64(now), offs)
		if err != nil {
			warn("disk at %#x: %v", disk, err)
		}
		if d.Name != "" {
			b.Disks = append(b.Disks, d)
		}
		return nil
	})
	if werr != nil {
		warn("block_class devices: %v", werr)
	}
	if !l.mqOK {
		n.miss("blk-mq's tags (the requests of blk-mq disks are not counted)")
	}
	b.Missing = n.Missing()
	return b, warnings, nil
}

// blockClassDevices is the klist of block_class's devices: class.p (before
// 6.4) or the subsys_private on class_kset whose class is block_class.
func (k *Kernel) blockClassDevices(n *layoutNeeds) (uint64, bool) {
	bc, ok := n.sym("block_class")
	klist, ok2 := n.off("subsys_private", "klist_devices")
	if !ok || !ok2 {
		return 0, false
	}
	if p, i := n.tryOff("class", "p"); i >= 0 {
		sp, err := k.ptr(bc + p)
		return sp + klist, err == nil && sp != 0
	}
	ck, ok := n.sym("class_kset")
	list, ok2 := n.off("kset", "list")
	entry, ok3 := n.off("kobject", "entry")
	kobj, ok4 := n.off("subsys_private", "subsys.kobj")
	class, ok5 := n.off("subsys_private", "class")
	if !ok || !ok2 || !ok3 || !ok4 || !ok5 {
		return 0, false
	}
	kset, err := k.ptr(ck)
	if err != nil || kset == 0 {
		return 0, false
	}
	var found uint64
	k.listWalk(kset+list, func(node uint64) error {
		sp := node - entry - kobj
		if c, err := k.ptr(sp + class); err == nil && c == bc {
			found = sp
			return errStopWalk
		}
		return nil
	})
	return found + klist, found != 0
}

// errStopWalk ends a listWalk early without error.
var errStopWalk = fmt.Errorf("stop")

// disk reads one gendisk and counts its requests in flight.
func (k *Kernel) disk(l *blockLayout, disk, now uint64, offs []uint64) (analysis.Disk, error) {
	d := analysis.Disk{Gendisk: analysis.Hex(disk), Requests: []analysis.Request{}}
	var err error
	if d.Name, err = k.str(disk+l.diskName, 32); err != nil {
		return d, err
	}
	major, _ := k.u32(disk + l.major)
	minor, _ := k.u32(disk + l.minor)
	d.Major, d.Minor = major, minor
	q, err := k.ptr(disk + l.queue)
	if err != nil || q == 0 {
		return d, fmt.Errorf("queue: %v", err)
	}
	d.Queue = analysis.Hex(q)
	if ops, err := k.ptr(q + l.mqOps); err == nil && ops != 0 {
		d.MQ = true
		if !l.mqOK {
			return d, nil
		}
		err := k.mqInFlight(l, q, now, &d)
		sort.SliceStable(d.Requests, func(i, j int) bool { return d.Requests[i].Age > d.Requests[j].Age })
		if len(d.Requests) > 0 {
			d.OldestAge = d.Requests[0].Age
		}
		if len(d.Requests) > maxListedRequest {
			d.Requests = d.Requests[:maxListedRequest]
		}
		return d, err
	}
	// A bio-based queue counts its I/O in the whole-disk partition's
	// per-CPU statistics.
	if !l.hasStats {
		return d, nil
	}
	var stats uint64
	if l.viaBdev {
		part0, err := k.ptr(disk + l.part0)
		if err != nil || part0 == 0 {
			return d, err
		}
		stats, err = k.ptr(part0 + l.bdStats)
		if err != nil {
			return d, err
		}
	} else {
		stats, err = k.ptr(disk + l.part0 + l.hdStats)
		if err != nil {
			return d, err
		}
	}
	var r, w int64
	for _, o := range offs {
		v, err := k.u64s(stats+o+l.statsInFlight, 2)
		if err != nil {
			continue
		}
		r, w = r+int64(v[0]), w+int64(v[1])
	}
	d.Reads, d.Writes = positive(r), positive(w)
	return d, nil
}

// mqInFlight visits the driver tags in use of every hardware queue (both
// the reserved and the normal bitmap) and counts and lists the requests
// in flight on queue q.
func (k *Kernel) mqInFlight(l *blockLayout, q, now uint64, d *analysis.Disk) error {
	hctxs, err := k.hwQueues(l, q)
	if err != nil {
		return err
	}
	seen := map[uint64]bool{}
	for _, h := range hctxs {
		tags, err := k.ptr(h + l.hctxTags)
		if err != nil || tags == 0 || seen[tags] {
			continue
		}
		seen[tags] = true
		nrRes, _ := k.u32(tags + l.tagsNrRes)
		rqs, err := k.ptr(tags + l.tagsRqs)
		if err != nil || rqs == 0 {
			continue
		}
		for _, bm := range []struct {
			off  uint64
			base uint32
		}{{l.resTags, 0}, {l.bitmapTags, nrRes}} {
			if bm.off == l.resTags && nrRes == 0 {
				continue
			}
			sbq := tags + bm.off
			if l.tagsPtr {
				if sbq, err = k.ptr(sbq); err != nil || sbq == 0 {
					continue
				}
			}
			err := k.sbitmapSet(l, sbq+l.sbqSB, func(bit uint64) error {
				tag := bit + uint64(bm.base)
				if tag >= maxTags {
					return nil
				}
				rq, err := k.ptr(rqs + 8*tag)
				if err != nil || rq == 0 {
					return nil
				}
				k.countRequest(l, q, rq, now, d)
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// countRequest counts one tagged request when it is in flight on q.
func (k *Kernel) countRequest(l *blockLayout, q, rq, now uint64, d *analysis.Disk) {
	rqQ, err1 := k.ptr(rq + l.rqQ)
	state, err2 := k.u32(rq + l.rqState)
	flags, err3 := k.u32(rq + l.rqFlags)
	if err1 != nil || err2 != nil || err3 != nil || rqQ != q || int64(state) != l.inFlight {
		return
	}
	op := flags & reqOpMask
	if op&1 != 0 {
		d.Writes++
	} else {
		d.Reads++
	}
	r := analysis.Request{Addr: analysis.Hex(rq), Op: reqOps[op]}
	if r.Op == "" {
		r.Op = fmt.Sprintf("op %d", op)
	}
	if l.hasTag {
		tag, _ := k.i32(rq + l.rqTag)
		r.Tag = int(tag)
	}
	if l.hasSector {
		r.Sector, _ = k.u64(rq + l.rqSector)
	}
	if l.hasLen {
		v, _ := k.u32(rq + l.rqLen)
		r.Bytes = uint64(v)
	}
	if l.hasStart {
		if start, err := k.u64(rq + l.rqStart); err == nil && start != 0 && start < now {
			r.Age = now - start
		}
	}
	d.Requests = append(d.Requests, r)
}

// hwQueues lists a request queue's hardware contexts.
func (k *Kernel) hwQueues(l *blockLayout, q uint64) ([]uint64, error) {
	if l.xarray {
		var out []uint64
		err := k.xarrayWalk(q+l.hctxTable, func(_ uint64, entry uint64) error {
			if len(out) >= maxHWQueues {
				return fmt.Errorf("more than %d hardware queues", maxHWQueues)
			}
			out = append(out, entry)
			return nil
		})
		return out, err
	}
	nr, err := k.u32(q + l.nrHW)
	if err != nil {
		return nil, err
	}
	arr, err := k.ptr(q + l.hwCtx)
	if err != nil || arr == 0 || nr > maxHWQueues {
		return nil, fmt.Errorf("queue_hw_ctx: %d queues at %#x", nr, arr)
	}
	return k.u64s(arr, int(nr))
}

// sbitmapSet calls fn with every bit set (and not deferred-cleared) in a
// struct sbitmap.
func (k *Kernel) sbitmapSet(l *blockLayout, sb uint64, fn func(bit uint64) error) error {
	depth, err1 := k.u32(sb + l.sbDepth)
	shift, err2 := k.u32(sb + l.sbShift)
	mapNr, err3 := k.u32(sb + l.sbMapNr)
	words, err4 := k.ptr(sb + l.sbMap)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return fmt.Errorf("sbitmap at %#x unreadable", sb)
	}
	if shift > 16 || mapNr > maxTags || depth > maxTags || (mapNr > 0 && words == 0) {
		return fmt.Errorf("sbitmap at %#x: depth %d, shift %d, %d words", sb, depth, shift, mapNr)
	}
	for i := uint64(0); i < uint64(mapNr); i++ {
		w := words + i*l.wordSize
		word, err := k.u64(w + l.wordWord)
		if err != nil {
			return err
		}
		if l.hasCleared {
			cleared, _ := k.u64(w + l.wordCleared)
			word &^= cleared
		}
		for word != 0 {
			b := uint64(bits.TrailingZeros64(word))
			word &^= 1 << b
			bit := i<<shift + b
			if bit >= uint64(depth) {
				break
			}
			if err := fn(bit); err != nil {
				return err
			}
		}
	}
	return nil
}

// xarrayWalk visits an xarray's entries (pointers; value entries and
// internal entries other than nodes are skipped) with their indexes.
func (k *Kernel) xarrayWalk(xa uint64, fn func(index, entry uint64) error) error {
	n := k.needs()
	head, ok1 := n.off("xarray", "xa_head")
	shiftOff, ok2 := n.off("xa_node", "shift")
	slots, ok3 := n.off("xa_node", "slots")
	nslots, ok4 := n.arrayLen("xa_node", "slots")
	if !ok1 || !ok2 || !ok3 || !ok4 || nslots == 0 || nslots > 256 {
		return fmt.Errorf("the xarray layout: %v", n.Missing())
	}
	entry, err := k.ptr(xa + head)
	if err != nil {
		return err
	}
	visited := 0
	var walk func(entry, index uint64, depth int) error
	walk = func(entry, index uint64, depth int) error {
		if entry == 0 {
			return nil
		}
		if visited++; visited > maxListEntries || depth > 16 {
			return fmt.Errorf("xarray at %#x is too deep or too big", xa)
		}
		switch {
		case entry&3 == 2 && entry > 4096: // an internal node
			node := entry - 2
			sh, err := k.u8(node + shiftOff)
			if err != nil {
				return err
			}
			s, err := k.u64s(node+slots, int(nslots))
			if err != nil {
				return err
			}
			for i, e := range s {
				if err := walk(e, index+uint64(i)<<sh, depth+1); err != nil {
					return err
				}
			}
			return nil
		case entry&3 != 0: // a value or another internal entry
			return nil
		}
		return fn(index, entry)
	}
	return walk(entry, 0, 0)
}
