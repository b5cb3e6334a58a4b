// Command vmcorectl reads Linux kernel crash dumps from a terminal — the
// kernel log (`vmcorectl log`, like `crash> log` and makedumpfile
// --dump-dmesg), what a dump is (`info`), crash's sys, bt, mod and ps — on
// local files or from vmcored, and uploads dumps to vmcored (`upload`).
//
// The knowledge base (`kb`, and the suggestions of a local `analyze`) is
// in the companion vmcorectl-kb, which vmcorectl runs when it is installed
// beside it or in $PATH: vmcorectl stays small and quick to start, for the
// log and for uploads from the capture kernel.
//
// A run lasts milliseconds, so it does not read the cgroup's CPU limit at
// start-up to size GOMAXPROCS (about 0.2 ms of a 4 ms `log`), nor watch it
// change.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import "github.com/vmcore/vmcore/cmd/internal/cli"

func main() { cli.Main() }
