package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/internal/corpus"
)

func fixture(t *testing.T) corpus.Dump { return corpus.Fixture(t) }

// runCmd runs a command line as main does, with nothing on standard input.
func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Run(args, IO{In: strings.NewReader(""), Out: &o, Err: &e})
	return code, o.String(), e.String()
}

func TestLogMatchesMakedumpfile(t *testing.T) {
	dc := fixture(t)
	want, _ := dc.ReadRef("dmesg.makedumpfile.txt")
	code, out, errOut := runCmd("log", dc.Files[0])
	if code != 0 || out != string(want) {
		t.Fatalf("exit %d, stderr %q, output equal to reference: %v", code, errOut, out == string(want))
	}
}

func TestLogFlags(t *testing.T) {
	dc := fixture(t)
	// Flags after the file, as users type them.
	_, all, _ := runCmd("log", dc.Files[0], "--color=never")
	var lines []string // one per record: continuation lines are indented
	for _, l := range strings.Split(strings.TrimSuffix(all, "\n"), "\n") {
		if strings.HasPrefix(l, "[") {
			lines = append(lines, l)
		}
	}

	code, out, _ := runCmd("log", "-m", dc.Files[0])
	if code != 0 || !strings.HasPrefix(out, "[    0.000000] <5>Linux version") {
		t.Errorf("-m: first line %q", firstLine(out))
	}
	_, out, _ = runCmd("log", "-c", dc.Files[0])
	if !strings.HasPrefix(out, "[    0.000000][    T0] Linux version") {
		t.Errorf("-c: first line %q", firstLine(out))
	}
	_, out, _ = runCmd("log", "--level", "err+", dc.Files[0])
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(all, l) {
			t.Errorf("--level err+ printed a line not in the log: %q", l)
		}
	}
	if n := strings.Count("\n"+out, "\n["); n == 0 || n >= len(lines) {
		t.Errorf("--level err+ kept %d of %d lines", n, len(lines))
	}
	_, out, _ = runCmd("log", "--since", "1", "--until", "2", dc.Files[0])
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "[") && (l < "[    1." || l > "[    2.000000]") {
			t.Errorf("--since 1 --until 2 printed %q", l)
		}
	}
	_, out, _ = runCmd("log", "--json", dc.Files[0])
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("--json line %d: %v", n+1, err)
		}
		for _, k := range []string{"seq", "ts_nsec", "level", "text", "time"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("--json record without %q: %s", k, sc.Text())
			}
		}
		n++
	}
	if n != len(lines) {
		t.Errorf("--json printed %d records, text %d lines", n, len(lines))
	}
	_, out, _ = runCmd("log", "-T", dc.Files[0])
	if !strings.HasPrefix(out, "[") || strings.HasPrefix(out, "[    0.") {
		t.Errorf("-T: first line %q", firstLine(out))
	}
	_, out, _ = runCmd("log", "--color=always", dc.Files[0])
	if !strings.Contains(out, "\x1b[") {
		t.Errorf("--color=always printed no colour")
	}
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

func TestInfo(t *testing.T) {
	dc := fixture(t)
	code, out, _ := runCmd("info", dc.Files[0])
	vi, _ := dc.ReadRef("vmcoreinfo.txt")
	release := ""
	for _, l := range strings.Split(string(vi), "\n") {
		if r, ok := strings.CutPrefix(l, "OSRELEASE="); ok {
			release = r
		}
	}
	for _, want := range []string{"kdump-compressed", "zlib", "dump level:   31", "x86_64", "kernel:       " + release} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(string(vi), "\n") {
		if id, ok := strings.CutPrefix(l, "BUILD-ID="); ok && !strings.Contains(out, id) {
			t.Errorf("info lacks build-id %s", id)
		}
	}
	code, out, _ = runCmd("info", "--json", dc.Files[0])
	var in DumpInfo
	if err := json.Unmarshal([]byte(out), &in); code != 0 || err != nil || in.Release != release || in.Pages.Dumped == 0 {
		t.Errorf("info --json: %v %+v", err, in)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	text := filepath.Join(dir, "text")
	os.WriteFile(text, []byte(strings.Repeat("not a dump\n", 100)), 0o644)
	raw, _ := os.ReadFile(fixture(t).Files[0])
	cut := filepath.Join(dir, "cut")
	os.WriteFile(cut, raw[:3000], 0o644)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"log"}, 2, "no dump file"},
		{[]string{"log", "--level", "loud", text}, 2, "unknown log level"},
		{[]string{"nope"}, 2, "unknown command"},
		{[]string{"log", filepath.Join(dir, "missing")}, 1, "no such file"},
		{[]string{"log", empty}, 1, "empty file"},
		{[]string{"log", text}, 1, "not a crash dump"},
		{[]string{"log", cut}, 1, "sub-header"},
		{[]string{"info", cut}, 1, "sub-header"},
	} {
		code, _, errOut := runCmd(c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}

func TestKernelCommands(t *testing.T) {
	dc := fixture(t)
	crashSys, _ := dc.ReadRef("crash-sys.txt")
	code, out, errOut := runCmd("sys", dc.Files[0])
	if code != 0 {
		t.Fatalf("sys: exit %d: %s", code, errOut)
	}
	for _, l := range strings.Split(string(crashSys), "\n") {
		if strings.Contains(l, "RELEASE:") || strings.Contains(l, "PANIC:") || strings.Contains(l, "DATE:") {
			if !strings.Contains(out, l) {
				t.Errorf("sys lacks crash's line %q:\n%s", l, out)
			}
		}
	}
	code, out, _ = runCmd("mod", dc.Files[0])
	if code != 0 || !strings.Contains(out, "virtio_blk") {
		t.Errorf("mod: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd("ps", dc.Files[0])
	if code != 0 || !strings.Contains(out, "[swapper/0]") || !strings.Contains(out, "> ") {
		t.Errorf("ps: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd("bt", dc.Files[0])
	if code != 0 || !strings.Contains(out, "PANIC") || !strings.Contains(out, " #2 [") {
		t.Errorf("bt: exit %d\n%s", code, out)
	}
	code, all, _ := runCmd("bt", "-a", dc.Files[0])
	if code != 0 || strings.Count(all, "PID: ") < 2 {
		t.Errorf("bt -a: exit %d\n%s", code, all)
	}
	code, out, _ = runCmd("analyze", "--json", dc.Files[0])
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil {
		t.Fatalf("analyze --json: exit %d, %v", code, err)
	}
	for _, k := range []string{"schema", "system", "panic", "backtraces", "blocked", "modules", "taint", "debuginfo", "log", "oops", "warnings"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("analysis document lacks %q", k)
		}
	}
	if doc["schema"] != analysis.Schema {
		t.Errorf("schema = %v", doc["schema"])
	}
}
