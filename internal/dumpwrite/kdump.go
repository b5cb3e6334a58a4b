package dumpwrite

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// Page compressions, as DUMP_DH_* flags.
const (
	None   = 0
	Zlib   = 0x01
	Snappy = 0x04
	Zstd   = 0x20
)

// KdumpOptions describe the kdump-compressed file to write.
type KdumpOptions struct {
	Sysname, Nodename, Release, Version, Machine string
	Timestamp                                    time.Time
	BlockSize                                    int // page size; default 4096
	DumpLevel                                    int
	Compression                                  uint32 // None, Zlib, Snappy or Zstd
	NrCPUs                                       int
	Notes                                        []byte // ELF notes blob, copied verbatim
	VMCoreInfo                                   []byte // VMCOREINFO text; located inside Notes when it is there
	PhysBase                                     uint64
	// SplitStart and SplitEnd, when SplitEnd > 0, make this one file of a
	// split dump holding only the pages of [SplitStart, SplitEnd).
	SplitStart, SplitEnd uint64
}

// PageSource says what the dump holds for a page frame.
type PageSource interface {
	MaxPFN() uint64
	IsRAM(pfn uint64) bool
	IsDumpable(pfn uint64) bool
	// ReadPage fills buf (one page) for a dumpable pfn.
	ReadPage(pfn uint64, buf []byte) error
}

// Kdump writes a kdump-compressed dump (header version 6) of src to w, in
// makedumpfile's layout: header, sub-header with notes, two bitmaps, page
// descriptors, page data (one shared zero page first).
func Kdump(w io.WriterAt, src PageSource, opt KdumpOptions) error {
	le := binary.LittleEndian
	bs := opt.BlockSize
	if bs == 0 {
		bs = 4096
	}
	maxPFN := src.MaxPFN()
	blocks := func(n int) int { return (n + bs - 1) / bs }

	h := make([]byte, bs)
	copy(h, "KDUMP   ")
	le.PutUint32(h[8:], 6)
	for i, s := range []string{opt.Sysname, opt.Nodename, opt.Release, opt.Version, opt.Machine} {
		copy(h[12+65*i:12+65*i+64], s)
	}
	if !opt.Timestamp.IsZero() {
		le.PutUint64(h[408:], uint64(opt.Timestamp.Unix()))
		le.PutUint64(h[416:], uint64(opt.Timestamp.Nanosecond()/1000))
	}
	le.PutUint32(h[424:], opt.Compression)
	le.PutUint32(h[428:], uint32(bs))

	subLen := 104
	notesOff := bs + subLen
	vmciOff, vmciLen := 0, len(opt.VMCoreInfo)
	blob := append([]byte(nil), opt.Notes...)
	if i := bytes.Index(blob, opt.VMCoreInfo); vmciLen > 0 && i >= 0 {
		vmciOff = notesOff + i
	} else if vmciLen > 0 {
		vmciOff = notesOff + len(blob)
		blob = append(blob, opt.VMCoreInfo...)
	}
	subHdrBlocks := blocks(subLen + len(blob))
	bitmapBytes := int((maxPFN + 7) / 8)
	bitmapBlocks := 2 * blocks(max(bitmapBytes, 1))
	le.PutUint32(h[432:], uint32(subHdrBlocks))
	le.PutUint32(h[436:], uint32(bitmapBlocks))
	le.PutUint32(h[440:], uint32(min(maxPFN, 0xffffffff)))
	le.PutUint32(h[460:], uint32(opt.NrCPUs))

	sub := make([]byte, subHdrBlocks*bs)
	le.PutUint64(sub[0:], opt.PhysBase)
	le.PutUint32(sub[8:], uint32(opt.DumpLevel))
	le.PutUint64(sub[24:], maxPFN)
	inFile := func(pfn uint64) bool { return src.IsDumpable(pfn) }
	if opt.SplitEnd > 0 {
		le.PutUint32(sub[12:], 1)
		le.PutUint64(sub[16:], opt.SplitStart)
		le.PutUint64(sub[24:], opt.SplitEnd)
		le.PutUint64(sub[80:], opt.SplitStart)
		le.PutUint64(sub[88:], opt.SplitEnd)
		inFile = func(pfn uint64) bool { return pfn >= opt.SplitStart && pfn < opt.SplitEnd && src.IsDumpable(pfn) }
	} else {
		le.PutUint64(sub[88:], maxPFN)
	}
	le.PutUint64(sub[32:], uint64(vmciOff))
	le.PutUint64(sub[40:], uint64(vmciLen))
	if len(opt.Notes) > 0 {
		le.PutUint64(sub[48:], uint64(notesOff))
		le.PutUint64(sub[56:], uint64(len(opt.Notes)))
	}
	le.PutUint64(sub[96:], maxPFN)
	copy(sub[subLen:], blob)

	bm := make([]byte, bitmapBlocks*bs)
	half := bitmapBlocks / 2 * bs
	var ndump int
	for pfn := uint64(0); pfn < maxPFN; pfn++ {
		if src.IsRAM(pfn) {
			bm[pfn/8] |= 1 << (pfn % 8)
		}
		if src.IsDumpable(pfn) {
			bm[half+int(pfn/8)] |= 1 << (pfn % 8)
		}
		if inFile(pfn) {
			ndump++
		}
	}
	off := int64(0)
	for _, b := range [][]byte{h, sub, bm} {
		if _, err := w.WriteAt(b, off); err != nil {
			return err
		}
		off += int64(len(b))
	}
	descOff := off
	dataOff := descOff + int64(ndump)*24
	enc, err := newEncoder(opt.Compression)
	if err != nil {
		return err
	}
	zero := make([]byte, bs)
	zeroDesc := make([]byte, 24)
	le.PutUint64(zeroDesc[0:], uint64(dataOff))
	le.PutUint32(zeroDesc[8:], uint32(bs))
	if _, err := w.WriteAt(zero, dataOff); err != nil {
		return err
	}
	dataOff += int64(bs)
	page := make([]byte, bs)
	desc := make([]byte, 24)
	i := int64(0)
	for pfn := uint64(0); pfn < maxPFN; pfn++ {
		if !inFile(pfn) {
			continue
		}
		if err := src.ReadPage(pfn, page); err != nil {
			return fmt.Errorf("page %#x: %w", pfn, err)
		}
		d := zeroDesc
		if !bytes.Equal(page, zero) {
			data, flags := enc(page)
			if len(data) >= bs {
				data, flags = page, 0
			}
			if _, err := w.WriteAt(data, dataOff); err != nil {
				return err
			}
			le.PutUint64(desc[0:], uint64(dataOff))
			le.PutUint32(desc[8:], uint32(len(data)))
			le.PutUint32(desc[12:], flags)
			dataOff += int64(len(data))
			d = desc
		}
		if _, err := w.WriteAt(d, descOff+i*24); err != nil {
			return err
		}
		i++
	}
	return nil
}

func newEncoder(c uint32) (func([]byte) ([]byte, uint32), error) {
	switch c {
	case None:
		return func(p []byte) ([]byte, uint32) { return p, 0 }, nil
	case Zlib:
		return func(p []byte) ([]byte, uint32) {
			var b bytes.Buffer
			zw := zlib.NewWriter(&b)
			zw.Write(p)
			zw.Close()
			return b.Bytes(), Zlib
		}, nil
	case Snappy:
		return func(p []byte) ([]byte, uint32) { return snappy.Encode(nil, p), Snappy }, nil
	case Zstd:
		// Level 1 and a single frame per page, as makedumpfile's ZSTD_compressCCtx(…, 1).
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return func(p []byte) ([]byte, uint32) { return e.EncodeAll(p, nil), Zstd }, nil
	}
	return nil, errors.New("dumpwrite: unsupported page compression")
}

// Buffer is an in-memory io.WriterAt.
type Buffer struct{ B []byte }

// WriteAt writes p at off, growing the buffer.
func (b *Buffer) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(b.B) {
		b.B = append(b.B, make([]byte, end-len(b.B))...)
	}
	copy(b.B[off:], p)
	return len(p), nil
}
