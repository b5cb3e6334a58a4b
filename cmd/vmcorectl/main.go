// Command vmcorectl reads Linux kernel crash dumps from a terminal: the
// kernel log (like makedumpfile --dump-dmesg and crash's log), what a dump
// is, crash's sys, ps, mod and bt, the whole analysis with the knowledge
// base's suggestions, oops reports in any text, and vmcored's dumps
// (upload, ls, open). `vmcorectl help` lists the commands; package
// cmd/internal/cli is the command line.
//
// A run lasts milliseconds or is an upload, so it does not watch the
// cgroup's CPU limit change, and package startup (imported first) trades
// a few system calls for most of the page faults of its start.
//
//go:debug updatemaxprocs=0
package main

import (
	_ "github.com/vmcore/vmcore/cmd/internal/startup" // first: a cheaper start (see its doc)

	"github.com/vmcore/vmcore/cmd/internal/cli"
)

func main() { cli.Main() }
