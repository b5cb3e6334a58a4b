// Package printk reads a crashed kernel's log from a vmcore.Dump with
// VMCOREINFO alone: the lockless printk_ringbuffer of Linux 5.10 and later
// and the structured log_buf of 3.5 to 5.9, no symbols or types needed. It
// prints records as makedumpfile --dump-dmesg, crash's log and dmesg do.
//
// It is apart from package analyzer, which re-exports it, so that a
// program that only prints logs (vmcorectl) links nothing but it and
// package vmcore: no BTF, DWARF or HTTP code to load and initialise at
// start-up. Its walks are bounded, and damage becomes warnings on a
// partial log rather than an error.
package printk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"unsafe"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/vmcore"
)

// ErrNoLog means the dump does not describe a kernel log this package can read.
var ErrNoLog = errors.New("printk: the dump's VMCOREINFO describes no printk buffer (neither SYMBOL(prb) nor SYMBOL(log_buf))")

// Record flags, as analysis.Record.Flags holds them.
const (
	LogNewline = analysis.LogNewline
	LogCont    = analysis.LogCont
)

// Record is one kernel log record (the analysis document's type).
type Record = analysis.Record

// Log is a kernel log read from a dump.
type Log struct {
	// Source names the buffer read: "printk_ringbuffer" (5.10+) or "log_buf" (3.5-5.9).
	Source  string
	Records []Record
	// Partial is set when some records could not be read (missing pages,
	// damaged descriptors); Warnings say which and why.
	Partial  bool
	Warnings []string
}

// Limits on what the log description may claim.
const (
	maxDescBits = 24 // 16M descriptors
	maxRingBits = 31 // LOG_BUF_LEN_MAX, 2 GiB
	maxWarnings = 50 // warnings kept; more are counted
	// maxConsecutiveFailures ends a walk through a ring that is garbage
	// (a wrong or damaged layout) instead of probing millions of descriptors.
	maxConsecutiveFailures = 1024
	// ctxCheckEvery is how many records are read between looks at the
	// context: often enough to stop at once, rarely enough to cost nothing.
	ctxCheckEvery = 64
)

// ReadLog reads the kernel log using only VMCOREINFO: the lockless
// printk_ringbuffer of Linux 5.10 and later, or the structured log_buf of
// 3.5 to 5.9. It reads only the pages holding log records (not the whole
// ring up front). Records that cannot be read are skipped and counted in
// warnings, and the log is marked partial. It stops, with ctx's error, when
// ctx is done.
func ReadLog(ctx context.Context, d *vmcore.Dump) (*Log, error) {
	if d.Info == nil {
		return nil, fmt.Errorf("printk: the dump has no VMCOREINFO: %w", ErrNoLog)
	}
	if _, ok := d.Info.Symbol("prb"); ok {
		return readRingBuffer(ctx, d)
	}
	if _, ok := d.Info.Symbol("log_buf"); ok {
		return readLogBuf(ctx, d)
	}
	return nil, ErrNoLog
}

// layout collects the VMCOREINFO sizes and offsets a reader needs, recording
// the first missing key.
type layout struct {
	vi      *vmcore.VMCoreInfo
	missing []string
}

func (l *layout) off(name string) uint64 {
	v, ok := l.vi.Offset(name)
	if !ok || v < 0 {
		l.missing = append(l.missing, "OFFSET("+name+")")
	}
	return uint64(v)
}

func (l *layout) size(name string) uint64 {
	v, ok := l.vi.Size(name)
	if !ok || v <= 0 {
		l.missing = append(l.missing, "SIZE("+name+")")
	}
	return uint64(v)
}

func (l *layout) length(name string) uint64 {
	v, ok := l.vi.Length(name)
	if !ok || v < 0 {
		l.missing = append(l.missing, "LENGTH("+name+")")
	}
	return uint64(v)
}

func (l *layout) err() error {
	if len(l.missing) == 0 {
		return nil
	}
	return fmt.Errorf("printk: VMCOREINFO lacks %v needed to read the log", l.missing)
}

func (lg *Log) warn(format string, args ...any) {
	lg.Partial = true
	if len(lg.Warnings) < maxWarnings {
		lg.Warnings = append(lg.Warnings, fmt.Sprintf(format, args...))
	} else if len(lg.Warnings) == maxWarnings {
		lg.Warnings = append(lg.Warnings, "more warnings omitted")
	}
}

// Descriptor states of the lockless ring (kernel/printk/printk_ringbuffer.h).
const (
	descCommitted = 1
	descFinalized = 2
	emptyLineLPOS = 3 // a data-less block for an empty line
)

func readRingBuffer(ctx context.Context, d *vmcore.Dump) (*Log, error) {
	vi := d.Info
	l := &layout{vi: vi}
	prbSym, _ := vi.Symbol("prb")
	var (
		descRingOff  = l.off("printk_ringbuffer.desc_ring")
		textRingOff  = l.off("printk_ringbuffer.text_data_ring")
		countBitsOff = l.off("prb_desc_ring.count_bits")
		descsOff     = l.off("prb_desc_ring.descs")
		infosOff     = l.off("prb_desc_ring.infos")
		headIDOff    = l.off("prb_desc_ring.head_id")
		tailIDOff    = l.off("prb_desc_ring.tail_id")
		descSize     = l.size("prb_desc")
		stateOff     = l.off("prb_desc.state_var")
		lposOff      = l.off("prb_desc.text_blk_lpos")
		beginOff     = l.off("prb_data_blk_lpos.begin")
		nextOff      = l.off("prb_data_blk_lpos.next")
		infoSize     = l.size("printk_info")
		seqOff       = l.off("printk_info.seq")
		tsOff        = l.off("printk_info.ts_nsec")
		textLenOff   = l.off("printk_info.text_len")
		callerOff    = l.off("printk_info.caller_id")
		devInfoOff   = l.off("printk_info.dev_info")
		subsysOff    = l.off("dev_printk_info.subsystem")
		subsysLen    = l.length("printk_info_subsystem")
		deviceOff    = l.off("dev_printk_info.device")
		deviceLen    = l.length("printk_info_device")
		sizeBitsOff  = l.off("prb_data_ring.size_bits")
		dataOff      = l.off("prb_data_ring.data")
		counterOff   = l.off("atomic_long_t.counter")
	)
	if err := l.err(); err != nil {
		return nil, err
	}
	if infoSize < textLenOff+4 || infoSize > 4096 || descSize > 4096 || subsysLen > 4096 || deviceLen > 4096 {
		return nil, fmt.Errorf("printk: VMCOREINFO printk layout is implausible (SIZE(printk_info)=%d, SIZE(prb_desc)=%d)", infoSize, descSize)
	}
	lg := &Log{Source: "printk_ringbuffer"}
	prb, err := d.ReadU64(prbSym)
	if err != nil {
		return nil, fmt.Errorf("printk: reading the prb pointer at %#x: %w", prbSym, err)
	}
	ring := prb + descRingOff
	countBits, err := d.ReadU32(ring + countBitsOff)
	if err != nil {
		return nil, fmt.Errorf("printk: reading printk_ringbuffer at %#x: %w", prb, err)
	}
	if countBits > maxDescBits {
		return nil, fmt.Errorf("printk: descriptor ring at %#x claims 2^%d descriptors (limit 2^%d)", ring, countBits, maxDescBits)
	}
	var vals [5]uint64
	for i, va := range []uint64{ring + descsOff, ring + infosOff, ring + headIDOff + counterOff, ring + tailIDOff + counterOff, prb + textRingOff + dataOff} {
		if vals[i], err = d.ReadU64(va); err != nil {
			return nil, fmt.Errorf("printk: reading printk_ringbuffer at %#x: %w", prb, err)
		}
	}
	descs, infos, headID, tailID, data := vals[0], vals[1], vals[2], vals[3], vals[4]
	sizeBits, err := d.ReadU32(prb + textRingOff + sizeBitsOff)
	if err != nil {
		return nil, fmt.Errorf("printk: reading printk_ringbuffer at %#x: %w", prb, err)
	}
	if sizeBits > maxRingBits || sizeBits < 4 {
		return nil, fmt.Errorf("printk: text ring at %#x claims 2^%d bytes", prb+textRingOff, sizeBits)
	}
	const idMask = ^uint64(3 << 62)
	count := uint64(1) << countBits
	ringSize := uint64(1) << sizeBits
	headID &= idMask
	tailID &= idMask
	if span := (headID - tailID) & idMask; span >= count {
		lg.warn("descriptor ring tail %d and head %d are %d apart, more than its %d descriptors: reading the last %d", tailID, headID, span, count, count)
		tailID = (headID - count + 1) & idMask
	}
	span := ((headID - tailID) & idMask) + 1 // records from tail to head
	rr := &ringReader{
		d:     d,
		descs: ringArray{d: d, base: descs, size: descSize, count: count},
		infos: ringArray{d: d, base: infos, size: infoSize, count: count},
		data:  data,
		size:  ringSize,
		rl: recordLayout{
			descSize, stateOff, lposOff, beginOff, nextOff, counterOff, infoSize, seqOff, tsOff, textLenOff,
			callerOff, devInfoOff, subsysOff, subsysLen, deviceOff, deviceLen,
		},
	}
	lg.Records = make([]Record, 0, min(span, 1<<16))
	// The texts fit in the ring; most records are shorter than 64 bytes.
	rr.texts.buf = make([]byte, 0, min(ringSize, span*64, 1<<20))
	failures := 0 // consecutive unreadable records
	for id := tailID; ; id = (id + 1) & idMask {
		if failures > maxConsecutiveFailures {
			lg.warn("stopped after %d consecutive unreadable records at id %d", failures, id)
			break
		}
		if id%ctxCheckEvery == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("printk: reading the ring: %w", context.Cause(ctx))
		}
		failures++
		if err := rr.read(lg, id, (headID-id)&idMask+1); err != nil {
			lg.warn("record %d: %v", id, err)
		} else {
			failures = 0
		}
		if id == headID {
			break
		}
	}
	rr.texts.assign(lg.Records)
	return lg, nil
}

// ringArray reads the elements of an array in kernel memory (the
// descriptor and info rings) a batch at a time: one ReadVirt for many
// records instead of one each. A batch that cannot be read whole (a page
// missing from the dump) falls back to the one element, so a lost page
// loses only its own records.
type ringArray struct {
	d                 *vmcore.Dump
	base, size, count uint64 // address of element 0, bytes per element, elements
	first, n          uint64 // the elements in buf
	buf               []byte
}

// ringBatch is how many bytes of elements one read fetches.
const ringBatch = 8 << 10

// element returns element i; want is how many elements from i on the
// caller will ask for, so a batch does not read past the last one.
func (a *ringArray) element(i, want uint64) ([]byte, error) {
	if i >= a.first && i < a.first+a.n {
		o := (i - a.first) * a.size
		return a.buf[o : o+a.size], nil
	}
	n := max(1, min(ringBatch/a.size, a.count-i, want))
	if uint64(cap(a.buf)) < n*a.size {
		a.buf = make([]byte, n*a.size)
	}
	a.n = 0
	b := a.buf[:n*a.size]
	if err := a.d.ReadVirt(b, a.base+i*a.size); err != nil {
		if n == 1 {
			return nil, err
		}
		b = a.buf[:a.size]
		if err := a.d.ReadVirt(b, a.base+i*a.size); err != nil {
			return nil, err
		}
		n = 1
	}
	a.first, a.n = i, n
	return b[:a.size], nil
}

// textArena holds every record's text in one buffer that becomes one string
// at the end: a log of thousands of records costs a few allocations, not
// two per record.
type textArena struct {
	buf  []byte
	ends []textSpan
}

type textSpan struct {
	rec        int // index in Log.Records
	start, end int
}

// next returns n bytes of the arena to read record rec's text into.
func (t *textArena) next(rec int, n uint64) []byte {
	start := len(t.buf)
	t.buf = slices.Grow(t.buf, int(n))[:start+int(n)]
	t.ends = append(t.ends, textSpan{rec, start, len(t.buf)})
	return t.buf[start:]
}

// drop forgets the last text given out, whose read failed.
func (t *textArena) drop() {
	last := t.ends[len(t.ends)-1]
	t.buf = t.buf[:last.start]
	t.ends = t.ends[:len(t.ends)-1]
}

// assign sets the texts of recs. The arena's buffer becomes the strings'
// storage, as strings.Builder does, so it must not be written again.
func (t *textArena) assign(recs []Record) {
	if len(t.buf) == 0 {
		return
	}
	all := unsafe.String(&t.buf[0], len(t.buf))
	t.buf = nil
	for _, e := range t.ends {
		recs[e.rec].Text = all[e.start:e.end]
	}
}

// ringReader reads the records of a printk_ringbuffer.
type ringReader struct {
	d            *vmcore.Dump
	descs, infos ringArray
	data, size   uint64 // the text ring's address and size
	rl           recordLayout
	texts        textArena
}

type recordLayout struct {
	descSize, stateOff, lposOff, beginOff, nextOff, counterOff uint64
	infoSize, seqOff, tsOff, textLenOff, callerOff, devInfoOff uint64
	subsysOff, subsysLen, deviceOff, deviceLen                 uint64
}

// read appends record id to lg if it is committed or finalized; want is
// how many records from id on are still to be read.
func (rr *ringReader) read(lg *Log, id, want uint64) error {
	const idMask = ^uint64(3 << 62)
	d, bo, rl, ringSize := rr.d, rr.d.ByteOrder, rr.rl, rr.size
	i := id % rr.descs.count
	desc, err := rr.descs.element(i, want)
	if err != nil {
		return fmt.Errorf("reading descriptor: %w", err)
	}
	if rl.stateOff+rl.counterOff+8 > uint64(len(desc)) || rl.lposOff+max(rl.beginOff, rl.nextOff)+8 > uint64(len(desc)) {
		return fmt.Errorf("descriptor layout exceeds SIZE(prb_desc)=%d", len(desc))
	}
	sv := bo.Uint64(desc[rl.stateOff+rl.counterOff:])
	if sv&idMask != id {
		return nil // overwritten or never written: not this record
	}
	if st := sv >> 62; st != descCommitted && st != descFinalized {
		return nil // reserved by a writer at the crash, or reusable
	}
	begin := bo.Uint64(desc[rl.lposOff+rl.beginOff:])
	next := bo.Uint64(desc[rl.lposOff+rl.nextOff:])
	info, err := rr.infos.element(i, want)
	if err != nil {
		return fmt.Errorf("reading printk_info: %w", err)
	}
	if rl.devInfoOff+max(rl.subsysOff+rl.subsysLen, rl.deviceOff+rl.deviceLen) > uint64(len(info)) || rl.callerOff+4 > uint64(len(info)) {
		return fmt.Errorf("printk_info layout exceeds SIZE(printk_info)=%d", len(info))
	}
	rec := Record{
		Seq:       bo.Uint64(info[rl.seqOff:]),
		TimeNS:    bo.Uint64(info[rl.tsOff:]),
		Facility:  int(info[rl.textLenOff+2]),
		Flags:     int(info[rl.textLenOff+3] & 0x1f),
		Level:     int(info[rl.textLenOff+3] >> 5),
		CallerID:  bo.Uint32(info[rl.callerOff:]),
		HasCaller: true,
		Subsystem: cString(info[rl.devInfoOff+rl.subsysOff : rl.devInfoOff+rl.subsysOff+rl.subsysLen]),
		Device:    cString(info[rl.devInfoOff+rl.deviceOff : rl.devInfoOff+rl.deviceOff+rl.deviceLen]),
	}
	textLen := uint64(bo.Uint16(info[rl.textLenOff:]))
	if begin&1 != 0 && next&1 != 0 { // data-less block
		if begin == emptyLineLPOS {
			lg.Records = append(lg.Records, rec)
		}
		return nil
	}
	// The kernel's get_data(): a block that ends exactly at the end of the
	// ring does not wrap (hence next-1); a wrapped block starts at index 0.
	wraps := func(lpos uint64) uint64 { return lpos >> bitsOf(ringSize) }
	var off, size uint64
	switch {
	case wraps(begin) == wraps(next-1) && begin < next:
		off, size = begin&(ringSize-1), next-begin
	case wraps(begin+ringSize) == wraps(next-1):
		off, size = 0, next&(ringSize-1)
	default:
		return fmt.Errorf("text block [%#x, %#x) is not a valid position in a %d-byte ring", begin, next, ringSize)
	}
	if size < 8 || off+size > ringSize {
		return fmt.Errorf("text block [%#x, %#x) of %d bytes is malformed", begin, next, size)
	}
	// Skip the block's 8-byte descriptor id; a record can be truncated.
	textLen = min(textLen, size-8)
	if uint64(len(rr.texts.buf))+textLen > ringSize {
		// Blocks do not overlap, so the texts fit in the ring; these
		// descriptors point many times at the same data.
		return fmt.Errorf("text block [%#x, %#x): the records read so far hold more text than the %d-byte ring", begin, next, ringSize)
	}
	text := rr.texts.next(len(lg.Records), textLen)
	if err := d.ReadVirt(text, rr.data+off+8); err != nil {
		rr.texts.drop()
		return fmt.Errorf("reading text at %#x: %w", rr.data+off+8, err)
	}
	lg.Records = append(lg.Records, rec)
	return nil
}

func bitsOf(pow2 uint64) uint {
	n := uint(0)
	for pow2 > 1 {
		pow2 >>= 1
		n++
	}
	return n
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// readLogBuf reads the structured log of Linux 3.5 to 5.9: variable-length
// records in the log_buf array from log_first_idx to log_next_idx, a record
// of length 0 meaning "wrap to the start".
func readLogBuf(ctx context.Context, d *vmcore.Dump) (*Log, error) {
	vi := d.Info
	bo := d.ByteOrder
	l := &layout{vi: vi}
	typ := "printk_log"
	if _, ok := vi.Size("printk_log"); !ok {
		typ = "log" // 3.5-3.10 named the struct "log"
	}
	var (
		hdrSize    = l.size(typ)
		tsOff      = l.off(typ + ".ts_nsec")
		lenOff     = l.off(typ + ".len")
		textLenOff = l.off(typ + ".text_len")
		dictLenOff = l.off(typ + ".dict_len")
	)
	if err := l.err(); err != nil {
		return nil, err
	}
	if hdrSize < textLenOff+2 || hdrSize < dictLenOff+4 || hdrSize > 256 {
		return nil, fmt.Errorf("printk: SIZE(%s)=%d is implausible", typ, hdrSize)
	}
	syms := map[string]uint64{}
	for _, s := range []string{"log_buf", "log_buf_len", "log_first_idx", "log_next_idx"} {
		v, ok := vi.Symbol(s)
		if !ok {
			return nil, fmt.Errorf("printk: VMCOREINFO lacks SYMBOL(%s)", s)
		}
		syms[s] = v
	}
	buf, err := d.ReadU64(syms["log_buf"])
	if err != nil {
		return nil, fmt.Errorf("printk: reading log_buf: %w", err)
	}
	var u [3]uint32
	for i, s := range []string{"log_buf_len", "log_first_idx", "log_next_idx"} {
		if u[i], err = d.ReadU32(syms[s]); err != nil {
			return nil, fmt.Errorf("printk: reading %s: %w", s, err)
		}
	}
	bufLen, first, next := uint64(u[0]), uint64(u[1]), uint64(u[2])
	if bufLen == 0 || bufLen > 1<<maxRingBits || first >= bufLen || next >= bufLen {
		return nil, fmt.Errorf("printk: log_buf of %d bytes with first %d and next %d is inconsistent", bufLen, first, next)
	}
	lg := &Log{Source: "log_buf"}
	hdr := make([]byte, hdrSize)
	texts := textArena{buf: make([]byte, 0, min(bufLen, 1<<20))}
	var dict []byte
	var seq uint64
	// Each record is at least hdrSize bytes, so this many steps visit them all.
	limit := bufLen/hdrSize + 2
	for idx, steps := first, uint64(0); idx != next; steps++ {
		if steps%ctxCheckEvery == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("printk: reading log_buf: %w", context.Cause(ctx))
		}
		if steps > limit {
			lg.warn("log_buf walk from %d did not reach log_next_idx %d: stopped", first, next)
			break
		}
		if idx+hdrSize > bufLen {
			idx = 0 // no room for a header: the writer wrapped
			continue
		}
		if err := d.ReadVirt(hdr, buf+idx); err != nil {
			lg.warn("record at log_buf+%d: %v", idx, err)
			break
		}
		recLen := uint64(bo.Uint16(hdr[lenOff:]))
		if recLen == 0 {
			idx = 0
			continue
		}
		textLen := uint64(bo.Uint16(hdr[textLenOff:]))
		dictLen := uint64(bo.Uint16(hdr[dictLenOff:]))
		if recLen < hdrSize || idx+recLen > bufLen || hdrSize+textLen+dictLen > recLen {
			lg.warn("record at log_buf+%d has length %d (text %d, dict %d): log is damaged from here", idx, recLen, textLen, dictLen)
			break
		}
		rec := Record{
			Seq:      seq,
			TimeNS:   bo.Uint64(hdr[tsOff:]),
			Facility: int(hdr[dictLenOff+2]),
			Flags:    int(hdr[dictLenOff+3] & 0x1f),
			Level:    int(hdr[dictLenOff+3] >> 5),
		}
		if hdrSize >= dictLenOff+8 { // CONFIG_PRINTK_CALLER (5.1+)
			rec.CallerID = bo.Uint32(hdr[dictLenOff+4:])
			rec.HasCaller = true
		}
		text := texts.next(len(lg.Records), textLen)
		dict = slices.Grow(dict[:0], int(dictLen))[:dictLen]
		if err := d.ReadVirt(text, buf+idx+hdrSize); err != nil {
			texts.drop()
			lg.warn("text of record at log_buf+%d: %v", idx, err)
		} else if err := d.ReadVirt(dict, buf+idx+hdrSize+textLen); err != nil {
			texts.drop()
			lg.warn("dictionary of record at log_buf+%d: %v", idx, err)
		} else {
			parseDict(&rec, dict)
			lg.Records = append(lg.Records, rec)
		}
		seq++
		idx += recLen
	}
	texts.assign(lg.Records)
	return lg, nil
}

// parseDict takes SUBSYSTEM= and DEVICE= from a legacy record dictionary.
func parseDict(rec *Record, dict []byte) {
	for _, kv := range bytes.Split(dict, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("SUBSYSTEM=")); ok {
			rec.Subsystem = string(v)
		} else if v, ok := bytes.CutPrefix(kv, []byte("DEVICE=")); ok {
			rec.Device = string(v)
		}
	}
}

// Text returns the log's records' texts, one record per line, as oops
// parsers and searches want it.
func (lg *Log) Text() string { return analysis.LogText(lg.Records) }
