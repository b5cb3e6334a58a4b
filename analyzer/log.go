// Package analyzer introspects a crashed kernel through a vmcore.Dump: its
// kernel log (package printk, re-exported here), and, with symbols and
// types, its tasks, stacks and modules. Every reader bounds its loops over
// kernel lists and reports damage as warnings on a partial result rather
// than failing whole.
package analyzer

import (
	"bytes"
	"encoding/binary"

	"github.com/vmcore/vmcore/analyzer/printk"
	"github.com/vmcore/vmcore/vmcore"
)

// The kernel log, read by package printk from VMCOREINFO alone; an
// analysis document carries its records.
type (
	// Record is one kernel log record.
	Record = printk.Record
	// Log is a kernel log read from a dump.
	Log = printk.Log
	// LogFormat says how Record.AppendText prints a record.
	LogFormat = printk.LogFormat
)

// Record flags (enum printk_info_flags / legacy log_flags).
const (
	LogNewline = printk.LogNewline // text ended with a newline
	LogCont    = printk.LogCont    // a fragment of a continuation line
)

// ErrNoLog means the dump does not describe a kernel log this package can read.
var ErrNoLog = printk.ErrNoLog

// ReadLog reads the kernel log using only VMCOREINFO (see printk.ReadLog).
func ReadLog(d *vmcore.Dump) (*Log, error) { return printk.ReadLog(d) }

// ParseLevel parses a level name or number, "+" meaning that level and
// worse (see printk.ParseLevel).
func ParseLevel(s string) (map[int]bool, error) { return printk.ParseLevel(s) }

// LevelName names a syslog level.
func LevelName(l int) string { return printk.LevelName(l) }

// kmem reads typed values from kernel virtual memory.
type kmem struct {
	d  *vmcore.Dump
	bo binary.ByteOrder
}

func (m kmem) u64(va uint64) (uint64, error) { return m.d.ReadU64(va) }

func (m kmem) u32(va uint64) (uint32, error) { return m.d.ReadU32(va) }

// cString is a NUL-terminated C string in a fixed-size array.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
