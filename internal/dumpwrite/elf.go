// Package dumpwrite writes crash dumps: ELF cores and kdump-compressed
// files. Tests use it to build corner cases that real kernels rarely produce
// (a printk record ending exactly at the ring's end, corrupt descriptors,
// PN_XNUM headers), and the corpus tools use it to transcode a real dump's
// pages into a format no Debian tool writes (zstd pages).
package dumpwrite

import (
	"debug/elf"
	"encoding/binary"
)

// Note is an ELF note to write.
type Note struct {
	Name string
	Type elf.NType
	Desc []byte
}

// Segment is a PT_LOAD segment to write: Data is its file contents, and
// Memsz (if larger than len(Data)) adds a zero-filled tail.
type Segment struct {
	Paddr, Vaddr uint64
	Data         []byte
	Memsz        uint64
}

// EncodeNotes lays out notes in ELF note format (little-endian).
func EncodeNotes(notes []Note) []byte {
	var b []byte
	for _, n := range notes {
		name := append([]byte(n.Name), 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(name)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(n.Desc)))
		b = binary.LittleEndian.AppendUint32(b, uint32(n.Type))
		b = append(b, pad4(name)...)
		b = append(b, pad4(n.Desc)...)
	}
	return b
}

func pad4(b []byte) []byte {
	out := append([]byte(nil), b...)
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	return out
}

// ELFOptions tweaks the ELF header.
type ELFOptions struct {
	Machine elf.Machine // default EM_X86_64
	// ForcePNXNUM writes e_phnum = PN_XNUM and the count in section header 0,
	// as makedumpfile does for more than 65534 segments.
	ForcePNXNUM bool
	Flags       uint32
}

// ELF writes a little-endian ELF64 core file with one PT_NOTE and the given
// PT_LOAD segments.
func ELF(notes []Note, segs []Segment, opt ELFOptions) []byte {
	if opt.Machine == 0 {
		opt.Machine = elf.EM_X86_64
	}
	le := binary.LittleEndian
	noteBytes := EncodeNotes(notes)
	phnum := 1 + len(segs)
	phoff := uint64(64)
	shoff := uint64(0)
	dataOff := phoff + uint64(phnum)*56
	if opt.ForcePNXNUM {
		shoff = dataOff
		dataOff += 64
	}
	h := make([]byte, 64)
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	le.PutUint16(h[16:], uint16(elf.ET_CORE))
	le.PutUint16(h[18:], uint16(opt.Machine))
	le.PutUint32(h[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(h[32:], phoff)
	le.PutUint64(h[40:], shoff)
	le.PutUint32(h[48:], opt.Flags)
	le.PutUint16(h[52:], 64)
	le.PutUint16(h[54:], 56)
	if opt.ForcePNXNUM {
		le.PutUint16(h[56:], 0xffff)
		le.PutUint16(h[58:], 64)
		le.PutUint16(h[60:], 1)
	} else {
		le.PutUint16(h[56:], uint16(phnum))
	}
	out := h
	ph := func(typ elf.ProgType, off, vaddr, paddr, filesz, memsz uint64) {
		p := make([]byte, 56)
		le.PutUint32(p[0:], uint32(typ))
		le.PutUint32(p[4:], uint32(elf.PF_R|elf.PF_W|elf.PF_X))
		le.PutUint64(p[8:], off)
		le.PutUint64(p[16:], vaddr)
		le.PutUint64(p[24:], paddr)
		le.PutUint64(p[32:], filesz)
		le.PutUint64(p[40:], memsz)
		out = append(out, p...)
	}
	off := dataOff
	ph(elf.PT_NOTE, off, 0, 0, uint64(len(noteBytes)), uint64(len(noteBytes)))
	off += uint64(len(noteBytes))
	for _, s := range segs {
		memsz := max(s.Memsz, uint64(len(s.Data)))
		ph(elf.PT_LOAD, off, s.Vaddr, s.Paddr, uint64(len(s.Data)), memsz)
		off += uint64(len(s.Data))
	}
	if opt.ForcePNXNUM {
		sh := make([]byte, 64)
		le.PutUint32(sh[44:], uint32(phnum))
		out = append(out, sh...)
	}
	out = append(out, noteBytes...)
	for _, s := range segs {
		out = append(out, s.Data...)
	}
	return out
}
