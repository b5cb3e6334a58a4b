package elfdump

import (
	"fmt"
	"io"
	"math"
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

// MapFile maps the regular file at path, of at most limit bytes.
func MapFile(path string, limit int64) (*Mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("elfdump: mapping %s: not a regular file", path)
	case fi.Size() > limit || fi.Size() > math.MaxInt:
		return nil, fmt.Errorf("elfdump: mapping %s: %d bytes, more than the %d allowed", path, fi.Size(), limit)
	case fi.Size() == 0:
		return &Mapping{}, nil
	}
	m, err := mmapReadOnly(f, int(fi.Size()))
	if err != nil {
		return nil, fmt.Errorf("elfdump: mapping %s: %w", path, err)
	}
	if m != nil {
		return &Mapping{Data: m, mapped: true}, nil
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("elfdump: reading %s: %w", path, err)
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
