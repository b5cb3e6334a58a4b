package blob

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vmcore/vmcore/internal/testsvc"
)

// exercise runs the Store contract; the filesystem store and a real MinIO
// server both pass it.
func exercise(t *testing.T, s Store) {
	ctx := context.Background()
	data := make([]byte, 11<<20+123)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := s.Put(ctx, "a/b.txt", bytes.NewReader([]byte("hello")), 5); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Stat(ctx, "a/b.txt"); err != nil || n != 5 {
		t.Fatalf("stat: %d %v", n, err)
	}
	if _, err := s.Stat(ctx, "a/missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stat of a missing object: %v", err)
	}
	if _, err := s.Open(ctx, "a/missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("open of a missing object: %v", err)
	}
	for _, bad := range []string{"../x", "/etc/passwd", "a//b", "a/./b", "a b"} {
		if err := s.Put(ctx, bad, bytes.NewReader(nil), 0); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
	key := "dumps/x/vmcore"
	id, err := s.NewUpload(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	const ps = 5 << 20
	var parts []Part
	for n := 1; (n-1)*ps < len(data); n++ {
		chunk := data[(n-1)*ps : min(n*ps, len(data))]
		sum := md5.Sum(chunk)
		if n == 2 { // a corrupted part is refused and leaves nothing
			bad := md5.Sum([]byte("x"))
			if _, err := s.PutPart(ctx, key, id, n, bytes.NewReader(chunk), int64(len(chunk)), bad[:]); err == nil {
				t.Fatal("part with a wrong MD5 accepted")
			}
		}
		p, err := s.PutPart(ctx, key, id, n, bytes.NewReader(chunk), int64(len(chunk)), sum[:])
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	listed, err := s.ListParts(ctx, key, id)
	if err != nil || len(listed) != len(parts) {
		t.Fatalf("list parts: %+v %v", listed, err)
	}
	for i := range listed {
		if listed[i].Number != i+1 || listed[i].Size != parts[i].Size {
			t.Fatalf("part %d listed as %+v", i+1, listed[i])
		}
	}
	if err := s.Complete(ctx, key, id, listed); err != nil {
		t.Fatal(err)
	}
	// A client whose completion's answer was lost completes again.
	if err := s.Complete(ctx, key, id, listed); err != nil {
		t.Fatalf("completing twice: %v", err)
	}
	o, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Size() != int64(len(data)) {
		t.Fatalf("size %d", o.Size())
	}
	got, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object differs: %v", err)
	}
	st, err := s.Stream(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(st)
	st.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("streamed object differs: %v", err)
	}
	if _, err := s.Stream(ctx, "a/missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stream of a missing object: %v", err)
	}
	for _, off := range []int64{0, 4095, 5<<20 - 3, int64(len(data)) - 10} {
		buf := make([]byte, 4096)
		n, err := o.ReadAt(buf, off)
		want := data[off:min(off+4096, int64(len(data)))]
		if !bytes.Equal(buf[:n], want) || (n < len(buf) && err != io.EOF) {
			t.Errorf("ReadAt %d: %d bytes, %v", off, n, err)
		}
	}
	id2, _ := s.NewUpload(ctx, "dumps/y/vmcore")
	if err := s.Abort(ctx, "dumps/y/vmcore", id2); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
}

func TestFS(t *testing.T) {
	s, err := NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, s)
}

func TestS3MinIO(t *testing.T) {
	m := testsvc.MinIO(t)
	ctx := context.Background()
	s, err := NewS3(ctx, S3Config{Endpoint: m.Endpoint, Bucket: "blobtest", AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, s)
	u, err := s.PartURL(ctx, "k", "upload", 1, time.Hour)
	if err != nil || u == "" {
		t.Fatalf("presigned URL: %q %v", u, err)
	}
}

// TestRangeReader checks reads across blocks, at the end, and that the
// cache bounds what is fetched again.
func TestRangeReader(t *testing.T) {
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i)
	}
	fetch := func(p []byte, off int64) (int, error) { return copy(p, data[off:]), nil }
	r := NewRangeReader(fetch, int64(len(data)), 64, 4)
	for _, c := range []struct {
		off int64
		n   int
	}{{0, 10}, {60, 10}, {63, 130}, {990, 20}, {999, 1}, {0, 1000}} {
		buf := make([]byte, c.n)
		n, err := r.ReadAt(buf, c.off)
		end := min(c.off+int64(c.n), 1000)
		if !bytes.Equal(buf[:n], data[c.off:end]) || int64(n) != end-c.off || (int64(c.n) > end-c.off) != (err == io.EOF) {
			t.Errorf("ReadAt(%d, %d): %d %v", c.off, c.n, n, err)
		}
	}
	_, reqs := r.Stats()
	buf := make([]byte, 10)
	r.ReadAt(buf, 995)
	if _, again := r.Stats(); again != reqs {
		t.Errorf("a cached block was fetched again")
	}
	if _, err := r.ReadAt(buf, 1000); err != io.EOF {
		t.Errorf("read at the end: %v", err)
	}
}
