package elfdump_test

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmcore/vmcore/elfdump"
)

var update = flag.Bool("update", false, "rewrite testdata/dwarfunits/addr2line.golden by running binutils' addr2line")

// dwarfUnitsProg is a small -O2 -g ET_EXEC with inlined functions; see
// testdata/dwarfunits/README for how it was built.
var dwarfUnitsProg = filepath.Join("testdata", "dwarfunits", "prog")

// dwarfUnitsProgZlib is prog with its debug sections compressed
// (SHF_COMPRESSED, zlib) by objcopy, except .debug_line_str: read through
// Section.Data even from a mapped file.
var dwarfUnitsProgZlib = filepath.Join("testdata", "dwarfunits", "prog.zlib")

// addr2lineGolden holds `addr2line -a -f -i` output for goldenPCs.
var addr2lineGolden = filepath.Join("testdata", "dwarfunits", "addr2line.golden")

// goldenPCs are pcs of prog in both of its units, chosen from
// `objdump -d` and addr2line: plain lines, and chains of one and two
// inlined calls, one of them into a function of another file (util.h).
var goldenPCs = []uint64{
	0x401050, // main's entry (main is in .text.startup, a second range of main.c's unit)
	0x401083, // main, a line with a discriminator
	0x40109d, // scale inlined into main
	0x4010a9, // clamp (util.h) inlined into scale inlined into main
	0x4010b5, // the same chain, another line of clamp
	0x4010c7, // main after the loop
	0x4011d2, // report, not inlined
	0x4011f0, // checksum's entry (util.c)
	0x401200, // mix inlined into checksum
	0x401209, // rotl inlined into mix inlined into checksum
	0x40120c, // mix again, after rotl
	0x401222, // clamp (util.h) inlined into checksum
	0x40122f, // the same, another line
	0x401224, // checksum's return
}

// dwarfUnitsReaders are the two ways to hand NewDWARFUnits the bytes: an
// *os.File, which is mapped, and a bytes.Reader, read through
// Section.Data. Every test runs against both.
var dwarfUnitsReaders = []struct {
	name string
	open func(t *testing.T, b []byte) io.ReaderAt
}{
	{"mmap", func(t *testing.T, b []byte) io.ReaderAt {
		p := filepath.Join(t.TempDir(), "elf")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}},
	{"bytes", func(t *testing.T, b []byte) io.ReaderAt { return bytes.NewReader(b) }},
}

// openDWARFUnits parses b as an ELF file read through r and prepares its
// DWARF units, closing them when the test ends.
func openDWARFUnits(t *testing.T, r io.ReaderAt) (*elfdump.DWARFUnits, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		t.Fatal(err)
	}
	u, err := elfdump.NewDWARFUnits(f, r)
	if err == nil {
		t.Cleanup(func() {
			if err := u.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	return u, err
}

// frame is one function at a pc, innermost first, as addr2line -f -i
// prints it: an inlined function's line is its own, its caller's is the
// call site.
type frame struct {
	Func string
	File string
	Line int
}

func (f frame) String() string { return fmt.Sprintf("%s %s:%d", f.Func, f.File, f.Line) }

// resolve finds the frames at pc in dw with Locations.
func resolve(dw *dwarf.Data, pc uint64) ([]frame, error) {
	locs, err := elfdump.Locations(dw, pc)
	var frames []frame
	for _, l := range locs {
		frames = append(frames, frame{l.Function, l.File, l.Line})
	}
	return frames, err
}

var discriminator = regexp.MustCompile(` \(discriminator \d+\)$`)

// parseAddr2line reads `addr2line -a -f -i` output: an address line, then
// function and file:line lines per frame, innermost first.
func parseAddr2line(t *testing.T, b []byte) map[uint64][]frame {
	out := map[uint64][]frame{}
	var pc uint64
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "0x"):
			v, err := strconv.ParseUint(l[2:], 16, 64)
			if err != nil {
				t.Fatalf("golden line %q: %v", l, err)
			}
			pc = v
		default:
			if i+1 >= len(lines) {
				t.Fatalf("golden function %q without a location", l)
			}
			i++
			loc := discriminator.ReplaceAllString(lines[i], "")
			colon := strings.LastIndexByte(loc, ':')
			n, err := strconv.Atoi(loc[colon+1:])
			if colon < 0 || err != nil {
				t.Fatalf("golden location %q", lines[i])
			}
			out[pc] = append(out[pc], frame{l, path.Clean(loc[:colon]), n})
		}
	}
	return out
}

// updateAddr2lineGolden reruns addr2line over goldenPCs.
func updateAddr2lineGolden(t *testing.T) {
	args := []string{"-a", "-f", "-i", "-e", dwarfUnitsProg}
	for _, pc := range goldenPCs {
		args = append(args, fmt.Sprintf("%#x", pc))
	}
	out, err := exec.Command("addr2line", args...).Output()
	if err != nil {
		t.Fatalf("addr2line: %v", err)
	}
	ver, _ := exec.Command("addr2line", "--version").Output()
	first, _, _ := strings.Cut(string(ver), "\n")
	hdr := fmt.Sprintf("# Generated by TestDWARFUnitsAddr2line -update, run from elfdump/, with %s:\n# addr2line %s\n",
		first, strings.Join(args, " "))
	if err := os.WriteFile(addr2lineGolden, append([]byte(hdr), out...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDWARFUnitsAddr2line resolves pcs of a small program through Unit and
// compares the functions, inlined ones included, and file:line with
// binutils' addr2line; prog.zlib has the same DWARF, compressed.
func TestDWARFUnitsAddr2line(t *testing.T) {
	if *update {
		updateAddr2lineGolden(t)
	}
	g, err := os.ReadFile(addr2lineGolden)
	if err != nil {
		t.Fatal(err)
	}
	golden := parseAddr2line(t, g)
	type variant struct {
		name string
		b    []byte
	}
	var variants []variant
	for _, bin := range []string{dwarfUnitsProg, dwarfUnitsProgZlib} {
		prog, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		variants = append(variants, variant{filepath.Base(bin), prog})
	}
	// As Clang builds without -gdwarf-aranges: every pc is answered from
	// the whole DWARF.
	noAranges := bytes.Clone(variants[0].b)
	renameSection(t, noAranges, ".debug_aranges", ".debug_arangez")
	variants = append(variants, variant{"prog-without-aranges", noAranges})
	for _, v := range variants {
		prog := v.b
		for _, rd := range dwarfUnitsReaders {
			t.Run(v.name+"/"+rd.name, func(t *testing.T) {
				u, err := openDWARFUnits(t, rd.open(t, prog))
				if err != nil {
					t.Fatal(err)
				}
				for _, pc := range goldenPCs {
					t.Run(fmt.Sprintf("%#x", pc), func(t *testing.T) {
						want, ok := golden[pc]
						if !ok {
							t.Fatalf("%#x is not in %s; run with -update", pc, addr2lineGolden)
						}
						dw, err := u.Unit(pc)
						if err != nil {
							t.Fatal(err)
						}
						got, err := resolve(dw, pc)
						if err != nil {
							t.Fatal(err)
						}
						for i := range got {
							got[i].File = path.Clean(got[i].File)
						}
						if fmt.Sprint(got) != fmt.Sprint(want) {
							t.Errorf("got  %v\nwant %v (addr2line)", got, want)
						}
					})
				}
			})
		}
	}
}

// TestDWARFUnitsNoUnit checks pcs that no .debug_aranges range covers.
func TestDWARFUnitsNoUnit(t *testing.T) {
	prog, err := os.ReadFile(dwarfUnitsProg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pc   uint64
	}{
		{"zero", 0},
		{"_start, no DWARF", 0x4010e0},
		{"one past checksum", 0x401235},
		{"one before main", 0x40104f},
		{"top of the address space", ^uint64(0)},
	}
	for _, rd := range dwarfUnitsReaders {
		u, err := openDWARFUnits(t, rd.open(t, prog))
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(rd.name+"/"+tt.name, func(t *testing.T) {
				if dw, err := u.Unit(tt.pc); !errors.Is(err, elfdump.ErrNoUnit) {
					t.Errorf("Unit(%#x) = %p, %v; want ErrNoUnit", tt.pc, dw, err)
				}
			})
		}
	}
}

// TestDWARFUnitsCache checks that pcs of one unit share its dwarf.Data,
// concurrently, and that Close ends the use.
func TestDWARFUnitsCache(t *testing.T) {
	prog, err := os.ReadFile(dwarfUnitsProg)
	if err != nil {
		t.Fatal(err)
	}
	for _, rd := range dwarfUnitsReaders {
		t.Run(rd.name, func(t *testing.T) {
			u, err := openDWARFUnits(t, rd.open(t, prog))
			if err != nil {
				t.Fatal(err)
			}
			datas := make([]*dwarf.Data, len(goldenPCs))
			var wg sync.WaitGroup
			for i, pc := range goldenPCs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					dw, err := u.Unit(pc)
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := resolve(dw, pc); err != nil {
						t.Error(err)
					}
					datas[i] = dw
				}()
			}
			wg.Wait()
			distinct := map[*dwarf.Data]bool{}
			for _, d := range datas {
				distinct[d] = true
			}
			if len(distinct) != 2 {
				t.Errorf("%d distinct dwarf.Data for the pcs of 2 units", len(distinct))
			}
			if err := u.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := u.Unit(goldenPCs[0]); !errors.Is(err, os.ErrClosed) {
				t.Errorf("Unit after Close: %v, want os.ErrClosed", err)
			}
		})
	}
}

// progSection returns the index and header of a section of prog.
func progSection(t testing.TB, b []byte, name string) (int, *elf.Section) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range f.Sections {
		if s.Name == name {
			return i, s
		}
	}
	t.Fatalf("no section %s", name)
	return 0, nil
}

// setSectionHeader overwrites one 64-bit field of a section header of an
// ELF64 little-endian file: at 0x18 sh_offset, at 0x20 sh_size.
func setSectionHeader(t testing.TB, b []byte, name string, field int, v uint64) {
	i, _ := progSection(t, b, name)
	shoff := binary.LittleEndian.Uint64(b[0x28:])
	shentsize := uint64(binary.LittleEndian.Uint16(b[0x3a:]))
	binary.LittleEndian.PutUint64(b[shoff+uint64(i)*shentsize+uint64(field):], v)
}

// inSection returns the bytes of a section of prog, for corrupting.
func inSection(t testing.TB, b []byte, name string) []byte {
	_, s := progSection(t, b, name)
	return b[s.Offset : s.Offset+s.FileSize]
}

// renameSection changes a section's name in the section name table.
func renameSection(t testing.TB, b []byte, name, to string) {
	_, s := progSection(t, b, ".shstrtab")
	tab := b[s.Offset : s.Offset+s.FileSize]
	i := bytes.Index(tab, append([]byte(name), 0))
	if i < 0 || len(to) != len(name) {
		t.Fatalf("cannot rename %s", name)
	}
	copy(tab[i:], to)
}

// Offsets in prog's sections: the second .debug_aranges set (util.c's)
// starts at 0x40 (after the first set's 4+60 bytes); util.c's unit is at
// 0x314 in the 0x502-byte .debug_info (readelf --debug-dump=aranges).
// mainPC is in main.c's unit, checksumPC in util.c's; mainPadPC is the
// padding after main, inside main.c's aranges range but in no function.
const (
	arangesSet2 = 0x40
	utilUnit    = 0x314
	mainPC      = 0x401050
	checksumPC  = 0x401200
	mainPadPC   = 0x4010d7
)

var le = binary.LittleEndian

// badDWARFUnitsInputs are damaged copies of prog, for
// TestDWARFUnitsBadInput and as seeds of FuzzDWARFUnits.
var badDWARFUnitsInputs = []struct {
	name    string
	corrupt func(t testing.TB, b []byte)
	newErr  string // substring of NewDWARFUnits' error; "" for success
	pc      uint64 // with newErr "", Unit(pc) must fail...
	unitErr string // ...with this in the error
	noUnit  bool   // ...and errors.Is ErrNoUnit
	okPC    uint64 // and Unit(okPC) must still work (0: not checked)
}{
	{name: "relocatable object",
		corrupt: func(t testing.TB, b []byte) { le.PutUint16(b[16:], uint16(elf.ET_REL)) },
		newErr:  "ET_REL"},
	{name: "no .debug_info",
		corrupt: func(t testing.TB, b []byte) { renameSection(t, b, ".debug_info", ".debug_infx") },
		newErr:  "no .debug_info"},
	{name: "aranges first set length past the section",
		corrupt: func(t testing.TB, b []byte) { le.PutUint32(inSection(t, b, ".debug_aranges"), 0x7fffffff) },
		newErr:  "runs past the section's end"},
	{name: "aranges 64-bit length past the section",
		corrupt: func(t testing.TB, b []byte) {
			ar := inSection(t, b, ".debug_aranges")
			le.PutUint32(ar, 0xffffffff)
			le.PutUint64(ar[4:], 1<<63)
		},
		newErr: "runs past the section's end"},
	{name: "aranges reserved length",
		corrupt: func(t testing.TB, b []byte) { le.PutUint32(inSection(t, b, ".debug_aranges"), 0xfffffff5) },
		newErr:  "reserved unit_length"},
	{name: "aranges truncated to 3 bytes",
		corrupt: func(t testing.TB, b []byte) { setSectionHeader(t, b, ".debug_aranges", 0x20, 3) },
		newErr:  "too few for a set header"},
	{name: "aranges truncated in the second set",
		corrupt: func(t testing.TB, b []byte) { setSectionHeader(t, b, ".debug_aranges", 0x20, arangesSet2+20) },
		pc:      checksumPC, unitErr: "runs past the section's end", noUnit: true, okPC: mainPC},
	{name: "aranges garbage",
		corrupt: func(t testing.TB, b []byte) {
			ar := inSection(t, b, ".debug_aranges")
			for i := range ar {
				ar[i] = byte(i*7 + 3)
			}
		},
		newErr: "no usable .debug_aranges set"},
	{name: "aranges empty",
		corrupt: func(t testing.TB, b []byte) { setSectionHeader(t, b, ".debug_aranges", 0x20, 0) },
		pc:      mainPC, unitErr: "no DWARF compile unit", noUnit: true},
	{name: "aranges version 3",
		corrupt: func(t testing.TB, b []byte) { le.PutUint16(inSection(t, b, ".debug_aranges")[arangesSet2+4:], 3) },
		pc:      checksumPC, unitErr: "version 3, want 2", noUnit: true, okPC: mainPC},
	{name: "aranges address size 3",
		corrupt: func(t testing.TB, b []byte) { inSection(t, b, ".debug_aranges")[arangesSet2+10] = 3 },
		pc:      checksumPC, unitErr: "address size 3", noUnit: true, okPC: mainPC},
	{name: "aranges segment selector",
		corrupt: func(t testing.TB, b []byte) { inSection(t, b, ".debug_aranges")[arangesSet2+11] = 8 },
		pc:      checksumPC, unitErr: "segment selector size 8", noUnit: true, okPC: mainPC},
	{name: "aranges info offset past .debug_info",
		corrupt: func(t testing.TB, b []byte) {
			le.PutUint32(inSection(t, b, ".debug_aranges")[arangesSet2+6:], 0x10000000)
		},
		pc: checksumPC, unitErr: "outside the 0x502-byte .debug_info", noUnit: true, okPC: mainPC},
	{name: "aranges info offset inside a unit",
		corrupt: func(t testing.TB, b []byte) {
			le.PutUint32(inSection(t, b, ".debug_aranges")[arangesSet2+6:], utilUnit+0x20)
		},
		pc: checksumPC, unitErr: "offset 0x334", okPC: mainPC},
	{name: "aranges range wraps the address space",
		corrupt: func(t testing.TB, b []byte) {
			le.PutUint64(inSection(t, b, ".debug_aranges")[arangesSet2+16+8:], ^uint64(0))
		},
		okPC: ^uint64(0) - 1},
	{name: "info unit length past the section",
		corrupt: func(t testing.TB, b []byte) { le.PutUint32(inSection(t, b, ".debug_info")[utilUnit:], 0x7fffffff) },
		pc:      checksumPC, unitErr: "offset 0x314: unit_length 0x7fffffff runs past", okPC: mainPC},
	{name: "info unit reserved length",
		corrupt: func(t testing.TB, b []byte) { le.PutUint32(inSection(t, b, ".debug_info")[utilUnit:], 0xfffffff0) },
		pc:      checksumPC, unitErr: "reserved unit_length", okPC: mainPC},
	{name: "info unit 64-bit length truncated",
		corrupt: func(t testing.TB, b []byte) {
			le.PutUint32(inSection(t, b, ".debug_info")[utilUnit:], 0xffffffff)
			setSectionHeader(t, b, ".debug_info", 0x20, utilUnit+8)
		},
		pc: checksumPC, unitErr: "truncated 64-bit unit_length", okPC: mainPC},
	{name: "info unit version 0",
		corrupt: func(t testing.TB, b []byte) { le.PutUint16(inSection(t, b, ".debug_info")[utilUnit+4:], 0) },
		pc:      checksumPC, unitErr: "offset 0x314", okPC: mainPC},
	{name: "info unit abbrev offset past .debug_abbrev",
		corrupt: func(t testing.TB, b []byte) { le.PutUint32(inSection(t, b, ".debug_info")[utilUnit+8:], 0x7ffffff0) },
		pc:      checksumPC, unitErr: "offset 0x314", okPC: mainPC},
	{name: "info unit starting with a const type",
		// Abbreviation 14 of util.c's table is a DW_TAG_const_type.
		corrupt: func(t testing.TB, b []byte) { inSection(t, b, ".debug_info")[utilUnit+12] = 14 },
		pc:      checksumPC, unitErr: "first entry is ConstType, not a compile unit", okPC: mainPC},
	{name: "info unit garbage",
		corrupt: func(t testing.TB, b []byte) {
			info := inSection(t, b, ".debug_info")
			for i := utilUnit + 12; i < len(info); i++ {
				info[i] = byte(i*13 + 5)
			}
		},
		pc: checksumPC, unitErr: "offset 0x314", okPC: mainPC},
	{name: "info section past the end of the file",
		corrupt: func(t testing.TB, b []byte) { setSectionHeader(t, b, ".debug_info", 0x18, 1<<40) },
		// Mapped: refused by NewDWARFUnits; read: by Unit.
		pc: checksumPC, unitErr: ".debug_info"},
	{name: "abbrev truncated",
		corrupt: func(t testing.TB, b []byte) { setSectionHeader(t, b, ".debug_abbrev", 0x20, 3) },
		pc:      checksumPC, unitErr: "offset 0x314"},
}

// TestDWARFUnitsBadInput runs badDWARFUnitsInputs: every damage must give
// an error that says what is wrong, and never a panic. Damage to one unit
// or one aranges set must not hide the other unit.
func TestDWARFUnitsBadInput(t *testing.T) {
	prog, err := os.ReadFile(dwarfUnitsProg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range badDWARFUnitsInputs {
		for _, rd := range dwarfUnitsReaders {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				b := bytes.Clone(prog)
				tt.corrupt(t, b)
				u, err := openDWARFUnits(t, rd.open(t, b))
				if tt.newErr != "" || err != nil {
					if tt.newErr == "" && tt.unitErr != "" && strings.Contains(err.Error(), tt.unitErr) {
						t.Log(err)
						return // damage a mapped file shows at once
					}
					if err == nil || !strings.Contains(err.Error(), tt.newErr) || tt.newErr == "" {
						t.Fatalf("NewDWARFUnits: %v, want an error with %q", err, tt.newErr)
					}
					t.Log(err)
					return
				}
				if tt.unitErr != "" {
					dw, err := u.Unit(tt.pc)
					if err == nil || !strings.Contains(err.Error(), tt.unitErr) {
						t.Errorf("Unit(%#x) = %p, %v; want an error with %q", tt.pc, dw, err, tt.unitErr)
					}
					if errors.Is(err, elfdump.ErrNoUnit) != tt.noUnit {
						t.Errorf("Unit(%#x): %v; ErrNoUnit: %v, want %v", tt.pc, err, !tt.noUnit, tt.noUnit)
					}
					t.Log(err)
				}
				if tt.okPC != 0 {
					dw, err := u.Unit(tt.okPC)
					if err != nil {
						t.Fatalf("Unit(%#x) beside the damage: %v", tt.okPC, err)
					}
					if _, err := dw.Reader().Next(); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
}

// vmlinux is a Debian 6.1 debug vmlinux (DWARF 5, 174 MB of .debug_info,
// .rela.debug_* from --emit-relocs), present on developer machines only.
var vmlinux = filepath.Join("..", ".cache", "kernels", "6.1.0-56-amd64", "usr", "lib", "debug", "boot", "vmlinux-6.1.0-56-amd64")

// TestDWARFUnitsVmlinux compares, for 20 functions of a real vmlinux spread
// over its symbol table, the unit name, the line and the inline chain that
// Unit gives with those of the whole DWARF from (*elf.File).DWARF, and logs
// how long each way takes.
func TestDWARFUnitsVmlinux(t *testing.T) {
	if _, err := os.Stat(vmlinux); err != nil {
		t.Skipf("no %s", vmlinux)
	}
	file, err := os.Open(vmlinux)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	f, err := elf.NewFile(file)
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var funcs []elf.Symbol
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Size >= 16 {
			funcs = append(funcs, s)
		}
	}
	var pcs []uint64
	var names []string
	for i := 0; i < 20; i++ {
		s := funcs[(2*i+1)*len(funcs)/40]
		pcs = append(pcs, s.Value+s.Size/3)
		names = append(names, s.Name)
	}

	start := time.Now()
	u, err := elfdump.NewDWARFUnits(f, file)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	tNew := time.Since(start)
	units := make([]*dwarf.Data, len(pcs))
	for i, pc := range pcs {
		if units[i], err = u.Unit(pc); err != nil {
			t.Fatalf("%s: %v", names[i], err)
		}
	}
	tUnits := time.Since(start) - tNew
	var got [][]frame
	for i, pc := range pcs {
		fr, err := resolve(units[i], pc)
		if err != nil {
			t.Fatalf("%s %#x: %v", names[i], pc, err)
		}
		got = append(got, fr)
	}
	tResolve := time.Since(start) - tNew - tUnits

	start = time.Now()
	full, err := f.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	tFull := time.Since(start)
	for i, pc := range pcs {
		cu, err := full.Reader().SeekPC(pc)
		if err != nil {
			t.Fatalf("%s %#x: whole DWARF: %v", names[i], pc, err)
		}
		ucu, err := units[i].Reader().Next()
		if err != nil {
			t.Fatal(err)
		}
		if a, b := ucu.Val(dwarf.AttrName), cu.Val(dwarf.AttrName); a != b {
			t.Errorf("%s %#x: unit %v, whole DWARF says %v", names[i], pc, a, b)
		}
		want, err := resolve(full, pc)
		if err != nil {
			t.Fatalf("%s %#x: whole DWARF: %v", names[i], pc, err)
		}
		if fmt.Sprint(got[i]) != fmt.Sprint(want) {
			t.Errorf("%s %#x:\n got %v\nwant %v", names[i], pc, got[i], want)
		}
		if testing.Verbose() {
			t.Logf("%s+%#x: %v", names[i], pc-funcs[(2*i+1)*len(funcs)/40].Value, got[i])
		}
	}
	t.Logf("NewDWARFUnits %v, 20 Unit calls %v, resolving in them %v; (*elf.File).DWARF %v",
		tNew, tUnits, tResolve, tFull)
}

// FuzzDWARFUnits feeds damaged copies of prog through a bytes.Reader (the
// Section.Data path; mapping behaves the same on the same bytes).
func FuzzDWARFUnits(f *testing.F) {
	prog, err := os.ReadFile(dwarfUnitsProg)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(prog)
	for _, tt := range badDWARFUnitsInputs {
		b := bytes.Clone(prog)
		tt.corrupt(f, b)
		f.Add(b)
	}
	pcs := append(slices.Clone(goldenPCs), 0, mainPadPC, ^uint64(0))
	f.Fuzz(func(t *testing.T, b []byte) {
		ef, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			return
		}
		u, err := elfdump.NewDWARFUnits(ef, bytes.NewReader(b))
		if err != nil {
			return
		}
		defer u.Close()
		for _, pc := range pcs {
			dw, err := u.Unit(pc)
			if err != nil {
				continue
			}
			if again, _ := u.Unit(pc); again != dw {
				t.Fatalf("Unit(%#x) is not cached", pc)
			}
			e, err := dw.Reader().Next()
			if err != nil || e == nil {
				t.Fatalf("Unit(%#x) returned a unit without a readable first entry: %v", pc, err)
			}
			elfdump.Locations(dw, pc)
		}
	})
}
