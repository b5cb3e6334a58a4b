// Package cli is vmcorectl's command line: it reads Linux kernel crash
// dumps from a terminal — the kernel log (`vmcorectl log`, like `crash>
// log` and makedumpfile --dump-dmesg), what a dump is (`info`), crash's
// sys, bt, mod and ps — on local files or from vmcored, and uploads dumps
// to vmcored (`upload`). vmcorectl-full and vmcorectl-kb run it, and
// vmcorectl hands them every command line but a local log; the knowledge
// base's commands are in package kbcli, linked into vmcorectl-kb only (see
// kb.go).
package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/vmcore/vmcore/cmd/internal/command"
)

// subcommand is one vmcorectl command.
type subcommand struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = []subcommand{
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
	{"token", "list, create and revoke the service's API tokens (admin)", runToken},
}

// ErrUsage marks an error the user made on the command line (exit 2).
var ErrUsage = command.ErrUsage

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
		if c.name == args[0] {
			return command.Status(c.name, c.run(args[1:], stdout, stderr), stderr)
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
	return command.ParseInterspersed(fs, args)
}

// NewFlagSet is a subcommand's flag set: errors are returned, usage goes
// to stderr.
func NewFlagSet(name, argsUsage string, stderr io.Writer) *flag.FlagSet {
	return command.NewFlagSet(name, argsUsage, stderr)
}
