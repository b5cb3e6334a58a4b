package elfdump_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/elfdump"
	"github.com/vmcore/vmcore/internal/dumpwrite"
)

// TestGuard checks that Guard passes fn's result through and turns every
// kind of panic a decoder raises into an error naming what was decoded.
func TestGuard(t *testing.T) {
	errOwn := errors.New("own error")
	tests := []struct {
		name      string
		fn        func() error
		wantIs    error  // errors.Is target, nil for no error
		wantInMsg string // substring of the message
	}{
		{"no error", func() error { return nil }, nil, ""},
		{"fn's error unchanged", func() error { return errOwn }, errOwn, "own error"},
		{"panic with a string", func() error { panic("bad abbrev") }, elfdump.ErrDecoderPanic, "bad abbrev"},
		{"index out of range", func() error {
			var b []byte
			i := 5
			return errors.New(string(b[i])) // what debug/dwarf does with an offset from the input
		}, elfdump.ErrDecoderPanic, "index out of range"},
		{"nil pointer", func() error {
			if noSection().Size > 0 {
				return errors.New("unreachable")
			}
			return nil
		}, elfdump.ErrDecoderPanic, "nil pointer"},
		{"panic with an error", func() error { panic(io.ErrUnexpectedEOF) }, elfdump.ErrDecoderPanic, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := elfdump.Guard("test structure", tt.fn)
			if tt.wantIs == nil {
				if err != nil {
					t.Fatalf("Guard = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("Guard = %v, want one wrapping %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("Guard = %q, want it to contain %q", err, tt.wantInMsg)
			}
			if tt.wantIs == elfdump.ErrDecoderPanic && !strings.HasPrefix(err.Error(), "test structure: ") {
				t.Errorf("Guard = %q, want it to name what was decoded", err)
			}
		})
	}
}

// TestSafeELFFileHostile feeds NewSafeELFFile and its decoding methods
// damaged copies of a real-format ELF file: each is an error or a file,
// never a panic.
func TestSafeELFFileHostile(t *testing.T) {
	good := dumpwrite.ELF([]dumpwrite.Note{{Name: "CORE", Type: elf.NT_PRSTATUS, Desc: make([]byte, 336)}},
		[]dumpwrite.Segment{{Paddr: 0x1000, Data: make([]byte, 4096)}}, dumpwrite.ELFOptions{ForcePNXNUM: true})
	inputs := map[string][]byte{
		"empty":       nil,
		"magic only":  []byte(elf.ELFMAG),
		"truncated":   good[:70],
		"whole":       good,
		"shoff at -1": patch(good, 40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
		"shnum huge":  patch(good, 60, 0xff, 0xff),
		"shstrndx 77": patch(good, 62, 77, 0),
	}
	for name, b := range inputs {
		t.Run(name, func(t *testing.T) {
			f, err := elfdump.NewSafeELFFile(bytes.NewReader(b))
			if err != nil {
				return
			}
			f.Symbols()
			f.DWARF()
			elfdump.BuildID(f.File)
		})
	}
}

// noSection is what elf.File.Section returns for a missing section.
func noSection() *elf.Section { return nil }

func patch(b []byte, off int, with ...byte) []byte {
	out := bytes.Clone(b)
	copy(out[off:], with)
	return out
}
