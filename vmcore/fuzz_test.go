package vmcore_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

// realPrefixes returns the first n bytes of a few real dumps, one per format.
func realPrefixes(n int) [][]byte {
	var out [][]byte
	seen := map[string]bool{}
	for _, dc := range corpus.Find(corpus.Roots()...) {
		if seen[dc.Format] {
			continue
		}
		seen[dc.Format] = true
		f, err := os.Open(dc.Files[0])
		if err != nil {
			continue
		}
		b := make([]byte, n)
		k, _ := f.Read(b)
		f.Close()
		out = append(out, b[:k])
	}
	return out
}

// exercise reads what a dump offers, to reach the bitmap, descriptor, page
// and translation code with hostile input. It must return, whatever the input.
func exercise(d *vmcore.Dump) {
	buf := make([]byte, d.PageSize)
	for pfn := uint64(0); pfn < 80; pfn++ {
		d.ReadPhys(buf, pfn*uint64(d.PageSize))
	}
	d.ReadVirt(buf[:64], 0xffffffff81000000)
	d.ReadVirt(buf[:64], 0xffff888000001000)
	d.PageCounts()
	n := 0
	for _, err := range d.AbsentRanges() {
		if n++; n > 1000 || err != nil {
			break
		}
	}
}

// FuzzOpen feeds any bytes to format detection and the ELF, kdump-compressed
// (header, sub-header, bitmaps, page descriptors, page data) and flattened
// readers.
func FuzzOpen(f *testing.F) {
	for _, c := range []uint32{dumpwrite.Zlib, dumpwrite.Snappy, dumpwrite.Zstd, dumpwrite.None} {
		f.Add(synthKdump(f, c, dumpwrite.KdumpOptions{}))
	}
	f.Add(synthELF(f, dumpwrite.ELFOptions{}))
	f.Add(flatten([]flatChunk{{0, synthKdump(f, dumpwrite.Zlib, dumpwrite.KdumpOptions{})}}, true))
	for _, b := range realPrefixes(1 << 16) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := vmcore.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		defer d.Close()
		exercise(d)
	})
}

// FuzzScanFlattened checks the flattened index invariants: sorted,
// non-overlapping chunks inside the file.
func FuzzScanFlattened(f *testing.F) {
	f.Add(flatten([]flatChunk{{0, []byte("KDUMP   ")}, {4, []byte("xx")}, {100, []byte("yy")}}, true))
	f.Add(flatten([]flatChunk{{10, []byte("abc")}, {0, bytes.Repeat([]byte{1}, 20)}}, false))
	for _, b := range realPrefixes(1 << 16) {
		if bytes.HasPrefix(b, []byte("makedumpfile")) {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := vmcore.ScanFlattened(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for i, c := range idx.Chunks {
			if c.Size <= 0 || c.FileOff < 0 || c.FileOff+c.Size > int64(len(b)) || c.Off+c.Size > idx.Size {
				t.Fatalf("chunk %d %+v outside the file", i, c)
			}
			if i > 0 && idx.Chunks[i-1].Off+idx.Chunks[i-1].Size > c.Off {
				t.Fatalf("chunks %d and %d overlap", i-1, i)
			}
		}
	})
}

func FuzzVMCoreInfo(f *testing.F) {
	for _, dc := range corpus.Find(corpus.Roots()...) {
		if b, ok := dc.ReadRef("vmcoreinfo.txt"); ok {
			f.Add(b)
			break
		}
	}
	f.Add([]byte("SYMBOL(x)=zz\nNUMBER(y)=-0x10\nOFFSET(a.b)=99999999999999999999\n=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		vi, err := vmcore.ParseVMCoreInfo(b)
		if err != nil {
			return
		}
		for _, k := range vi.Keys() {
			if _, ok := vi.Get(k); !ok {
				t.Fatalf("key %q listed but absent", k)
			}
		}
		vi.Symbol("prb")
		vi.Number("phys_base")
		vi.CrashTime()
		vi.PageSize()
	})
}

// FuzzFlatIndex decodes stored flattened indexes: a stored index is input
// like any other and must be checked, never trusted.
func FuzzFlatIndex(f *testing.F) {
	flat := flatten([]flatChunk{{0, []byte("KDUMP   ")}, {4096, []byte("page")}}, true)
	idx, err := vmcore.ScanFlattened(bytes.NewReader(flat), int64(len(flat)))
	if err != nil {
		f.Fatal(err)
	}
	enc, _ := idx.MarshalBinary()
	f.Add(enc)
	f.Fuzz(func(t *testing.T, b []byte) {
		var x vmcore.FlatIndex
		if x.UnmarshalBinary(b) != nil {
			return
		}
		if d, err := vmcore.NewFlattenedReader(bytes.NewReader(flat), int64(len(flat)), &x); err == nil {
			exercise(d)
		}
	})
}
