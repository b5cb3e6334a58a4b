package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/internal/cmdtest"
	"github.com/vmcore/vmcore/internal/corpus"
)

// TestLinksOnlyTheLog keeps vmcorectl quick to start: it prints kernel
// logs and hands everything else to its companions, so nothing may pull
// an HTTP client, the progress bar, the analyses (BTF, DWARF) or the
// knowledge base back in by an import.
func TestLinksOnlyTheLog(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/vmcore/vmcore/cmd/vmcorectl").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	banned := []string{"net/http", "crypto/tls", "github.com/cheggaaa/", "github.com/cilium/", "github.com/go-delve/",
		"github.com/blevesearch/", "github.com/vmcore/vmcore/analyzer", "github.com/vmcore/vmcore/api", "github.com/vmcore/vmcore/kb",
		"github.com/vmcore/vmcore/cmd/internal/cli"}
	for _, pkg := range strings.Fields(string(out)) {
		for _, b := range banned {
			if (pkg == b || strings.HasPrefix(pkg, strings.TrimSuffix(b, "/")+"/")) && pkg != "github.com/vmcore/vmcore/analyzer/printk" {
				t.Errorf("vmcorectl links %s", pkg)
			}
		}
	}
}

// TestHandsToCompanions runs the real binaries: vmcorectl prints a local
// dump's log itself, byte for byte what makedumpfile printed, with no
// companion installed; it hands every other command line to
// vmcorectl-full (exit status and output passed on), and says which
// binary is missing when none is installed.
func TestHandsToCompanions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	dir := cmdtest.Build(t, "github.com/vmcore/vmcore/cmd/vmcorectl", "github.com/vmcore/vmcore/cmd/vmcorectl-full")
	d := corpus.Fixture(t)
	want, ok := d.ReadRef("dmesg.makedumpfile.txt")
	if !ok {
		t.Fatal("the fixture has no makedumpfile log")
	}
	env := []string{"PATH=" + t.TempDir(), "VMCORE_SERVER=", "VMCORE_CACHE=" + t.TempDir(), "VMCORE_KB="}
	run := func(args ...string) (string, string, int) {
		return cmdtest.Run(t, filepath.Join(dir, "vmcorectl"), env, args...)
	}
	check := func(what string, gotOut, gotErr string, code int, wantCode int, wantOut, wantErr string) {
		t.Helper()
		if code != wantCode || !strings.Contains(gotOut, wantOut) || !strings.Contains(gotErr, wantErr) {
			t.Errorf("%s: exit %d (want %d)\nstdout %.300q (want %q in it)\nstderr %.300q (want %q in it)", what, code, wantCode, gotOut, wantOut, gotErr, wantErr)
		}
	}

	// Handed to vmcorectl-full.
	o, e, code := run("info", d.Files[0])
	check("info", o, e, code, 0, "kernel:", "")
	o, e, code = run("log", "/no/such/dump")
	check("log of a missing file", o, e, code, 1, "", "vmcorectl log: vmcore: open /no/such/dump")
	o, e, code = run("frobnicate")
	check("unknown command", o, e, code, 2, "", `unknown command "frobnicate"`)
	o, e, code = run("log", "-h")
	check("log -h", o, e, code, 0, "", "usage: vmcorectl log")

	// Printed by vmcorectl itself: the same with vmcorectl-full gone.
	if err := os.Remove(filepath.Join(dir, "vmcorectl-full")); err != nil {
		t.Fatal(err)
	}
	o, e, code = run("log", d.Files[0])
	if code != 0 || !bytes.Equal([]byte(o), want) {
		t.Errorf("log: exit %d, stderr %q; the output (%d bytes) is not what makedumpfile printed (%d bytes)", code, e, len(o), len(want))
	}
	o, e, code = run("log", "-m", "--level", "warn+", d.Files[0], "--json")
	check("log --json", o, e, code, 0, `"level_name":"warn"`, "")
	o, e, code = run("log", "--level", "nonsense", d.Files[0])
	check("log --level nonsense", o, e, code, 2, "", `vmcorectl log: usage: unknown log level "nonsense"`)
	o, e, code = run("info", d.Files[0])
	check("info without companions", o, e, code, 1, "", "vmcorectl info: vmcorectl-full is installed neither next to vmcorectl nor in $PATH")
	o, e, code = run("kb", "list")
	check("kb without companions", o, e, code, 1, "", "vmcorectl kb: vmcorectl-kb is installed neither")
}
