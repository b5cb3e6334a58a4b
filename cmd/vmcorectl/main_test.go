package main

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/internal/cmdtest"
	"github.com/vmcore/vmcore/internal/corpus"
)

// Start-up budget of the binary, in what package initialisation allocates:
// counts, unlike times, do not depend on the machine. A run of `log`
// lasts a few milliseconds, and a package that builds tables, compiles
// regular expressions or registers plug-ins at init costs every run.
const (
	maxInitAllocs       = 1000 // all packages together
	maxPackageInitAlloc = 150  // any one package
)

// TestStartupInit runs `vmcorectl log` with GODEBUG=inittrace=1 and keeps
// package initialisation within the budget: the whole command line is
// one binary, so what any command links must not tax the log.
func TestStartupInit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(cmdtest.Build(t, "github.com/vmcore/vmcore/cmd/vmcorectl"), "vmcorectl")
	d := corpus.Fixture(t)
	_, trace, code := cmdtest.Run(t, bin, []string{"GODEBUG=inittrace=1"}, "log", d.Files[0])
	if code != 0 {
		t.Fatalf("log: exit %d\n%s", code, trace)
	}
	total := 0
	for _, l := range strings.Split(trace, "\n") {
		// init internal/bytealg @0.008 ms, 0 ms clock, 0 bytes, 0 allocs
		f := strings.Fields(l)
		if len(f) < 10 || f[0] != "init" || f[len(f)-1] != "allocs" {
			continue
		}
		n, err := strconv.Atoi(f[len(f)-2])
		if err != nil {
			t.Fatalf("inittrace line %q", l)
		}
		total += n
		if n > maxPackageInitAlloc {
			t.Errorf("package %s allocates %d times at init (budget %d): move the work into the function that needs it", f[1], n, maxPackageInitAlloc)
		}
	}
	if total == 0 {
		t.Fatal("no inittrace output")
	}
	if total > maxInitAllocs {
		t.Errorf("package initialisation allocates %d times (budget %d)", total, maxInitAllocs)
	}
	t.Logf("package initialisation: %d allocations", total)
}

// TestCommandLine runs the real binary as users do: help on standard
// output with status 0, usage mistakes with status 2, failures with 1,
// --version, shell completion, and the log byte for byte.
func TestCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(cmdtest.Build(t, "github.com/vmcore/vmcore/cmd/vmcorectl"), "vmcorectl")
	d := corpus.Fixture(t)
	env := []string{"VMCORE_SERVER=", "VMCORE_CACHE=" + t.TempDir(), "VMCORE_KB="}
	for _, c := range []struct {
		args             []string
		code             int
		stdout, stderr   string
		stdoutNotContain string
	}{
		{[]string{"--version"}, 0, "vmcorectl ", "", ""},
		{[]string{"help"}, 0, "Reading a dump", "", ""},
		{[]string{"--help"}, 0, "Working with vmcored", "", ""},
		{[]string{"help", "log"}, 0, "Usage:\n  vmcorectl log DUMP", "", ""},
		{[]string{"log", "--help"}, 0, "--level levels", "", ""},
		{[]string{"kb", "search", "--help"}, 0, "vmcorectl kb search QUERY", "", ""},
		{[]string{"info", "--help"}, 0, "--json", "", "--server"}, // info reads local files only
		{[]string{"completion", "bash"}, 0, "bash completion", "", ""},
		{nil, 2, "", "no command given", ""},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`, ""},
		{[]string{"log", "--bogus", d.Files[0]}, 2, "", "vmcorectl log: usage: unknown flag: --bogus", ""},
		{[]string{"log"}, 2, "", "no dump file or ID given", ""},
		{[]string{"log", "--level", "loud", d.Files[0]}, 2, "", `unknown log level "loud"`, ""},
		{[]string{"open", "x", "y"}, 2, "", "too many arguments", ""},
		{[]string{"log", "/no/such/dump"}, 1, "", "vmcorectl log: vmcore: open /no/such/dump", ""},
		{[]string{"kb", "show", "no-such-article"}, 1, "", "no-such-article", ""},
		{[]string{"info", d.Files[0]}, 0, "kernel:", "", ""},
		{[]string{"log", "-m", "--level", "warn+", d.Files[0], "--json"}, 0, `"level_name":"warn"`, "", ""},
	} {
		o, e, code := cmdtest.Run(t, bin, env, c.args...)
		if code != c.code || !strings.Contains(o, c.stdout) || !strings.Contains(e, c.stderr) ||
			c.stdoutNotContain != "" && strings.Contains(o, c.stdoutNotContain) {
			t.Errorf("vmcorectl %q: exit %d (want %d)\nstdout %.400q (want %q in it, not %q)\nstderr %.300q (want %q in it)",
				c.args, code, c.code, o, c.stdout, c.stdoutNotContain, e, c.stderr)
		}
	}
	want, ok := d.ReadRef("dmesg.makedumpfile.txt")
	if !ok {
		t.Fatal("the fixture has no makedumpfile log")
	}
	if o, e, code := cmdtest.Run(t, bin, env, "log", d.Files[0]); code != 0 || !bytes.Equal([]byte(o), want) {
		t.Errorf("log: exit %d, stderr %q; the output (%d bytes) is not what makedumpfile printed (%d bytes)", code, e, len(o), len(want))
	}
}
