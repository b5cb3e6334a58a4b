package dumpwrite

import (
	"bytes"
	"compress/gzip"
)

// gzipMember is how many zeros one member of GzipZeros expands to.
const gzipMember = 64 << 20

// GzipZeros is a gzip stream that expands to size bytes of zeros (size
// rounded down to a multiple of 64 MiB, at least one member): about a
// thousandth of size, made in memory without writing the zeros anywhere,
// from one compressed member repeated (gzip readers read every member).
// It is the decompression bomb the tests of expansion limits upload.
func GzipZeros(size int64) []byte {
	var member bytes.Buffer
	w, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	w.Write(make([]byte, gzipMember))
	w.Close()
	return bytes.Repeat(member.Bytes(), int(max(size/gzipMember, 1)))
}
