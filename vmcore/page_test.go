package vmcore

import (
	"bytes"
	"testing"
)

// TestPageDecodersHostile gives every page decompressor bytes that are not
// its format, cut streams and streams that expand too far: each is an
// error, never a panic or a page.
func TestPageDecodersHostile(t *testing.T) {
	const pageSize = 4096
	garbage := bytes.Repeat([]byte{0xff, 0x00, 0x5a, 0xa5, 0x11}, 200)
	srcs := map[string][]byte{
		"one byte":  {0x01},
		"garbage":   garbage,
		"zeros":     make([]byte, 64),
		"too long":  make([]byte, 2*pageSize),
		"lzo match": {0x11, 0x00, 0x00}, // an LZO end marker with nothing before it
	}
	p := newPageDecoders()
	for _, flags := range []uint32{dumpCompressedZlib, dumpCompressedLZO, dumpCompressedSnappy, dumpCompressedZstd} {
		for name, src := range srcs {
			page := make([]byte, pageSize)
			if err := p.decode(page, src, flags); err == nil {
				t.Errorf("flags %#x, %s: no error", flags, name)
			}
		}
	}
}
