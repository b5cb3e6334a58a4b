package vmcore_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

// synthPages is a small machine: 64 page frames, a hole at 10-15, pages
// 20-29 excluded, 30-33 zero, the rest filled with a pattern naming the pfn.
type synthPages struct{}

func (synthPages) MaxPFN() uint64             { return 64 }
func (synthPages) IsRAM(pfn uint64) bool      { return pfn < 10 || pfn > 15 }
func (s synthPages) IsDumpable(p uint64) bool { return s.IsRAM(p) && (p < 20 || p > 29) }
func (synthPages) ReadPage(pfn uint64, b []byte) error {
	fillPage(pfn, b)
	return nil
}

func fillPage(pfn uint64, b []byte) {
	clear(b)
	if pfn >= 30 && pfn <= 33 {
		return
	}
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], pfn<<32|uint64(i))
	}
}

func synthKdump(t testing.TB, comp uint32, opt dumpwrite.KdumpOptions) []byte {
	t.Helper()
	opt.Compression = comp
	opt.Machine = "x86_64"
	opt.Release = "6.99.0-synthetic"
	opt.DumpLevel = 31
	opt.VMCoreInfo = []byte("OSRELEASE=6.99.0-synthetic\nPAGESIZE=4096\nNUMBER(phys_base)=0\nSYMBOL(init_top_pgt)=ffffffff81000000\n")
	var b dumpwrite.Buffer
	if err := dumpwrite.Kdump(&b, synthPages{}, opt); err != nil {
		t.Fatal(err)
	}
	return b.B
}

func openBytes(t testing.TB, b []byte) *vmcore.Dump {
	t.Helper()
	d, err := vmcore.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkSynthPages reads every page of a dump of synthPages and checks
// contents and the reason for each missing page.
func checkSynthPages(t *testing.T, d *vmcore.Dump) {
	t.Helper()
	page := make([]byte, 4096)
	want := make([]byte, 4096)
	for pfn := uint64(0); pfn < 70; pfn++ {
		err := d.ReadPhys(page, pfn*4096)
		var wantErr error
		switch {
		case pfn >= 64 || (pfn >= 10 && pfn <= 15):
			wantErr = vmcore.ErrHole
		case pfn >= 20 && pfn <= 29:
			wantErr = vmcore.ErrExcluded
		}
		if wantErr != nil {
			if !errors.Is(err, wantErr) {
				t.Errorf("page %d: err = %v, want %v", pfn, err, wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("page %d: %v", pfn, err)
			continue
		}
		fillPage(pfn, want)
		if !bytes.Equal(page, want) {
			t.Errorf("page %d: contents differ", pfn)
		}
	}
	pc, err := d.PageCounts()
	if err != nil {
		t.Fatal(err)
	}
	if pc != (vmcore.PageCounts{RAM: 58, Dumped: 48, Excluded: 10}) {
		t.Errorf("page counts = %+v", pc)
	}
	var got []string
	for r, err := range d.AbsentRanges() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d-%d %s", r.StartPFN, r.EndPFN, r.Kind))
	}
	if fmt.Sprint(got) != "[10-16 hole 20-30 excluded]" {
		t.Errorf("absent ranges = %v", got)
	}
}

func TestKdumpCompressions(t *testing.T) {
	for _, c := range []struct {
		name string
		code uint32
	}{{"none", dumpwrite.None}, {"zlib", dumpwrite.Zlib}, {"snappy", dumpwrite.Snappy}, {"zstd", dumpwrite.Zstd}} {
		t.Run(c.name, func(t *testing.T) {
			d := openBytes(t, synthKdump(t, c.code, dumpwrite.KdumpOptions{}))
			if d.Format != vmcore.FormatKdump || d.Header.Compression != c.name || d.Header.HeaderVersion != 6 || d.Header.DumpLevel != 31 {
				t.Errorf("header = %+v", d.Header)
			}
			if d.Info == nil || d.Info.OSRelease() != "6.99.0-synthetic" {
				t.Errorf("VMCOREINFO not read from the sub-header")
			}
			checkSynthPages(t, d)
		})
	}
}

// TestKdumpSplit writes the synthetic machine as three split files and reads
// them together, in any order; one file alone reads as incomplete.
func TestKdumpSplit(t *testing.T) {
	var parts []vmcore.Part
	for i, r := range [][2]uint64{{32, 64}, {0, 17}, {17, 32}} {
		b := synthKdump(t, dumpwrite.Zlib, dumpwrite.KdumpOptions{SplitStart: r[0], SplitEnd: r[1]})
		parts = append(parts, vmcore.Part{R: bytes.NewReader(b), Size: int64(len(b)), Name: fmt.Sprintf("part%d", i)})
	}
	d, err := vmcore.NewSplitReader(parts)
	if err != nil {
		t.Fatal(err)
	}
	if d.Header.SplitFiles != 3 {
		t.Errorf("SplitFiles = %d", d.Header.SplitFiles)
	}
	checkSynthPages(t, d)

	one, err := vmcore.NewSplitReader(parts[:1])
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Warnings) == 0 {
		t.Errorf("one split file alone gave no warning")
	}
	if err := one.ReadPhys(make([]byte, 8), 0); !errors.Is(err, vmcore.ErrIncomplete) {
		t.Errorf("page outside the only split file: err = %v, want ErrIncomplete", err)
	}
}

// pageDescAt returns the file offset of the n-th page descriptor.
func pageDescAt(b []byte, n int) int {
	le := binary.LittleEndian
	bs := int(le.Uint32(b[428:]))
	sub := int(le.Uint32(b[432:]))
	bm := int(le.Uint32(b[436:]))
	return (1+sub+bm)*bs + 24*n
}

// TestKdumpDamage: each kind of damage gives a clear error naming the
// structure, never a panic, and opening survives damage confined to pages.
func TestKdumpDamage(t *testing.T) {
	good := synthKdump(t, dumpwrite.Zlib, dumpwrite.KdumpOptions{})
	le := binary.LittleEndian
	// page 0's descriptor is the first; it is not a zero page.
	d0 := pageDescAt(good, 0)
	cases := []struct {
		name    string
		mutate  func(b []byte) []byte
		openErr string // substring of the open error, "" if it opens
		pageErr error  // errors.Is target for reading page 0, nil for a FormatError
		pageMsg string
	}{
		{"empty file", func(b []byte) []byte { return nil }, "empty file", nil, ""},
		{"not a dump", func(b []byte) []byte { return []byte("hello, this is not a dump at all........") }, "not a crash dump", nil, ""},
		{"header only", func(b []byte) []byte { return b[:500] }, "sub-header", nil, ""},
		{"block size", func(b []byte) []byte { le.PutUint32(b[428:], 1000); return b }, "block_size 1000", nil, ""},
		{"bitmap blocks", func(b []byte) []byte { le.PutUint32(b[436:], 1<<30); return b }, "bitmap blocks", nil, ""},
		{"version", func(b []byte) []byte { le.PutUint32(b[8:], 0); return b }, "header_version", nil, ""},
		{"vmcoreinfo offset", func(b []byte) []byte { le.PutUint64(b[4096+32:], 1<<40); return b }, "VMCOREINFO [", nil, ""},
		{"max_mapnr", func(b []byte) []byte { le.PutUint64(b[4096+96:], 1<<40); return b }, "cannot cover max_mapnr", nil, ""},
		{"desc size too big", func(b []byte) []byte { le.PutUint32(b[d0+8:], 5000); return b }, "", nil, "page data size 5000"},
		{"desc offset outside", func(b []byte) []byte { le.PutUint64(b[d0:], 10); return b }, "", nil, "outside the data area"},
		{"desc flags unknown", func(b []byte) []byte { le.PutUint32(b[d0+12:], 0x40); return b }, "", nil, "unknown page flags"},
		{"desc two codecs", func(b []byte) []byte { le.PutUint32(b[d0+12:], 0x21); return b }, "", nil, "more than one compression"},
		{"data garbage", func(b []byte) []byte {
			off := le.Uint64(b[d0:])
			for i := 0; i < 40; i++ {
				b[int(off)+i] ^= 0x5a
			}
			return b
		}, "", nil, "zlib"},
		{"short data", func(b []byte) []byte {
			// A valid zlib stream of a 100-byte page: decompresses to the wrong size.
			small := synthKdumpPage(100)
			off := le.Uint64(b[d0:])
			copy(b[off:], small)
			le.PutUint32(b[d0+8:], uint32(len(small)))
			return b
		}, "", nil, "want 4096"},
		{"zero descriptor (ENOSPC)", func(b []byte) []byte { clear(b[d0 : d0+24]); return b }, "", vmcore.ErrIncomplete, ""},
		{"cut mid-data", func(b []byte) []byte { return b[:len(b)-100] }, "", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(append([]byte(nil), good...))
			d, err := vmcore.NewReader(bytes.NewReader(b), int64(len(b)))
			if c.openErr != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.openErr)) {
					t.Fatalf("open error = %v, want one containing %q", err, c.openErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			err = d.ReadPhys(make([]byte, 4096), 0)
			switch {
			case c.pageErr != nil:
				if !errors.Is(err, c.pageErr) {
					t.Errorf("read: %v, want %v", err, c.pageErr)
				}
			case c.pageMsg != "":
				var fe *vmcore.FormatError
				if !errors.As(err, &fe) || !bytes.Contains([]byte(err.Error()), []byte(c.pageMsg)) {
					t.Errorf("read: %v, want a FormatError containing %q", err, c.pageMsg)
				}
			}
			// Whatever the damage, every page read returns (no panic, no hang).
			for pfn := uint64(0); pfn < 64; pfn++ {
				d.ReadPhys(make([]byte, 4096), pfn*4096)
			}
		})
	}
}

func synthKdumpPage(n int) []byte {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	zw.Write(make([]byte, n))
	zw.Close()
	return b.Bytes()
}

// TestKdumpHeaderVersions reads the same pages through every header
// version makedumpfile has written (1-6): before 6 the page count is the
// 32-bit max_mapnr, before 4 there are no notes, before 3 no VMCOREINFO.
func TestKdumpHeaderVersions(t *testing.T) {
	base := synthKdump(t, dumpwrite.Zlib, dumpwrite.KdumpOptions{})
	for v := uint32(1); v <= 6; v++ {
		b := append([]byte(nil), base...)
		binary.LittleEndian.PutUint32(b[8:], v)
		d := openBytes(t, b)
		if d.Header.HeaderVersion != int(v) {
			t.Errorf("version %d read as %d", v, d.Header.HeaderVersion)
		}
		if hasInfo := d.Info != nil; hasInfo != (v >= 3) {
			t.Errorf("version %d: VMCOREINFO present = %v", v, hasInfo)
		}
		checkSynthPages(t, d)
	}
	// The legacy "DISKDUMP" signature has the same layout.
	b := append([]byte(nil), base...)
	copy(b, "DISKDUMP")
	binary.LittleEndian.PutUint32(b[8:], 1)
	if d := openBytes(t, b); d.Format != vmcore.FormatDiskdump {
		t.Errorf("format %s", d.Format)
	}
}

// TestTruncatedKdumpIsIncomplete cuts real kdump-compressed dumps at 10,
// 50 and 99 % of their length, past their page descriptors: each opens
// marked incomplete (the analysis's "partial") with a warning, and the
// whole file does not.
func TestTruncatedKdumpIsIncomplete(t *testing.T) {
	for _, dc := range corpus.Find(corpus.Committed()) {
		if !strings.HasPrefix(dc.Format, "kdump-") {
			continue
		}
		raw, err := os.ReadFile(dc.Files[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, pct := range []int{10, 50, 99, 100} {
			cut := raw[:len(raw)*pct/100]
			d, err := vmcore.NewReader(bytes.NewReader(cut), int64(len(cut)))
			if err != nil {
				t.Errorf("%s cut at %d%%: %v", dc.Label(), pct, err)
				continue
			}
			if got, want := d.Header.Incomplete, pct < 100; got != want {
				t.Errorf("%s cut at %d%%: incomplete %v, want %v (warnings %q)", dc.Label(), pct, got, want, d.Warnings)
			}
			d.Close()
		}
	}
}
