package kb

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/blevesearch/bleve/v2"
)

// articleFS holds the articles shipped in the binary.
//
//go:embed articles/*.md
var articleFS embed.FS

// Builtin parses the articles shipped in the binary (kb/articles/*.md),
// sorted by id. Every call parses them anew (about a millisecond), so
// callers may change the returned articles.
func Builtin() ([]*Article, error) {
	return LoadFS(articleFS, "articles")
}

var builtin struct {
	once sync.Once
	ix   *Index
	err  error
}

// BuiltinIndex is an in-memory index of the shipped articles, built on
// first use and shared: the CLI's and the worker's default knowledge base.
// Callers must not add to it or close it; build their own with NewIndex
// and Builtin for that.
func BuiltinIndex() (*Index, error) {
	builtin.once.Do(func() {
		arts, err := Builtin()
		if err != nil {
			builtin.err = err
			return
		}
		ix, err := NewIndex()
		if err != nil {
			builtin.err = err
			return
		}
		if err := ix.Add(arts...); err != nil {
			builtin.err = fmt.Errorf("indexing the shipped articles: %w", err)
			return
		}
		builtin.ix = ix
	})
	return builtin.ix, builtin.err
}

// LoadFS parses every *.md file in directory dir of fsys, sorted by id. It
// fails on the first broken article (naming its file and line) and on two
// files with one id.
func LoadFS(fsys fs.FS, dir string) ([]*Article, error) {
	return loadFS(fsys, dir, dir)
}

// loadFS is LoadFS naming files under display in errors.
func loadFS(fsys fs.FS, dir, display string) ([]*Article, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("reading articles in %s: %w", dir, err)
	}
	var out []*Article
	where := map[string]string{}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		name := filepath.Join(display, e.Name())
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading article %s: %w", name, err)
		}
		a, err := ParseArticle(name, b)
		if err != nil {
			return nil, err
		}
		if prev, dup := where[a.ID]; dup {
			return nil, fmt.Errorf("articles %s and %s both have id %q: %w", prev, name, a.ID, ErrExists)
		}
		where[a.ID] = name
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// LoadDir is LoadFS on a directory of the file system; a directory that
// does not exist holds no articles.
func LoadDir(dir string) ([]*Article, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return loadFS(os.DirFS(dir), ".", dir)
}

// builtinIndexFormat changes when the index's mapping or the parser
// changes what a stored index holds, so a cached index of an older build is
// not reused.
const builtinIndexFormat = "1"

// builtinKey names the shipped articles' cached index: a hash of the
// articles and of builtinIndexFormat.
func builtinKey() (string, error) {
	h := sha256.New()
	io.WriteString(h, builtinIndexFormat)
	err := fs.WalkDir(articleFS, "articles", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := articleFS.ReadFile(p)
		fmt.Fprintf(h, "\x00%s\x00%d\x00", p, len(b))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:16], err
}

// BuiltinIndexIn is BuiltinIndex kept on disk in directory cache: built
// there by the first process of a binary (about 30 ms), then opened
// read-only (a few milliseconds; bolt's shared lock lets any number of
// processes read it at once). A short-lived process — vmcorectl's
// suggestions for a local analysis — starts its matching from it. A
// damaged cache is built again; where the cache cannot be written it falls
// back to BuiltinIndex. Callers must close
// the index it returns, unless it is BuiltinIndex's (shared reports true).
func BuiltinIndexIn(cache string) (ix *Index, shared bool, err error) {
	key, err := builtinKey()
	if err != nil || cache == "" {
		ix, err := BuiltinIndex()
		return ix, true, err
	}
	dir := filepath.Join(cache, "kb-"+key)
	if ix, err := openReadOnly(dir); err == nil {
		return ix, false, nil
	}
	os.RemoveAll(dir) // absent, or damaged: built again
	if err := buildBuiltinDir(cache, dir); err == nil {
		if ix, err := openReadOnly(dir); err == nil {
			return ix, false, nil
		}
	}
	ix, err = BuiltinIndex()
	return ix, true, err
}

// buildBuiltinDir indexes the shipped articles into a fresh directory and
// renames it to dir: concurrent builders never expose half an index, and
// the first rename wins.
func buildBuiltinDir(cache, dir string) error {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(cache, ".kb-build-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	arts, err := Builtin()
	if err != nil {
		return err
	}
	ix, err := OpenIndex(filepath.Join(tmp, "ix"))
	if err != nil {
		return err
	}
	if err := ix.Add(arts...); err != nil {
		ix.Close()
		return err
	}
	if err := ix.Close(); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(tmp, "ix"), dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return nil // another process built it first
		}
		return err
	}
	return nil
}

// openReadOnly opens an index directory for reading only.
func openReadOnly(dir string) (*Index, error) {
	if _, err := os.Stat(filepath.Join(dir, "index_meta.json")); err != nil {
		return nil, err
	}
	b, err := bleve.OpenUsing(dir, map[string]any{"read_only": true})
	return loadIndex(b, err, dir)
}
