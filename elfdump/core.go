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
	"unsafe"
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

// Core is a parsed ELF core file: its header facts, segments and notes.
// Segment contents are not read; use the ReaderAt given to NewCore.
type Core struct {
	Class     elf.Class        // EI_CLASS; always ELFCLASS64
	ByteOrder binary.ByteOrder // EI_DATA
	Machine   elf.Machine      // e_machine
	Flags     uint32           // e_flags; makedumpfile sets bit 0 (DUMP_ELF_INCOMPLETE) for a truncated dump
	// Segments are the program headers in file order. Align is
	// p_align; the others are the program header's fields too.
	Segments []elf.ProgHeader
	Notes    []Note // of every PT_NOTE segment, in file order
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
	var hdr elf.Header64
	if size < int64(binary.Size(hdr)) {
		return nil, &FormatError{"ELF header", 0, fmt.Sprintf("file of %d bytes is shorter than the %d-byte ELF64 header", size, binary.Size(hdr))}
	}
	if err := readStruct(r, 0, c.ByteOrder, &hdr); err != nil {
		return nil, fmt.Errorf("elfdump: reading ELF header: %w", err)
	}
	if typ := elf.Type(hdr.Type); typ != elf.ET_CORE {
		return nil, &FormatError{"ELF header", int64(unsafe.Offsetof(hdr.Type)), fmt.Sprintf("type %v is not ET_CORE", typ)}
	}
	c.Machine = elf.Machine(hdr.Machine)
	c.Flags = hdr.Flags
	phnum := uint64(hdr.Phnum)
	if phnum == pnXNum { // the real count is in section header 0's sh_info
		var sh elf.Section64
		if hdr.Shoff == 0 || int(hdr.Shentsize) < binary.Size(sh) || hdr.Shoff > uint64(size) || uint64(size)-hdr.Shoff < uint64(binary.Size(sh)) {
			return nil, &FormatError{"ELF header", int64(unsafe.Offsetof(hdr.Shoff)), fmt.Sprintf("e_phnum is PN_XNUM but section header 0 at %#x is not in the file", hdr.Shoff)}
		}
		if err := readStruct(r, int64(hdr.Shoff), c.ByteOrder, &sh); err != nil {
			return nil, fmt.Errorf("elfdump: reading section header 0 at %#x: %w", hdr.Shoff, err)
		}
		phnum = uint64(sh.Info)
	}
	if phnum == 0 {
		return nil, &FormatError{"ELF header", int64(unsafe.Offsetof(hdr.Phnum)), "core file has no program headers"}
	}
	if int64(hdr.Phentsize) != prog64Size {
		return nil, &FormatError{"ELF header", int64(unsafe.Offsetof(hdr.Phentsize)), fmt.Sprintf("program header size %d, want %d", hdr.Phentsize, prog64Size)}
	}
	if phnum > MaxSegments {
		return nil, &FormatError{"ELF header", int64(unsafe.Offsetof(hdr.Phnum)), fmt.Sprintf("%d program headers is more than the limit of %d", phnum, MaxSegments)}
	}
	phoff := hdr.Phoff
	if phoff > uint64(size) || (uint64(size)-phoff)/uint64(prog64Size) < phnum {
		return nil, &FormatError{"program header table", int64(phoff), fmt.Sprintf("%d entries do not fit in a file of %d bytes", phnum, size)}
	}
	segs, err := readSegments(r, c.ByteOrder, int64(phoff), int(phnum))
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
			return nil, &FormatError{fmt.Sprintf("program header %d", i), int64(phoff) + int64(i)*prog64Size, fmt.Sprintf("p_filesz %#x exceeds p_memsz %#x", s.Filesz, s.Memsz)}
		}
		if s.Type != elf.PT_NOTE || s.Filesz == 0 {
			continue
		}
		if s.Filesz > MaxNoteSegment || s.Off > uint64(size) || uint64(size)-s.Off < s.Filesz {
			return nil, &FormatError{fmt.Sprintf("PT_NOTE program header %d", i), int64(phoff) + int64(i)*prog64Size, fmt.Sprintf("note segment [%#x, +%#x) is not inside the file of %d bytes", s.Off, s.Filesz, size)}
		}
		buf := make([]byte, s.Filesz)
		if _, err := r.ReadAt(buf, int64(s.Off)); err != nil {
			return nil, fmt.Errorf("elfdump: reading note segment at %#x: %w", s.Off, err)
		}
		notes, err := ParseNotes(buf, c.ByteOrder, int64(s.Off))
		c.Notes = append(c.Notes, notes...)
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// pnXNum is PN_XNUM, the e_phnum that says the count is in section
// header 0 (debug/elf does not name it).
const pnXNum = 0xffff

// prog64Size is the size of an Elf64_Phdr, the only e_phentsize accepted.
// elf.Prog64 has no padding, so its Go size is its encoded size.
const prog64Size = int64(unsafe.Sizeof(elf.Prog64{}))

// readStruct decodes the fixed-size struct v from r at off.
func readStruct(r io.ReaderAt, off int64, bo binary.ByteOrder, v any) error {
	b := make([]byte, binary.Size(v))
	if _, err := r.ReadAt(b, off); err != nil {
		return err
	}
	_, err := binary.Decode(b, bo, v)
	return err
}

// readSegments reads n program headers in bounded chunks, so a lying count
// costs at most what the file really holds.
func readSegments(r io.ReaderAt, bo binary.ByteOrder, off int64, n int) ([]elf.ProgHeader, error) {
	const chunk = 4096 // headers per read
	segs := make([]elf.ProgHeader, 0, min(n, chunk))
	buf := make([]elf.Prog64, min(n, chunk))
	raw := make([]byte, prog64Size*int64(len(buf)))
	for done := 0; done < n; {
		k := min(n-done, chunk)
		b := raw[:prog64Size*int64(k)]
		at := off + int64(done)*prog64Size
		if _, err := r.ReadAt(b, at); err != nil {
			return nil, fmt.Errorf("elfdump: reading program headers at %#x: %w", at, err)
		}
		if _, err := binary.Decode(b, bo, buf[:k]); err != nil {
			return nil, fmt.Errorf("elfdump: decoding program headers at %#x: %w", at, err)
		}
		for _, p := range buf[:k] {
			segs = append(segs, elf.ProgHeader{
				Type:   elf.ProgType(p.Type),
				Flags:  elf.ProgFlag(p.Flags),
				Off:    p.Off,
				Vaddr:  p.Vaddr,
				Paddr:  p.Paddr,
				Filesz: p.Filesz,
				Memsz:  p.Memsz,
				Align:  p.Align,
			})
		}
		done += k
	}
	return segs, nil
}
