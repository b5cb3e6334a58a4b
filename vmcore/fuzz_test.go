package vmcore_test

import (
	"bytes"
	"debug/elf"
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
	for _, va := range []uint64{0xffffffff81000000, 0xffff888000001000, 0xffff000000001000, 0xffff800008000000, 0xffffb00040001000} {
		d.ReadVirt(buf[:64], va)
	}
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

// FuzzTranslateARM64 feeds hostile VMCOREINFO and page tables to the arm64
// translation: any VA_BITS, T1SZ, granule, offsets and descriptors must
// give an address or an error, never a panic or a hang.
func FuzzTranslateARM64(f *testing.F) {
	f.Add("PAGESIZE=4096\nNUMBER(VA_BITS)=48\nNUMBER(TCR_EL1_T1SZ)=16\nNUMBER(kimage_voffset)=0xffffb00000000000\nNUMBER(PHYS_OFFSET)=0x40000000\nSYMBOL(swapper_pg_dir)=ffffb00040000000\n",
		[]byte{3, 0x10, 0, 0x40, 0, 0, 0, 0}, uint64(0xffff800008000000))
	f.Add("PAGESIZE=65536\nNUMBER(VA_BITS)=52\nNUMBER(TCR_EL1_T1SZ)=16\nNUMBER(kimage_voffset)=0xffffb00000000000\nNUMBER(PHYS_OFFSET)=0xfff1000040000000\nSYMBOL(swapper_pg_dir)=ffffb00040000000\n",
		[]byte{1, 0xf0, 0, 0x40, 0, 0, 0, 0}, uint64(0xfff0000000001000))
	f.Add("PAGESIZE=16384\nNUMBER(VA_BITS)=52\nNUMBER(TCR_EL1_T1SZ)=12\nNUMBER(kimage_voffset)=0xffffb00000000000\nNUMBER(PHYS_OFFSET)=0x40000000\nSYMBOL(swapper_pg_dir)=ffffb00040000000\n",
		[]byte{3, 0x43, 0, 0x40, 0, 0, 0, 0}, uint64(0xffffc00000004000))
	f.Fuzz(func(t *testing.T, vmcoreinfo string, tables []byte, va uint64) {
		if len(tables) > 1<<16 {
			return
		}
		mem := make([]byte, 1<<16)
		for i := 0; i < len(mem); i += len(tables) + 1 {
			copy(mem[i:], tables) // the same descriptors at every level
		}
		img := dumpwrite.ELF([]dumpwrite.Note{{Name: "VMCOREINFO", Desc: []byte(vmcoreinfo)}},
			[]dumpwrite.Segment{{Paddr: 0x40000000, Data: mem}}, dumpwrite.ELFOptions{Machine: elf.EM_AARCH64})
		d, err := vmcore.NewReader(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			return
		}
		defer d.Close()
		for _, a := range []uint64{va, va + uint64(d.PageSize), 0xffff800008000000, 0xffffb00040000000} {
			d.VirtToPhys(a)
			if pa, err := vmcore.WalkPageTables(d, a); err == nil && pa>>52 != 0 {
				t.Fatalf("%#x walked to %#x, beyond 52-bit physical addresses", a, pa)
			}
		}
		exercise(d)
	})
}
