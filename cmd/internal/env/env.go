// Package env reads the environment variables the commands honour, in one
// place: the libraries below cmd take what these say as options and never
// read the environment themselves.
//
//	VMCORE_CACHE              the cache (kernel profiles, downloaded debuginfo,
//	                          the knowledge base's index); default: the user
//	                          cache directory's vmcore
//	VMCORE_DEBUGINFO          local debuginfo stores, colon-separated;
//	                          default: /usr/lib/debug
//	VMCORE_MODULE_DEBUGINFO   trees of module objects with DWARF, colon-separated
//	VMCORE_TMPDIR             where decompressed dumps and vmlinux images go;
//	                          default: the system's temporary directory
//	VMCORE_MAX_EXPANDED_SIZE  the most bytes a dump in a compressed container
//	                          may expand to; default vmcore.DefaultMaxExpandedSize
//	DEBUGINFOD_URLS           debuginfod servers, space-separated (as elfutils)
package env

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/analyzer/debuginfo"
	"github.com/vmcore/vmcore/internal/diskspace"
	"github.com/vmcore/vmcore/vmcore"
)

// CacheDir is vmcore's cache: $VMCORE_CACHE, else the user cache
// directory's vmcore.
func CacheDir() string {
	if d := os.Getenv("VMCORE_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "vmcore")
}

// ProfileDir is where kernel profiles are cached (analyzer.Options.ProfileDir).
func ProfileDir() string { return filepath.Join(CacheDir(), "profiles") }

// DebuginfoStores are the local debuginfo stores: $VMCORE_DEBUGINFO, default
// /usr/lib/debug.
func DebuginfoStores() []string {
	if s := os.Getenv("VMCORE_DEBUGINFO"); s != "" {
		return filepath.SplitList(s)
	}
	return []string{"/usr/lib/debug"}
}

// DebuginfodURLs are the debuginfod servers of $DEBUGINFOD_URLS.
func DebuginfodURLs() []string { return strings.Fields(os.Getenv("DEBUGINFOD_URLS")) }

// ModuleDirs are where module objects with DWARF are looked for, for a
// kernel release: the trees of $VMCORE_MODULE_DEBUGINFO, then where
// distributions install module debuginfo under each store.
func ModuleDirs(release string) []string {
	dirs := filepath.SplitList(os.Getenv("VMCORE_MODULE_DEBUGINFO"))
	return append(dirs, analyzer.ModuleDebuginfoDirs(DebuginfoStores(), release)...)
}

// TempDir is where big temporary files go: $VMCORE_TMPDIR, else "" (the
// system's temporary directory).
func TempDir() string { return os.Getenv("VMCORE_TMPDIR") }

// TmpReserve is the free space an expansion of a compressed dump leaves
// in the temporary directory: a gzip bomb stops there, not at a full disk.
const TmpReserve = 1 << 30

// OpenOptions are the options dumps are opened with: a dump in a
// compressed container expands in TempDir, up to
// $VMCORE_MAX_EXPANDED_SIZE bytes, and stops before it leaves less than
// TmpReserve free.
func OpenOptions() vmcore.OpenOptions {
	o := vmcore.OpenOptions{TempDir: TempDir(), CheckSpace: diskspace.Guard(TmpReserve)}
	if n, err := strconv.ParseInt(os.Getenv("VMCORE_MAX_EXPANDED_SIZE"), 10, 64); err == nil && n > 0 {
		o.MaxExpandedSize = n
	}
	return o
}

// Finder finds kernel debuginfo by build-id in the stores and on the
// debuginfod servers, caching downloads under the cache.
func Finder() *debuginfo.Finder {
	return &debuginfo.Finder{Stores: DebuginfoStores(), Servers: DebuginfodURLs(), Cache: filepath.Join(CacheDir(), "debuginfo"),
		TempDir: TempDir()}
}
