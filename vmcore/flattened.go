package vmcore

import (
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"unsafe"
)

// The flattened format (makedumpfile -F, QEMU's kdump output): a 4 KiB
// header, then chunks {offset int64 BE, size int64 BE, bytes} that say where
// each piece of the rearranged dump file goes, then {-1, -1}.
const (
	flatSignature  = "makedumpfile\x00\x00\x00\x00"
	flatHeaderSize = 4096
	flatTypeHeader = 1

	// maxFlatChunks bounds the index: makedumpfile writes chunks of at least
	// one page, so even a 1 TiB dump stays far below this.
	maxFlatChunks = 1 << 27
)

// flatHeader is struct makedumpfile_header (makedumpfile.h), big-endian,
// at the start of the first 4 KiB of a flattened file.
type flatHeader struct {
	Signature [16]byte // signature: "makedumpfile", NUL-padded
	Type      int64    // type: TYPE_FLAT_HEADER (1)
	Version   int64    // version: VERSION_FLAT_HEADER (1)
}

// flatDataHeader is struct makedumpfile_data_header, big-endian: it
// precedes each chunk, and {-1, -1} ends the stream.
type flatDataHeader struct {
	Offset  int64 // offset: where the chunk goes in the rearranged file
	BufSize int64 // buf_size: bytes of the chunk that follow
}

// flatDataHeaderSize is the encoded size of a flatDataHeader.
const flatDataHeaderSize = int64(unsafe.Sizeof(flatDataHeader{}))

// FlatChunk maps [Off, Off+Size) of the rearranged file to FileOff in the flattened file.
type FlatChunk struct {
	Off     int64
	FileOff int64
	Size    int64
}

// FlatIndex is the offset index of a flattened dump: non-overlapping chunks
// sorted by rearranged offset, later writes having won over earlier ones (as
// `makedumpfile -R` would leave the file). It is what a reader needs to read
// the rearranged dump in place, and can be stored beside the dump so that a
// later reader skips the scan.
type FlatIndex struct {
	Chunks []FlatChunk
	Size   int64 // size of the rearranged file
	// Truncated is set when the file ends without the end marker: the
	// writer was cut off and the chunks it did not write read as zeros.
	Truncated bool
}

// flatReader reads the rearranged view of a flattened file. Gaps read as zeros.
type flatReader struct {
	r   io.ReaderAt
	idx *FlatIndex
}

func newFlatReader(r io.ReaderAt, size int64) (*flatReader, int64, error) {
	idx, err := ScanFlattened(r, size)
	if err != nil {
		return nil, 0, err
	}
	return &flatReader{r: r, idx: idx}, idx.Size, nil
}

// ScanFlattened reads every chunk header of the flattened file r (one pass,
// skipping the chunk bodies) and builds its FlatIndex. A file that ends
// without the end marker is indexed up to its last whole chunk; the error is
// then nil only if at least the dump header was written, and the caller sees
// the loss as missing pages.
func ScanFlattened(r io.ReaderAt, size int64) (*FlatIndex, error) {
	var hdr flatHeader
	if size < flatHeaderSize {
		return nil, &FormatError{"flattened header", 0, fmt.Sprintf("file of %d bytes is shorter than the %d-byte header", size, flatHeaderSize)}
	}
	b := make([]byte, binary.Size(hdr))
	if _, err := r.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("vmcore: reading flattened header: %w", err)
	}
	if _, err := binary.Decode(b, binary.BigEndian, &hdr); err != nil {
		return nil, fmt.Errorf("vmcore: decoding makedumpfile_header: %w", err)
	}
	if hdr.Type != flatTypeHeader {
		return nil, &FormatError{"flattened header", int64(unsafe.Offsetof(hdr.Type)), fmt.Sprintf("type %d, want %d", hdr.Type, flatTypeHeader)}
	}
	var chunks []FlatChunk
	br := &windowReader{r: r, size: size}
	pos := int64(flatHeaderSize)
	ended := false
	for pos+flatDataHeaderSize <= size {
		b, err := br.at(pos, int(flatDataHeaderSize))
		if err != nil {
			return nil, fmt.Errorf("vmcore: reading flattened chunk header at %#x: %w", pos, err)
		}
		var h flatDataHeader
		if _, err := binary.Decode(b, binary.BigEndian, &h); err != nil {
			return nil, fmt.Errorf("vmcore: decoding makedumpfile_data_header at %#x: %w", pos, err)
		}
		off, n := h.Offset, h.BufSize
		if off == -1 && n == -1 {
			ended = true
			break
		}
		if off < 0 || n < 0 || off > 1<<56 || n > 1<<40 {
			return nil, &FormatError{"flattened chunk header", pos, fmt.Sprintf("offset %d size %d", off, n)}
		}
		if n > size-pos-flatDataHeaderSize {
			break // truncated in the middle of a chunk: keep what is whole
		}
		if len(chunks) >= maxFlatChunks {
			return nil, &FormatError{"flattened chunk header", pos, fmt.Sprintf("more than %d chunks", maxFlatChunks)}
		}
		if n > 0 {
			chunks = append(chunks, FlatChunk{Off: off, FileOff: pos + flatDataHeaderSize, Size: n})
		}
		pos += flatDataHeaderSize + n
	}
	if len(chunks) == 0 {
		return nil, &FormatError{"flattened data", flatHeaderSize, "no data chunk"}
	}
	idx := resolveOverlaps(chunks)
	idx.Truncated = !ended
	return idx, nil
}

// resolveOverlaps turns chunks in write order into a non-overlapping,
// sorted index where each byte comes from the last chunk that wrote it.
func resolveOverlaps(chunks []FlatChunk) *FlatIndex {
	type seqChunk struct {
		FlatChunk
		seq int
	}
	sc := make([]seqChunk, len(chunks))
	for i, c := range chunks {
		sc[i] = seqChunk{c, i}
	}
	sort.SliceStable(sc, func(i, j int) bool { return sc[i].Off < sc[j].Off })
	overlap := false
	for i := 1; i < len(sc); i++ {
		if sc[i].Off < sc[i-1].Off+sc[i-1].Size {
			overlap = true
			break
		}
	}
	out := &FlatIndex{}
	if !overlap {
		out.Chunks = make([]FlatChunk, len(sc))
		for i, c := range sc {
			out.Chunks[i] = c.FlatChunk
		}
	} else {
		// Sweep the boundaries; in each elementary interval the active
		// chunk with the highest sequence number wins.
		bounds := make([]int64, 0, 2*len(sc))
		for _, c := range sc {
			bounds = append(bounds, c.Off, c.Off+c.Size)
		}
		sort.Slice(bounds, func(i, j int) bool { return bounds[i] < bounds[j] })
		active := &seqHeap{}
		next := 0
		for bi := 0; bi+1 < len(bounds); bi++ {
			lo, hi := bounds[bi], bounds[bi+1]
			if lo == hi {
				continue
			}
			for next < len(sc) && sc[next].Off <= lo {
				heap.Push(active, seqItem{seq: sc[next].seq, end: sc[next].Off + sc[next].Size, off: sc[next].Off, fileOff: sc[next].FileOff})
				next++
			}
			for active.Len() > 0 && (*active)[0].end <= lo {
				heap.Pop(active)
			}
			if active.Len() == 0 {
				continue
			}
			// The top may have ended while an older, longer chunk is still
			// active; pop ended tops (done above), then take the newest.
			top := (*active)[0]
			fc := FlatChunk{Off: lo, FileOff: top.fileOff + (lo - top.off), Size: hi - lo}
			if n := len(out.Chunks); n > 0 {
				last := &out.Chunks[n-1]
				if last.Off+last.Size == fc.Off && last.FileOff+last.Size == fc.FileOff {
					last.Size += fc.Size
					continue
				}
			}
			out.Chunks = append(out.Chunks, fc)
		}
	}
	for _, c := range out.Chunks {
		out.Size = max(out.Size, c.Off+c.Size)
	}
	return out
}

type seqItem struct {
	seq          int
	end          int64
	off, fileOff int64
}

// seqHeap is a max-heap on seq with lazily removed ended entries. An ended
// entry below the top is harmless: it is removed once it reaches the top.
type seqHeap []seqItem

func (h seqHeap) Len() int           { return len(h) }
func (h seqHeap) Less(i, j int) bool { return h[i].seq > h[j].seq }
func (h seqHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *seqHeap) Push(x any)        { *h = append(*h, x.(seqItem)) }
func (h *seqHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// ReadAt reads the rearranged file. Bytes no chunk wrote read as zeros.
func (f *flatReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("vmcore: negative offset %d", off)
	}
	if off >= f.idx.Size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > f.idx.Size-off {
		p = p[:f.idx.Size-off]
	}
	n := 0
	cs := f.idx.Chunks
	i := sort.Search(len(cs), func(i int) bool { return cs[i].Off+cs[i].Size > off })
	for n < len(p) {
		pos := off + int64(n)
		if i >= len(cs) || cs[i].Off > pos {
			// A gap up to the next chunk.
			gap := int64(len(p) - n)
			if i < len(cs) {
				gap = min(gap, cs[i].Off-pos)
			}
			clear(p[n : n+int(gap)])
			n += int(gap)
			continue
		}
		c := cs[i]
		k := min(int64(len(p)-n), c.Off+c.Size-pos)
		if _, err := f.r.ReadAt(p[n:n+int(k)], c.FileOff+(pos-c.Off)); err != nil {
			return n, fmt.Errorf("vmcore: reading flattened chunk at %#x: %w", c.FileOff, err)
		}
		n += int(k)
		i++
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// windowReader serves small reads from a sliding 1 MiB window, so scanning
// many small chunk headers costs few system calls.
type windowReader struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	off  int64
}

func (w *windowReader) at(off int64, n int) ([]byte, error) {
	if off >= w.off && off+int64(n) <= w.off+int64(len(w.buf)) {
		return w.buf[off-w.off : off-w.off+int64(n)], nil
	}
	const window = 1 << 20
	if cap(w.buf) < window {
		w.buf = make([]byte, window)
	}
	k := min(int64(window), w.size-off)
	w.buf = w.buf[:k]
	if _, err := w.r.ReadAt(w.buf, off); err != nil && err != io.EOF {
		return nil, err
	}
	w.off = off
	if int64(n) > k {
		return nil, io.ErrUnexpectedEOF
	}
	return w.buf[:n], nil
}

// flatIndexMagic starts an encoded FlatIndex.
const flatIndexMagic = "VMCFLAT1"

// MarshalBinary encodes the index (magic, chunk count, rearranged size,
// truncated flag, then {off, fileOff, size} per chunk, little-endian), so
// the uploader that streams a flattened dump anyway can store the index
// beside it and no reader ever scans the whole object again.
func (idx *FlatIndex) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 8+8+8+1+24*len(idx.Chunks))
	b = append(b, flatIndexMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(idx.Chunks)))
	b = binary.LittleEndian.AppendUint64(b, uint64(idx.Size))
	if idx.Truncated {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	for _, c := range idx.Chunks {
		b = binary.LittleEndian.AppendUint64(b, uint64(c.Off))
		b = binary.LittleEndian.AppendUint64(b, uint64(c.FileOff))
		b = binary.LittleEndian.AppendUint64(b, uint64(c.Size))
	}
	return b, nil
}

// UnmarshalBinary decodes an index and checks it: chunks sorted, not
// overlapping, inside the rearranged size. Whether they fit the flattened
// file is checked when it is opened with the index.
func (idx *FlatIndex) UnmarshalBinary(b []byte) error {
	if len(b) < 25 || string(b[:8]) != flatIndexMagic {
		return &FormatError{"flattened index", 0, "bad magic or too short"}
	}
	n := binary.LittleEndian.Uint64(b[8:])
	size := int64(binary.LittleEndian.Uint64(b[16:]))
	if n > maxFlatChunks || uint64(len(b)-25)/24 < n || size < 0 {
		return &FormatError{"flattened index", 8, fmt.Sprintf("%d chunks do not fit in %d bytes", n, len(b))}
	}
	out := FlatIndex{Size: size, Truncated: b[24] != 0, Chunks: make([]FlatChunk, n)}
	p := b[25:]
	for i := range out.Chunks {
		c := FlatChunk{Off: int64(binary.LittleEndian.Uint64(p)), FileOff: int64(binary.LittleEndian.Uint64(p[8:])), Size: int64(binary.LittleEndian.Uint64(p[16:]))}
		p = p[24:]
		if c.Off < 0 || c.FileOff < 0 || c.Size <= 0 || c.Off > size || c.Size > size-c.Off || (i > 0 && out.Chunks[i-1].Off+out.Chunks[i-1].Size > c.Off) {
			return &FormatError{"flattened index", int64(25 + 24*i), fmt.Sprintf("chunk %d %+v is out of order or out of range", i, c)}
		}
		out.Chunks[i] = c
	}
	*idx = out
	return nil
}

// NewFlattenedReader opens a flattened dump with an index made earlier by
// ScanFlattened (for example by the uploader), skipping the scan: only the
// pages an analysis needs are read.
func NewFlattenedReader(r io.ReaderAt, size int64, idx *FlatIndex) (*Dump, error) {
	return OpenOptions{}.NewFlattenedReader(context.Background(), r, size, idx)
}

// NewFlattenedReader is NewFlattenedReader with o's options.
func (o OpenOptions) NewFlattenedReader(ctx context.Context, r io.ReaderAt, size int64, idx *FlatIndex) (*Dump, error) {
	for i, c := range idx.Chunks {
		if c.FileOff > size || c.Size > size-c.FileOff {
			return nil, &FormatError{"flattened index", int64(i), fmt.Sprintf("chunk at file offset %#x+%d is past the end of the %d-byte file", c.FileOff, c.Size, size)}
		}
	}
	fr := &flatReader{r: r, idx: idx}
	return o.NewReader(ctx, preindexed{fr}, idx.Size)
}

// preindexed marks a reader that already presents the rearranged file.
type preindexed struct{ *flatReader }
