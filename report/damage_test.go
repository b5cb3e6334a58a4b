package report_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/report"
)

// damages are what mail, forums and posters do to a pasted report. Each
// takes the report's text and returns it damaged.
var damages = []struct {
	name string
	do   func(string) string
}{
	{"timestamps stripped", func(s string) string {
		return timestamp.ReplaceAllString(s, "")
	}},
	{"<4> level prefixes", func(s string) string {
		// On every record: before each timestamp that has no level yet,
		// or after the indentation of every line of a log without
		// timestamps.
		if !hasStamp.MatchString(s) {
			return indent.ReplaceAllString(s, "$1<4>$2")
		}
		return anyStamp.ReplaceAllString(s, "$1<4>$2")
	}},
	{"task names replaced", func(s string) string {
		s = taskName.ReplaceAllString(s, "${1}<name>${2}")
		return comm.ReplaceAllString(s, "Comm: <name>")
	}},
	{"quoted in a reply", func(s string) string {
		return "> " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n> ") + "\n"
	}},
	{"Japanese translation after each line", func(s string) string {
		var b strings.Builder
		for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
			b.WriteString(l + "\n")
			if strings.TrimSpace(l) != "" {
				b.WriteString("（訳注：上の行はカーネルのログです）\n")
			}
		}
		return b.String()
	}},
	{"Japanese panic header", func(s string) string {
		return strings.ReplaceAll(s, "Kernel panic - not syncing", "カーネルパニック - 同期していません")
	}},
	{"CRLF line ends", func(s string) string {
		return strings.ReplaceAll(s, "\n", "\r\n")
	}},
	{"lines joined by a forum", func(s string) string {
		// Every second stamped line is joined to the one before.
		lines := strings.Split(s, "\n")
		var out []string
		for i, l := range lines {
			if i%2 == 1 && len(out) > 0 && stamped.MatchString(l) && stamped.MatchString(out[len(out)-1]) {
				out[len(out)-1] += " " + l
				continue
			}
			out = append(out, l)
		}
		return strings.Join(out, "\n")
	}},
}

var (
	timestamp = regexp.MustCompile(`(?m)^\[[\s\x{a0}]*\d+\.\d+\] ?`)
	hasStamp  = regexp.MustCompile(`\[[\s\x{a0}]*\d+\.\d+\]`)
	anyStamp  = regexp.MustCompile(`(^|[^>])(\[[\s\x{a0}]*\d+\.\d+\])`)
	indent    = regexp.MustCompile(`(?m)^([ \t]*)(\S)`)
	stamped   = regexp.MustCompile(`^\[[\s\x{a0}]*\d+\.\d+\]`)
	taskName  = regexp.MustCompile(`(INFO: task )[^ ]+(:\d+ blocked)`)
	comm      = regexp.MustCompile(`Comm: \S+`)
)

// TestDamagedReports: each labelled report, damaged as mail and forums
// damage reports, keeps the title it has undamaged.
func TestDamagedReports(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus.RepoRoot(), "testdata", "oops", "[0-9]*.txt"))
	if len(files) == 0 {
		t.Skip("no labelled set")
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			kept := 0
			for _, f := range files {
				_, text := readLabelled(t, f)
				want := report.Title(text)
				damaged := d.do(text)
				if damaged == text {
					kept++
					continue
				}
				if got := report.Title(damaged); got != want {
					t.Errorf("%s: title %q, undamaged %q", filepath.Base(f), got, want)
					continue
				}
				kept++
			}
			t.Logf("%d of %d titles kept", kept, len(files))
		})
	}
}
