// Package analyzer introspects a crashed kernel through a vmcore.Dump: its
// kernel log (read by package printk), and, with symbols and types, its
// tasks, stacks and modules. Analyze builds the analysis document (package
// analysis) from them. Every reader bounds its loops over kernel lists and
// reports damage as warnings on a partial result rather than failing whole.
package analyzer

import (
	"bytes"
	"context"
	"fmt"

	"github.com/vmcore/vmcore/vmcore"
)

// kmem reads kernel virtual memory for one analysis. Every read first looks
// at the analysis' context, so a cancelled analysis stops at its next read
// whatever loop it is in.
type kmem struct {
	d   *vmcore.Dump
	ctx context.Context // nil: never cancelled
}

func (m kmem) check() error {
	if m.ctx != nil && m.ctx.Err() != nil {
		return fmt.Errorf("analyzer: %w", context.Cause(m.ctx))
	}
	return nil
}

// readChunk is how much of a big read (the BTF blob, a kallsyms table) is
// read between two looks at the context.
const readChunk = 64 << 10

// read fills b from virtual address va.
func (m kmem) read(b []byte, va uint64) error {
	for len(b) > 0 {
		if err := m.check(); err != nil {
			return err
		}
		n := min(len(b), readChunk)
		if err := m.d.ReadVirt(b[:n], va); err != nil {
			return err
		}
		b, va = b[n:], va+uint64(n)
	}
	return nil
}

func (m kmem) u64(va uint64) (uint64, error) {
	if err := m.check(); err != nil {
		return 0, err
	}
	return m.d.ReadU64(va)
}

func (m kmem) u32(va uint64) (uint32, error) {
	if err := m.check(); err != nil {
		return 0, err
	}
	return m.d.ReadU32(va)
}

// cString is a NUL-terminated C string in a fixed-size array.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
