package kb

import (
	"fmt"
	"reflect"
	"testing"
)

// fill sets every string, []string and bool field of the struct v points
// to, recursively, to a value naming the field, so that a field the codec
// forgets comes back zero.
func fill(v reflect.Value, path string) {
	for i := range v.NumField() {
		f, name := v.Field(i), path+"."+v.Type().Field(i).Name
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString(name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			switch f.Type().Elem().Kind() {
			case reflect.String:
				f.Set(reflect.ValueOf([]string{name + "[0]", "", name + "[2]"}))
			case reflect.Struct:
				s := reflect.MakeSlice(f.Type(), 2, 2)
				for j := range 2 {
					fill(s.Index(j), fmt.Sprintf("%s[%d]", name, j))
				}
				f.Set(s)
			}
		case reflect.Struct:
			fill(f, name)
		}
	}
}

// TestArticleCodecRoundTrip: every field of an article, and the anchors,
// nil lists told from empty ones, come back from the snapshot's encoding.
func TestArticleCodecRoundTrip(t *testing.T) {
	var a snapshotArticle
	fill(reflect.ValueOf(&a).Elem(), "a")
	a.Match.Kernel = []string{} // empty, not nil
	an := articleAnchors{
		title:  [][]anchor{{{"warning", wholeWord}}, nil},
		frames: [][]anchor{{{"lock", wordPrefix}, {"unlock", wordSuffix}}},
		log:    [][]anchor{},
	}
	b := encodeArticles("key", []snapshotArticle{a, {ID: "empty"}}, []articleAnchors{an, {}})
	key, arts, anchors, err := decodeArticles(b)
	if err != nil {
		t.Fatal(err)
	}
	if key != "key" || !reflect.DeepEqual(arts, []snapshotArticle{a, {ID: "empty"}}) || !reflect.DeepEqual(anchors, []articleAnchors{an, {}}) {
		t.Errorf("round trip:\n%#v\n%#v\n%#v", arts[0], a, anchors)
	}
	// A cut or extended encoding is refused, never read past its end.
	for _, bad := range [][]byte{b[:len(b)-1], b[:len(b)/2], append(b[:len(b):len(b)], 0), b[:4]} {
		if _, _, _, err := decodeArticles(bad); err == nil {
			t.Errorf("a damaged encoding of %d bytes decoded", len(bad))
		}
	}
}
