package elfdump

import (
	"encoding/binary"
	"testing"
	"unsafe"
)

// TestNoteLayout pins the note mirrors to the C layout of a 64-bit target:
// Elf64_Nhdr is 12 bytes, and pr_reg starts 112 bytes into struct
// elf_prstatus (pr_cursig at 12, pr_pid at 32), with no padding of Go's.
func TestNoteLayout(t *testing.T) {
	var p elfPrstatus
	checks := []struct {
		what      string
		got, want int
	}{
		{"Elf64_Nhdr size", binary.Size(noteHeader{}), 12},
		{"Elf64_Nhdr Go size", noteHeaderSize, 12},
		{"elf_prstatus up to pr_reg", binary.Size(p), 112},
		{"pr_reg offset", prRegOff, 112},
		{"pr_cursig offset", int(unsafe.Offsetof(p.Cursig)), 12},
		{"pr_pid offset", int(unsafe.Offsetof(p.Pid)), 32},
		{"Elf64_Phdr size", int(prog64Size), 56},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
}
