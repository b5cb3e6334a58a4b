package kb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// The articles of the snapshot (prebuilt.articles) are a flat encoding of
// snapshotArticle, with the anchors each pattern is filed under, read
// where it lies: its strings are views of the embedded bytes, which no one
// writes. Decoding the same articles as JSON was most of what a process
// paid to load the knowledge base (300 KB of prose scanned and copied, and
// every pattern parsed again for its anchors).
//
// Every value is little-endian: a string is u32 length and bytes; a list
// u32 count (nilCount for nil) and its items; a bool one byte.

const articlesMagic = "KBARTS01"

// nilCount marks a nil list, which DeepEqual tells from an empty one.
const nilCount = 0xffffffff

type snapWriter struct{ b []byte }

func (w *snapWriter) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }

func (w *snapWriter) str(s string) {
	w.u32(uint32(len(s)))
	w.b = append(w.b, s...)
}

func (w *snapWriter) flag(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// list writes a list's count and each item with item.
func list[T any](w *snapWriter, xs []T, item func(T)) {
	if xs == nil {
		w.u32(nilCount)
		return
	}
	w.u32(uint32(len(xs)))
	for _, x := range xs {
		item(x)
	}
}

type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("the articles' snapshot: %s", what)
	}
	r.b = nil
}

func (r *snapReader) u32() uint32 {
	if len(r.b) < 4 {
		r.fail("cut short")
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

// take takes the next n bytes, in place.
func (r *snapReader) take(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail("cut short")
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *snapReader) str() string {
	b := r.take(int(r.u32()))
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (r *snapReader) flag() bool {
	if len(r.b) < 1 {
		r.fail("cut short")
		return false
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v != 0
}

// readList reads a list written by list, each item with item; minSize is
// the fewest bytes an item takes, which bounds the count by what is left.
func readList[T any](r *snapReader, minSize int, item func() T) []T {
	n := r.u32()
	if n == nilCount || r.err != nil {
		return nil
	}
	if uint64(n)*uint64(minSize) > uint64(len(r.b)) {
		r.fail("a list longer than the snapshot")
		return nil
	}
	xs := make([]T, 0, n)
	for range n {
		xs = append(xs, item())
	}
	return xs
}

// articleAnchors are the anchors of an article's pattern lists, as
// buildRules files them.
type articleAnchors struct {
	title, frames, log, unless, modules [][]anchor
}

func (w *snapWriter) strs(ss []string) { list(w, ss, w.str) }

func (r *snapReader) strs() []string { return readList(r, 4, r.str) }

func (w *snapWriter) anchors(as [][]anchor) {
	list(w, as, func(a []anchor) {
		list(w, a, func(an anchor) {
			w.str(an.word)
			w.b = append(w.b, byte(an.kind))
		})
	})
}

func (r *snapReader) anchors() [][]anchor {
	return readList(r, 4, func() []anchor {
		return readList(r, 5, func() anchor {
			word := r.str()
			var kind anchorKind
			if len(r.b) > 0 {
				kind = anchorKind(r.b[0])
				r.b = r.b[1:]
			} else {
				r.fail("cut short")
			}
			return anchor{word, kind}
		})
	})
}

// encodeArticles writes the snapshot's articles with their anchors.
func encodeArticles(key string, arts []snapshotArticle, anchors []articleAnchors) []byte {
	w := &snapWriter{b: []byte(articlesMagic)}
	w.str(key)
	w.u32(uint32(len(arts)))
	for i, a := range arts {
		w.str(a.File)
		w.str(a.ID)
		list(w, a.Texts, func(t Text) {
			for _, s := range []string{t.Lang, t.Title, t.Symptoms, t.Cause, t.Resolution, t.Body} {
				w.str(s)
			}
		})
		for _, l := range [][]string{a.Affected, a.Fixed, a.Links, a.Tags} {
			w.strs(l)
		}
		m := a.Match
		for _, l := range [][]string{m.Title, m.Type, m.Frames, m.Log, m.Modules} {
			w.strs(l)
		}
		w.str(m.Taint)
		w.flag(m.InModule)
		for _, l := range [][]string{m.Findings, m.Kernel, m.Require, m.Unless} {
			w.strs(l)
		}
		w.flag(m.Generic)
		an := anchors[i]
		for _, l := range [][][]anchor{an.title, an.frames, an.log, an.unless, an.modules} {
			w.anchors(l)
		}
	}
	return w.b
}

// decodeArticles reads what encodeArticles wrote.
func decodeArticles(b []byte) (key string, arts []snapshotArticle, anchors []articleAnchors, err error) {
	if len(b) < len(articlesMagic) || string(b[:len(articlesMagic)]) != articlesMagic {
		return "", nil, nil, errors.New("the articles' snapshot: bad magic")
	}
	r := &snapReader{b: b[len(articlesMagic):]}
	key = r.str()
	n := r.u32()
	if uint64(n) > uint64(len(r.b)) {
		r.fail("more articles than bytes")
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		var a snapshotArticle
		a.File, a.ID = r.str(), r.str()
		a.Texts = readList(r, 24, func() Text {
			return Text{Lang: r.str(), Title: r.str(), Symptoms: r.str(), Cause: r.str(), Resolution: r.str(), Body: r.str()}
		})
		a.Affected, a.Fixed, a.Links, a.Tags = r.strs(), r.strs(), r.strs(), r.strs()
		m := &a.Match
		m.Title, m.Type, m.Frames, m.Log, m.Modules = r.strs(), r.strs(), r.strs(), r.strs(), r.strs()
		m.Taint, m.InModule = r.str(), r.flag()
		m.Findings, m.Kernel, m.Require, m.Unless = r.strs(), r.strs(), r.strs(), r.strs()
		m.Generic = r.flag()
		var an articleAnchors
		an.title, an.frames, an.log, an.unless, an.modules = r.anchors(), r.anchors(), r.anchors(), r.anchors(), r.anchors()
		arts, anchors = append(arts, a), append(anchors, an)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Sprintf("%d bytes left over", len(r.b)))
	}
	if r.err != nil {
		return "", nil, nil, r.err
	}
	return key, arts, anchors, nil
}
