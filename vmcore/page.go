package vmcore

import (
	"bytes"
	"compress/zlib"
	"container/list"
	"errors"
	"fmt"
	"io"
	"sync"

	lzo "github.com/anchore/go-lzo"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/vmcore/vmcore/elfdump"
)

// pageDecoders decompresses kdump page data. Decoders are third-party code
// fed with untrusted bytes, so every call runs under elfdump.Guard.
type pageDecoders struct {
	zlibPool sync.Pool // of io.ReadCloser implementing zlib.Resetter
	zstdOnce sync.Once
	zstd     *zstd.Decoder
	zstdErr  error
}

func newPageDecoders() *pageDecoders { return &pageDecoders{} }

// decode fills page (exactly one page long) from src as page_desc flags
// say. The decompressors run under elfdump.Guard: a panic on hostile bytes
// is an error wrapping elfdump.ErrDecoderPanic.
func (p *pageDecoders) decode(page, src []byte, flags uint32) error {
	return elfdump.Guard("page decompressor", func() error { return p.decodePage(page, src, flags) })
}

func (p *pageDecoders) decodePage(page, src []byte, flags uint32) (err error) {
	var n int
	switch flags & dumpCompressionMask {
	case 0:
		if flags != 0 {
			return fmt.Errorf("unknown page flags %#x", flags)
		}
		if len(src) != len(page) {
			return fmt.Errorf("uncompressed page of %d bytes, want %d", len(src), len(page))
		}
		copy(page, src)
		return nil
	case dumpCompressedZlib:
		zr, err := p.zlibReader(src)
		if err != nil {
			return fmt.Errorf("zlib: %w", err)
		}
		defer p.zlibPool.Put(zr)
		n, err = io.ReadFull(zr, page)
		if err != nil {
			return fmt.Errorf("zlib page decompressed to %d bytes, want %d: %w", n, len(page), err)
		}
		var extra [1]byte
		if k, _ := zr.Read(extra[:]); k != 0 {
			return fmt.Errorf("zlib page decompresses to more than %d bytes", len(page))
		}
	case dumpCompressedLZO:
		n, err = lzo.Decompress(src, page)
		if err != nil {
			return fmt.Errorf("lzo: %w", err)
		}
	case dumpCompressedSnappy:
		dl, err := snappy.DecodedLen(src)
		if err != nil {
			return fmt.Errorf("snappy: %w", err)
		}
		if dl != len(page) {
			return fmt.Errorf("snappy page decompresses to %d bytes, want %d", dl, len(page))
		}
		out, err := snappy.Decode(page, src)
		if err != nil {
			return fmt.Errorf("snappy: %w", err)
		}
		n = len(out)
	case dumpCompressedZstd:
		dec, err := p.zstdDecoder()
		if err != nil {
			return err
		}
		out, err := dec.DecodeAll(src, page[:0:len(page)])
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		if len(out) > 0 && &out[0] != &page[0] {
			// DecodeAll grew a new slice: the frame was larger than a page.
			return fmt.Errorf("zstd page decompresses to %d bytes, want %d", len(out), len(page))
		}
		n = len(out)
	default:
		return fmt.Errorf("page flags %#x name more than one compression", flags)
	}
	if n != len(page) {
		return fmt.Errorf("page decompressed to %d bytes, want %d", n, len(page))
	}
	return nil
}

// zlibReader returns a pooled zlib reader reset to src: a new one costs
// ~40 KiB of allocations, more than the page it decodes.
func (p *pageDecoders) zlibReader(src []byte) (io.ReadCloser, error) {
	if zr, ok := p.zlibPool.Get().(io.ReadCloser); ok {
		if err := zr.(zlib.Resetter).Reset(bytes.NewReader(src), nil); err != nil {
			return nil, err
		}
		return zr, nil
	}
	return zlib.NewReader(bytes.NewReader(src))
}

func (p *pageDecoders) zstdDecoder() (*zstd.Decoder, error) {
	p.zstdOnce.Do(func() {
		p.zstd, p.zstdErr = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<20), zstd.WithDecoderMaxWindow(1<<20))
	})
	if p.zstdErr != nil {
		return nil, errors.Join(errors.New("zstd decoder"), p.zstdErr)
	}
	return p.zstd, nil
}

// pageCache keeps the most recently decoded pages (LRU), up to
// pageCacheBytes of them. Pages never leave it: readers copy out under
// its lock, so an evicted page's buffer is handed back for the next page
// decoded instead of becoming garbage (an analysis decodes about a
// thousand pages; as garbage they cost a collection every few hundred).
type pageCache struct {
	mu    sync.Mutex
	max   int
	size  int        // bytes per page
	order *list.List // of *cachedPage, front = newest
	byPFN map[uint64]*list.Element
	spare [][]byte // buffers of evicted pages
}

type cachedPage struct {
	pfn  uint64
	data []byte
}

// pageCacheBytes bounds a dump's page cache: 256 pages of 4 KiB, 16 of
// arm64's 64 KiB. An analysis decodes 650 distinct pages; 893 times with
// 64 cached, 734 with 256, 710 with 512, where the pages it holds cost
// more fresh memory than the decodes they save.
const pageCacheBytes = 1 << 20

func newPageCache(pageSize int) *pageCache {
	n := max(pageCacheBytes/max(pageSize, 1), 16)
	return &pageCache{max: n, size: pageSize, order: list.New(), byPFN: make(map[uint64]*list.Element, n)}
}

// copyOut copies the cached page pfn from offset off into buf, and
// reports whether the page was cached.
func (c *pageCache) copyOut(buf []byte, pfn, off uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byPFN[pfn]; ok {
		c.order.MoveToFront(e)
		copy(buf, e.Value.(*cachedPage).data[off:])
		return true
	}
	return false
}

// buffer returns a page buffer to decode into: an evicted page's, or new.
func (c *pageCache) buffer() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.spare); n > 0 {
		b := c.spare[n-1]
		c.spare = c.spare[:n-1]
		return b
	}
	return make([]byte, c.size)
}

// release hands back a buffer from buffer that did not go into the cache.
func (c *pageCache) release(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spare = append(c.spare, b)
}

// put caches data, a buffer from buffer, as page pfn; the cache owns it
// from now on.
func (c *pageCache) put(pfn uint64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byPFN[pfn]; ok {
		// Decoded twice at once: keep the first, recycle this one.
		c.order.MoveToFront(e)
		c.spare = append(c.spare, data)
		return
	}
	c.byPFN[pfn] = c.order.PushFront(&cachedPage{pfn, data})
	if c.order.Len() > c.max {
		e := c.order.Back()
		c.order.Remove(e)
		cp := e.Value.(*cachedPage)
		delete(c.byPFN, cp.pfn)
		c.spare = append(c.spare, cp.data)
	}
}
