package analyzer

import (
	"bytes"
	"context"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/ulikunitz/xz"

	"github.com/vmcore/vmcore/elfdump"
	"github.com/vmcore/vmcore/vmcore"
)

// ErrBuildIDMismatch means a vmlinux is not the build of the crashed kernel:
// its symbols and types would give wrong answers without any error.
var ErrBuildIDMismatch = errors.New("analyzer: vmlinux is not the crashed kernel's build")

// Vmlinux is a kernel image with debuginfo (Debian's -dbg package, a
// /usr/lib/debug tree, or debuginfod): ELF symbols, BTF and DWARF.
type Vmlinux struct {
	Path    string
	BuildID string
	f       *elfdump.SafeELFFile
	r       io.ReaderAt // f's bytes
	closers []io.Closer

	unitsOnce sync.Once
	units     *elfdump.DWARFUnits
	unitsErr  error

	dwOnce sync.Once
	dw     *dwarf.Data
	dwErr  error
}

// OpenVmlinux opens a vmlinux, plain or xz-compressed (decompressed once
// into a temporary file in tempDir, "" for the system's, which costs a full
// pass: ~1 minute for Debian's 600 MB image). Only headers are read here;
// DWARF is parsed on first use.
//
// A malformed image is an error (wrapping elfdump.ErrDecoderPanic where
// the decompressor or debug/elf panicked on it), never a panic.
func OpenVmlinux(path, tempDir string) (*Vmlinux, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("analyzer: %w", err)
	}
	v := &Vmlinux{Path: path, closers: []io.Closer{f}}
	var magic [6]byte
	f.ReadAt(magic[:], 0)
	var r io.ReaderAt = f
	if bytes.Equal(magic[:], []byte{0xfd, '7', 'z', 'X', 'Z', 0}) {
		tmp, err := os.CreateTemp(tempDir, "vmlinux-*")
		if err != nil {
			v.Close()
			return nil, err
		}
		v.closers = append(v.closers, tmp, removeOnClose(tmp.Name()))
		err = elfdump.Guard("xz", func() error {
			xr, err := xz.NewReader(f)
			if err == nil {
				_, err = io.Copy(tmp, xr)
			}
			return err
		})
		if err != nil {
			v.Close()
			return nil, fmt.Errorf("analyzer: decompressing %s: %w", path, err)
		}
		r = tmp
	}
	v.r = r
	if v.f, err = elfdump.NewSafeELFFile(r); err != nil {
		v.Close()
		return nil, fmt.Errorf("analyzer: %s: %w", path, err)
	}
	v.BuildID = elfdump.BuildID(v.f.File)
	return v, nil
}

type removeOnClose string

func (r removeOnClose) Close() error { return os.Remove(string(r)) }

// Close releases the files.
func (v *Vmlinux) Close() error {
	for i := len(v.closers) - 1; i >= 0; i-- {
		v.closers[i].Close()
	}
	v.closers = nil
	return nil
}

// newELFSymbols reads vmlinux's .symtab, shifted by the KASLR offset.
func newELFSymbols(f *elfdump.SafeELFFile, slide kaslr) (*symbolTable, error) {
	raw, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("analyzer: vmlinux symbol table: %w", err)
	}
	syms := make([]Symbol, 0, len(raw))
	for _, s := range raw {
		typ := elf.ST_TYPE(s.Info)
		if s.Name == "" || typ == elf.STT_SECTION || typ == elf.STT_FILE || s.Section == elf.SHN_UNDEF {
			continue
		}
		addr := slide.apply(s.Value)
		t := byte('d')
		if typ == elf.STT_FUNC {
			t = 't'
		}
		syms = append(syms, Symbol{Name: s.Name, Addr: addr, Size: s.Size, Type: t})
	}
	return newSymbolTable(syms, false), nil
}

// OpenKernelWithVmlinux prepares introspection with a vmlinux: its symbol
// table (shifted by KASLR) and its types (the .BTF section when present,
// DWARF otherwise); DWARF also gives file:line and inlined frames. It
// refuses a vmlinux whose build-id differs from the dump's.
func openKernelWithVmlinux(ctx context.Context, d *vmcore.Dump, v *Vmlinux, profileDir string) (*Kernel, error) {
	if d.Info == nil {
		return nil, errors.New("analyzer: the dump has no VMCOREINFO to place the vmlinux (KASLR)")
	}
	if want := d.Info.BuildID(); want != "" && v.BuildID != "" && !strings.EqualFold(want, v.BuildID) {
		return nil, fmt.Errorf("%w: %s has build-id %s, the dump's kernel %s", ErrBuildIDMismatch, v.Path, v.BuildID, want)
	}
	m := kmem{d, ctx}
	if k, ok := loadProfile(m, profileDir, SourceDWARF, func(*Kernel) (Types, error) { return v.types() }); ok {
		k.vmlinux = v
		return k, nil
	}
	syms, err := newELFSymbols(v.f, kaslrOf(d))
	if err != nil {
		return nil, err
	}
	types, err := v.types()
	if err != nil {
		return nil, err
	}
	k := &Kernel{Dump: d, Syms: syms, Source: SourceDWARF, mem: m, profileDir: profileDir, vmlinux: v}
	k.rec = newRecordingTypes(profileTypes{}, func() (Types, error) { return types, nil })
	k.Types = k.rec
	return k, nil
}

// types reads the vmlinux's types: the .BTF section when present (fast),
// DWARF otherwise.
func (v *Vmlinux) types() (Types, error) {
	if s := v.f.Section(".BTF"); s != nil {
		var raw []byte
		err := elfdump.Guard("analyzer: .BTF section", func() (err error) {
			raw, err = s.Data() // decompresses an SHF_COMPRESSED section
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("analyzer: reading .BTF: %w", err)
		}
		return NewBTFTypes(raw)
	}
	dw, err := v.dwarf()
	if err != nil {
		return nil, err
	}
	return newDWARFTypes(dw), nil
}

// dwarfUnits opens the vmlinux's DWARF for reading by compile unit, over
// the mapped file (elfdump.DWARFUnits), once.
func (v *Vmlinux) dwarfUnits() (*elfdump.DWARFUnits, error) {
	v.unitsOnce.Do(func() {
		v.units, v.unitsErr = elfdump.NewDWARFUnits(v.f.File, v.r)
		if v.unitsErr == nil {
			v.closers = append(v.closers, v.units)
		}
	})
	return v.units, v.unitsErr
}

// unitSource gives the DWARF of the compile unit holding a link-time
// address: that unit alone, found through .debug_aranges in the mapped
// file, so a frame's file:line costs the pages of its unit rather than a
// read of the whole .debug_info (170 MB, seconds, on a distribution
// kernel). An address aranges does not cover has no DWARF at all (static
// call trampolines, paravirt stubs: the whole DWARF has no unit for them
// either); an image without aranges (Clang's default) is answered from
// the whole DWARF, mapped.
func (v *Vmlinux) unitSource() (func(uint64) (*dwarf.Data, error), error) {
	if u, err := v.dwarfUnits(); err == nil {
		return u.Unit, nil
	}
	if _, err := v.dwarf(); err != nil {
		return nil, err
	}
	return func(uint64) (*dwarf.Data, error) { return v.dwarf() }, nil
}

// dwarf is the vmlinux's whole DWARF, for types when it has no .BTF: over
// the mapped file when it can be (0.3 s for Debian's vmlinux), else read
// by debug/elf (1.2 s, copying every section).
func (v *Vmlinux) dwarf() (*dwarf.Data, error) {
	v.dwOnce.Do(func() {
		if u, err := v.dwarfUnits(); err == nil {
			if v.dw, v.dwErr = u.Whole(); v.dwErr == nil {
				return
			}
		}
		v.dw, v.dwErr = v.f.DWARF()
		if v.dwErr != nil {
			v.dwErr = fmt.Errorf("analyzer: DWARF of %s: %w", v.Path, v.dwErr)
		}
	})
	return v.dw, v.dwErr
}
