//go:build unix

package main

import "syscall"

// privateFiles makes every file the process creates its owner's alone
// (0600, directories 0700): the data directory holds dumps, which hold
// the memory of crashed machines, and token hashes.
func privateFiles() { syscall.Umask(0o077) }
