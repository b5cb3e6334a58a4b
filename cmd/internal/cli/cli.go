// Package cli is vmcorectl, the command line for Linux kernel crash dumps:
// the kernel log (`vmcorectl log`, like makedumpfile --dump-dmesg and
// crash's log), what a dump is (`info`), crash's sys, ps, mod and bt, the
// whole analysis (`analyze`), oops reports in any text (`oops`), the
// knowledge base (`kb`), and vmcored's dumps (`upload`, `ls`, `open`), on
// local files or on a server. It is one binary.
//
// Exit status: 0 on success, 1 when a command fails, 2 for a mistake on
// the command line (an unknown command or flag, a missing argument, a bad
// flag value). Help (`vmcorectl help CMD`, `CMD --help`) goes to standard
// output with status 0; errors go to standard error as "vmcorectl CMD: …".
//
// A run of `log` takes a few milliseconds, so what any command links must
// not cost every run at start-up: package-level work belongs in functions
// the command that needs it calls (TestStartupInit keeps that true).
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vmcore/vmcore/cmd/internal/buildinfo"
)

// Exit statuses.
const (
	ExitOK      = 0 // the command did what was asked
	ExitFailure = 1 // it failed: a bad dump, a server error, no report found
	ExitUsage   = 2 // the command line is wrong
)

// ErrUsage marks an error the user made on the command line (exit 2).
var ErrUsage = errors.New("usage")

// usageError wraps a command-line mistake so that it exits 2.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// IO is where a command reads and writes.
type IO struct {
	In           io.Reader
	Out, Err     io.Writer
	InIsTerminal bool // standard input is a terminal: nothing is piped in
	// Locale is LC_ALL, LC_MESSAGES and LANG, in that order: the language
	// of the human-readable output (English or Japanese).
	Locale []string
}

// Main runs vmcorectl with the process's arguments and streams, and exits.
func Main() {
	os.Exit(Run(os.Args[1:], IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, InIsTerminal: isTerminal(os.Stdin),
		Locale: []string{os.Getenv("LC_ALL"), os.Getenv("LC_MESSAGES"), os.Getenv("LANG")}}))
}

// Run runs one command line and returns its exit status.
func Run(args []string, s IO) int {
	root := newRoot(s, args)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	name := "vmcorectl"
	if cmd != nil && cmd != root {
		name = strings.TrimPrefix(cmd.CommandPath(), "")
	}
	fmt.Fprintf(s.Err, "%s: %v\n", name, err)
	if errors.Is(err, ErrUsage) {
		if cmd != nil {
			fmt.Fprintf(s.Err, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return ExitUsage
	}
	return ExitFailure
}

// groups order the commands in the help.
var groups = []*cobra.Group{
	{ID: "dump", Title: "Reading a dump (local files, or the ID of a dump on vmcored):"},
	{ID: "text", Title: "Reading text and the knowledge base:"},
	{ID: "server", Title: "Working with vmcored:"},
}

// commands are vmcorectl's commands in the order help lists them.
var commands = []struct {
	name string
	make func(IO) *cobra.Command
}{
	{"log", newLogCmd}, {"info", newInfoCmd}, {"sys", newSysCmd}, {"ps", newPsCmd}, {"mod", newModCmd},
	{"bt", newBtCmd}, {"analyze", newAnalyzeCmd}, {"mem", newMemCmd}, {"slab", newSlabCmd}, {"rss", newRSSCmd},
	{"locks", newLocksCmd}, {"runq", newRunqCmd}, {"dev", newDevCmd}, {"mount", newMountCmd},
	{"oops", newOopsCmd}, {"kb", newKBCmd},
	{"upload", newUploadCmd}, {"ls", newLsCmd}, {"open", newOpenCmd}, {"set", newSetCmd}, {"token", newTokenCmd},
}

// commandFor is the command that args run, when they name one: only it
// is built, since building every command and its flags costs a run of
// `vmcorectl log` a tenth of its time. Help, completion and mistakes
// need them all (nil).
func commandFor(args []string) func(IO) *cobra.Command {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue // the root's flags (-h, --version) take no value
		}
		for _, c := range commands {
			if c.name == a {
				return c.make
			}
		}
		return nil
	}
	return nil
}

// newRoot builds the command line for args.
func newRoot(s IO, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "vmcorectl",
		Short: "Read Linux kernel crash dumps: the log, sys, bt, mod, ps, the whole analysis",
		Long: `vmcorectl reads Linux kernel crash dumps (kdump vmcores in every format makedumpfile and QEMU
write, also inside xz, gzip, zstd, lz4 or bzip2) and answers what crash answers: the kernel log,
the system summary, every CPU's stack, the tasks and the modules, and the oops with the
knowledge base's articles for it. It needs no debuginfo: the kernel's own BTF types and kallsyms
symbols in the dump do; with a DWARF vmlinux (--debuginfo, or found by build-id) frames also get
file:line and inlined calls.

DUMP is a dump file, or several: the parts of a split dump (makedumpfile --split). Where a
command also takes an ID, it is the 16-hex-digit id of a dump on vmcored (--server or
$VMCORE_SERVER).

Exit status: 0 success, 1 failure, 2 a mistake on the command line.`,
		Version:       buildinfo.Version(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetVersionTemplate("vmcorectl {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return fmt.Errorf("%w: %v", ErrUsage, err) })
	root.AddGroup(groups...)
	root.CompletionOptions.HiddenDefaultCmd = false
	if build := commandFor(args); build != nil {
		root.AddCommand(build(s))
		root.CompletionOptions.DisableDefaultCmd = true
	} else {
		for _, c := range commands {
			root.AddCommand(c.make(s))
		}
	}
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(root.FlagErrorFunc())
	}
	// "vmcorectl frobnicate" is a usage error, not a failure.
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError("unknown command %q", args[0])
		}
		return nil
	}
	root.RunE = func(c *cobra.Command, args []string) error {
		c.SetOut(s.Err)
		c.Usage()
		return usageError("no command given")
	}
	return root
}

// exactArgs, rangeArgs and noArgs check positional arguments as usage errors.
func rangeArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		switch {
		case len(args) < lo:
			return usageError("no %s given", what)
		case hi >= 0 && len(args) > hi:
			return usageError("too many arguments: %s takes %s", c.Name(), what)
		}
		return nil
	}
}

func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError("%s takes no arguments", c.Name())
	}
	return nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
func (l *listFlag) Type() string       { return "strings" }

var _ pflag.Value = (*listFlag)(nil)

// isTerminal reports whether f is a terminal, for colour and progress
// output: a character device that answers a terminal's ioctl, which
// /dev/null (a character device too) does not.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && isatty.IsTerminal(file.Fd())
}

// useColor resolves --color: auto colours a terminal unless NO_COLOR is
// set or TERM is dumb.
func useColor(mode string, w io.Writer) (bool, error) {
	switch strings.ToLower(mode) {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		return isTerminal(w) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb", nil
	}
	return false, usageError("--color is auto, always or never, not %q", mode)
}
