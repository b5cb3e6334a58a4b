package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/cmd/internal/env"
	"github.com/vmcore/vmcore/vmcore"
)

// dumpFlags are the flags of the commands that read a dump: where its
// debuginfo is, and the server that may hold it instead.
type dumpFlags struct {
	debuginfo  string
	moduleDirs listFlag
	srv        *serverFlags
}

// addDumpFlags adds --debuginfo, --module-debuginfo and the server flags
// (with --wait).
func addDumpFlags(fs *pflag.FlagSet) *dumpFlags {
	f := &dumpFlags{}
	fs.StringVar(&f.debuginfo, "debuginfo", "", "a vmlinux with DWARF (plain or .xz) for file:line and inlined frames, a System.map (from the -dbg package) for kernels whose kallsyms lack data symbols, or `none` for the dump's BTF and kallsyms; by default the dump's build-id is looked up in $VMCORE_DEBUGINFO stores (default /usr/lib/debug) and on $DEBUGINFOD_URLS, then its release's System.map in the stores, else the dump's BTF and kallsyms serve")
	fs.Var(&f.moduleDirs, "module-debuginfo", "a `directory` tree of module objects with DWARF (name.ko[.xz|.zst|.debug]) for file:line in module frames (repeatable; also $VMCORE_MODULE_DEBUGINFO and <store>/lib/modules/RELEASE)")
	f.srv = addServerFlags(fs, true)
	return f
}

// dumpUse is the usage line of a command that reads a dump.
const dumpUse = "DUMP [DUMP...] | ID"

// dumpCommand is a command that reads a dump, local or on the server.
func dumpCommand(use, short, long string) *cobra.Command {
	return &cobra.Command{Use: use + " " + dumpUse, Short: short, Long: long, GroupID: "dump",
		Args: rangeArgs(1, -1, "dump file or ID")}
}

// document is the analysis of the dump the arguments name: the stored one
// of a dump on the server, or the sections asked for of local files.
func (f *dumpFlags) document(ctx context.Context, args []string, sections analyzer.Section, s IO) (*analysis.Document, error) {
	if id, ok := f.srv.remoteID(args); ok {
		return f.srv.analysis(ctx, id)
	}
	return f.analyzeFiles(ctx, args, sections, s.Err)
}

// analyzeFiles analyses local dump files: the sections asked for (zero:
// all), with the vmlinux named by --debuginfo or found by build-id.
func (f *dumpFlags) analyzeFiles(ctx context.Context, files []string, sections analyzer.Section, stderr io.Writer) (*analysis.Document, error) {
	d, err := env.OpenOptions().Open(ctx, files...) // the document carries the dump's warnings
	if err != nil {
		return nil, err
	}
	defer d.Close()
	v, sm, err := findDebuginfo(ctx, d, f.debuginfo, stderr)
	if err != nil {
		return nil, err
	}
	if v != nil {
		defer v.Close()
	}
	return analyzer.Analyze(ctx, d, analyzer.Options{Vmlinux: v, SystemMap: sm, ModuleDirs: f.moduleDirsFor(d),
		ProfileDir: env.ProfileDir(), Sections: sections}), nil
}

// moduleDirsFor is where module objects with DWARF are looked for.
func (f *dumpFlags) moduleDirsFor(d *vmcore.Dump) []string {
	rel := d.Header.Utsname.Release
	if rel == "" && d.Info != nil {
		rel = d.Info.OSRelease()
	}
	return append(append([]string(nil), f.moduleDirs...), env.ModuleDirs(rel)...)
}

// findDebuginfo opens the debuginfo for the dump: the vmlinux or
// System.map named, or the vmlinux found by build-id, else the System.map
// of its release in the stores; nils (and no error) when none is found or
// wanted.
func findDebuginfo(ctx context.Context, d *vmcore.Dump, path string, stderr io.Writer) (*analyzer.Vmlinux, *analyzer.SystemMap, error) {
	switch {
	case path == "none":
		return nil, nil, nil
	case path == "":
		if d.Info == nil {
			return nil, nil, nil
		}
		p, err := env.Finder().Find(ctx, d.Info.BuildID())
		if err != nil {
			if sp, err := env.Finder().FindSystemMap(d.Info.OSRelease()); err == nil {
				sm, err := analyzer.OpenSystemMap(sp)
				return nil, sm, err
			}
			if len(env.DebuginfodURLs()) > 0 {
				fmt.Fprintf(stderr, "warning: %v; using the dump's BTF and kallsyms\n", err)
			}
			return nil, nil, nil
		}
		path = p
	}
	if sm, err := analyzer.OpenSystemMap(path); err == nil {
		return nil, sm, nil
	}
	v, err := analyzer.OpenVmlinux(path, env.TempDir())
	return v, nil, err
}

// warnAll prints warnings to standard error.
func warnAll(stderr io.Writer, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
}
