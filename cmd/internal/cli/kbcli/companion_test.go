package kbcli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/internal/cmdtest"
	"github.com/vmcore/vmcore/internal/corpus"
)

// TestCompanion runs the real binaries: vmcorectl hands `kb` to
// vmcorectl-kb and `analyze` to vmcorectl-full, which does not link the
// knowledge base and reaches it through vmcorectl-kb installed beside it
// for the suggestions of a local analyze (exit status and output passed
// on), and says so in the document when vmcorectl-kb is not installed,
// instead of failing the analysis.
func TestCompanion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	dir := cmdtest.Build(t, "github.com/vmcore/vmcore/cmd/vmcorectl", "github.com/vmcore/vmcore/cmd/vmcorectl-full", "github.com/vmcore/vmcore/cmd/vmcorectl-kb")
	ctl := filepath.Join(dir, "vmcorectl")
	d := corpus.Fixture(t)
	run := func(env []string, args ...string) (string, string, int) {
		return cmdtest.Run(t, ctl, append([]string{"VMCORE_CACHE=" + t.TempDir(), "VMCORE_KB="}, env...), args...)
	}

	out, errOut, code := run(nil, "kb", "search", "soft", "lockup")
	if code != 0 || !strings.Contains(out, "soft-lockup") {
		t.Errorf("kb search through the companion: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := run(nil, "kb", "show", "no-such-article"); code != 1 || !strings.Contains(errOut, "no-such-article") {
		t.Errorf("kb show of a missing article: exit %d, stderr %q; want 1 and the companion's message", code, errOut)
	}
	out, errOut, code = run(nil, "analyze", "--json", d.Files[0])
	var doc analysis.Document
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.KB) == 0 || doc.KB[0].ID != fixtureScenarios[d.Scenario] || len(doc.KB[0].Evidence) == 0 {
		t.Errorf("analyze --json through the companion: exit %d %s, kb %+v", code, errOut, doc.KB)
	}

	if err := os.Remove(filepath.Join(dir, "vmcorectl-kb")); err != nil {
		t.Fatal(err)
	}
	noPath := []string{"PATH=" + t.TempDir()}
	if _, errOut, code := run(noPath, "kb", "list"); code != 1 || !strings.Contains(errOut, "vmcorectl-kb") {
		t.Errorf("kb without the companion: exit %d, stderr %q", code, errOut)
	}
	out, errOut, code = run(noPath, "analyze", "--json", d.Files[0])
	doc = analysis.Document{}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.KB) != 0 || len(doc.Backtraces) == 0 ||
		!strings.Contains(strings.Join(doc.Warnings, "\n"), "kb: no suggestions: the knowledge base is in vmcorectl-kb") {
		t.Errorf("analyze without the companion: exit %d %s, warnings %q", code, errOut, doc.Warnings)
	}
}
