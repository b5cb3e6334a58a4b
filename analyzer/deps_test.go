package analyzer_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestKnowsNoHTTP keeps the analyzer a reader of dumps and debuginfo it is
// given: fetching debuginfo over HTTP is package debuginfo's job, and the
// service's.
func TestKnowsNoHTTP(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/vmcore/vmcore/analyzer").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "net/http" || strings.HasPrefix(pkg, "github.com/vmcore/vmcore/analyzer/debuginfo") || strings.HasPrefix(pkg, "github.com/vmcore/vmcore/api") {
			t.Errorf("analyzer links %s", pkg)
		}
	}
}
