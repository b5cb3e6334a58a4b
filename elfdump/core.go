// Package elfdump parses the ELF side of crash dumps: ELF core files such as
// /proc/vmcore copies, and the ELF note format (NT_PRSTATUS, VMCOREINFO) that
// kdump-compressed dumps embed verbatim. It knows nothing about kernel data
// structures; it only turns bytes into validated headers, segments and notes.
package elfdump

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrNotELF is returned by NewCore when the input does not start with the ELF
// magic. Callers probing several formats use it to try the next one.
var ErrNotELF = errors.New("elfdump: not an ELF file")

// FormatError reports a structure of the file that is malformed: what it was,
// where it was, and what was wrong with it.
type FormatError struct {
	Struct string // the structure being parsed, e.g. "program header 3"
	Off    int64  // file offset of that structure
	Msg    string // what is wrong
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("elfdump: %s at offset %#x: %s", e.Struct, e.Off, e.Msg)
}

// Limits on what a core file may claim before we refuse to allocate for it.
const (
	// MaxSegments bounds the number of program headers. makedumpfile writes
	// more than 65534 of them on fragmented machines (PN_XNUM), but never
	// millions.
	MaxSegments = 1 << 22
	// MaxNoteSegment bounds one PT_NOTE segment; per-CPU notes are ~400 bytes,
	// so even 8192 CPUs fit in a few MiB.
	MaxNoteSegment = 64 << 20
)

// Segment is one program header of an ELF core file.
type Segment struct {
	Type   elf.ProgType
	Flags  elf.ProgFlag
	Off    uint64 // file offset of the segment's bytes
	Vaddr  uint64 // virtual address (kernel direct map or text mapping; 0 for QEMU without paging)
	Paddr  uint64 // physical address
	Filesz uint64 // bytes present in the file
	Memsz  uint64 // bytes of memory covered; the tail past Filesz reads as zeros
}

// Core is a parsed ELF core file: its header facts, segments and notes.
// Segment contents are not read; use the ReaderAt given to NewCore.
type Core struct {
	Class     elf.Class
	ByteOrder binary.ByteOrder
	Machine   elf.Machine
	Flags     uint32 // e_flags; makedumpfile sets bit 0 (DUMP_ELF_INCOMPLETE) for a truncated dump
	Segments  []Segment
	Notes     []Note
}

// DumpELFIncomplete is the e_flags bit makedumpfile sets when it could not
// write every page (for example the disk filled up).
const DumpELFIncomplete = 1

// Incomplete reports whether the writer marked the dump as cut short.
func (c *Core) Incomplete() bool { return c.Flags&DumpELFIncomplete != 0 }

// NewCore parses the ELF header, every program header (including the PN_XNUM
// extension for more than 65534 segments, which debug/elf does not support)
// and every PT_NOTE segment of the ELF core file r of the given size. It reads
// only headers and notes. It returns ErrNotELF when the magic is missing and a
// *FormatError for any length or offset that does not fit the file.
func NewCore(r io.ReaderAt, size int64) (*Core, error) {
	var ident [elf.EI_NIDENT]byte
	if size < int64(len(ident)) {
		return nil, ErrNotELF
	}
	if _, err := r.ReadAt(ident[:], 0); err != nil {
		return nil, fmt.Errorf("elfdump: reading ELF ident: %w", err)
	}
	if string(ident[:4]) != elf.ELFMAG {
		return nil, ErrNotELF
	}
	c := &Core{Class: elf.Class(ident[elf.EI_CLASS])}
	switch elf.Data(ident[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		c.ByteOrder = binary.LittleEndian
	case elf.ELFDATA2MSB:
		c.ByteOrder = binary.BigEndian
	default:
		return nil, &FormatError{"ELF header", 0, fmt.Sprintf("unknown data encoding %d", ident[elf.EI_DATA])}
	}
	if c.Class != elf.ELFCLASS64 {
		return nil, &FormatError{"ELF header", 0, fmt.Sprintf("unsupported ELF class %v (only 64-bit cores are read)", c.Class)}
	}
	var hdr [64]byte
	if size < int64(len(hdr)) {
		return nil, &FormatError{"ELF header", 0, fmt.Sprintf("file of %d bytes is shorter than the 64-byte ELF64 header", size)}
	}
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("elfdump: reading ELF header: %w", err)
	}
	bo := c.ByteOrder
	typ := elf.Type(bo.Uint16(hdr[16:]))
	if typ != elf.ET_CORE {
		return nil, &FormatError{"ELF header", 16, fmt.Sprintf("type %v is not ET_CORE", typ)}
	}
	c.Machine = elf.Machine(bo.Uint16(hdr[18:]))
	c.Flags = bo.Uint32(hdr[48:])
	phoff := bo.Uint64(hdr[32:])
	shoff := bo.Uint64(hdr[40:])
	phentsize := bo.Uint16(hdr[54:])
	phnum := uint64(bo.Uint16(hdr[56:]))
	shentsize := bo.Uint16(hdr[58:])

	if phnum == 0xffff { // PN_XNUM: the real count is in section header 0's sh_info
		if shoff == 0 || shentsize < 64 || shoff > uint64(size) || uint64(size)-shoff < 64 {
			return nil, &FormatError{"ELF header", 40, fmt.Sprintf("e_phnum is PN_XNUM but section header 0 at %#x is not in the file", shoff)}
		}
		var sh [64]byte
		if _, err := r.ReadAt(sh[:], int64(shoff)); err != nil {
			return nil, fmt.Errorf("elfdump: reading section header 0 at %#x: %w", shoff, err)
		}
		phnum = uint64(bo.Uint32(sh[44:]))
	}
	if phnum == 0 {
		return nil, &FormatError{"ELF header", 56, "core file has no program headers"}
	}
	if phentsize != 56 {
		return nil, &FormatError{"ELF header", 54, fmt.Sprintf("program header size %d, want 56", phentsize)}
	}
	if phnum > MaxSegments {
		return nil, &FormatError{"ELF header", 56, fmt.Sprintf("%d program headers is more than the limit of %d", phnum, MaxSegments)}
	}
	if phoff > uint64(size) || (uint64(size)-phoff)/56 < phnum {
		return nil, &FormatError{"program header table", int64(phoff), fmt.Sprintf("%d entries do not fit in a file of %d bytes", phnum, size)}
	}
	segs, err := readSegments(r, bo, int64(phoff), int(phnum))
	if err != nil {
		return nil, err
	}
	c.Segments = segs
	for i, s := range segs {
		if s.Type == elf.PT_LOAD && s.Filesz > 0 && (s.Off > uint64(size) || uint64(size)-s.Off < s.Filesz) {
			// A truncated dump: the segment's tail is not in the file. Keep
			// the segment so the pages before the cut stay readable.
			c.Flags |= DumpELFIncomplete
		}
		if s.Filesz > s.Memsz && s.Type == elf.PT_LOAD {
			return nil, &FormatError{fmt.Sprintf("program header %d", i), int64(phoff) + int64(i)*56, fmt.Sprintf("p_filesz %#x exceeds p_memsz %#x", s.Filesz, s.Memsz)}
		}
		if s.Type != elf.PT_NOTE || s.Filesz == 0 {
			continue
		}
		if s.Filesz > MaxNoteSegment || s.Off > uint64(size) || uint64(size)-s.Off < s.Filesz {
			return nil, &FormatError{fmt.Sprintf("PT_NOTE program header %d", i), int64(phoff) + int64(i)*56, fmt.Sprintf("note segment [%#x, +%#x) is not inside the file of %d bytes", s.Off, s.Filesz, size)}
		}
		buf := make([]byte, s.Filesz)
		if _, err := r.ReadAt(buf, int64(s.Off)); err != nil {
			return nil, fmt.Errorf("elfdump: reading note segment at %#x: %w", s.Off, err)
		}
		notes, err := ParseNotes(buf, bo, int64(s.Off))
		c.Notes = append(c.Notes, notes...)
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// readSegments reads n program headers in bounded chunks, so a lying count
// costs at most what the file really holds.
func readSegments(r io.ReaderAt, bo binary.ByteOrder, off int64, n int) ([]Segment, error) {
	const chunk = 4096 // headers per read
	segs := make([]Segment, 0, min(n, chunk))
	buf := make([]byte, 56*min(n, chunk))
	for done := 0; done < n; {
		k := min(n-done, chunk)
		b := buf[:56*k]
		if _, err := r.ReadAt(b, off+int64(done)*56); err != nil {
			return nil, fmt.Errorf("elfdump: reading program headers at %#x: %w", off+int64(done)*56, err)
		}
		for i := 0; i < k; i++ {
			p := b[i*56:]
			segs = append(segs, Segment{
				Type:   elf.ProgType(bo.Uint32(p[0:])),
				Flags:  elf.ProgFlag(bo.Uint32(p[4:])),
				Off:    bo.Uint64(p[8:]),
				Vaddr:  bo.Uint64(p[16:]),
				Paddr:  bo.Uint64(p[24:]),
				Filesz: bo.Uint64(p[32:]),
				Memsz:  bo.Uint64(p[40:]),
			})
		}
		done += k
	}
	return segs, nil
}
