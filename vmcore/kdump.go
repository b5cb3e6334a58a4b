package vmcore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/bits"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/vmcore/vmcore/elfdump"
)

const (
	kdumpSignature    = "KDUMP   "
	diskdumpSignature = "DISKDUMP"

	// bitmapSection is the number of page frames whose dumpable count is
	// precomputed, so that finding a page's descriptor costs one popcount
	// over at most 512 bitmap bytes.
	bitmapSection      = 4096
	bitmapSectionBytes = bitmapSection / 8
)

// The structures of a kdump-compressed file, as makedumpfile's diskdump_mod.h
// declares them for a 64-bit target (the only ones read: long and off_t are
// 8 bytes, and the file is little-endian). Each mirror spells out the C
// compiler's padding, so its Go size is its encoded size on any host and
// unsafe.Offsetof gives the file offset of a field for error messages.

// diskDumpHeader is struct disk_dump_header up to its tasks[] array: the
// first block of the file.
type diskDumpHeader struct {
	Signature     [8]byte    // signature: "KDUMP   " or "DISKDUMP"
	HeaderVersion int32      // header_version: 1-6 so far; fields below say which they need
	Utsname       newUtsname // utsname: the crashed kernel's uname
	_             [6]byte    // padding to timestamp's alignment
	Timestamp     timeval    // timestamp: when the dump was taken
	Status        uint32     // status: DUMP_DH_* flags
	BlockSize     int32      // block_size: the page size, and the unit of the layout
	SubHdrSize    int32      // sub_hdr_size: blocks of kdump_sub_header after this header's block
	BitmapBlocks  uint32     // bitmap_blocks: blocks of the two bitmaps together
	MaxMapnr      uint32     // max_mapnr: page frames covered, 32 bits (see kdumpSubHeader.MaxMapnr64)
	TotalRAM      uint32     // total_ram_blocks: unused
	DeviceBlocks  uint32     // device_blocks: unused
	WrittenBlocks uint32     // written_blocks: unused
	CurrentCPU    uint32     // current_cpu: unused
	NrCPUs        int32      // nr_cpus: CPUs of the crashed machine
}

// newUtsname is struct new_utsname: NUL-padded strings.
type newUtsname struct {
	Sysname    [65]byte // sysname
	Nodename   [65]byte // nodename
	Release    [65]byte // release
	Version    [65]byte // version
	Machine    [65]byte // machine
	Domainname [65]byte // domainname
}

// timeval is struct timeval of a 64-bit target.
type timeval struct {
	Sec  int64 // tv_sec
	Usec int64 // tv_usec
}

// kdumpSubHeader is struct kdump_sub_header, in the block after the
// disk_dump_header of a "KDUMP" file. Fields past dump_level exist from the
// header_version noted on them on.
type kdumpSubHeader struct {
	PhysBase         uint64 // phys_base: where the kernel text was loaded (x86_64)
	DumpLevel        int32  // dump_level: makedumpfile -d
	Split            int32  // split: non-zero in a file of makedumpfile --split (version 2)
	StartPFN         uint64 // start_pfn: first page frame of a split file, 32-bit era (version 2)
	EndPFN           uint64 // end_pfn: one past its last (version 2)
	OffsetVmcoreinfo uint64 // offset_vmcoreinfo: file offset of VMCOREINFO (version 3)
	SizeVmcoreinfo   uint64 // size_vmcoreinfo (version 3)
	OffsetNote       uint64 // offset_note: file offset of the ELF notes (version 4)
	SizeNote         uint64 // size_note (version 4)
	OffsetEraseinfo  uint64 // offset_eraseinfo: makedumpfile --config erase info (version 5)
	SizeEraseinfo    uint64 // size_eraseinfo (version 5)
	StartPFN64       uint64 // start_pfn_64: start_pfn without the 32-bit limit (version 6)
	EndPFN64         uint64 // end_pfn_64 (version 6)
	MaxMapnr64       uint64 // max_mapnr_64: max_mapnr without the 32-bit limit (version 6)
}

// pageDesc is struct page_desc, one per dumpable page in bitmap order.
type pageDesc struct {
	Offset    int64  // offset: file offset of the page's data
	Size      uint32 // size: bytes of (compressed) data
	Flags     uint32 // flags: DUMP_DH_COMPRESSED_* of this page, 0 for raw
	PageFlags uint64 // page_flags: unused
}

// Encoded sizes of the structures.
const (
	kdumpHeaderLen    = int64(unsafe.Sizeof(diskDumpHeader{}))
	kdumpSubHeaderLen = int64(unsafe.Sizeof(kdumpSubHeader{}))
	pageDescLen       = int64(unsafe.Sizeof(pageDesc{}))
)

// DUMP_DH_* flags of disk_dump_header.status and page_desc.flags.
const (
	dumpCompressedZlib       = 0x01
	dumpCompressedLZO        = 0x02
	dumpCompressedSnappy     = 0x04
	dumpCompressedIncomplete = 0x08
	dumpExcludedVmemmap      = 0x10
	dumpCompressedZstd       = 0x20
	dumpCompressionMask      = dumpCompressedZlib | dumpCompressedLZO | dumpCompressedSnappy | dumpCompressedZstd
)

// kdumpFile is one file of a kdump-compressed dump (a split dump has several).
type kdumpFile struct {
	r    io.ReaderAt
	size int64
	name string

	signature     string
	version       int32
	utsname       Utsname
	timestamp     time.Time
	status        uint32
	blockSize     int64
	subHdrSize    int64
	bitmapBlocks  int64
	maxMapnr      uint64
	nrCPUs        int32
	physBase      uint64
	dumpLevel     int32
	split         bool
	startPFN      uint64 // first pfn whose descriptor this file holds
	endPFN        uint64 // one past the last
	vmcoreinfo    []byte
	notes         []elfdump.Note
	bitmapOff     int64 // 1st bitmap (RAM); the 2nd (dumpable) follows at bitmapOff+bitmapLen
	bitmapLen     int64 // bytes of one bitmap
	singleBitmap  bool  // old dumps with one bitmap: RAM == dumpable
	dataOff       int64 // page_desc array
	sectionCounts []uint64
	ndesc         uint64
	truncated     bool // the file ends before all descriptors/data it announces

	mu     sync.Mutex
	secBuf [2]struct {
		sec   uint64
		valid bool
		b     [bitmapSectionBytes]byte
	}
}

// readStruct decodes the little-endian structure v from r at off.
func readStruct(r io.ReaderAt, off int64, v any) error {
	b := make([]byte, binary.Size(v))
	if _, err := r.ReadAt(b, off); err != nil {
		return err
	}
	_, err := binary.Decode(b, binary.LittleEndian, v)
	return err
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// parseKdump reads and validates the headers of one kdump-compressed file and
// scans its dumpable bitmap once to index page descriptors.
func parseKdump(r io.ReaderAt, size int64) (*kdumpFile, error) {
	f := &kdumpFile{r: r, size: size}
	var h diskDumpHeader
	if size < kdumpHeaderLen {
		return nil, &FormatError{"disk_dump_header", 0, fmt.Sprintf("file of %d bytes is shorter than the %d-byte header", size, kdumpHeaderLen)}
	}
	if err := readStruct(r, 0, &h); err != nil {
		return nil, fmt.Errorf("vmcore: reading disk_dump_header: %w", err)
	}
	f.signature = string(h.Signature[:])
	f.version = h.HeaderVersion
	u := &h.Utsname
	f.utsname = Utsname{
		Sysname: cstr(u.Sysname[:]), Nodename: cstr(u.Nodename[:]), Release: cstr(u.Release[:]),
		Version: cstr(u.Version[:]), Machine: cstr(u.Machine[:]), Domainname: cstr(u.Domainname[:]),
	}
	if sec, usec := h.Timestamp.Sec, h.Timestamp.Usec; sec != 0 && usec >= 0 && usec < 1e6 {
		f.timestamp = time.Unix(sec, usec*1000).UTC()
	}
	f.status = h.Status
	f.blockSize = int64(h.BlockSize)
	f.subHdrSize = int64(h.SubHdrSize)
	f.bitmapBlocks = int64(h.BitmapBlocks)
	f.maxMapnr = uint64(h.MaxMapnr)
	f.nrCPUs = h.NrCPUs

	bad := func(off uintptr, format string, args ...any) error {
		return &FormatError{"disk_dump_header", int64(off), fmt.Sprintf(format, args...)}
	}
	if f.version < 1 || f.version > 64 {
		return nil, bad(unsafe.Offsetof(h.HeaderVersion), "header_version %d is not a known version (1-6)", f.version)
	}
	if f.blockSize < 512 || f.blockSize > 1<<16 || f.blockSize&(f.blockSize-1) != 0 {
		return nil, bad(unsafe.Offsetof(h.BlockSize), "block_size %d is not a power of two between 512 and 64 KiB", f.blockSize)
	}
	if f.subHdrSize < 0 || f.subHdrSize > 1<<20 {
		return nil, bad(unsafe.Offsetof(h.SubHdrSize), "sub_hdr_size %d blocks is implausible", f.subHdrSize)
	}
	if f.bitmapBlocks == 0 {
		return nil, bad(unsafe.Offsetof(h.BitmapBlocks), "bitmap_blocks is 0")
	}
	if f.signature == kdumpSignature && f.subHdrSize == 0 {
		return nil, bad(unsafe.Offsetof(h.SubHdrSize), "sub_hdr_size is 0 in a KDUMP header")
	}
	if f.signature == kdumpSignature {
		if err := f.parseSubHeader(); err != nil {
			return nil, err
		}
	}
	f.bitmapOff = (1 + f.subHdrSize) * f.blockSize
	areaLen := f.bitmapBlocks * f.blockSize
	if f.bitmapOff > size || areaLen > size-f.bitmapOff {
		return nil, &FormatError{"bitmap", f.bitmapOff, fmt.Sprintf("%d bitmap blocks of %d bytes do not fit in the %d-byte file (truncated?)", f.bitmapBlocks, f.blockSize, size)}
	}
	need := int64((f.maxMapnr + 7) / 8) // bytes one bitmap needs
	switch {
	case areaLen/2 >= need:
		f.bitmapLen = areaLen / 2
	case areaLen >= need:
		f.bitmapLen, f.singleBitmap = areaLen, true
	default:
		return nil, &FormatError{"bitmap", f.bitmapOff, fmt.Sprintf("%d bytes of bitmap cannot cover max_mapnr %d", areaLen, f.maxMapnr)}
	}
	if !f.split {
		f.startPFN, f.endPFN = 0, f.maxMapnr
	}
	if f.startPFN > f.endPFN || f.endPFN > f.maxMapnr {
		return nil, &FormatError{"kdump_sub_header", f.blockSize + int64(unsafe.Offsetof(kdumpSubHeader{}.StartPFN64)), fmt.Sprintf("split range [%#x, %#x) is outside max_mapnr %#x", f.startPFN, f.endPFN, f.maxMapnr)}
	}
	f.dataOff = f.bitmapOff + areaLen
	if err := f.indexBitmap(); err != nil {
		return nil, err
	}
	if f.dataOff+int64(f.ndesc)*pageDescLen > size {
		f.truncated = true
	} else if f.dataCut() {
		f.truncated = true
	}
	return f, nil
}

// tailDescs is how many of the last page descriptors dataCut reads.
const tailDescs = 64

// dataCut says whether the page data ends before the file does: the
// descriptors are all there but one of the last ones points past the end
// of the file, or was never written (zero). makedumpfile writes page data
// in descriptor order, so a dump cut short after its descriptor table is
// caught by its last descriptors, with one small read.
func (f *kdumpFile) dataCut() bool {
	n := min(f.ndesc, tailDescs)
	if n == 0 {
		return false
	}
	buf := make([]byte, int64(n)*pageDescLen)
	off := f.dataOff + int64(f.ndesc-n)*pageDescLen
	if _, err := f.r.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return false // an unreadable descriptor is reported when its page is read
	}
	descs := make([]pageDesc, n)
	if _, err := binary.Decode(buf, binary.LittleEndian, descs); err != nil {
		return false
	}
	for _, pd := range descs {
		dataOff, size := pd.Offset, int64(pd.Size)
		if dataOff == 0 && size == 0 || dataOff >= f.dataOff && dataOff <= 1<<62 && size > 0 && (dataOff > f.size || f.size-dataOff < size) {
			return true
		}
	}
	return false
}

func (f *kdumpFile) parseSubHeader() error {
	off := f.blockSize
	var sub kdumpSubHeader
	if f.size < off+kdumpSubHeaderLen {
		return &FormatError{"kdump_sub_header", off, fmt.Sprintf("file of %d bytes ends before the sub-header", f.size)}
	}
	if err := readStruct(f.r, off, &sub); err != nil {
		return fmt.Errorf("vmcore: reading kdump_sub_header at %#x: %w", off, err)
	}
	f.physBase = sub.PhysBase
	f.dumpLevel = sub.DumpLevel
	if f.version >= 2 {
		f.split = sub.Split != 0
		f.startPFN, f.endPFN = sub.StartPFN, sub.EndPFN
	}
	if f.version >= 6 {
		f.startPFN, f.endPFN = sub.StartPFN64, sub.EndPFN64
		f.maxMapnr = sub.MaxMapnr64
	}
	blob := func(field string, at uintptr, offv, sizev uint64, limit uint64) ([]byte, error) {
		if sizev == 0 {
			return nil, nil
		}
		if sizev > limit || offv > uint64(f.size) || uint64(f.size)-offv < sizev {
			return nil, &FormatError{"kdump_sub_header", off + int64(at), fmt.Sprintf("%s [%#x, +%#x) is not inside the %d-byte file", field, offv, sizev, f.size)}
		}
		b := make([]byte, sizev)
		if _, err := f.r.ReadAt(b, int64(offv)); err != nil {
			return nil, fmt.Errorf("vmcore: reading %s at %#x: %w", field, offv, err)
		}
		return b, nil
	}
	var err error
	if f.version >= 3 {
		if f.vmcoreinfo, err = blob("VMCOREINFO", unsafe.Offsetof(sub.OffsetVmcoreinfo), sub.OffsetVmcoreinfo, sub.SizeVmcoreinfo, MaxVMCoreInfo); err != nil {
			return err
		}
	}
	if f.version >= 4 {
		noteOff := sub.OffsetNote
		b, err := blob("ELF notes", unsafe.Offsetof(sub.OffsetNote), noteOff, sub.SizeNote, elfdump.MaxNoteSegment)
		if err != nil {
			return err
		}
		// kdump-compressed files record the target byte order only implicitly:
		// both writers produce little-endian for x86_64 and arm64.
		f.notes, err = elfdump.ParseNotes(b, binary.LittleEndian, int64(noteOff))
		if err != nil {
			return fmt.Errorf("vmcore: %w", err)
		}
	}
	return nil
}

// indexBitmap counts dumpable pages per bitmap section, from startPFN on, so
// a page's descriptor index is one lookup plus a popcount within a section.
func (f *kdumpFile) indexBitmap() error {
	nsec := (f.maxMapnr + bitmapSection - 1) / bitmapSection
	f.sectionCounts = make([]uint64, nsec+1)
	bm2 := f.bitmapOff
	if !f.singleBitmap {
		bm2 += f.bitmapLen
	}
	total := (f.maxMapnr + 7) / 8 // bitmap bytes in use
	const chunk = 2048 * bitmapSectionBytes
	buf := make([]byte, min(chunk, total))
	var count uint64
	for pos := uint64(0); pos < total; pos += chunk {
		b := buf[:min(chunk, total-pos)]
		if _, err := f.r.ReadAt(b, bm2+int64(pos)); err != nil {
			return fmt.Errorf("vmcore: reading the dumpable bitmap at %#x: %w", bm2+int64(pos), err)
		}
		for i := 0; i < len(b); i += bitmapSectionBytes {
			f.sectionCounts[(pos+uint64(i))/bitmapSectionBytes] = count
			count += f.popcount(b[i:min(i+bitmapSectionBytes, len(b))], (pos+uint64(i))*8)
		}
	}
	f.sectionCounts[nsec] = count
	f.ndesc = count
	return nil
}

// popcount counts set bits of bitmap bytes s whose first bit is pfn0, for
// pfns in [startPFN, endPFN).
func (f *kdumpFile) popcount(s []byte, pfn0 uint64) uint64 {
	var n uint64
	for j := 0; j < len(s); {
		pfn := pfn0 + uint64(j)*8
		if pfn >= f.startPFN && pfn+64 <= f.endPFN && j+8 <= len(s) {
			n += uint64(bits.OnesCount64(binary.LittleEndian.Uint64(s[j:])))
			j += 8
			continue
		}
		for k := 0; k < 8; k++ {
			p := pfn + uint64(k)
			if p >= f.startPFN && p < f.endPFN && s[j]>>k&1 != 0 {
				n++
			}
		}
		j++
	}
	return n
}

// section returns the bytes of bitmap which (0 RAM, 1 dumpable) for section
// sec; the caller holds f.mu.
func (f *kdumpFile) section(which int, sec uint64) ([]byte, error) {
	if f.singleBitmap {
		which = 0
	}
	c := &f.secBuf[which]
	if c.valid && c.sec == sec {
		return c.b[:], nil
	}
	c.valid = false
	clear(c.b[:])
	off := int64(sec * bitmapSectionBytes)
	n := min(int64(bitmapSectionBytes), f.bitmapLen-off)
	if n > 0 {
		if _, err := f.r.ReadAt(c.b[:n], f.bitmapOff+int64(which)*f.bitmapLen+off); err != nil {
			return nil, fmt.Errorf("vmcore: reading bitmap %d section %d: %w", which+1, sec, err)
		}
	}
	c.sec, c.valid = sec, true
	return c.b[:], nil
}

// descIndex finds pfn's position in the descriptor array, or the reason it has none.
func (f *kdumpFile) descIndex(pfn uint64) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sec := pfn / bitmapSection
	bit := pfn % bitmapSection
	ram, err := f.section(0, sec)
	if err != nil {
		return 0, err
	}
	if ram[bit/8]>>(bit%8)&1 == 0 {
		return 0, ErrHole
	}
	dump, err := f.section(1, sec)
	if err != nil {
		return 0, err
	}
	if dump[bit/8]>>(bit%8)&1 == 0 {
		return 0, ErrExcluded
	}
	idx := f.sectionCounts[sec] + f.popcount(dump[:bit/8], sec*bitmapSection)
	for k := uint64(0); k < bit%8; k++ {
		if p := pfn - bit%8 + k; p >= f.startPFN && dump[bit/8]>>k&1 != 0 {
			idx++
		}
	}
	return idx, nil
}

// kdumpMem is the physical memory of a kdump-compressed dump of one or more files.
type kdumpMem struct {
	files     []*kdumpFile // sorted by startPFN
	blockSize int64
	maxMapnr  uint64
	cache     *pageCache
	decoders  *pageDecoders
	srcBufs   sync.Pool // of *[]byte of blockSize: compressed page data being decoded
}

func (d *Dump) openKdump(files []*kdumpFile) error {
	sort.Slice(files, func(i, j int) bool { return files[i].startPFN < files[j].startPFN })
	f0 := files[0]
	for i, f := range files {
		if f.blockSize != f0.blockSize || f.maxMapnr != f0.maxMapnr {
			return fmt.Errorf("vmcore: %s and %s are not files of the same dump (block size %d/%d, max_mapnr %d/%d)", f0.name, f.name, f0.blockSize, f.blockSize, f0.maxMapnr, f.maxMapnr)
		}
		if len(files) > 1 && !f.split {
			return fmt.Errorf("vmcore: %s is not a split dump file; give split files (makedumpfile --split) or a single dump", f.name)
		}
		if i > 0 && f.startPFN < files[i-1].endPFN {
			return fmt.Errorf("vmcore: split files %s and %s cover overlapping page ranges [%#x, %#x) and [%#x, %#x)", files[i-1].name, f.name, files[i-1].startPFN, files[i-1].endPFN, f.startPFN, f.endPFN)
		}
		if i > 0 && f.startPFN > files[i-1].endPFN {
			d.Warnings = append(d.Warnings, fmt.Sprintf("split files do not cover page frames [%#x, %#x): a split file is missing", files[i-1].endPFN, f.startPFN))
		}
	}
	if f0.split && len(files) == 1 {
		d.Warnings = append(d.Warnings, fmt.Sprintf("%s is one file of a split dump covering only page frames [%#x, %#x); give all its files", f0.name, f0.startPFN, f0.endPFN))
	}
	d.Format = FormatKdump
	if f0.signature == diskdumpSignature {
		d.Format = FormatDiskdump
	}
	d.ByteOrder = binary.LittleEndian
	d.PageSize = int(f0.blockSize)
	d.Header.Utsname = f0.utsname
	d.Header.Timestamp = f0.timestamp
	d.Header.DumpLevel = int(f0.dumpLevel)
	d.Header.HeaderVersion = int(f0.version)
	d.Header.NrCPUs = int(f0.nrCPUs)
	d.Header.MaxPFN = f0.maxMapnr
	d.Header.SplitFiles = len(files)
	d.physBase, d.hasPhysBase = f0.physBase, f0.signature == kdumpSignature
	var status uint32
	for _, f := range files {
		status |= f.status
		if f.truncated {
			d.Header.Incomplete = true
			d.Warnings = append(d.Warnings, fmt.Sprintf("%s ends at %d bytes, before the data of the %d pages it announces: the dump was cut short, later pages read as lost", f.name, f.size, f.ndesc))
		}
	}
	d.Header.Status = status
	if status&dumpCompressedIncomplete != 0 {
		d.Header.Incomplete = true
		d.Warnings = append(d.Warnings, "the dump header is marked incomplete (DUMP_DH_COMPRESSED_INCOMPLETE): the writer ran out of space; pages past that point are lost")
	}
	d.Header.Compression = compressionName(status)
	d.Notes = f0.notes
	if len(f0.vmcoreinfo) > 0 {
		vi, err := ParseVMCoreInfo(f0.vmcoreinfo)
		if err != nil {
			d.Warnings = append(d.Warnings, "VMCOREINFO in the sub-header: "+err.Error())
		} else {
			d.Info = vi
		}
	}
	m := &kdumpMem{files: files, blockSize: f0.blockSize, maxMapnr: f0.maxMapnr,
		cache: newPageCache(int(f0.blockSize)), decoders: newPageDecoders()}
	m.srcBufs.New = func() any { b := make([]byte, m.blockSize); return &b }
	d.mem = m
	return nil
}

func compressionName(status uint32) string {
	names := []struct {
		bit  uint32
		name string
	}{{dumpCompressedZlib, "zlib"}, {dumpCompressedLZO, "lzo"}, {dumpCompressedSnappy, "snappy"}, {dumpCompressedZstd, "zstd"}}
	name := "none"
	for _, n := range names {
		if status&n.bit != 0 {
			if name != "none" {
				return "mixed"
			}
			name = n.name
		}
	}
	return name
}

func (m *kdumpMem) fileFor(pfn uint64) *kdumpFile {
	i := sort.Search(len(m.files), func(i int) bool { return m.files[i].endPFN > pfn })
	if i < len(m.files) && pfn >= m.files[i].startPFN {
		return m.files[i]
	}
	return nil
}

func (m *kdumpMem) read(buf []byte, pa uint64) error {
	pfn := pa / uint64(m.blockSize)
	off := pa % uint64(m.blockSize)
	if m.cache.copyOut(buf, pfn, off) {
		return nil
	}
	page := m.cache.buffer()
	if err := m.readPage(page, pfn); err != nil {
		m.cache.release(page)
		return &PageError{PFN: pfn, Err: err}
	}
	copy(buf, page[off:])
	m.cache.put(pfn, page)
	return nil
}

// readPage decodes page frame pfn into page (blockSize bytes).
func (m *kdumpMem) readPage(page []byte, pfn uint64) error {
	if pfn >= m.maxMapnr {
		return ErrHole
	}
	f := m.fileFor(pfn)
	if f == nil {
		return fmt.Errorf("%w (no split file covers it)", ErrIncomplete)
	}
	idx, err := f.descIndex(pfn)
	if err != nil {
		return err
	}
	descOff := f.dataOff + int64(idx)*pageDescLen
	if descOff+pageDescLen > f.size {
		return fmt.Errorf("%w (its descriptor at %#x is past the end of %s)", ErrIncomplete, descOff, f.name)
	}
	var raw [pageDescLen]byte // on the stack: this runs once per page read
	if _, err := f.r.ReadAt(raw[:], descOff); err != nil {
		return fmt.Errorf("reading page_desc at %#x: %w", descOff, err)
	}
	var pd pageDesc
	if _, err := binary.Decode(raw[:], binary.LittleEndian, &pd); err != nil {
		return fmt.Errorf("decoding page_desc at %#x: %w", descOff, err)
	}
	dataOff, size, flags := pd.Offset, int64(pd.Size), pd.Flags
	if dataOff == 0 && size == 0 {
		// makedumpfile leaves unwritten descriptors zero when it runs out of space.
		return ErrIncomplete
	}
	if size <= 0 || size > m.blockSize {
		return &FormatError{"page_desc", descOff, fmt.Sprintf("page data size %d is not in (0, %d]", size, m.blockSize)}
	}
	if dataOff < f.dataOff || dataOff > f.size || f.size-dataOff < size {
		if dataOff >= f.dataOff && dataOff <= 1<<62 {
			return fmt.Errorf("%w (its data at %#x+%d is past the end of %s)", ErrIncomplete, dataOff, size, f.name)
		}
		return &FormatError{"page_desc", descOff, fmt.Sprintf("page data offset %#x is outside the data area of the %d-byte file", dataOff, f.size)}
	}
	buf := m.srcBufs.Get().(*[]byte) // blockSize bytes
	defer m.srcBufs.Put(buf)
	src := (*buf)[:size]
	if _, err := f.r.ReadAt(src, dataOff); err != nil {
		return fmt.Errorf("reading page data at %#x: %w", dataOff, err)
	}
	if err := m.decoders.decode(page, src, flags); err != nil {
		return &FormatError{"page data", dataOff, err.Error()}
	}
	return nil
}

func (m *kdumpMem) pageCounts() (PageCounts, error) {
	var c PageCounts
	for r, err := range m.runs(true) {
		if err != nil {
			return c, err
		}
		n := r.EndPFN - r.StartPFN
		switch r.Kind {
		case AbsentExcluded:
			c.RAM += n
			c.Excluded += n
		case "":
			c.RAM += n
			c.Dumped += n
		}
	}
	return c, nil
}

func (m *kdumpMem) absent() iter.Seq2[Range, error] {
	return func(yield func(Range, error) bool) {
		for r, err := range m.runs(false) {
			if !yield(r, err) {
				return
			}
		}
	}
}

// runs yields maximal runs of pfns with the same state over [0, maxMapnr),
// each file answering for its own range; Kind "" marks dumped runs, which are
// yielded only when withDumped is set.
func (m *kdumpMem) runs(withDumped bool) iter.Seq2[Range, error] {
	return func(yield func(Range, error) bool) {
		var cur Range
		started := false
		emit := func(pfn uint64, kind AbsentKind) bool {
			if started && cur.Kind == kind && cur.EndPFN == pfn {
				cur.EndPFN++
				return true
			}
			if started && (cur.Kind != "" || withDumped) {
				if !yield(cur, nil) {
					return false
				}
			}
			cur, started = Range{pfn, pfn + 1, kind}, true
			return true
		}
		var next uint64
		for _, f := range m.files {
			for pfn := next; pfn < f.startPFN; pfn++ {
				if !emit(pfn, AbsentLost) {
					return
				}
			}
			for sec := f.startPFN / bitmapSection; sec*bitmapSection < f.endPFN; sec++ {
				f.mu.Lock()
				ram, err := f.section(0, sec)
				var ramCopy, dumpCopy [bitmapSectionBytes]byte
				if err == nil {
					copy(ramCopy[:], ram)
					var dump []byte
					dump, err = f.section(1, sec)
					if err == nil {
						copy(dumpCopy[:], dump)
					}
				}
				f.mu.Unlock()
				if err != nil {
					yield(Range{}, err)
					return
				}
				lo := max(sec*bitmapSection, f.startPFN)
				hi := min(sec*bitmapSection+bitmapSection, f.endPFN)
				for pfn := lo; pfn < hi; pfn++ {
					b := pfn % bitmapSection
					kind := AbsentKind("")
					switch {
					case ramCopy[b/8]>>(b%8)&1 == 0:
						kind = AbsentHole
					case dumpCopy[b/8]>>(b%8)&1 == 0:
						kind = AbsentExcluded
					}
					if !emit(pfn, kind) {
						return
					}
				}
			}
			next = f.endPFN
		}
		if started && (cur.Kind != "" || withDumped) {
			yield(cur, nil)
		}
	}
}
