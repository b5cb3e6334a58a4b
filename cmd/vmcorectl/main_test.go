package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoKnowledgeBaseLinked keeps vmcorectl small and quick to start: the
// knowledge base's search engine belongs to vmcorectl-kb (see package
// cli's kb.go for why), and nothing may pull it back in by an import.
func TestNoKnowledgeBaseLinked(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/vmcore/vmcore/cmd/vmcorectl").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/blevesearch/") || pkg == "github.com/vmcore/vmcore/kb" || pkg == "github.com/vmcore/vmcore/api" {
			t.Errorf("vmcorectl links %s", pkg)
		}
	}
}
