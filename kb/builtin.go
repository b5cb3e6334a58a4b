package kb

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
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

// BuiltinIndex is an index of the shipped articles, built on first use
// (parsing and analysing them takes a few milliseconds) and shared: the
// CLI's default knowledge base. Callers must not add to it; build their
// own with NewIndex and Builtin for that.
func BuiltinIndex() (*Index, error) {
	builtin.once.Do(func() {
		arts, err := Builtin()
		if err != nil {
			builtin.err = err
			return
		}
		ix := NewIndex()
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
