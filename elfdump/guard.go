package elfdump

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
)

// ErrDecoderPanic is wrapped by the errors Guard returns for a decoder
// that panicked: the input was malformed in a way the decoder did not
// check. Callers match it with errors.Is to tell a hostile or damaged file
// from an I/O failure.
var ErrDecoderPanic = errors.New("decoder panicked on malformed input")

// Guard runs fn, a call into a decoder of untrusted bytes that may report
// malformed input by panicking instead of returning an error: debug/elf
// and debug/dwarf index slices with offsets read from the file, and
// third-party decompressors and the BTF parser have done the same. A panic
// in fn becomes an error wrapping ErrDecoderPanic, prefixed with what (what
// was being decoded, e.g. "elfdump: DWARF unit at .debug_info offset
// 0x1c") and ending with the panic's value; fn's own error is returned
// unchanged. A bad file thus fails one step of an analysis, never the
// process. fn returns its results by assigning the caller's variables;
// after a panic, the caller uses none of them.
func Guard(what string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %w: %v", what, ErrDecoderPanic, r)
		}
	}()
	return fn()
}

// SafeELFFile is an *elf.File whose methods that decode the file's
// contents (symbol tables, DWARF) run under Guard, like cilium/ebpf's
// internal.SafeELFFile. Other methods are elf.File's: Section.Data on a
// hostile compressed section can still panic, so callers that read section
// data of an untrusted file do it under Guard themselves.
type SafeELFFile struct {
	*elf.File
}

// NewSafeELFFile is elf.NewFile under Guard: it reads the ELF header and
// the section and program header tables of r, and returns an error, never
// a panic, for a malformed file.
func NewSafeELFFile(r io.ReaderAt) (*SafeELFFile, error) {
	var f *elf.File
	err := Guard("elfdump: ELF headers", func() (err error) {
		f, err = elf.NewFile(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &SafeELFFile{f}, nil
}

// Symbols is elf.File.Symbols under Guard.
func (f *SafeELFFile) Symbols() (syms []elf.Symbol, err error) {
	err = Guard("elfdump: ELF symbol table", func() (err error) {
		syms, err = f.File.Symbols()
		return err
	})
	return syms, err
}

// DWARF is elf.File.DWARF under Guard: it reads and decompresses every
// debug section and parses the abbreviations, so it costs a full read of
// the debug sections.
func (f *SafeELFFile) DWARF() (d *dwarf.Data, err error) {
	err = Guard("elfdump: DWARF", func() (err error) {
		d, err = f.File.DWARF()
		return err
	})
	return d, err
}
