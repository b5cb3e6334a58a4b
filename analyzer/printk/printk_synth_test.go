package printk_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analysis"

	"github.com/vmcore/vmcore/analyzer/printk"
	"github.com/vmcore/vmcore/elfdump"
	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

// The printk layout of Debian's 6.1 kernel, as its VMCOREINFO states it.
const printkLayout61 = `SIZE(printk_ringbuffer)=88
OFFSET(printk_ringbuffer.desc_ring)=0
OFFSET(printk_ringbuffer.text_data_ring)=48
OFFSET(printk_ringbuffer.fail)=80
SIZE(prb_desc_ring)=48
OFFSET(prb_desc_ring.count_bits)=0
OFFSET(prb_desc_ring.descs)=8
OFFSET(prb_desc_ring.infos)=16
OFFSET(prb_desc_ring.head_id)=24
OFFSET(prb_desc_ring.tail_id)=32
SIZE(prb_desc)=24
OFFSET(prb_desc.state_var)=0
OFFSET(prb_desc.text_blk_lpos)=8
SIZE(prb_data_blk_lpos)=16
OFFSET(prb_data_blk_lpos.begin)=0
OFFSET(prb_data_blk_lpos.next)=8
SIZE(printk_info)=88
OFFSET(printk_info.seq)=0
OFFSET(printk_info.ts_nsec)=8
OFFSET(printk_info.text_len)=16
OFFSET(printk_info.caller_id)=20
OFFSET(printk_info.dev_info)=24
SIZE(dev_printk_info)=64
OFFSET(dev_printk_info.subsystem)=0
LENGTH(printk_info_subsystem)=16
OFFSET(dev_printk_info.device)=16
LENGTH(printk_info_device)=48
SIZE(prb_data_ring)=32
OFFSET(prb_data_ring.size_bits)=0
OFFSET(prb_data_ring.data)=8
OFFSET(prb_data_ring.head_lpos)=16
OFFSET(prb_data_ring.tail_lpos)=24
SIZE(atomic_long_t)=8
OFFSET(atomic_long_t.counter)=0
`

// synthRecord is a record to place in a synthetic ring at a chosen position.
type synthRecord struct {
	id          uint64
	state       uint64 // 1 committed, 2 finalized, 0 reserved, 3 reusable
	begin, next uint64 // unreduced logical positions of its text block
	text        string
	tsNsec      uint64
	level       int
}

// Addresses of the synthetic kernel: everything lives in the kernel-image
// mapping with phys_base 0, so no page tables are needed.
const (
	kbase    = 0xffffffff81000000
	prbPtr   = kbase
	prbAddr  = kbase + 0x100
	descAddr = kbase + 0x1000
	infoAddr = kbase + 0x2000
	textAddr = kbase + 0x4000
)

// buildRing writes an ELF dump whose printk ring holds recs.
func buildRing(t *testing.T, countBits, sizeBits uint32, tail, head uint64, recs []synthRecord) []byte {
	t.Helper()
	le := binary.LittleEndian
	mem := make([]byte, 0x8000)
	put64 := func(va, v uint64) { le.PutUint64(mem[va-kbase:], v) }
	put64(prbPtr, prbAddr)
	le.PutUint32(mem[prbAddr-kbase:], countBits)
	put64(prbAddr+8, descAddr)
	put64(prbAddr+16, infoAddr)
	put64(prbAddr+24, head)
	put64(prbAddr+32, tail)
	le.PutUint32(mem[prbAddr+48-kbase:], sizeBits)
	put64(prbAddr+48+8, textAddr)
	count := uint64(1) << countBits
	size := uint64(1) << sizeBits
	for _, r := range recs {
		i := r.id % count
		d := descAddr + i*24
		put64(d, r.state<<62|r.id)
		put64(d+8, r.begin)
		put64(d+16, r.next)
		in := infoAddr + i*88
		put64(in, r.id)
		put64(in+8, r.tsNsec)
		le.PutUint16(mem[in+16-kbase:], uint16(len(r.text)))
		mem[in+19-kbase] = byte(r.level<<5 | 2)
		if r.begin&1 != 0 {
			continue // data-less
		}
		// The block goes where the kernel's data_alloc put it: at begin, or
		// at index 0 of the next wrap when it would not fit.
		off := r.begin % size
		if r.begin/size != (r.next-1)/size {
			off = 0
		}
		if off+8+uint64(len(r.text)) > size || r.next-r.begin > size {
			continue // a damaged descriptor: no block to write
		}
		put64(textAddr+off, r.id)
		copy(mem[textAddr+off+8-kbase:], r.text)
	}
	vmcoreinfo := "OSRELEASE=6.99.0-synthetic\nPAGESIZE=4096\n" +
		fmt.Sprintf("SYMBOL(prb)=%x\nSYMBOL(init_top_pgt)=%x\nNUMBER(phys_base)=0\nCRASHTIME=1795317845\n", uint64(prbPtr), uint64(kbase+0x7000)) + printkLayout61
	return dumpwrite.ELF(
		[]dumpwrite.Note{{Name: elfdump.NoteVMCOREINFO, Desc: []byte(vmcoreinfo)}},
		[]dumpwrite.Segment{{Paddr: kbase - 0xffffffff80000000, Vaddr: kbase, Data: mem}},
		dumpwrite.ELFOptions{})
}

func readSynthLog(t *testing.T, img []byte) *printk.Log {
	t.Helper()
	d, err := vmcore.NewReader(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	lg, err := printk.ReadLog(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return lg
}

func texts(lg *printk.Log) []string {
	var out []string
	for _, r := range lg.Records {
		out = append(out, r.Text)
	}
	return out
}

// makedumpfileText reproduces the wrap rule of makedumpfile 1.7, kexec-tools
// and crash (positions reduced modulo the ring size first, a block whose
// begin is past its next taken to start at index 0), to show where it
// goes wrong.
func makedumpfileText(ring []byte, begin, next uint64, textLen int) string {
	size := uint64(len(ring))
	b, n := begin%size, next%size
	if b > n {
		b = 0
	}
	b += 8
	if n-b < uint64(textLen) { // unsigned, as in C: n < b does not truncate
		textLen = int(n - b)
	}
	return string(ring[b : b+uint64(textLen)])
}

// TestRecordEndingAtRingEnd is the ring wrap case the established tools get
// wrong. Since the kernel's 2025 is_blk_wrapped() change a data block may
// end exactly at the end of the text ring (next%size == 0) without wrapping.
// makedumpfile, crash and kexec-tools reduce both positions modulo the size,
// see begin > next, and read the block from index 0 instead: they print the
// text of whatever record lives at the start of the ring. We follow the
// kernel's get_data() and print the right text.
func TestRecordEndingAtRingEnd(t *testing.T) {
	const sizeBits = 8 // a 256-byte ring
	recA := synthRecord{id: 0, state: 3, begin: 0, next: 96, text: strings.Repeat("a", 80)}
	recB := synthRecord{id: 1, state: 2, begin: 96, next: 256, text: "B ends exactly at the end of the ring: " + strings.Repeat("b", 100), tsNsec: 1e9, level: 6}
	recC := synthRecord{id: 2, state: 2, begin: 256, next: 256 + 64, text: "C sits at index 0 after the wrap", tsNsec: 2e9, level: 6}
	img := buildRing(t, 4, sizeBits, 1, 2, []synthRecord{recA, recB, recC})

	lg := readSynthLog(t, img)
	if got, want := texts(lg), []string{recB.text, recC.text}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records = %q, want %q", got, want)
	}
	if lg.Partial {
		t.Errorf("unexpected partial log: %v", lg.Warnings)
	}

	// The old rule reads record B's block from index 0, where C now lives.
	d, err := vmcore.NewReader(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	ring := make([]byte, 1<<sizeBits)
	if err := d.ReadVirt(ring, textAddr); err != nil {
		t.Fatal(err)
	}
	old := makedumpfileText(ring, recB.begin, recB.next, len(recB.text))
	if old == recB.text || !strings.HasPrefix(old, recC.text) {
		t.Errorf("the old wrap rule was expected to misread record B as C's text, got %q", old)
	}
}

// TestRingWrappedBlock checks a block that really wraps: its data is at index
// 0 and its size is next's index.
func TestRingWrappedBlock(t *testing.T) {
	recs := []synthRecord{
		{id: 5, state: 2, begin: 200, next: 256 + 60, text: "wrapped record", tsNsec: 5},
		{id: 6, state: 1, begin: 256 + 60, next: 256 + 120, text: "committed, not yet finalized", tsNsec: 6},
		{id: 7, state: 0, begin: 256 + 120, next: 256 + 160, text: "reserved: being written at the crash", tsNsec: 7},
	}
	lg := readSynthLog(t, buildRing(t, 4, 8, 5, 7, recs))
	if got, want := texts(lg), []string{recs[0].text, recs[1].text}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records = %q, want %q", got, want)
	}
}

// TestRingDamage: descriptors that point outside the ring, ids that do not
// match, and an impossible tail/head distance give a partial log, not a
// failure or a hang.
func TestRingDamage(t *testing.T) {
	recs := []synthRecord{
		{id: 1, state: 2, begin: 0, next: 40, text: "good one"},
		{id: 2, state: 2, begin: 40, next: 10000, text: "block larger than the ring"},
		{id: 3, state: 2, begin: 100, next: 104, text: "block smaller than its id"},
		{id: 4, state: 2, begin: 120, next: 160, text: "good two"},
	}
	lg := readSynthLog(t, buildRing(t, 4, 8, 1, 4, recs))
	if got, want := texts(lg), []string{"good one", "good two"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records = %q, want %q", got, want)
	}
	if !lg.Partial || len(lg.Warnings) != 2 {
		t.Errorf("want a partial log with 2 warnings, got %v %q", lg.Partial, lg.Warnings)
	}
	// Head far past tail: bounded to the descriptor count.
	lg = readSynthLog(t, buildRing(t, 4, 8, 0, 1<<40, recs))
	if !lg.Partial {
		t.Errorf("want a warning for a tail/head span beyond the ring")
	}
}

// TestEmptyLineRecord: an empty printk line is stored data-less with
// EMPTY_LINE_LPOS and still prints, as the kernel's dmesg shows it.
func TestEmptyLineRecord(t *testing.T) {
	recs := []synthRecord{
		{id: 1, state: 2, begin: 3, next: 3, text: "", tsNsec: 1500000},
		{id: 2, state: 2, begin: 1, next: 1, text: "", tsNsec: 1600000}, // FAILED_LPOS: no data, skipped
	}
	lg := readSynthLog(t, buildRing(t, 4, 8, 1, 2, recs))
	if len(lg.Records) != 1 {
		t.Fatalf("got %d records, want the empty line only", len(lg.Records))
	}
	if got := string(lg.Records[0].AppendText(nil, analysis.LogFormat{})); got != "[    0.001500] \n" {
		t.Errorf("empty line printed as %q", got)
	}
}

// TestRingDescriptorsShareText: descriptors that all point at one block
// would, read as they say, hold more text than the ring (a damaged or
// hostile dump could make that 2^24 records of 64 KiB each). The texts of
// a consistent ring fit in it, so the records beyond are refused.
func TestRingDescriptorsShareText(t *testing.T) {
	var recs []synthRecord
	for id := uint64(1); id < 16; id++ {
		recs = append(recs, synthRecord{id: id, state: 2, begin: 256, next: 256 + 200, text: strings.Repeat("x", 150)})
	}
	lg := readSynthLog(t, buildRing(t, 4, 8, 1, 15, recs))
	if len(lg.Records) != 1 || !lg.Partial || len(lg.Warnings) != 14 || !strings.Contains(lg.Warnings[0], "more text than the 256-byte ring") {
		t.Errorf("got %d records, partial %v, %d warnings %q; want 1 record and 14 warnings", len(lg.Records), lg.Partial, len(lg.Warnings), lg.Warnings)
	}
}
