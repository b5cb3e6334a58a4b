// Command vmcorectl-full is vmcorectl's whole command line but the
// knowledge base: crash's sys, bt, mod and ps, analyze and oops, on local
// files or from vmcored; the log and info of a dump on vmcored; and
// uploads to vmcored (`upload`, what the kdump hook runs in the capture
// kernel). vmcorectl, which prints local kernel logs itself, hands it
// every other command line; it can also be run on its own. It runs
// vmcorectl-kb for `kb` and for the suggestions of a local analyze.
//
// A run lasts milliseconds or is an upload, so it does not watch the
// cgroup's CPU limit change.
//
//go:debug updatemaxprocs=0
package main

import "github.com/vmcore/vmcore/cmd/internal/cli"

func main() { cli.Main() }
