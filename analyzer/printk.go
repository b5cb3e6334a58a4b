// Package analyzer introspects a crashed kernel through a vmcore.Dump: its
// kernel log (printk ring buffer), and, with symbols and types, its tasks,
// stacks and modules. Every reader bounds its loops over kernel lists and
// reports damage as warnings on a partial result rather than failing whole.
package analyzer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/vmcore/vmcore/vmcore"
)

// ErrNoLog means the dump does not describe a kernel log this package can read.
var ErrNoLog = errors.New("analyzer: the dump's VMCOREINFO describes no printk buffer (neither SYMBOL(prb) nor SYMBOL(log_buf))")

// Record flags (enum printk_info_flags / legacy log_flags).
const (
	LogNewline = 2 // text ended with a newline
	LogCont    = 8 // a fragment of a continuation line
)

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
	HasCaller bool   `json:"-"`
	Text      string `json:"text"`
	Subsystem string `json:"subsystem,omitempty"`
	Device    string `json:"device,omitempty"`
}

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
)

// ReadLog reads the kernel log using only VMCOREINFO: the lockless
// printk_ringbuffer of Linux 5.10 and later, or the structured log_buf of
// 3.5 to 5.9. It reads only the pages holding log records (not the whole
// ring up front). Records that cannot be read are skipped and counted in
// warnings, and the log is marked partial.
func ReadLog(d *vmcore.Dump) (*Log, error) {
	if d.Info == nil {
		return nil, fmt.Errorf("analyzer: the dump has no VMCOREINFO: %w", ErrNoLog)
	}
	if _, ok := d.Info.Symbol("prb"); ok {
		return readRingBuffer(d)
	}
	if _, ok := d.Info.Symbol("log_buf"); ok {
		return readLogBuf(d)
	}
	return nil, ErrNoLog
}

// kmem reads typed values from kernel virtual memory.
type kmem struct {
	d  *vmcore.Dump
	bo binary.ByteOrder
}

func (m kmem) u64(va uint64) (uint64, error) {
	var b [8]byte
	err := m.d.ReadVirt(b[:], va)
	return m.bo.Uint64(b[:]), err
}

func (m kmem) u32(va uint64) (uint32, error) {
	var b [4]byte
	err := m.d.ReadVirt(b[:], va)
	return m.bo.Uint32(b[:]), err
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
	return fmt.Errorf("analyzer: VMCOREINFO lacks %v needed to read the log", l.missing)
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

func readRingBuffer(d *vmcore.Dump) (*Log, error) {
	vi := d.Info
	m := kmem{d, d.ByteOrder}
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
		return nil, fmt.Errorf("analyzer: VMCOREINFO printk layout is implausible (SIZE(printk_info)=%d, SIZE(prb_desc)=%d)", infoSize, descSize)
	}
	lg := &Log{Source: "printk_ringbuffer"}
	prb, err := m.u64(prbSym)
	if err != nil {
		return nil, fmt.Errorf("analyzer: reading the prb pointer at %#x: %w", prbSym, err)
	}
	ring := prb + descRingOff
	countBits, err := m.u32(ring + countBitsOff)
	if err != nil {
		return nil, fmt.Errorf("analyzer: reading printk_ringbuffer at %#x: %w", prb, err)
	}
	if countBits > maxDescBits {
		return nil, fmt.Errorf("analyzer: printk descriptor ring at %#x claims 2^%d descriptors (limit 2^%d)", ring, countBits, maxDescBits)
	}
	var vals [5]uint64
	for i, va := range []uint64{ring + descsOff, ring + infosOff, ring + headIDOff + counterOff, ring + tailIDOff + counterOff, prb + textRingOff + dataOff} {
		if vals[i], err = m.u64(va); err != nil {
			return nil, fmt.Errorf("analyzer: reading printk_ringbuffer at %#x: %w", prb, err)
		}
	}
	descs, infos, headID, tailID, data := vals[0], vals[1], vals[2], vals[3], vals[4]
	sizeBits, err := m.u32(prb + textRingOff + sizeBitsOff)
	if err != nil {
		return nil, fmt.Errorf("analyzer: reading printk_ringbuffer at %#x: %w", prb, err)
	}
	if sizeBits > maxRingBits || sizeBits < 4 {
		return nil, fmt.Errorf("analyzer: printk text ring at %#x claims 2^%d bytes", prb+textRingOff, sizeBits)
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
	desc := make([]byte, descSize)
	info := make([]byte, infoSize)
	failures := 0 // consecutive unreadable records
	for id := tailID; ; id = (id + 1) & idMask {
		if failures > maxConsecutiveFailures {
			lg.warn("stopped after %d consecutive unreadable records at id %d", failures, id)
			break
		}
		failures++
		if err := readRecord(m, lg, id, count, ringSize, descs, infos, data, desc, info, recordLayout{
			descSize, stateOff, lposOff, beginOff, nextOff, counterOff, infoSize, seqOff, tsOff, textLenOff,
			callerOff, devInfoOff, subsysOff, subsysLen, deviceOff, deviceLen,
		}); err != nil {
			lg.warn("record %d: %v", id, err)
		} else {
			failures = 0
		}
		if id == headID {
			break
		}
	}
	return lg, nil
}

type recordLayout struct {
	descSize, stateOff, lposOff, beginOff, nextOff, counterOff uint64
	infoSize, seqOff, tsOff, textLenOff, callerOff, devInfoOff uint64
	subsysOff, subsysLen, deviceOff, deviceLen                 uint64
}

// readRecord appends record id to lg if it is committed or finalized.
func readRecord(m kmem, lg *Log, id, count, ringSize, descs, infos, data uint64, desc, info []byte, rl recordLayout) error {
	const idMask = ^uint64(3 << 62)
	i := id % count
	if err := m.d.ReadVirt(desc, descs+i*rl.descSize); err != nil {
		return fmt.Errorf("reading descriptor: %w", err)
	}
	if rl.stateOff+rl.counterOff+8 > uint64(len(desc)) || rl.lposOff+max(rl.beginOff, rl.nextOff)+8 > uint64(len(desc)) {
		return fmt.Errorf("descriptor layout exceeds SIZE(prb_desc)=%d", len(desc))
	}
	sv := m.bo.Uint64(desc[rl.stateOff+rl.counterOff:])
	if sv&idMask != id {
		return nil // overwritten or never written: not this record
	}
	if st := sv >> 62; st != descCommitted && st != descFinalized {
		return nil // reserved by a writer at the crash, or reusable
	}
	begin := m.bo.Uint64(desc[rl.lposOff+rl.beginOff:])
	next := m.bo.Uint64(desc[rl.lposOff+rl.nextOff:])
	if err := m.d.ReadVirt(info, infos+i*rl.infoSize); err != nil {
		return fmt.Errorf("reading printk_info: %w", err)
	}
	if rl.devInfoOff+max(rl.subsysOff+rl.subsysLen, rl.deviceOff+rl.deviceLen) > uint64(len(info)) || rl.callerOff+4 > uint64(len(info)) {
		return fmt.Errorf("printk_info layout exceeds SIZE(printk_info)=%d", len(info))
	}
	rec := Record{
		Seq:       m.bo.Uint64(info[rl.seqOff:]),
		TimeNS:    m.bo.Uint64(info[rl.tsOff:]),
		Facility:  int(info[rl.textLenOff+2]),
		Flags:     int(info[rl.textLenOff+3] & 0x1f),
		Level:     int(info[rl.textLenOff+3] >> 5),
		CallerID:  m.bo.Uint32(info[rl.callerOff:]),
		HasCaller: true,
		Subsystem: cString(info[rl.devInfoOff+rl.subsysOff : rl.devInfoOff+rl.subsysOff+rl.subsysLen]),
		Device:    cString(info[rl.devInfoOff+rl.deviceOff : rl.devInfoOff+rl.deviceOff+rl.deviceLen]),
	}
	textLen := uint64(m.bo.Uint16(info[rl.textLenOff:]))
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
	text := make([]byte, textLen)
	if err := m.d.ReadVirt(text, data+off+8); err != nil {
		return fmt.Errorf("reading text at %#x: %w", data+off+8, err)
	}
	rec.Text = string(text)
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
func readLogBuf(d *vmcore.Dump) (*Log, error) {
	vi := d.Info
	m := kmem{d, d.ByteOrder}
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
		return nil, fmt.Errorf("analyzer: SIZE(%s)=%d is implausible", typ, hdrSize)
	}
	syms := map[string]uint64{}
	for _, s := range []string{"log_buf", "log_buf_len", "log_first_idx", "log_next_idx"} {
		v, ok := vi.Symbol(s)
		if !ok {
			return nil, fmt.Errorf("analyzer: VMCOREINFO lacks SYMBOL(%s)", s)
		}
		syms[s] = v
	}
	buf, err := m.u64(syms["log_buf"])
	if err != nil {
		return nil, fmt.Errorf("analyzer: reading log_buf: %w", err)
	}
	var u [3]uint32
	for i, s := range []string{"log_buf_len", "log_first_idx", "log_next_idx"} {
		if u[i], err = m.u32(syms[s]); err != nil {
			return nil, fmt.Errorf("analyzer: reading %s: %w", s, err)
		}
	}
	bufLen, first, next := uint64(u[0]), uint64(u[1]), uint64(u[2])
	if bufLen == 0 || bufLen > 1<<maxRingBits || first >= bufLen || next >= bufLen {
		return nil, fmt.Errorf("analyzer: log_buf of %d bytes with first %d and next %d is inconsistent", bufLen, first, next)
	}
	lg := &Log{Source: "log_buf"}
	hdr := make([]byte, hdrSize)
	var seq uint64
	// Each record is at least hdrSize bytes, so this many steps visit them all.
	limit := bufLen/hdrSize + 2
	for idx, steps := first, uint64(0); idx != next; steps++ {
		if steps > limit {
			lg.warn("log_buf walk from %d did not reach log_next_idx %d: stopped", first, next)
			break
		}
		if idx+hdrSize > bufLen {
			idx = 0 // no room for a header: the writer wrapped
			continue
		}
		if err := m.d.ReadVirt(hdr, buf+idx); err != nil {
			lg.warn("record at log_buf+%d: %v", idx, err)
			break
		}
		recLen := uint64(m.bo.Uint16(hdr[lenOff:]))
		if recLen == 0 {
			idx = 0
			continue
		}
		textLen := uint64(m.bo.Uint16(hdr[textLenOff:]))
		dictLen := uint64(m.bo.Uint16(hdr[dictLenOff:]))
		if recLen < hdrSize || idx+recLen > bufLen || hdrSize+textLen+dictLen > recLen {
			lg.warn("record at log_buf+%d has length %d (text %d, dict %d): log is damaged from here", idx, recLen, textLen, dictLen)
			break
		}
		rec := Record{
			Seq:      seq,
			TimeNS:   m.bo.Uint64(hdr[tsOff:]),
			Facility: int(hdr[dictLenOff+2]),
			Flags:    int(hdr[dictLenOff+3] & 0x1f),
			Level:    int(hdr[dictLenOff+3] >> 5),
		}
		if hdrSize >= dictLenOff+8 { // CONFIG_PRINTK_CALLER (5.1+)
			rec.CallerID = m.bo.Uint32(hdr[dictLenOff+4:])
			rec.HasCaller = true
		}
		text := make([]byte, textLen+dictLen)
		if err := m.d.ReadVirt(text, buf+idx+hdrSize); err != nil {
			lg.warn("text of record at log_buf+%d: %v", idx, err)
		} else {
			rec.Text = string(text[:textLen])
			parseDict(&rec, text[textLen:])
			lg.Records = append(lg.Records, rec)
		}
		seq++
		idx += recLen
	}
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
func (lg *Log) Text() string {
	var b strings.Builder
	for i := range lg.Records {
		b.WriteString(lg.Records[i].Text)
		b.WriteByte('\n')
	}
	return b.String()
}
