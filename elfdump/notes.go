package elfdump

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"unsafe"
)

// MaxNote bounds a single note's descriptor. The largest notes in a crash
// dump are VMCOREINFO (a few KiB) and NT_PRSTATUS (hundreds of bytes).
const MaxNote = 1 << 20

// Note names (owners) found in crash dumps. The note types are debug/elf's
// (elf.NT_PRSTATUS) where it names them, and the ones below where it does
// not.
const (
	NoteVMCOREINFO = "VMCOREINFO"
	NoteCore       = "CORE"
	NoteQEMU       = "QEMU"
	NoteGNU        = "GNU"
)

// Note types debug/elf does not name.
const (
	// NoteTypeGNUBuildID is NT_GNU_BUILD_ID: a "GNU" note whose
	// descriptor is the object's build-id.
	NoteTypeGNUBuildID elf.NType = 3
	// NoteTypeVMCOREDD is NT_VMCOREDD: a "LINUX" note holding a device
	// dump (CONFIG_PROC_VMCORE_DEVICE_DUMP).
	NoteTypeVMCOREDD elf.NType = 0x700
)

// Note is one ELF note: its owner name, type and descriptor bytes.
type Note struct {
	Name string    // n_name without the trailing NUL, e.g. "CORE", "VMCOREINFO"
	Type elf.NType // n_type, e.g. elf.NT_PRSTATUS; its meaning depends on Name
	Desc []byte    // the n_descsz bytes of the descriptor
	Off  int64     // offset of the note header, in the file the notes came from
}

// noteHeader is Elf64_Nhdr (Elf32_Nhdr is the same): the fixed part of a
// note, followed by the name and the descriptor, each padded to 4 bytes.
type noteHeader struct {
	Namesz uint32 // n_namesz: bytes of the owner name, with its NUL
	Descsz uint32 // n_descsz: bytes of the descriptor
	Type   uint32 // n_type
}

// noteHeaderSize is the encoded size of a noteHeader.
const noteHeaderSize = int(unsafe.Sizeof(noteHeader{}))

// ParseNotes splits a note segment into notes. base is the segment's offset
// in its file, used only for error messages and Note.Off. An all-zero note
// header ends the list, as the kernel writes one after each CPU's notes.
// On a malformed note it returns the notes before it and a *FormatError.
func ParseNotes(b []byte, bo binary.ByteOrder, base int64) ([]Note, error) {
	var notes []Note
	for off := 0; off+noteHeaderSize <= len(b); {
		var h noteHeader
		if _, err := binary.Decode(b[off:], bo, &h); err != nil {
			return notes, &FormatError{"ELF note", base + int64(off), err.Error()}
		}
		namesz, descsz := h.Namesz, h.Descsz
		if namesz == 0 && descsz == 0 && h.Type == 0 {
			break
		}
		where := base + int64(off)
		if namesz > 256 || descsz > MaxNote {
			return notes, &FormatError{"ELF note", where, fmt.Sprintf("name size %d or descriptor size %d is implausible", namesz, descsz)}
		}
		nameOff := off + noteHeaderSize
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
			Type: elf.NType(h.Type),
			Desc: b[descOff : descOff+int(descsz) : descOff+int(descsz)],
			Off:  where,
		})
		off = min(end, len(b))
	}
	return notes, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// BuildID returns the GNU build-id of the object f (vmlinux, a module), in
// hex, from the first NT_GNU_BUILD_ID note of its SHT_NOTE sections, or ""
// when it has none. It reads only the note sections; one it cannot read
// or parse is skipped, so a damaged object has no build-id rather than an
// error.
func BuildID(f *elf.File) (id string) {
	// Section.Data decompresses SHF_COMPRESSED sections, which debug/elf
	// can panic on.
	_ = Guard("elfdump: build-id note", func() error {
		id = buildID(f)
		return nil
	})
	return id
}

func buildID(f *elf.File) string {
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE || s.Size > MaxNoteSegment {
			continue
		}
		b, err := s.Data()
		if err != nil {
			continue
		}
		notes, _ := ParseNotes(b, f.ByteOrder, int64(s.Offset))
		for _, n := range notes {
			if n.Name == NoteGNU && n.Type == NoteTypeGNUBuildID {
				return hex.EncodeToString(n.Desc)
			}
		}
	}
	return ""
}

// PRStatus is the part of an NT_PRSTATUS note (struct elf_prstatus) that a
// crash dump analysis needs: which task the CPU ran and its registers.
type PRStatus struct {
	Cursig int16 // pr_cursig: the signal the CPU was handling, usually 0
	Pid    int32 // current->pid on the CPU at the crash (0 for the idle task; QEMU writes cpu index + 1)
	// Regs holds pr_reg in the machine's user_regs_struct order; see
	// RegisterNames for their names.
	Regs []uint64
}

// elfPrstatus is the 64-bit struct elf_prstatus (include/linux/elfcore.h)
// up to pr_reg, whose length depends on the machine (ELF_NGREG).
type elfPrstatus struct {
	Info    elfSiginfo // pr_info: the signal, unused by crash_save_cpu
	Cursig  int16      // pr_cursig: the current signal
	_       [2]byte    // padding to pr_sigpend's alignment
	Sigpend uint64     // pr_sigpend: set of pending signals
	Sighold uint64     // pr_sighold: set of held signals
	Pid     int32      // pr_pid: current->pid on the CPU
	Ppid    int32      // pr_ppid
	Pgrp    int32      // pr_pgrp
	Sid     int32      // pr_sid
	Utime   timeval64  // pr_utime: user time
	Stime   timeval64  // pr_stime: system time
	Cutime  timeval64  // pr_cutime: cumulative user time
	Cstime  timeval64  // pr_cstime: cumulative system time
}

// elfSiginfo is struct elf_siginfo.
type elfSiginfo struct {
	Signo int32 // si_signo: signal number
	Code  int32 // si_code: extra code
	Errno int32 // si_errno: errno
}

// timeval64 is struct __kernel_old_timeval of a 64-bit kernel.
type timeval64 struct {
	Sec  int64 // tv_sec
	Usec int64 // tv_usec
}

// prRegOff is where pr_reg starts in the 64-bit struct elf_prstatus.
const prRegOff = int(unsafe.Sizeof(elfPrstatus{}))

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
	if n.Type != elf.NT_PRSTATUS {
		return nil, &FormatError{"NT_PRSTATUS note", n.Off, fmt.Sprintf("note type %d is not NT_PRSTATUS", n.Type)}
	}
	if len(n.Desc) < prRegOff+8*nregs {
		return nil, &FormatError{"NT_PRSTATUS note", n.Off, fmt.Sprintf("descriptor of %d bytes is shorter than the %d bytes of elf_prstatus registers", len(n.Desc), prRegOff+8*nregs)}
	}
	var h elfPrstatus
	if _, err := binary.Decode(n.Desc, bo, &h); err != nil {
		return nil, &FormatError{"NT_PRSTATUS note", n.Off, err.Error()}
	}
	p := &PRStatus{Cursig: h.Cursig, Pid: h.Pid, Regs: make([]uint64, nregs)}
	if _, err := binary.Decode(n.Desc[prRegOff:], bo, p.Regs); err != nil {
		return nil, &FormatError{"NT_PRSTATUS note", n.Off + int64(prRegOff), err.Error()}
	}
	return p, nil
}
