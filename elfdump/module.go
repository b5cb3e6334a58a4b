package elfdump

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Module is a kernel module object (.ko, ET_REL) with its DWARF made
// usable. In a relocatable object every section starts at address 0, so
// the DWARF of .text and of .text.unlikely name the same addresses;
// Module lays the allocated sections out one after another, as a linker
// would, and applies the debug sections' relocations against that layout,
// so that every address in its DWARF is unique.
type Module struct {
	DWARF *dwarf.Data
	// Symbols are the object's function and object symbols by name, with
	// their addresses in the layout.
	Symbols map[string]ModuleSymbol
	// BuildID is the object's GNU build-id, hex, or "".
	BuildID string
}

// ModuleSymbol is one symbol of a module object.
type ModuleSymbol struct {
	Section string
	Addr    uint64 // in Module's layout
	Size    uint64
}

// maxModuleSection bounds one section read from a module object.
const maxModuleSection = 256 << 20

// NewModule reads a module object's symbols and DWARF. Objects of the
// machines in moduleRelocations are relocated; others are refused.
// A malformed object is an error (ErrDecoderPanic where debug/elf or
// debug/dwarf panicked on it), never a panic.
func NewModule(f *elf.File) (m *Module, err error) {
	err = Guard("elfdump: module object", func() (err error) {
		m, err = newModule(f)
		return err
	})
	return m, err
}

func newModule(f *elf.File) (*Module, error) {
	if f.Type != elf.ET_REL {
		return nil, fmt.Errorf("elfdump: module object is %v, not ET_REL", f.Type)
	}
	widths, ok := moduleRelocations[f.Machine]
	if !ok {
		return nil, fmt.Errorf("elfdump: module relocations for %v are not supported", f.Machine)
	}
	// Lay out the allocated sections.
	base := make([]uint64, len(f.Sections))
	var next uint64 = 0x1000
	for i, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Size > maxModuleSection {
			continue
		}
		align := max(s.Addralign, 1)
		next = (next + align - 1) / align * align
		base[i] = next
		next += s.Size
	}
	syms, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("elfdump: module symbols: %w", err)
	}
	m := &Module{Symbols: map[string]ModuleSymbol{}}
	for _, s := range syms {
		typ := elf.ST_TYPE(s.Info)
		if (typ != elf.STT_FUNC && typ != elf.STT_OBJECT) || int(s.Section) <= 0 || int(s.Section) >= len(f.Sections) {
			continue
		}
		m.Symbols[s.Name] = ModuleSymbol{Section: f.Sections[s.Section].Name, Addr: base[s.Section] + s.Value, Size: s.Size}
	}
	// Relocate every debug section against the layout. Symbols() drops
	// the null symbol, so relocation symbol i is syms[i-1].
	data := map[string][]byte{}
	for _, s := range f.Sections {
		if !strings.HasPrefix(s.Name, ".debug_") || s.Type == elf.SHT_RELA || s.Size > maxModuleSection {
			continue
		}
		b, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("elfdump: module section %s: %w", s.Name, err)
		}
		data[s.Name] = b
	}
	for _, rs := range f.Sections {
		if rs.Type != elf.SHT_RELA || int(rs.Info) >= len(f.Sections) {
			continue
		}
		target := f.Sections[rs.Info].Name
		b, ok := data[target]
		if !ok {
			continue
		}
		rels, err := rs.Data()
		if err != nil {
			return nil, fmt.Errorf("elfdump: module section %s: %w", rs.Name, err)
		}
		if err := relocate(b, rels, syms, base, f.ByteOrder, widths); err != nil {
			return nil, fmt.Errorf("elfdump: module section %s: %w", rs.Name, err)
		}
	}
	if data[".debug_info"] == nil {
		return m, errors.New("elfdump: the module object has no DWARF")
	}
	dw, err := dwarf.New(data[".debug_abbrev"], data[".debug_aranges"], data[".debug_frame"], data[".debug_info"],
		data[".debug_line"], data[".debug_pubnames"], data[".debug_ranges"], data[".debug_str"])
	if err != nil {
		return m, fmt.Errorf("elfdump: module DWARF: %w", err)
	}
	for _, name := range []string{".debug_addr", ".debug_line_str", ".debug_str_offsets", ".debug_rnglists", ".debug_loclists", ".debug_types"} {
		if b, ok := data[name]; ok {
			if err := dw.AddSection(name, b); err != nil {
				return m, fmt.Errorf("elfdump: module DWARF %s: %w", name, err)
			}
		}
	}
	m.DWARF = dw
	m.BuildID = BuildID(f)
	return m, nil
}

// moduleRelocations are, per machine, the RELA types debug sections use:
// absolute addresses of symbols, by the bytes each writes (0: none).
var moduleRelocations = map[elf.Machine]map[uint32]int{
	elf.EM_X86_64: {
		uint32(elf.R_X86_64_NONE): 0, uint32(elf.R_X86_64_64): 8,
		uint32(elf.R_X86_64_32): 4, uint32(elf.R_X86_64_32S): 4,
	},
	elf.EM_AARCH64: {
		uint32(elf.R_AARCH64_NONE): 0, uint32(elf.R_AARCH64_NULL): 0,
		uint32(elf.R_AARCH64_ABS64): 8, uint32(elf.R_AARCH64_ABS32): 4,
	},
}

// relocate applies RELA entries to a debug section: absolute addresses
// of symbols at their layout address, of the widths the machine's types
// write.
func relocate(b, rels []byte, syms []elf.Symbol, base []uint64, bo binary.ByteOrder, widths map[uint32]int) error {
	var rela elf.Rela64
	entSize := binary.Size(rela)
	for off := 0; off+entSize <= len(rels); off += entSize {
		if _, err := binary.Decode(rels[off:], bo, &rela); err != nil {
			return fmt.Errorf("Elf64_Rela at %#x: %w", off, err)
		}
		roff, add := rela.Off, rela.Addend
		si, typ := elf.R_SYM64(rela.Info), elf.R_TYPE64(rela.Info)
		width, ok := widths[typ]
		if !ok {
			return fmt.Errorf("relocation type %d at %#x in a debug section", typ, roff)
		}
		if si == 0 || uint64(si) > uint64(len(syms)) || width == 0 {
			continue
		}
		sym := syms[si-1]
		var s uint64
		if int(sym.Section) > 0 && int(sym.Section) < len(base) {
			s = base[sym.Section] + sym.Value
		} else {
			s = sym.Value
		}
		v := uint64(int64(s) + add)
		if uint64(len(b)) < uint64(width) || roff > uint64(len(b)-width) {
			return fmt.Errorf("relocation at %#x outside the section", roff)
		}
		if width == 8 {
			bo.PutUint64(b[roff:], v)
		} else {
			bo.PutUint32(b[roff:], uint32(v))
		}
	}
	return nil
}
