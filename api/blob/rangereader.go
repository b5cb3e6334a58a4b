package blob

import (
	"container/list"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// DefaultBlockSize is the unit of a ranged read: large enough that a
// kdump page descriptor and its page usually come in one request, small
// enough that a scattered analysis does not fetch the dump.
const DefaultBlockSize = 128 << 10

// DefaultCacheBlocks bounds a RangeReader's memory: 256 blocks of 128 KiB.
const DefaultCacheBlocks = 256

// RangeReader is an io.ReaderAt over a remote object: each read fetches the
// aligned blocks it touches (one ranged request per run of missing blocks)
// and keeps the most recent ones in an LRU cache of fixed size.
type RangeReader struct {
	fetch     func(p []byte, off int64) (int, error)
	size      int64
	blockSize int64
	max       int

	mu    sync.Mutex
	lru   *list.List // of *rrBlock, most recent first
	index map[int64]*list.Element

	fetched  atomic.Int64
	requests atomic.Int64
}

type rrBlock struct {
	n    int64
	data []byte
}

// NewRangeReader makes a RangeReader; fetch reads len(p) bytes at off
// (never past size) with one request.
func NewRangeReader(fetch func(p []byte, off int64) (int, error), size, blockSize int64, maxBlocks int) *RangeReader {
	return &RangeReader{fetch: fetch, size: size, blockSize: blockSize, max: max(maxBlocks, 1), lru: list.New(), index: map[int64]*list.Element{}}
}

// Size is the object's size.
func (r *RangeReader) Size() int64 { return r.size }

// Close drops the cache.
func (r *RangeReader) Close() error {
	r.mu.Lock()
	r.lru.Init()
	clear(r.index)
	r.mu.Unlock()
	return nil
}

// Stats reports how many bytes and requests went to the store.
func (r *RangeReader) Stats() (bytes, requests int64) { return r.fetched.Load(), r.requests.Load() }

func (r *RangeReader) cached(n int64) []byte {
	if e, ok := r.index[n]; ok {
		r.lru.MoveToFront(e)
		return e.Value.(*rrBlock).data
	}
	return nil
}

func (r *RangeReader) add(n int64, data []byte) {
	r.index[n] = r.lru.PushFront(&rrBlock{n, data})
	for r.lru.Len() > r.max {
		e := r.lru.Back()
		delete(r.index, e.Value.(*rrBlock).n)
		r.lru.Remove(e)
	}
}

// ReadAt implements io.ReaderAt.
func (r *RangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("blob: negative offset %d", off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := p
	if rem := r.size - off; int64(len(want)) > rem {
		want = want[:rem]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	first, last := off/r.blockSize, (off+int64(len(want))-1)/r.blockSize
	if last-first+1 > int64(r.max) {
		// A read larger than the cache goes straight through.
		r.requests.Add(1)
		n, err := r.fetch(want, off)
		r.fetched.Add(int64(n))
		if err == nil && n < len(p) {
			err = io.EOF
		}
		return n, err
	}
	for b := first; b <= last; {
		if r.cached(b) != nil {
			b++
			continue
		}
		run := b // fetch the run of missing blocks in one request
		for run+1 <= last && r.index[run+1] == nil {
			run++
		}
		start := b * r.blockSize
		end := min((run+1)*r.blockSize, r.size)
		buf := make([]byte, end-start)
		r.requests.Add(1)
		n, err := r.fetch(buf, start)
		r.fetched.Add(int64(n))
		if err != nil {
			return 0, fmt.Errorf("blob: ranged read at %d+%d: %w", start, len(buf), err)
		}
		for i := b; i <= run; i++ {
			lo := (i - b) * r.blockSize
			r.add(i, buf[lo:min(lo+r.blockSize, int64(len(buf)))])
		}
		b = run + 1
	}
	n := 0
	for b := first; b <= last; b++ {
		data := r.cached(b)
		lo := max(off+int64(n)-b*r.blockSize, 0)
		n += copy(want[n:], data[lo:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
