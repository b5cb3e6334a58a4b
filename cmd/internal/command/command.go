// Package command is what every vmcorectl command shares, linked by the
// three binaries (vmcorectl, vmcorectl-full, vmcorectl-kb): flag sets that
// print usage, flags interspersed with arguments, the usage error and exit
// statuses, terminal detection, the flags that reach vmcored, and finding
// and running a companion binary. It links no HTTP, analysis or index code,
// so that vmcorectl, which prints kernel logs itself and hands every other
// command to a companion, starts in a few milliseconds.
package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/vmcore/vmcore/internal/diskspace"
	"github.com/vmcore/vmcore/vmcore"
)

// ErrUsage marks an error the user made on the command line (exit 2).
var ErrUsage = errors.New("usage")

// ExitStatus is a companion's exit status, which the command passes on:
// the companion has printed its own error.
type ExitStatus int

func (s ExitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// Status turns a command's error into its exit status, printing the error
// as "vmcorectl NAME: ERR".
func Status(name string, err error, stderr io.Writer) int {
	var status ExitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &status):
		return int(status)
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(stderr, "vmcorectl %s: %v\n", name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "vmcorectl %s: %v\n", name, err)
		return 1
	}
}

// NewFlagSet is a subcommand's flag set: errors are returned, usage goes
// to stderr.
func NewFlagSet(name, argsUsage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vmcorectl %s [flags] %s\n", name, argsUsage)
		fs.PrintDefaults()
	}
	return fs
}

// ParseInterspersed parses flags that may come before or after the
// positional arguments, as users of crash and dmesg type them.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// ParseDumpArgs parses a command's flags and returns the dump files named.
func ParseDumpArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	files, err := ParseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		fs.Usage()
		return nil, fmt.Errorf("%w: no dump file given", ErrUsage)
	}
	return files, nil
}

// TmpReserve is the free space an expansion of a compressed dump leaves
// in the temporary directory: a gzip bomb stops there, not at a full disk.
const TmpReserve = 1 << 30

// DumpOptions are the options every command opens dumps with, read from
// the environment: $VMCORE_TMPDIR is where a dump in a compressed
// container is expanded (default $TMPDIR), $VMCORE_MAX_EXPANDED_SIZE the
// most bytes it may expand to (default vmcore.DefaultMaxExpandedSize), and
// the expansion stops before it leaves less than TmpReserve free.
func DumpOptions() vmcore.OpenOptions {
	o := vmcore.OpenOptions{TempDir: os.Getenv("VMCORE_TMPDIR"), CheckSpace: diskspace.Guard(TmpReserve)}
	if n, err := strconv.ParseInt(os.Getenv("VMCORE_MAX_EXPANDED_SIZE"), 10, 64); err == nil && n > 0 {
		o.MaxExpandedSize = n
	}
	return o
}

// OpenDumpFiles opens the files of one dump with DumpOptions.
func OpenDumpFiles(files []string) (*vmcore.Dump, error) {
	return DumpOptions().Open(context.Background(), files...)
}

// OpenDump opens the files of one dump and prints what it says is damaged.
func OpenDump(files []string, stderr io.Writer) (*vmcore.Dump, error) {
	d, err := OpenDumpFiles(files)
	if err != nil {
		return nil, err
	}
	for _, w := range d.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return d, nil
}

// IsTerminal reports whether w is a character device (a terminal), for
// colour and progress output.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// UseColor resolves --color: auto colours a terminal unless NO_COLOR is
// set or TERM is dumb.
func UseColor(mode string, w io.Writer) (bool, error) {
	switch strings.ToLower(mode) {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		return IsTerminal(w) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb", nil
	}
	return false, fmt.Errorf("%w: --color is auto, always or never, not %q", ErrUsage, mode)
}
