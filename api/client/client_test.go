package client

import "testing"

func TestURL(t *testing.T) {
	c, err := New("http://h:1/base/", "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/api/v1/uploads/x":         "http://h:1/base/api/v1/uploads/x",
		"/api/v1/uploads/x?urls=64": "http://h:1/base/api/v1/uploads/x?urls=64",
	} {
		if got := c.url(path, nil); got != want {
			t.Errorf("url(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestParseResolve(t *testing.T) {
	m, err := ParseResolve([]string{"vmcore.example:443:10.0.0.5", "h:80:[::1]"})
	if err != nil || m["vmcore.example:443"] != "10.0.0.5" || m["h:80"] != "::1" {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"nohost", "h:443:notanip", "h:10.0.0.1"} {
		if _, err := ParseResolve([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
