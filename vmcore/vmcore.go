// Package vmcore reads Linux kernel crash dumps: ELF /proc/vmcore copies,
// makedumpfile's kdump-compressed format (zlib, lzo, snappy, zstd pages),
// flattened and split dumps, QEMU dump-guest-memory output, and any of them
// wrapped in xz, gzip, zstd, lz4 or bzip2. It gives one Dump API: physical and
// virtual memory reads, VMCOREINFO, per-CPU registers and the dump's header
// facts. It knows nothing of kernel data structures beyond what address
// translation needs, and nothing of symbols, HTTP or storage.
//
// Reads are lazy: opening a dump reads its headers, notes and (for the
// kdump format) one pass over the page bitmap; page data is read and
// decompressed only when asked for, through a small bounded cache.
package vmcore

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"sync/atomic"
	"time"

	"github.com/vmcore/vmcore/elfdump"
)

// Errors a read or an open can wrap; match them with errors.Is.
var (
	// ErrUnknownFormat means the input is not a crash dump format this package reads.
	ErrUnknownFormat = errors.New("not a crash dump in a known format (ELF core, kdump-compressed, flattened, or a compressed container of one)")
	// ErrHole means the physical address is not RAM of the crashed machine (or not in any segment of an ELF dump).
	ErrHole = errors.New("physical address is not in the dump (memory hole)")
	// ErrExcluded means the page existed but the dump filtered it out (makedumpfile dump level).
	ErrExcluded = errors.New("page was excluded from the dump by its dump level")
	// ErrIncomplete means the page should be in the dump but was never written (the dump was cut short).
	ErrIncomplete = errors.New("page is missing: the dump is incomplete")
	// ErrNoTranslation means a virtual address has no mapping, or the dump lacks what translation needs.
	ErrNoTranslation = errors.New("virtual address cannot be translated")
	// ErrUnknownArch means the dump is of an architecture this package
	// cannot translate addresses of; Open refuses such a dump.
	ErrUnknownArch = errors.New("unsupported architecture")
	// ErrTooLarge means a compressed container expands beyond OpenOptions.MaxExpandedSize.
	ErrTooLarge = errors.New("the compressed container expands beyond the size limit")
)

// FormatError reports a malformed structure of the dump: which structure,
// at which offset of the (logical) file, and what was wrong.
type FormatError struct {
	Struct string
	Off    int64
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("vmcore: %s at offset %#x: %s", e.Struct, e.Off, e.Msg)
}

// PageError reports a failed read of one page, wrapping ErrHole, ErrExcluded,
// ErrIncomplete or a *FormatError for a page that cannot be decoded.
type PageError struct {
	PFN uint64
	Err error
}

func (e *PageError) Error() string { return fmt.Sprintf("vmcore: page %#x: %v", e.PFN, e.Err) }
func (e *PageError) Unwrap() error { return e.Err }

// Format is the on-disk layout of the page data.
type Format string

// The dump formats.
const (
	FormatELF      Format = "elf"              // ELF core: /proc/vmcore copy, makedumpfile -E, QEMU dump-guest-memory
	FormatKdump    Format = "kdump-compressed" // makedumpfile -c/-l/-p/-z, QEMU -z/-l/-s ("KDUMP   ")
	FormatDiskdump Format = "diskdump"         // legacy diskdump ("DISKDUMP"), same layout, no VMCOREINFO
)

// Arch is the crashed machine's architecture.
type Arch string

// Architectures with address translation.
const (
	ArchX86_64  Arch = "x86_64"
	ArchAArch64 Arch = "aarch64"
)

// Utsname is the crashed kernel's identity as the dump header records it.
type Utsname struct {
	Sysname, Nodename, Release, Version, Machine, Domainname string
}

// Header holds the facts a dump states about itself, independent of format.
type Header struct {
	Utsname       Utsname
	Timestamp     time.Time // when the dump was written (kdump header); zero if unknown
	DumpLevel     int       // makedumpfile -d mask; -1 when the format does not record it
	HeaderVersion int       // kdump header_version; 0 for ELF
	Status        uint32    // kdump DUMP_DH_* status flags
	Compression   string    // page compression named by the header ("zlib", "lzo", "snappy", "zstd", "none", "mixed")
	NrCPUs        int       // CPUs the header claims; NT_PRSTATUS notes may be fewer
	MaxPFN        uint64    // one past the highest page frame number covered
	Incomplete    bool      // the writer flagged the dump as cut short
	Flattened     bool      // read through a flattened (makedumpfile -F) index
	SplitFiles    int       // number of files of a split dump; 1 otherwise
	Container     string    // outer compression the file was wrapped in ("xz", "gzip", ...), or ""
	// QEMU says QEMU's dump-guest-memory wrote the dump (it has QEMU's CPU
	// state notes): no crash path ran, NT_PRSTATUS note i (CPUs[i]) holds
	// vCPU i's registers as the dump was taken, and crash_notes in memory
	// are empty.
	QEMU bool
}

// PageCounts counts page frames by how the dump holds them.
type PageCounts struct {
	RAM      uint64 // pages of RAM the crashed machine had (not holes)
	Dumped   uint64 // pages whose contents are in the dump
	Excluded uint64 // RAM pages filtered out
	Lost     uint64 // pages that should be there but are not (incomplete dump); counted lazily, 0 if unknown
}

// AbsentKind says why a physical range is absent from the dump.
type AbsentKind string

// Kinds of absent ranges.
const (
	AbsentHole     AbsentKind = "hole"
	AbsentExcluded AbsentKind = "excluded"
	AbsentLost     AbsentKind = "lost"
)

// Range is a run of page frames [StartPFN, EndPFN) that the dump does not hold.
type Range struct {
	StartPFN, EndPFN uint64
	Kind             AbsentKind
}

// CPU is the register state of one CPU saved in an NT_PRSTATUS note. Notes
// are in CPU order, but CPUs that did not answer the crash IPI/NMI have none,
// so Index (the note's position) is not necessarily the CPU number.
type CPU struct {
	Index  int
	Pid    int32
	Regs   []uint64
	Names  []string // register names, same order as Regs
	NoteAt int64    // file offset of the note
}

// Reg returns the named register ("rip", "rsp", "pc", ...).
func (c *CPU) Reg(name string) (uint64, bool) {
	for i, n := range c.Names {
		if n == name {
			return c.Regs[i], true
		}
	}
	return 0, false
}

// physMem is one format's physical memory.
type physMem interface {
	// read fills buf from physical address pa; [pa, pa+len(buf)) lies in one page.
	read(buf []byte, pa uint64) error
	pageCounts() (PageCounts, error)
	absent() iter.Seq2[Range, error]
}

// translator turns a kernel virtual address into a physical one.
type translator interface {
	translate(va uint64) (uint64, error)
}

// Dump is an open crash dump. Its methods are safe for concurrent use.
type Dump struct {
	Format    Format
	Arch      Arch
	ByteOrder binary.ByteOrder
	PageSize  int
	Header    Header
	// Info is the VMCOREINFO note, or nil when the dump has none (QEMU
	// without -device vmcoreinfo, legacy diskdump).
	Info *VMCoreInfo
	// Notes are all ELF notes of the dump, in file order.
	Notes []elfdump.Note
	// CPUs are the NT_PRSTATUS register sets, in note order.
	CPUs []CPU
	// Warnings describe damage found while opening that did not stop it.
	Warnings []string

	mem     physMem
	xlat    translator
	stats   readStats
	xlatErr error
	closers []io.Closer
	// physBase is the x86_64 kernel-image relocation from a format header,
	// used when VMCOREINFO lacks NUMBER(phys_base).
	physBase    uint64
	hasPhysBase bool
}

// Open opens the dump at path. Several paths are the files of one split dump
// (makedumpfile --split), in any order. A file wrapped in xz, gzip, zstd, lz4
// or bzip2 is first decompressed once into a temporary file (see
// NewReader). Close releases the files. Open is OpenOptions{}.Open with no
// deadline.
func Open(paths ...string) (*Dump, error) {
	return OpenOptions{}.Open(context.Background(), paths...)
}

// Open opens the dump at path (or the files of a split dump) with o's
// options; ctx stops the expansion of a compressed container.
func (o OpenOptions) Open(ctx context.Context, paths ...string) (*Dump, error) {
	if len(paths) == 0 {
		return nil, errors.New("vmcore: no dump file given")
	}
	var parts []Part
	var files []io.Closer
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("vmcore: %w", err)
		}
		files = append(files, f)
		st, err := f.Stat()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("vmcore: %w", err)
		}
		parts = append(parts, Part{R: f, Size: st.Size(), Name: p})
	}
	d, err := o.NewSplitReader(ctx, parts)
	if err != nil {
		closeAll()
		return nil, err
	}
	d.closers = append(d.closers, files...)
	return d, nil
}

// Part is one file of a dump for NewSplitReader.
type Part struct {
	R    io.ReaderAt
	Size int64
	Name string // for messages
}

// NewReader opens the dump held by r, of the given size, detecting its
// format. The flattened format is read in place through an offset index built
// by one pass over its chunk headers. A dump wrapped in a compressed container
// (xz, gzip, zstd, lz4, bzip2) costs one full decompression into a temporary
// file under os.TempDir (see OpenOptions for another place, a limit and a
// deadline), removed by Close: compressed streams cannot be read at random.
func NewReader(r io.ReaderAt, size int64) (*Dump, error) {
	return OpenOptions{}.NewReader(context.Background(), r, size)
}

// NewReader is NewReader with o's options; ctx stops the expansion of a
// compressed container.
func (o OpenOptions) NewReader(ctx context.Context, r io.ReaderAt, size int64) (*Dump, error) {
	return o.NewSplitReader(ctx, []Part{{R: r, Size: size}})
}

// NewSplitReader opens a dump made of one or more files: the files of a
// split kdump-compressed dump, or a single dump of any format.
func NewSplitReader(parts []Part) (*Dump, error) {
	return OpenOptions{}.NewSplitReader(context.Background(), parts)
}

// NewSplitReader is NewSplitReader with o's options; ctx stops the
// expansion of a compressed container.
func (o OpenOptions) NewSplitReader(ctx context.Context, parts []Part) (*Dump, error) {
	if len(parts) == 0 {
		return nil, errors.New("vmcore: no dump file given")
	}
	d := &Dump{}
	var kparts []*kdumpFile
	for i, p := range parts {
		p.R = &countingReaderAt{r: p.R, st: &d.stats}
		r, size, err := d.unwrap(ctx, o, p)
		if err != nil {
			d.Close()
			return nil, withName(p.Name, err)
		}
		kind, r, size, err := d.probe(r, size)
		if err != nil {
			d.Close()
			return nil, withName(p.Name, err)
		}
		switch {
		case kind == FormatELF && len(parts) == 1:
			if err := d.openELF(r, size); err != nil {
				d.Close()
				return nil, withName(p.Name, err)
			}
			return d.finished()
		case kind == FormatELF:
			d.Close()
			return nil, fmt.Errorf("vmcore: %s is an ELF dump; only kdump-compressed dumps can be split into several files", nameOr(p.Name, i))
		}
		kf, err := parseKdump(r, size)
		if err != nil {
			d.Close()
			return nil, withName(p.Name, err)
		}
		kf.name = nameOr(p.Name, i)
		kparts = append(kparts, kf)
	}
	if err := d.openKdump(kparts); err != nil {
		d.Close()
		return nil, err
	}
	return d.finished()
}

func nameOr(name string, i int) string {
	if name == "" {
		return fmt.Sprintf("file %d", i+1)
	}
	return name
}

func withName(name string, err error) error {
	if name == "" {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// probe detects the format at the start of r, unwrapping a flattened file.
func (d *Dump) probe(r io.ReaderAt, size int64) (Format, io.ReaderAt, int64, error) {
	var magic [16]byte
	n, err := r.ReadAt(magic[:], 0)
	if n < len(magic) {
		if size == 0 {
			return "", nil, 0, fmt.Errorf("vmcore: empty file: %w", ErrUnknownFormat)
		}
		if err == nil || errors.Is(err, io.EOF) {
			return "", nil, 0, fmt.Errorf("vmcore: file of %d bytes is too short for any dump header: %w", size, ErrUnknownFormat)
		}
		return "", nil, 0, fmt.Errorf("vmcore: reading the file header: %w", err)
	}
	if c, ok := r.(*countingReaderAt); ok {
		if pi, ok := c.r.(preindexed); ok {
			d.flattened(pi.idx)
		}
	}
	if string(magic[:]) == flatSignature {
		fr, fsize, err := newFlatReader(r, size)
		if err != nil {
			return "", nil, 0, err
		}
		d.flattened(fr.idx)
		if _, err := fr.ReadAt(magic[:], 0); err != nil {
			return "", nil, 0, fmt.Errorf("vmcore: reading the rearranged header of a flattened dump: %w", err)
		}
		r, size = fr, fsize
	}
	switch {
	case string(magic[:8]) == kdumpSignature:
		return FormatKdump, r, size, nil
	case string(magic[:8]) == diskdumpSignature:
		return FormatDiskdump, r, size, nil
	case string(magic[:4]) == elf.ELFMAG:
		return FormatELF, r, size, nil
	}
	return "", nil, 0, ErrUnknownFormat
}

// flattened records that the dump is read through a flattened index.
func (d *Dump) flattened(idx *FlatIndex) {
	d.Header.Flattened = true
	if idx.Truncated {
		d.Header.Incomplete = true
		d.Warnings = append(d.Warnings, "the flattened file ends without its end marker: the dump was cut short, pages not written read as lost or zero")
	}
}

// finished finishes opening d, closing it when that fails.
func (d *Dump) finished() (*Dump, error) {
	if err := d.finish(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// finish sets up what every format shares: VMCOREINFO-derived facts, CPU
// registers and address translation.
func (d *Dump) finish() error {
	if d.Header.SplitFiles == 0 {
		d.Header.SplitFiles = 1
	}
	for _, n := range d.Notes {
		if n.Name == elfdump.NoteVMCOREINFO && d.Info == nil {
			vi, err := ParseVMCoreInfo(n.Desc)
			if err != nil {
				d.Warnings = append(d.Warnings, fmt.Sprintf("VMCOREINFO note at %#x: %v", n.Off, err))
				continue
			}
			d.Info = vi
		}
	}
	if d.Arch == "" {
		d.Arch = Arch(d.Header.Utsname.Machine)
	}
	if err := d.checkArch(); err != nil {
		return err
	}
	if d.Info != nil {
		if ps := d.Info.PageSize(); ps > 0 && d.PageSize == 0 {
			d.PageSize = ps
		}
		if d.Header.Utsname.Release == "" {
			d.Header.Utsname.Release = d.Info.OSRelease()
		}
	}
	if d.PageSize == 0 {
		d.PageSize = 4096
	}
	if d.PageSize < 512 || d.PageSize > 1<<16 || d.PageSize&(d.PageSize-1) != 0 {
		return &FormatError{"page size", 0, fmt.Sprintf("page size %d is not a power of two between 512 and 64 KiB", d.PageSize)}
	}
	if m, ok := d.mem.(*elfMem); ok {
		d.Header.MaxPFN = m.setPageSize(uint64(d.PageSize))
	}
	machine := archs[d.Arch].machine
	for i, n := range d.Notes {
		if n.Name == noteQEMU {
			d.Header.QEMU = true
		}
		if n.Name != elfdump.NoteCore || n.Type != elf.NT_PRSTATUS {
			continue
		}
		ps, err := elfdump.ParsePRStatus(n, machine, d.ByteOrder)
		if err != nil {
			d.Warnings = append(d.Warnings, fmt.Sprintf("note %d: %v", i, err))
			continue
		}
		d.CPUs = append(d.CPUs, CPU{Index: len(d.CPUs), Pid: ps.Pid, Regs: ps.Regs, Names: elfdump.RegisterNames[machine], NoteAt: n.Off})
	}
	d.xlat, d.xlatErr = newTranslator(d)
	return nil
}

// noteQEMU names the notes of QEMU's CPU state (QEMUCPUState), which
// dump-guest-memory writes beside each vCPU's NT_PRSTATUS.
const noteQEMU = "QEMU"

// Close releases the dump's files and temporary files.
func (d *Dump) Close() error {
	var first error
	for i := len(d.closers) - 1; i >= 0; i-- {
		if err := d.closers[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	d.closers = nil
	return first
}

// ReadPhys fills buf with physical memory starting at pa. It reads only the
// pages it covers. On a page that the dump does not hold it returns a
// *PageError wrapping ErrHole, ErrExcluded or ErrIncomplete, after filling
// what came before it.
func (d *Dump) ReadPhys(buf []byte, pa uint64) error {
	ps := uint64(d.PageSize)
	for len(buf) > 0 {
		n := min(uint64(len(buf)), ps-pa%ps)
		if err := d.mem.read(buf[:n], pa); err != nil {
			return err
		}
		buf = buf[n:]
		pa += n
	}
	return nil
}

// ReadVirt fills buf with kernel virtual memory starting at va, translating
// each page through the kernel's page tables (or the fixed kernel-image and
// direct mappings). Errors wrap ErrNoTranslation or the ReadPhys errors.
func (d *Dump) ReadVirt(buf []byte, va uint64) error {
	if d.xlat == nil {
		return fmt.Errorf("vmcore: reading %#x: %w: %v", va, ErrNoTranslation, d.xlatErr)
	}
	ps := uint64(d.PageSize)
	for len(buf) > 0 {
		n := min(uint64(len(buf)), ps-va%ps)
		pa, err := d.xlat.translate(va)
		if err != nil {
			return err
		}
		if err := d.ReadPhys(buf[:n], pa); err != nil {
			return fmt.Errorf("vmcore: reading virtual %#x: %w", va, err)
		}
		buf = buf[n:]
		va += n
	}
	return nil
}

// ReadU64 reads the 64-bit value at kernel virtual address va, in the
// dump's byte order.
func (d *Dump) ReadU64(va uint64) (uint64, error) {
	var b [8]byte
	err := d.ReadVirt(b[:], va)
	return d.ByteOrder.Uint64(b[:]), err
}

// ReadU32 reads the 32-bit value at kernel virtual address va, in the
// dump's byte order.
func (d *Dump) ReadU32(va uint64) (uint32, error) {
	var b [4]byte
	err := d.ReadVirt(b[:], va)
	return d.ByteOrder.Uint32(b[:]), err
}

// VirtToPhys translates a kernel virtual address.
func (d *Dump) VirtToPhys(va uint64) (uint64, error) {
	if d.xlat == nil {
		return 0, fmt.Errorf("vmcore: %#x: %w: %v", va, ErrNoTranslation, d.xlatErr)
	}
	return d.xlat.translate(va)
}

// PageCounts counts the dump's page frames. For kdump-compressed dumps it
// comes from the bitmaps read at open; for ELF from the segment sizes.
func (d *Dump) PageCounts() (PageCounts, error) { return d.mem.pageCounts() }

// AbsentRanges yields, in address order, the runs of page frames the dump does
// not hold and why (hole, excluded, lost). It reads the bitmaps again, a
// cost proportional to the machine's RAM size / 32768.
func (d *Dump) AbsentRanges() iter.Seq2[Range, error] { return d.mem.absent() }

// readStats counts what a dump read from its files.
type readStats struct {
	bytes, reads atomic.Int64
}

// countingReaderAt counts the bytes and calls made to the dump's files, so
// callers can see how much of a dump an analysis touched.
type countingReaderAt struct {
	r  io.ReaderAt
	st *readStats
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.st.bytes.Add(int64(n))
	c.st.reads.Add(1)
	return n, err
}

// ReadStats reports how many bytes, in how many reads, the dump has read
// from its files since it was opened (a container's decompression not
// counted: that reads the whole file once).
func (d *Dump) ReadStats() (bytes, reads int64) { return d.stats.bytes.Load(), d.stats.reads.Load() }
