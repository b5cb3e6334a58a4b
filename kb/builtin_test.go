package kb

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestBuiltinIndexIn: the shipped articles' index cached on disk answers as
// the in-memory one does; it is built once, then opened read-only by
// several processes' worth of concurrent opens; a damaged cache is built
// again, and a cache that cannot be written falls back to the in-memory
// index rather than failing the suggestions.
func TestBuiltinIndexIn(t *testing.T) {
	cache := t.TempDir()
	mem, err := BuiltinIndex()
	if err != nil {
		t.Fatal(err)
	}
	want, err := mem.Search("soft lockup watchdog", 5)
	if err != nil {
		t.Fatal(err)
	}
	ix, shared, err := BuiltinIndexIn(cache)
	if err != nil || shared {
		t.Fatalf("first open: shared %v, %v", shared, err)
	}
	ix.Close()
	dirs, _ := filepath.Glob(filepath.Join(cache, "kb-*"))
	if len(dirs) != 1 {
		t.Fatalf("cache holds %v", dirs)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ix, shared, err := BuiltinIndexIn(cache)
			if err != nil || shared {
				t.Errorf("concurrent open: shared %v, %v", shared, err)
				return
			}
			defer ix.Close()
			if ix.Len() != mem.Len() {
				t.Errorf("cached index has %d articles, the shipped %d", ix.Len(), mem.Len())
			}
			got, err := ix.Search("soft lockup watchdog", 5)
			if err != nil || len(got) != len(want) {
				t.Errorf("cached search: %v, %d hits, want %d", err, len(got), len(want))
				return
			}
			for i := range got {
				if got[i].ID != want[i].ID {
					t.Errorf("hit %d: cached %s, in memory %s", i, got[i].ID, want[i].ID)
				}
			}
		}()
	}
	wg.Wait()

	// Damage: the metadata replaced by garbage.
	os.WriteFile(filepath.Join(dirs[0], "index_meta.json"), []byte("{garbage"), 0o644)
	ix, shared, err = BuiltinIndexIn(cache)
	if err != nil || shared || ix.Len() != mem.Len() {
		t.Fatalf("damaged cache: shared %v, %v", shared, err)
	}
	ix.Close()

	// A cache path that is a file: no cache, the in-memory index.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	ix, shared, err = BuiltinIndexIn(file)
	if err != nil || !shared || ix.Len() != mem.Len() {
		t.Fatalf("unwritable cache: shared %v, %v", shared, err)
	}
}
