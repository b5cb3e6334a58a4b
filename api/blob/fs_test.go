package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vmcore/vmcore/internal/testsvc"
)

// upload stores data in parts of ps bytes and returns the parts.
func upload(t *testing.T, s *FS, key string, data []byte, ps int) (string, []Part) {
	t.Helper()
	ctx := context.Background()
	id, err := s.NewUpload(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var parts []Part
	for n := 1; (n-1)*ps < len(data); n++ {
		chunk := data[(n-1)*ps : min(n*ps, len(data))]
		p, err := s.PutPart(ctx, key, id, n, bytes.NewReader(chunk), int64(len(chunk)), nil)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	return id, parts
}

func readObject(t *testing.T, s Store, key string) []byte {
	t.Helper()
	o, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFSJoinResumes cuts a join short after each of its steps, as a
// killed process or a full disk would, and completes again: the object is
// the parts' bytes every time, and a part sent again meanwhile is taken as
// stored.
func TestFSJoinResumes(t *testing.T) {
	data := make([]byte, 5*1000+321)
	rand.Read(data)
	for stop := 1; stop <= 6; stop++ {
		t.Run(strconv.Itoa(stop), func(t *testing.T) {
			s, err := NewFS(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			id, parts := upload(t, s, "dumps/x/vmcore", data, 1000)
			ctx, cancel := context.WithCancel(context.Background())
			calls := 0
			old := syncDir
			syncDir = func(dir string) error {
				if calls++; calls == stop {
					cancel()
					return errors.New("power cut")
				}
				return old(dir)
			}
			err = s.Complete(ctx, "dumps/x/vmcore", id, parts)
			syncDir = old
			if err == nil {
				return // fewer steps than stop
			}
			listed, err := s.ListParts(context.Background(), "", id)
			if err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
			if err == nil && len(listed) != len(parts) {
				t.Errorf("after a cut join %d of %d parts are listed", len(listed), len(parts))
			}
			if err == nil {
				if p, err := s.PutPart(context.Background(), "dumps/x/vmcore", id, 2, bytes.NewReader(data[1000:2000]), 1000, nil); err != nil || p.Size != 1000 {
					t.Errorf("part sent again during the join: %+v %v", p, err)
				}
			}
			if err := s.Complete(context.Background(), "dumps/x/vmcore", id, parts); err != nil {
				t.Fatalf("resumed join: %v", err)
			}
			if got := readObject(t, s, "dumps/x/vmcore"); !bytes.Equal(got, data) {
				t.Errorf("joined object differs (%d bytes)", len(got))
			}
		})
	}
}

// TestFSSyncs checks that a completed object's directory entry is synced
// after the rename that made it, so a power loss cannot lose an object the
// database was told about.
func TestFSSyncs(t *testing.T) {
	s, err := NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var synced []string
	old := syncDir
	syncDir = func(dir string) error {
		mu.Lock()
		synced = append(synced, dir)
		mu.Unlock()
		return old(dir)
	}
	defer func() { syncDir = old }()
	data := bytes.Repeat([]byte("x"), 2500)
	id, parts := upload(t, s, "dumps/x/vmcore", data, 1000)
	synced = nil
	if err := s.Complete(context.Background(), "dumps/x/vmcore", id, parts); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(s.dir, "objects", "dumps"), filepath.Join(s.dir, "objects", "dumps", "x")}
	for _, w := range want {
		found := false
		for _, d := range synced {
			found = found || d == w
		}
		if !found {
			t.Errorf("%s not synced after the object was made: %v", w, synced)
		}
	}
	if last := synced[len(synced)-1]; last != filepath.Join(s.dir, "uploads") {
		t.Errorf("the removal of the upload was not synced last: %v", synced)
	}
}

// TestFSModes checks that the store's files are its owner's alone.
func TestFSModes(t *testing.T) {
	s, err := NewFS(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	id, parts := upload(t, s, "dumps/x/vmcore", []byte("dump bytes"), 1000)
	s.Complete(context.Background(), "dumps/x/vmcore", id, parts)
	s.Put(context.Background(), "results/x/1/log.txt", strings.NewReader("log"), 3)
	filepath.WalkDir(s.dir, func(p string, _ fs.DirEntry, _ error) error {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := fs.FileMode(0o600); st.IsDir() {
			if st.Mode().Perm() != 0o700 {
				t.Errorf("%s: mode %v, want 0700", p, st.Mode().Perm())
			}
		} else if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
		}
		return nil
	})
}

// TestFSSweep leaves what a killed process leaves and sweeps it.
func TestFSSweep(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := upload(t, s, "dumps/x/vmcore", []byte("0123456789"), 4)
	os.WriteFile(filepath.Join(dir, "tmp", "put-123"), make([]byte, 1000), 0o600)
	os.WriteFile(filepath.Join(dir, "uploads", id, "incoming-4"), make([]byte, 10), 0o600)
	n, b, err := s.Sweep()
	if err != nil || n != 2 || b != 1010 {
		t.Errorf("sweep: %d files, %d bytes, %v", n, b, err)
	}
	if parts, _ := s.ListParts(context.Background(), "", id); len(parts) != 3 {
		t.Errorf("the sweep removed stored parts: %+v", parts)
	}
}

// TestFSFull fills a real filesystem: the write fails with ErrNoSpace,
// leaves no temporary file, and names no path of the store; the same
// write succeeds once room is made.
func TestFSFull(t *testing.T) {
	dir := testsvc.Tmpfs(t, 4<<20)
	s, err := NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	big := make([]byte, 3<<20)
	if err := s.Put(ctx, "a/filler", bytes.NewReader(big), int64(len(big))); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 2<<20)
	id, err := s.NewUpload(ctx, "dumps/x/vmcore")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.PutPart(ctx, "dumps/x/vmcore", id, 1, bytes.NewReader(part), int64(len(part)), nil)
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("part on a full disk: %v, want ErrNoSpace", err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("a failed write left %d temporary files", len(tmp))
	}
	s.Delete(ctx, "a/filler")
	if _, err := s.PutPart(ctx, "dumps/x/vmcore", id, 1, bytes.NewReader(part), int64(len(part)), nil); err != nil {
		t.Fatalf("part once room was made: %v", err)
	}
}
