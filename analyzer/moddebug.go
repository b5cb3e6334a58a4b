package analyzer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/vmcore/vmcore/elfdump"
)

// Module debuginfo: a module's frames get file:line and inlined calls from
// its .ko with DWARF (Debian's linux-image-*-dbg installs them under
// /usr/lib/debug/lib/modules/<release>/, RHEL's kernel-debuginfo under the
// same path with .ko.debug names). Modules are found by name in
// Kernel.ModuleDirs; each is read once, when one of its frames needs it.

// maxModuleObject bounds a module object read into memory (decompressed).
const maxModuleObject = 512 << 20

// maxModuleDirEntries bounds the walk of a module directory tree.
const maxModuleDirEntries = 200000

type moduleDebugs struct {
	once  sync.Once
	paths map[string]string // module name → object path
	mu    sync.Mutex
	mods  map[string]*moduleDebug
	warns []string
}

type moduleDebug struct {
	obj   *elfdump.Module
	lines *lineTable
}

// moduleName turns a file name (nf-conntrack.ko.xz) into the module's
// name (nf_conntrack), or "" for a file that is no module object.
func moduleName(file string) string {
	for _, suf := range []string{".ko.debug", ".ko.xz", ".ko.zst", ".ko"} {
		if n, ok := strings.CutSuffix(file, suf); ok {
			return strings.ReplaceAll(n, "-", "_")
		}
	}
	return ""
}

func (md *moduleDebugs) index(dirs []string) {
	md.paths = map[string]string{}
	seen := 0
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if seen++; seen > maxModuleDirEntries {
				return filepath.SkipAll
			}
			if n := moduleName(e.Name()); n != "" && !e.IsDir() {
				if _, dup := md.paths[n]; !dup {
					md.paths[n] = p
				}
			}
			return nil
		})
	}
}

// ModuleDebuginfoDirs are where distributions install the module
// debuginfo of a kernel release under debuginfo stores (such as
// /usr/lib/debug): <store>/lib/modules/<release> and
// <store>/usr/lib/debug/lib/modules/<release>.
func ModuleDebuginfoDirs(stores []string, release string) []string {
	if release == "" || strings.ContainsAny(release, "/\x00") {
		return nil
	}
	var dirs []string
	for _, s := range stores {
		dirs = append(dirs, filepath.Join(s, "lib", "modules", release), filepath.Join(s, "usr", "lib", "debug", "lib", "modules", release))
	}
	return dirs
}

// readModuleObject reads a module object, decompressing .xz and .zst.
func readModuleObject(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	switch {
	case strings.HasSuffix(path, ".xz"):
		if r, err = xz.NewReader(f); err != nil {
			return nil, err
		}
	case strings.HasSuffix(path, ".zst"):
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	b, err := io.ReadAll(io.LimitReader(r, maxModuleObject+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxModuleObject {
		return nil, fmt.Errorf("more than %d bytes", maxModuleObject)
	}
	return b, nil
}

// moduleDebug returns the DWARF of a loaded module, or nil when none is
// found (a reason is kept for ModuleWarnings).
func (k *Kernel) moduleDebug(name string) *moduleDebug {
	if len(k.ModuleDirs) == 0 {
		return nil
	}
	md := &k.modDebug
	md.once.Do(func() { md.index(k.ModuleDirs) })
	md.mu.Lock()
	defer md.mu.Unlock()
	if m, ok := md.mods[name]; ok {
		return m
	}
	if md.mods == nil {
		md.mods = map[string]*moduleDebug{}
	}
	m, err := loadModuleDebug(md.paths[name])
	if err != nil {
		md.warns = append(md.warns, fmt.Sprintf("module %s: %v", name, err))
	}
	md.mods[name] = m // nil too: look once
	return m
}

// loadModuleDebug reads the module object at path and its DWARF. A
// malformed object or compressed file is an error, never a panic: every
// step that decodes it runs under elfdump.Guard.
func loadModuleDebug(path string) (*moduleDebug, error) {
	if path == "" {
		return nil, errors.New("no object with DWARF in the module directories")
	}
	var b []byte
	err := elfdump.Guard("reading the module object", func() (err error) {
		b, err = readModuleObject(path) // decompresses .xz and .zst
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := elfdump.NewSafeELFFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	obj, err := elfdump.NewModule(f.File)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &moduleDebug{obj: obj, lines: &lineTable{unit: wholeDWARF(obj.DWARF)}}, nil
}

// ModuleWarnings says which modules on the stacks had no usable debuginfo.
func (k *Kernel) ModuleWarnings() []string {
	k.modDebug.mu.Lock()
	defer k.modDebug.mu.Unlock()
	return append([]string(nil), k.modDebug.warns...)
}

// moduleLocate gives the locations (inlined calls first) of a module
// frame, through the module object's symbol of the same name.
func (k *Kernel) moduleLocate(f Frame, lookupPC uint64) []Location {
	md := k.moduleDebug(f.Module)
	if md == nil || f.Symbol == "" {
		return nil
	}
	sym, ok := md.obj.Symbols[f.Symbol]
	if !ok {
		return nil
	}
	symStart := f.PC - f.Offset // runtime address of the symbol
	off := lookupPC - symStart
	if lookupPC < symStart || off >= max(sym.Size, 1) {
		return nil
	}
	locs, err := md.lines.locate(sym.Addr + off)
	if err != nil || len(locs) == 0 {
		return nil
	}
	// The object's function there must be the frame's: a module object
	// of another build would give a wrong line silently.
	if outer := locs[len(locs)-1].Function; outer != "" && outer != strings.SplitN(f.Symbol, ".", 2)[0] {
		return nil
	}
	return locs
}
