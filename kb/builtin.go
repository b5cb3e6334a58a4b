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
)

// articleFS holds the articles shipped in the binary.
//
//go:embed articles/*.md
var articleFS embed.FS

// Builtin returns the articles shipped in the binary (kb/articles/*.md),
// sorted by id, from the embedded snapshot of them when it is current,
// else by parsing the files. Every call makes them anew, so callers may
// change the returned articles.
func Builtin() ([]*Article, error) {
	if p, err := snapshotPrepared(); err == nil {
		return p.arts, nil
	}
	arts, _, err := parseBuiltin()
	return arts, err
}

// parseBuiltin parses the shipped article files, sorted by id, and names
// each one's file in articleFS.
func parseBuiltin() ([]*Article, []string, error) {
	arts, err := LoadFS(articleFS, "articles")
	if err != nil {
		return nil, nil, err
	}
	files := make([]string, len(arts))
	for i, a := range arts {
		files[i] = path.Join("articles", a.ID+".md")
		if _, err := fs.Stat(articleFS, files[i]); err != nil {
			return nil, nil, fmt.Errorf("shipped article %q is not in %s", a.ID, files[i])
		}
	}
	return arts, files, nil
}

// snapshotKey is the hash of the shipped article files and of
// snapshotFormat: what a snapshot is valid for.
func snapshotKey() string {
	h := sha256.New()
	io.WriteString(h, snapshotFormat)
	ents, _ := fs.ReadDir(articleFS, "articles")
	buf := make([]byte, 8<<10)
	for _, e := range ents {
		// Streamed: ReadFile would copy each file, half a megabyte in all.
		f, err := articleFS.Open(path.Join("articles", e.Name()))
		if err != nil {
			continue
		}
		st, err := f.Stat()
		if err == nil {
			fmt.Fprintf(h, "\x00%s\x00%d\x00", e.Name(), st.Size())
			io.CopyBuffer(h, f, buf)
		}
		f.Close()
	}
	return hex.EncodeToString(h.Sum(nil))
}

var builtin struct {
	once sync.Once
	ix   *Index
	err  error
}

// BuiltinIndex is an index of the shipped articles, loaded on first use
// from the embedded snapshot (or, when the snapshot is stale, parsed and
// analysed anew) and shared: the CLI's default knowledge base. Callers
// must not add to it; build their own with NewIndex and Builtin for that.
func BuiltinIndex() (*Index, error) {
	builtin.once.Do(func() {
		ix := NewIndex()
		p, err := snapshotPrepared()
		if err != nil {
			arts, perr := Builtin()
			if perr != nil {
				builtin.err = perr
				return
			}
			if p, err = ix.Prepare(arts, false); err != nil {
				builtin.err = fmt.Errorf("indexing the shipped articles: %w", err)
				return
			}
		}
		if err := ix.Commit(p); err != nil {
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
