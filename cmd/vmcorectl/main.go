// Command vmcorectl reads Linux kernel crash dumps from a terminal — the
// kernel log (`vmcorectl log`, like `crash> log` and makedumpfile
// --dump-dmesg), what a dump is (`info`), crash's sys, bt, mod and ps — on
// local files or from vmcored, and uploads dumps to vmcored (`upload`).
//
// vmcorectl prints the kernel log of local dump files itself, and links
// nothing else: the log is the first thing anyone wants from a dump, and
// linking the HTTP client and the upload progress bar alone would add
// 1.1 ms (package initialisation, and page faults at 3 µs each) to a run
// that takes 3 ms (BENCHMARKS.md); the BTF and DWARF readers more.
// It hands every other command line, unchanged, to the companion that has
// the command — vmcorectl-kb for `kb`, else vmcorectl-full, else
// vmcorectl-kb, which has every command — executed in its place, beside
// vmcorectl or in $PATH.
//
// A run lasts milliseconds, so it does not watch the cgroup's CPU limit
// change.
//
//go:debug updatemaxprocs=0
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/vmcore/vmcore/cmd/internal/command"
	"github.com/vmcore/vmcore/cmd/internal/logcmd"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run prints a local log, or hands the command line to a companion and
// returns only if none is installed.
func run(args []string, stdout, stderr io.Writer) int {
	if files, f, ok := localLog(args); ok {
		return command.Status("log", f.RunLocal(files, stdout, stderr), stderr)
	}
	companions := []string{command.Full, command.KB}
	if len(args) > 0 && args[0] == "kb" {
		companions = []string{command.KB}
	}
	err := command.Hand(args, companions...)
	name := "vmcorectl"
	if len(args) > 0 {
		name += " " + args[0]
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}

// localLog reports whether args are `log` of local files: flags that parse
// and arguments that are all files. Anything else — help, a mistake, the
// ID of a dump on the server — is for vmcorectl-full to answer.
func localLog(args []string) ([]string, *logcmd.Flags, bool) {
	if len(args) == 0 || args[0] != "log" {
		return nil, nil, false
	}
	fs, f := logcmd.NewFlags(io.Discard)
	files, err := command.ParseInterspersed(fs, args[1:])
	if err != nil || !logcmd.AllFiles(files) {
		return nil, nil, false
	}
	return files, f, true
}
