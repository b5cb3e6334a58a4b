package elfdump

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// MaxNote bounds a single note's descriptor. The largest notes in a crash
// dump are VMCOREINFO (a few KiB) and NT_PRSTATUS (hundreds of bytes).
const MaxNote = 1 << 20

// Note types and names found in crash dumps.
const (
	NT_PRSTATUS    = 1     // "CORE": registers of one CPU at the crash
	NT_VMCOREDD    = 0x700 // "LINUX": device dump
	NoteVMCOREINFO = "VMCOREINFO"
	NoteCore       = "CORE"
	NoteQEMU       = "QEMU"
)

// Note is one ELF note: its owner name, type and descriptor bytes.
type Note struct {
	Name string // owner name without the trailing NUL, e.g. "CORE", "VMCOREINFO"
	Type uint32
	Desc []byte
	Off  int64 // offset of the note header, in the file the notes came from
}

// ParseNotes splits a note segment into notes. base is the segment's offset
// in its file, used only for error messages and Note.Off. An all-zero note
// header ends the list, as the kernel writes one after each CPU's notes.
// On a malformed note it returns the notes before it and a *FormatError.
func ParseNotes(b []byte, bo binary.ByteOrder, base int64) ([]Note, error) {
	var notes []Note
	for off := 0; off+12 <= len(b); {
		namesz := bo.Uint32(b[off:])
		descsz := bo.Uint32(b[off+4:])
		typ := bo.Uint32(b[off+8:])
		if namesz == 0 && descsz == 0 && typ == 0 {
			break
		}
		where := base + int64(off)
		if namesz > 256 || descsz > MaxNote {
			return notes, &FormatError{"ELF note", where, fmt.Sprintf("name size %d or descriptor size %d is implausible", namesz, descsz)}
		}
		nameOff := off + 12
		descOff := nameOff + align4(int(namesz))
		end := descOff + align4(int(descsz))
		if descOff+int(descsz) > len(b) {
			return notes, &FormatError{"ELF note", where, fmt.Sprintf("note of %d+%d bytes runs past the end of the %d-byte note segment", namesz, descsz, len(b))}
		}
		name := b[nameOff : nameOff+int(namesz)]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		notes = append(notes, Note{
			Name: string(name),
			Type: typ,
			Desc: b[descOff : descOff+int(descsz) : descOff+int(descsz)],
			Off:  where,
		})
		off = min(end, len(b))
	}
	return notes, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// PRStatus is the part of an NT_PRSTATUS note (struct elf_prstatus) that a
// crash dump analysis needs: which task the CPU ran and its registers.
type PRStatus struct {
	Cursig int16
	Pid    int32 // current->pid on the CPU at the crash (0 for the idle task; QEMU writes cpu index + 1)
	// Regs holds pr_reg in the machine's user_regs_struct order; see
	// RegisterNames for their names.
	Regs []uint64
}

// prstatus layout: pr_reg starts at 112 in the 64-bit struct elf_prstatus.
const prRegOff = 112

// RegisterNames gives the names of pr_reg's entries for each machine, in
// order (x86_64 user_regs_struct; arm64 user_pt_regs): the machines whose
// NT_PRSTATUS notes ParsePRStatus reads.
var RegisterNames = map[elf.Machine][]string{
	elf.EM_X86_64: {"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
		"rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss",
		"fs_base", "gs_base", "ds", "es", "fs", "gs"},
	elf.EM_AARCH64: {"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10",
		"x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22",
		"x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30", "sp", "pc", "pstate"},
}

// ParsePRStatus decodes the descriptor of an NT_PRSTATUS note written by the
// kernel's crash_save_cpu (or QEMU) for the given machine.
func ParsePRStatus(n Note, m elf.Machine, bo binary.ByteOrder) (*PRStatus, error) {
	nregs := len(RegisterNames[m])
	if nregs == 0 {
		return nil, &FormatError{"NT_PRSTATUS note", n.Off, fmt.Sprintf("registers of machine %v are not known", m)}
	}
	if n.Type != NT_PRSTATUS {
		return nil, &FormatError{"NT_PRSTATUS note", n.Off, fmt.Sprintf("note type %d is not NT_PRSTATUS", n.Type)}
	}
	if len(n.Desc) < prRegOff+8*nregs {
		return nil, &FormatError{"NT_PRSTATUS note", n.Off, fmt.Sprintf("descriptor of %d bytes is shorter than the %d bytes of elf_prstatus registers", len(n.Desc), prRegOff+8*nregs)}
	}
	p := &PRStatus{
		Cursig: int16(bo.Uint16(n.Desc[12:])),
		Pid:    int32(bo.Uint32(n.Desc[32:])),
		Regs:   make([]uint64, nregs),
	}
	for i := range p.Regs {
		p.Regs[i] = bo.Uint64(n.Desc[prRegOff+8*i:])
	}
	return p, nil
}
