package report_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/report"
)

// syzkallerCase is one file of syzkaller's labelled report suite
// (pkg/report/testdata/linux/report): headers, a blank line, the console
// log, and optionally a blank line, "REPORT:" and the report syzkaller
// extracts.
type syzkallerCase struct {
	name      string
	title     string // "" when the log holds no report
	alt       []string
	corrupted bool
	log       string
}

// syzkallerSuite is where the suite is copied (see scripts/report-conformance):
// $VMCORE_SYZKALLER_REPORTS, else .cache/syzkaller-report in the repository.
func syzkallerSuite() string {
	if d := os.Getenv("VMCORE_SYZKALLER_REPORTS"); d != "" {
		return d
	}
	return filepath.Join(corpus.RepoRoot(), ".cache", "syzkaller-report")
}

var suiteFileName = regexp.MustCompile(`^[0-9]+$`)

// readSyzkallerCase parses a suite file as syzkaller's report_test.go does.
func readSyzkallerCase(path string) (syzkallerCase, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return syzkallerCase{}, err
	}
	data = bytes.ReplaceAll(data, []byte{'\r'}, nil)
	c := syzkallerCase{name: filepath.Base(path)}
	var log strings.Builder
	headers, prevEmpty := true, false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case headers && l == "":
			headers = false
		case headers:
			k, v, _ := strings.Cut(l, ": ")
			switch k {
			case "TITLE":
				c.title = v
			case "ALT":
				c.alt = append(c.alt, v)
			case "CORRUPTED":
				c.corrupted = v == "Y"
			case "TYPE", "FRAME", "START", "END", "SUPPRESSED", "PANICKED", "EXECUTOR":
			default:
				if !strings.HasPrefix(l, "#") {
					return c, fmt.Errorf("%s: unknown header %q", path, l)
				}
			}
		case prevEmpty && l == "REPORT:":
			c.log = log.String()
			return c, nil
		default:
			log.WriteString(l)
			log.WriteByte('\n')
		}
		prevEmpty = l == ""
	}
	c.log = log.String()
	return c, sc.Err()
}

// syzkallerResult is how the parser did on one case.
type syzkallerResult struct {
	syzkallerCase
	got          string
	gotCorrupted bool
	found        bool
}

// runSyzkallerSuite parses every case of the suite in dir.
func runSyzkallerSuite(t testing.TB, dir string) []syzkallerResult {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("syzkaller's report suite is not in %s (scripts/report-conformance copies it): %v", dir, err)
	}
	var out []syzkallerResult
	for _, e := range entries {
		if !suiteFileName.MatchString(e.Name()) {
			continue
		}
		c, err := readSyzkallerCase(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		r := syzkallerResult{syzkallerCase: c}
		if p := report.Primary(report.Parse(c.log)); p != nil {
			r.found, r.got, r.gotCorrupted = true, p.Title, p.Corrupted
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		t.Skipf("no suite files in %s", dir)
	}
	sort.Slice(out, func(i, j int) bool {
		return len(out[i].name) < len(out[j].name) || len(out[i].name) == len(out[j].name) && out[i].name < out[j].name
	})
	return out
}

// knownDifferences reads report/testdata/syzkaller-differences.txt: the
// suite files whose title or corrupted verdict differs from syzbot's, each
// with the reason.
func knownDifferences(t testing.TB) map[string]string {
	b, err := os.ReadFile(filepath.Join("testdata", "syzkaller-differences.txt"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, why, _ := strings.Cut(l, " ")
		known[name] = strings.TrimSpace(why)
	}
	return known
}

// TestSyzkallerSuite runs the parser over syzkaller's own labelled suite
// of 747 console logs and compares each title and corrupted verdict with
// syzbot's. It skips where the suite was not copied. Goals: 90% of the
// titles of the reports syzkaller does not mark corrupted exact, and the
// same corrupted verdict on 90% of the reports; every other difference is
// listed, with its reason, in testdata/syzkaller-differences.txt.
func TestSyzkallerSuite(t *testing.T) {
	results := runSyzkallerSuite(t, syzkallerSuite())
	known := knownDifferences(t)
	s := score(results)
	for _, r := range results {
		if r.differs() == "" {
			if _, ok := known[r.name]; ok {
				t.Logf("%s is listed as a difference but now matches: remove it from syzkaller-differences.txt", r.name)
			}
			continue
		}
		if _, ok := known[r.name]; !ok {
			t.Errorf("%s: %s", r.name, r.differs())
		}
	}
	t.Log(s)
	if s.titlesExact*10 < s.titles*9 {
		t.Errorf("exact titles %d of %d: below 90%%", s.titlesExact, s.titles)
	}
	if s.verdictsSame*10 < s.verdicts*9 {
		t.Errorf("corrupted verdicts %d of %d: below 90%%", s.verdictsSame, s.verdicts)
	}
}

// differs says how the result differs from syzbot's, "" when it does not.
func (r syzkallerResult) differs() string {
	switch {
	case r.title == "" && r.found:
		return fmt.Sprintf("found %q in a log without a report", r.got)
	case r.title == "":
		return ""
	case !r.found:
		return fmt.Sprintf("no report found, want %q", r.title)
	case !r.corrupted && r.got != r.title:
		return fmt.Sprintf("title %q, want %q", r.got, r.title)
	case r.gotCorrupted != r.corrupted:
		return fmt.Sprintf("corrupted %v, want %v (title %q)", r.gotCorrupted, r.corrupted, r.got)
	}
	return ""
}

// suiteScore counts the suite's results.
type suiteScore struct {
	titles, titlesExact    int // reports syzkaller does not mark corrupted
	verdicts, verdictsSame int // every report
	empty, emptyRight      int // logs without a report
	byClass                map[string][2]int
	classOrder             []string
}

// titleClass is the class a syzbot title belongs to, for the per-class score.
func titleClass(title string) string {
	for _, p := range []string{"KASAN", "KMSAN", "KCSAN", "KFENCE", "UBSAN", "WARNING", "INFO", "BUG", "general protection fault",
		"possible deadlock", "kernel BUG", "kernel panic", "memory leak", "inconsistent lock state", "Unhandled fault",
		"Internal error", "PANIC"} {
		if strings.HasPrefix(title, p) {
			return p
		}
	}
	return "other"
}

func score(results []syzkallerResult) suiteScore {
	s := suiteScore{byClass: map[string][2]int{}}
	for _, r := range results {
		if r.title == "" {
			s.empty++
			if !r.found {
				s.emptyRight++
			}
			continue
		}
		s.verdicts++
		if r.found && r.gotCorrupted == r.corrupted {
			s.verdictsSame++
		}
		if r.corrupted {
			continue
		}
		s.titles++
		cl := titleClass(r.title)
		n := s.byClass[cl]
		if !slices.Contains(s.classOrder, cl) {
			s.classOrder = append(s.classOrder, cl)
		}
		n[1]++
		if r.got == r.title {
			s.titlesExact++
			n[0]++
		}
		s.byClass[cl] = n
	}
	sort.Slice(s.classOrder, func(i, j int) bool { return s.byClass[s.classOrder[i]][1] > s.byClass[s.classOrder[j]][1] })
	return s
}

func (s suiteScore) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "exact titles: %d of %d non-corrupted reports (%.1f%%)\n", s.titlesExact, s.titles, 100*float64(s.titlesExact)/float64(max(s.titles, 1)))
	fmt.Fprintf(&b, "corrupted verdict as syzkaller's: %d of %d reports (%.1f%%)\n", s.verdictsSame, s.verdicts, 100*float64(s.verdictsSame)/float64(max(s.verdicts, 1)))
	fmt.Fprintf(&b, "logs without a report left alone: %d of %d\n", s.emptyRight, s.empty)
	for _, c := range s.classOrder {
		n := s.byClass[c]
		fmt.Fprintf(&b, "  %-26s %3d of %3d\n", c, n[0], n[1])
	}
	return b.String()
}

// TestSyzkallerSuiteDifferences prints every difference from syzbot, for
// updating testdata/syzkaller-differences.txt (go test -run
// SyzkallerSuiteDifferences -v ./report).
func TestSyzkallerSuiteDifferences(t *testing.T) {
	if !testing.Verbose() {
		t.Skip("prints the differences with -v")
	}
	for _, r := range runSyzkallerSuite(t, syzkallerSuite()) {
		if d := r.differs(); d != "" {
			t.Logf("%s %s", r.name, d)
		}
	}
}
