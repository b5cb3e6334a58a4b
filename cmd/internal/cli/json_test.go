package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
)

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// jsonKeys calls fn with every object key in v, with its path.
func jsonKeys(v any, path string, fn func(key, path string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			fn(k, path)
			jsonKeys(e, path+"."+k, fn)
		}
	case []any:
		for _, e := range x {
			jsonKeys(e, path+"[]", fn)
		}
	}
}

// TestJSONOutputs runs every command that prints JSON and checks the
// conventions docs/cli-json.md states: valid JSON, snake_case keys,
// indentation by two spaces (log's JSON Lines: one compact object a
// line), and a section of the document for the command.
func TestJSONOutputs(t *testing.T) {
	t.Setenv("VMCORE_CACHE", t.TempDir())
	t.Setenv(kbDirEnv, "")
	d := corpus.Fixture(t)
	doc, err := os.ReadFile(filepath.Join(corpus.RepoRoot(), "docs", "cli-json.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"info", "--json", d.Files[0]},
		{"analyze", "--json", d.Files[0]},
		{"oops", "--json", d.Ref("dmesg.makedumpfile.txt")},
		{"kb", "search", "--json", "soft", "lockup"},
		{"kb", "list", "--json"},
		{"kb", "show", "--json", "soft-lockup"},
		{"kb", "match", "--json", d.Files[0]},
		{"log", "--json", d.Files[0]},
		{"mem", "--json", d.Files[0]},
		{"slab", "--json", d.Files[0]},
		{"rss", "--json", d.Files[0]},
		{"locks", "--json", d.Files[0]},
		{"runq", "--json", d.Files[0]},
		{"dev", "--json", d.Files[0]},
		{"mount", "--json", d.Files[0]},
	} {
		name := strings.Join(args[:len(args)-1], " ")
		if args[0] == "kb" {
			name = strings.Join(args[:2], " ")
		}
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCmd(args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			heading := "## `vmcorectl " + strings.TrimSuffix(strings.Join(strings.Fields(strings.ReplaceAll(name, "--json", "")), " "), " ") + " --json`"
			if !strings.Contains(string(doc), heading) {
				t.Errorf("docs/cli-json.md has no section %q", heading)
			}
			var values []any
			if args[0] == "log" {
				for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
					var v any
					if err := json.Unmarshal([]byte(l), &v); err != nil {
						t.Fatalf("line %q: %v", l, err)
					}
					values = append(values, v)
				}
			} else {
				var v any
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Fatal(err)
				}
				values = append(values, v)
				if lines := strings.SplitN(out, "\n", 3); len(lines) > 2 && !strings.HasPrefix(lines[1], "  ") || strings.HasPrefix(lines[1], "   ") {
					t.Errorf("not indented by two spaces: %.80q", out)
				}
			}
			bad := map[string]string{}
			for _, v := range values {
				jsonKeys(v, "", func(k, path string) {
					// Maps keyed by data (register names, frame locations) are
					// values, not field names.
					if !snakeCase.MatchString(k) && !strings.Contains(path, ".lines") {
						bad[k] = path
					}
				})
			}
			for k, p := range bad {
				t.Errorf("key %q at %s is not snake_case", k, p)
			}
		})
	}
}
