package printk_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/vmcore/vmcore/analysis"

	"github.com/vmcore/vmcore/elfdump"
	"github.com/vmcore/vmcore/internal/dumpwrite"
)

type legacyRecord struct {
	ts     uint64
	text   string
	dict   string
	level  int
	caller uint32
}

// buildLogBuf writes an ELF dump with a Linux 3.5-5.9 structured log_buf:
// the older records from index first on, a zero-length header marking the
// wrap, then the newer records from index 0. hdrSize is SIZE(printk_log):
// 16, or 24 with CONFIG_PRINTK_CALLER.
func buildLogBuf(t *testing.T, hdrSize, bufLen, first int, older, newer []legacyRecord) []byte {
	t.Helper()
	le := binary.LittleEndian
	const (
		ptrVar   = kbase
		lenVar   = kbase + 0x10
		firstVar = kbase + 0x20
		nextVar  = kbase + 0x30
		bufAddr  = kbase + 0x1000
	)
	mem := make([]byte, 0x1000+bufLen)
	le.PutUint64(mem[ptrVar-kbase:], bufAddr)
	le.PutUint32(mem[lenVar-kbase:], uint32(bufLen))
	le.PutUint32(mem[firstVar-kbase:], uint32(first))
	idx := first
	put := func(r legacyRecord) {
		n := hdrSize + len(r.text) + len(r.dict)
		n = (n + 7) &^ 7
		h := mem[bufAddr-kbase+uint64(idx):]
		idx += n
		le.PutUint64(h[0:], r.ts)
		le.PutUint16(h[8:], uint16(n))
		le.PutUint16(h[10:], uint16(len(r.text)))
		le.PutUint16(h[12:], uint16(len(r.dict)))
		h[15] = byte(r.level << 5)
		if hdrSize >= 24 {
			le.PutUint32(h[16:], r.caller)
		}
		copy(h[hdrSize:], r.text)
		copy(h[hdrSize+len(r.text):], r.dict)
	}
	for _, r := range older {
		put(r)
	}
	if len(newer) > 0 {
		if idx+hdrSize <= bufLen {
			le.PutUint16(mem[bufAddr-kbase+uint64(idx)+8:], 0) // the wrap marker
		}
		idx = 0
		for _, r := range newer {
			put(r)
		}
	}
	le.PutUint32(mem[nextVar-kbase:], uint32(idx))
	vi := fmt.Sprintf("OSRELEASE=5.4.0-synthetic\nPAGESIZE=4096\nNUMBER(phys_base)=0\nSYMBOL(init_top_pgt)=%x\n"+
		"SYMBOL(log_buf)=%x\nSYMBOL(log_buf_len)=%x\nSYMBOL(log_first_idx)=%x\nSYMBOL(log_next_idx)=%x\n"+
		"SIZE(printk_log)=%d\nOFFSET(printk_log.ts_nsec)=0\nOFFSET(printk_log.len)=8\nOFFSET(printk_log.text_len)=10\nOFFSET(printk_log.dict_len)=12\n",
		uint64(kbase+0x7000), uint64(ptrVar), uint64(lenVar), uint64(firstVar), uint64(nextVar), hdrSize)
	return dumpwrite.ELF([]dumpwrite.Note{{Name: elfdump.NoteVMCOREINFO, Desc: []byte(vi)}},
		[]dumpwrite.Segment{{Paddr: kbase - 0xffffffff80000000, Vaddr: kbase, Data: mem}}, dumpwrite.ELFOptions{})
}

// TestLegacyLogBuf reads the structured log of 3.5-5.9 kernels across the
// wrap: records from log_first_idx to the end marker, then from index 0 up
// to log_next_idx.
func TestLegacyLogBuf(t *testing.T) {
	for _, hdr := range []int{16, 24} {
		older := []legacyRecord{
			{ts: 1000, text: "oldest, near the end", level: 6, caller: 7},
			{ts: 2000, text: "second", dict: "SUBSYSTEM=pci\x00DEVICE=+pci:0000:00:01.0", level: 4},
		}
		newer := []legacyRecord{
			{ts: 3000, text: "after the wrap", level: 3},
			{ts: 4000, text: "newest\nwith a second line", level: 0},
		}
		img := buildLogBuf(t, hdr, 512, 300, older, newer)
		lg := readSynthLog(t, img)
		if lg.Source != "log_buf" || lg.Partial {
			t.Errorf("hdr %d: source %s partial %v %v", hdr, lg.Source, lg.Partial, lg.Warnings)
		}
		var got bytes.Buffer
		for i := range lg.Records {
			got.Write(lg.Records[i].AppendText(nil, analysis.LogFormat{}))
		}
		want := "[    0.000001] oldest, near the end\n[    0.000002] second\n[    0.000003] after the wrap\n" +
			"[    0.000004] newest\n               with a second line\n"
		if got.String() != want {
			t.Errorf("hdr %d: got\n%s\nwant\n%s", hdr, got.String(), want)
		}
		if r := lg.Records[1]; r.Subsystem != "pci" || r.Device != "+pci:0000:00:01.0" || r.Level != 4 {
			t.Errorf("dict not parsed: %+v", r)
		}
		if hdr == 24 && lg.Records[0].Caller() != "T7" {
			t.Errorf("caller = %q", lg.Records[0].Caller())
		}
	}
}

// TestLegacyLogBufDamage: a record length that runs past the buffer or a
// cycle stops the walk with a warning.
func TestLegacyLogBufDamage(t *testing.T) {
	recs := []legacyRecord{{ts: 1, text: "fine"}, {ts: 2, text: "DAMAGED"}, {ts: 3, text: "unreachable"}}
	img := buildLogBuf(t, 16, 256, 0, recs, nil)
	// Make the second record claim 0xfff0 bytes.
	i := bytes.Index(img, []byte("DAMAGED"))
	binary.LittleEndian.PutUint16(img[i-16+8:], 0xfff0)
	lg := readSynthLog(t, img)
	if len(lg.Records) != 1 || !lg.Partial {
		t.Errorf("records %d partial %v", len(lg.Records), lg.Partial)
	}
}
