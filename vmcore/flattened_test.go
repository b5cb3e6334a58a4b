package vmcore_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

type flatChunk struct {
	off  int64
	data []byte
}

// flatten writes chunks in the flattened format, in the given order.
func flatten(chunks []flatChunk, withEnd bool) []byte {
	b := make([]byte, 4096)
	copy(b, "makedumpfile")
	binary.BigEndian.PutUint64(b[16:], 1)
	binary.BigEndian.PutUint64(b[24:], 1)
	for _, c := range chunks {
		b = binary.BigEndian.AppendUint64(b, uint64(c.off))
		b = binary.BigEndian.AppendUint64(b, uint64(len(c.data)))
		b = append(b, c.data...)
	}
	if withEnd {
		b = binary.BigEndian.AppendUint64(b, ^uint64(0))
		b = binary.BigEndian.AppendUint64(b, ^uint64(0))
	}
	return b
}

// TestFlattenedOverlaps: chunks written out of order, some rewritten later
// (as makedumpfile rewrites the sub-header and bitmap pieces), read back in
// place exactly as `makedumpfile -R` would rebuild the file.
func TestFlattenedOverlaps(t *testing.T) {
	orig := synthKdump(t, dumpwrite.Zlib, dumpwrite.KdumpOptions{})
	rng := rand.New(rand.NewPCG(1, 2))
	// Cut the file into random pieces, shuffle them, and write an early
	// garbage version of some regions first so later chunks must win.
	var chunks []flatChunk
	for off := 0; off < len(orig); {
		n := 1 + rng.IntN(9000)
		n = min(n, len(orig)-off)
		chunks = append(chunks, flatChunk{int64(off), orig[off : off+n]})
		off += n
	}
	rng.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
	garbage := []flatChunk{{0, bytes.Repeat([]byte{0xee}, 6000)}, {5000, bytes.Repeat([]byte{0xdd}, 20000)}}
	flat := flatten(append(garbage, chunks...), true)

	idx, err := vmcore.ScanFlattened(bytes.NewReader(flat), int64(len(flat)))
	if err != nil {
		t.Fatal(err)
	}
	if idx.Size != int64(len(orig)) || idx.Truncated {
		t.Fatalf("index size %d truncated %v, want %d", idx.Size, idx.Truncated, len(orig))
	}
	for i := 1; i < len(idx.Chunks); i++ {
		if p := idx.Chunks[i-1]; p.Off+p.Size > idx.Chunks[i].Off {
			t.Fatalf("index chunks %d and %d overlap", i-1, i)
		}
	}
	d := openBytes(t, flat)
	if !d.Header.Flattened {
		t.Errorf("not marked flattened")
	}
	checkSynthPages(t, d)
}

// TestFlattenedTruncated: a stream cut off (no end marker) opens, says so,
// and pages whose descriptors were never written read as lost.
func TestFlattenedTruncated(t *testing.T) {
	orig := synthKdump(t, dumpwrite.Zlib, dumpwrite.KdumpOptions{})
	var chunks []flatChunk
	for off := 0; off < len(orig); off += 4096 {
		chunks = append(chunks, flatChunk{int64(off), orig[off:min(off+4096, len(orig))]})
	}
	cut := 4 + 0 // header, sub-header, two bitmap blocks, then no descriptors
	flat := flatten(chunks[:cut], false)
	d := openBytes(t, flat)
	if !d.Header.Incomplete || len(d.Warnings) == 0 {
		t.Errorf("truncated stream not reported: %+v %v", d.Header, d.Warnings)
	}
	if err := d.ReadPhys(make([]byte, 4096), 0); !errors.Is(err, vmcore.ErrIncomplete) {
		t.Errorf("page 0: err = %v, want ErrIncomplete", err)
	}
}

func TestFlattenedBadHeaders(t *testing.T) {
	good := flatten([]flatChunk{{0, []byte("KDUMP   ")}}, true)
	for name, mutate := range map[string]func([]byte) []byte{
		"short":      func(b []byte) []byte { return b[:100] },
		"type":       func(b []byte) []byte { b[23] = 2; return b },
		"neg offset": func(b []byte) []byte { b[4096] = 0x80; return b },
		"no chunks":  func(b []byte) []byte { return b[:4096] },
	} {
		b := mutate(append([]byte(nil), good...))
		if _, err := vmcore.NewReader(bytes.NewReader(b), int64(len(b))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestFlatIndexStored: the index made by one scan, encoded and decoded,
// opens the flattened dump without another scan and reads the same pages;
// a damaged or mismatched index is refused.
func TestFlatIndexStored(t *testing.T) {
	orig := synthKdump(t, dumpwrite.Zlib, dumpwrite.KdumpOptions{})
	var chunks []flatChunk
	for off := 0; off < len(orig); off += 3000 {
		chunks = append(chunks, flatChunk{int64(off), orig[off:min(off+3000, len(orig))]})
	}
	flat := flatten(chunks, true)
	idx, err := vmcore.ScanFlattened(bytes.NewReader(flat), int64(len(flat)))
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := idx.MarshalBinary()
	var back vmcore.FlatIndex
	if err := back.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	d, err := vmcore.NewFlattenedReader(bytes.NewReader(flat), int64(len(flat)), &back)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Header.Flattened {
		t.Errorf("not marked flattened")
	}
	checkSynthPages(t, d)
	if n, _ := d.ReadStats(); n >= int64(len(flat)) {
		t.Errorf("read %d bytes of a %d-byte file: the stored index did not spare the scan", n, len(flat))
	}
	for name, b := range map[string][]byte{"short": enc[:30], "magic": append([]byte("XXXXXXXX"), enc[8:]...)} {
		var x vmcore.FlatIndex
		if err := x.UnmarshalBinary(b); err == nil {
			t.Errorf("%s index accepted", name)
		}
	}
	if _, err := vmcore.NewFlattenedReader(bytes.NewReader(flat[:len(flat)/2]), int64(len(flat)/2), &back); err == nil {
		t.Errorf("an index for a longer file was accepted")
	}
}
