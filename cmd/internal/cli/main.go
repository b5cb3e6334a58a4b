// Package cli is vmcorectl's command line: it reads Linux kernel crash
// dumps from a terminal — the kernel log (`vmcorectl log`, like `crash>
// log` and makedumpfile --dump-dmesg), what a dump is (`info`), crash's
// sys, bt, mod and ps — on local files or from vmcored, and uploads dumps
// to vmcored (`upload`). Both vmcorectl and vmcorectl-kb run it; the
// knowledge base's commands are in package kbcli, linked into vmcorectl-kb
// only (see kb.go).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/vmcore/vmcore/vmcore"
)

// command is one vmcorectl subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"log", "print a dump's kernel log, as makedumpfile --dump-dmesg does", runLog},
	{"info", "print what a dump is: format, kernel, crash time, pages", runInfo},
	{"sys", "print the crashed system's summary, like crash's sys", runSys},
	{"ps", "list the tasks, like crash's ps", runPs},
	{"mod", "list the loaded modules and the kernel's taint, like crash's mod", runMod},
	{"bt", "print the panic task's stack trace (-a: every CPU's), like crash's bt", runBt},
	{"analyze", "run every analysis; --json prints the analysis document", runAnalyze},
	{"oops", "find oops, BUG, WARNING, lockup and panic reports in any text (a log, a console capture)", runOops},
	{"kb", "search, show, list, add and match knowledge-base articles", runKB},
	{"upload", "send a dump (a file or a kdump directory) to vmcored; --scan DIR sends every new one", runUpload},
	{"ls", "list the dumps on vmcored", runLs},
	{"open", "print (and on a desktop open) a one-time login link to a dump's page in the web UI", runOpen},
}

// ErrUsage marks an error the user made on the command line (exit 2).
var ErrUsage = errors.New("usage")

// Main runs the command line of os.Args and exits.
func Main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(Run(os.Args[1:], os.Stdout, os.Stderr))
}

// Run runs one command line and returns its exit status.
func Run(args []string, stdout, stderr io.Writer) int {
	return run(args, stdout, stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		var status companionStatus
		switch {
		case err == nil:
			return 0
		case errors.As(err, &status):
			return int(status) // vmcorectl-kb has said why
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, ErrUsage):
			fmt.Fprintf(stderr, "vmcorectl %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "vmcorectl %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "vmcorectl: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vmcorectl COMMAND [flags] DUMP [DUMP...]")
	fmt.Fprintln(w, "\nSeveral DUMP files are the parts of one split dump (makedumpfile --split).")
	fmt.Fprintln(w, "log, sys, bt, mod and analyze also take the ID of a dump on vmcored (--server or $VMCORE_SERVER).")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
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

// parseDumpArgs parses a command's flags and returns the dump files named.
func parseDumpArgs(fs *flag.FlagSet, args []string) ([]string, error) {
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

// openDump opens the files of one dump and prints what it says is damaged.
func openDump(files []string, stderr io.Writer) (*vmcore.Dump, error) {
	d, err := vmcore.Open(files...)
	if err != nil {
		return nil, err
	}
	for _, w := range d.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return d, nil
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

// isTerminal reports whether w is a character device (a terminal), for
// colour and progress output.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func useColor(mode string, w io.Writer) (bool, error) {
	switch strings.ToLower(mode) {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		return isTerminal(w) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb", nil
	}
	return false, fmt.Errorf("%w: --color is auto, always or never, not %q", ErrUsage, mode)
}
