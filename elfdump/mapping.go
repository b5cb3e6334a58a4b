package elfdump

import (
	"fmt"
	"io"
	"os"
	"runtime"
)

// A Mapping is a file's bytes, mapped read-only where the system can
// (otherwise read into memory), for readers that touch a few pages of a
// large file: a mapped page costs nothing until it is read, where a read
// of the whole file first copies every page into fresh memory.
//
// The file must not be truncated while it is mapped: a page past the new
// end faults (SIGBUS). Files replaced by rename, as caches are, are safe.
type Mapping struct {
	// Data is the file's content. It is valid until Close.
	Data   []byte
	mapped bool
}

// MapFile maps the regular file at path, of at most limit bytes (read
// into memory where the system cannot map it).
func MapFile(path string, limit int64) (*Mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := mapFile(f, limit)
	if err != nil {
		return nil, fmt.Errorf("elfdump: %w", err)
	}
	if m != nil {
		return &Mapping{Data: m, mapped: true}, nil
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("elfdump: mapping %s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("elfdump: reading %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("elfdump: %s: more than the %d bytes allowed", path, limit)
	}
	return &Mapping{Data: b}, nil
}

// CloseWhenUnreachable unmaps the file once m is unreachable: for data
// whose readers keep m referenced for as long as they use Data.
func (m *Mapping) CloseWhenUnreachable() {
	if m.mapped {
		m.mapped = false // Close is the cleanup's now
		runtime.AddCleanup(m, func(b []byte) { munmap(b) }, m.Data)
	}
}

// Close unmaps the file; Data must not be used after it.
func (m *Mapping) Close() error {
	if m == nil || !m.mapped {
		return nil
	}
	m.mapped = false
	b := m.Data
	m.Data = nil
	return munmap(b)
}
