package analyzer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/vmcore/vmcore/vmcore"
)

// Limits on a System.map: a distribution kernel's has some 150,000 lines
// (5 MB); a line is an address, a type letter and a name.
const (
	maxSystemMap     = 256 << 20
	maxSystemMapSyms = 1 << 22
	maxSystemMapLine = 4096
)

// ErrNotSystemMap means a file is not a System.map (for example a vmlinux,
// which OpenVmlinux reads).
var ErrNotSystemMap = errors.New("analyzer: not a System.map")

// SystemMap is a kernel's System.map: every symbol of its image at its
// link-time address (nm's output), which a kernel without DWARF at hand
// and without CONFIG_KALLSYMS_ALL (Debian's arm64 5.10 and 6.1) or without
// VMCOREINFO's kallsyms (before 6.0) still needs for its data symbols.
// Debian ships it in the linux-image-*-dbg package, as
// /usr/lib/debug/boot/System.map-RELEASE; the image package's own is a
// one-line placeholder, which OpenSystemMap refuses.
type SystemMap struct {
	Path string
	// Release is the kernel release its file name states
	// (System.map-RELEASE), or "" when the name says none.
	Release string

	once    sync.Once
	syms    []Symbol
	loadErr error
}

// OpenSystemMap opens a System.map file, checking its first lines: it
// returns an error wrapping ErrNotSystemMap for a file that is not one.
// The rest is read when an analysis needs the symbols (not when a cached
// profile of the build answers).
func OpenSystemMap(path string) (*SystemMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("analyzer: %w", err)
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("analyzer: reading %s: %w", path, err)
	}
	head = head[:n]
	if i := bytes.LastIndexByte(head, '\n'); i >= 0 && n == 4096 {
		head = head[:i+1] // whole lines only
	}
	if _, err := ParseSystemMap(bytes.NewReader(head)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m := &SystemMap{Path: path}
	m.Release, _ = strings.CutPrefix(filepath.Base(path), "System.map-")
	if m.Release == filepath.Base(path) {
		m.Release = ""
	}
	return m, nil
}

// load reads the whole map, once.
func (m *SystemMap) load() error {
	m.once.Do(func() {
		if m.syms != nil {
			return
		}
		f, err := os.Open(m.Path)
		if err != nil {
			m.loadErr = fmt.Errorf("analyzer: %w", err)
			return
		}
		defer f.Close()
		full, err := ParseSystemMap(f)
		if err != nil {
			m.loadErr = fmt.Errorf("%s: %w", m.Path, err)
			return
		}
		m.syms = full.syms
	})
	return m.loadErr
}

// ParseSystemMap reads System.map lines ("ffffffff81000000 T _text"),
// skipping undefined symbols. It reads at most maxSystemMap bytes and
// fails on the first line that is not a symbol, wrapping ErrNotSystemMap,
// so a binary file is refused within a few bytes.
func ParseSystemMap(r io.Reader) (*SystemMap, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxSystemMap))
	sc.Buffer(make([]byte, 0, 4096), maxSystemMapLine)
	m := &SystemMap{}
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		f := bytes.Fields(line)
		if len(f) < 3 || len(f[1]) != 1 {
			return nil, fmt.Errorf("%w: line %d is not \"ADDRESS TYPE NAME\"", ErrNotSystemMap, n)
		}
		addr, err := strconv.ParseUint(string(f[0]), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: address %q", ErrNotSystemMap, n, f[0])
		}
		typ := f[1][0]
		if typ == 'U' || typ == 'u' || typ == 'w' || typ == 'v' {
			continue // undefined or weak undefined: no address
		}
		name := string(f[2])
		if addr == ^uint64(0) && strings.HasPrefix(name, "The") {
			// Debian's linux-image package ships "ffffffffffffffff B The
			// real System.map is in the linux-image-<version>-dbg package".
			return nil, fmt.Errorf("%w: it is Debian's placeholder; the real System.map is in the linux-image-RELEASE-dbg package, under /usr/lib/debug/boot", ErrNotSystemMap)
		}
		if len(m.syms) >= maxSystemMapSyms {
			return nil, fmt.Errorf("analyzer: System.map has more than %d symbols", maxSystemMapSyms)
		}
		m.syms = append(m.syms, Symbol{Name: name, Addr: addr, Type: typ})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: a line is longer than %d bytes", ErrNotSystemMap, maxSystemMapLine)
		}
		return nil, fmt.Errorf("analyzer: reading System.map: %w", err)
	}
	if len(m.syms) == 0 {
		return nil, fmt.Errorf("%w: no symbols", ErrNotSystemMap)
	}
	return m, nil
}

// Len is the number of symbols, reading the whole map (0 when it cannot).
func (m *SystemMap) Len() int {
	m.load()
	return len(m.syms)
}

// symbols returns the map's symbols moved to where the dump's kernel had
// them, after checking that the map is of that kernel: its release, when
// the file name states one, and every symbol VMCOREINFO locates (_stext,
// init_uts_ns, swapper_pg_dir, the printk ring ...) where the map, slid by
// KERNELOFFSET, puts it. A map of another build is refused: its addresses
// would read the wrong memory without any error.
func (m *SystemMap) symbols(d *vmcore.Dump) (*symbolTable, error) {
	vi := d.Info
	if vi == nil {
		return nil, errors.New("analyzer: the dump has no VMCOREINFO to place the System.map (KASLR)")
	}
	if m.Release != "" && vi.OSRelease() != "" && m.Release != vi.OSRelease() {
		return nil, fmt.Errorf("analyzer: %s is of release %s, the dump's kernel is %s", m.Path, m.Release, vi.OSRelease())
	}
	if err := m.load(); err != nil {
		return nil, err
	}
	slide := kaslrOf(d)
	syms := make([]Symbol, len(m.syms))
	for i, s := range m.syms {
		s.Addr = slide.apply(s.Addr)
		syms[i] = s
	}
	t := newSymbolTable(syms, true)
	checked := 0
	for _, key := range vi.Keys() {
		name, ok := strings.CutPrefix(key, "SYMBOL(")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, ")")
		want, _ := vi.Symbol(name)
		got, ok := t.Lookup(name)
		if !ok || strings.HasPrefix(name, "mem_section") || name == "vmemmap" {
			continue // macros and pointers' values, not symbols
		}
		if got != want {
			return nil, fmt.Errorf("analyzer: %s is not the dump's kernel: it puts %s at %#x (with KERNELOFFSET %#x), VMCOREINFO at %#x", m.Path, name, got, slide.offset, want)
		}
		checked++
	}
	if checked < 2 {
		return nil, fmt.Errorf("analyzer: %s cannot be checked against the dump: only %d of its symbols are in VMCOREINFO", m.Path, checked)
	}
	return t, nil
}

// openKernelWithSystemMap prepares introspection with symbols from a
// System.map and types from the dump's BTF.
func openKernelWithSystemMap(ctx context.Context, d *vmcore.Dump, sm *SystemMap, profileDir string) (*Kernel, error) {
	m := kmem{d, ctx}
	if k, ok := loadProfile(m, profileDir, SourceSystemMap, func(k *Kernel) (Types, error) { return loadBTFTypes(m, k.Syms) }); ok {
		return k, nil
	}
	syms, err := sm.symbols(d)
	if err != nil {
		return nil, err
	}
	types, err := loadBTFTypes(m, syms)
	if err != nil {
		return nil, err
	}
	k := &Kernel{Dump: d, Syms: syms, Source: SourceSystemMap, mem: m, profileDir: profileDir}
	k.rec = newRecordingTypes(profileTypes{}, func() (Types, error) { return types, nil })
	k.Types = k.rec
	return k, nil
}
