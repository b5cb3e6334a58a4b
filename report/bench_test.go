package report_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/report"
)

// BenchmarkTitle10000 titles 10,000 reports: the project's labelled set
// (testdata/oops) over and over, one report text per Parse, as the service
// titles uploaded logs. One op is all 10,000.
func BenchmarkTitle10000(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(corpus.RepoRoot(), "testdata", "oops", "[0-9]*.txt"))
	if len(files) == 0 {
		b.Skip("no labelled set")
	}
	var texts []string
	for _, f := range files {
		t, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		texts = append(texts, string(t))
	}
	benchmarkTitles(b, texts)
}

// BenchmarkTitle10000Syzkaller is the same over syzkaller's suite, where
// it was copied (see TestSyzkallerSuite).
func BenchmarkTitle10000Syzkaller(b *testing.B) {
	var texts []string
	for _, r := range runSyzkallerSuite(b, syzkallerSuite()) {
		texts = append(texts, r.log)
	}
	benchmarkTitles(b, texts)
}

func benchmarkTitles(b *testing.B, texts []string) {
	size := 0
	for i := range 10000 {
		size += len(texts[i%len(texts)])
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for i := range 10000 {
			report.Title(texts[i%len(texts)])
		}
	}
}
