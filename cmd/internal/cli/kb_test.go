package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/kb"
)

// kbErr is a failed `vmcorectl kb` run: its exit status and standard error.
type kbErr struct {
	code   int
	stderr string
}

func (e *kbErr) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.stderr) }

// runKBCmd runs `vmcorectl kb ARGS`; a non-zero exit is a *kbErr.
func runKBCmd(args ...string) (stdout, stderr string, err error) {
	code, o, e := runCmd(append([]string{"kb"}, args...)...)
	if code != 0 {
		err = &kbErr{code, e}
	}
	return o, e, err
}

// failed reports whether err is a kbErr with the exit status and message.
func failed(err error, code int, msg string) bool {
	var ke *kbErr
	return errors.As(err, &ke) && ke.code == code && strings.Contains(ke.stderr, msg)
}

// fixtureScenarios are the committed fixtures and the article each must
// get first.
var fixtureScenarios = map[string]string{
	"sysrq-c":           "sysrq-trigger-crash",
	"module-null-deref": "null-deref-out-of-tree-module",
}

const testArticle = `---
id: local-test-article
title: A local zebra article
lang: en
symptoms: the zebra message
cause: a test
resolution: none
links: [https://docs.kernel.org/]
match:
  log: ['zebra crossing failed']
---
Body.
`

func TestKBSearchShowList(t *testing.T) {
	t.Setenv(kbDirEnv, "")
	out, _, err := runKBCmd("search", "soft", "lockup")
	if err != nil || !strings.HasPrefix(out, "soft-lockup ") {
		t.Errorf("search soft lockup: %v\n%s", err, out)
	}
	out, _, err = runKBCmd("search", "--json", "メモリ不足")
	var hits []kb.Hit
	if err != nil || json.Unmarshal([]byte(out), &hits) != nil || len(hits) == 0 || hits[0].ID != "oom-panic-on-oom" {
		t.Errorf("search --json メモリ不足: %v %+v", err, hits)
	}
	// One article, two languages: --lang, else the locale, says which.
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "ja_JP.UTF-8")
	out, _, err = runKBCmd("show", "hung-task-panic")
	if err != nil || !strings.Contains(out, "ハングタスク") || !strings.Contains(out, "hung_task_panic") || !strings.Contains(out, "https://") {
		t.Errorf("show in a Japanese locale: %v\n%s", err, out)
	}
	out, _, err = runKBCmd("show", "--lang", "en", "hung-task-panic")
	if err != nil || !strings.Contains(out, "Panic on a hung task") || strings.Contains(out, "ハングタスク") {
		t.Errorf("show --lang en: %v\n%s", err, out)
	}
	t.Setenv("LANG", "C.UTF-8")
	out, _, err = runKBCmd("search", "ソフトロックアップ")
	if err != nil || !strings.HasPrefix(out, "soft-lockup ") || !strings.Contains(out, "Soft lockup") {
		t.Errorf("a Japanese search shown in English: %v\n%s", err, out)
	}
	if out, errOut, err := runKBCmd("search", "printer", "paper", "jam"); err != nil || out != "" || !strings.Contains(errOut, "no article matches") {
		t.Errorf("a search that fits no article: %v %q %q", err, out, errOut)
	}
	out, _, err = runKBCmd("show", "--markdown", "sysrq-trigger-crash")
	want, _ := os.ReadFile(filepath.Join(corpus.RepoRoot(), "kb", "articles", "sysrq-trigger-crash.md"))
	if err != nil || out != string(want) {
		t.Errorf("show --markdown differs from the file: %v", err)
	}
	out, _, err = runKBCmd("show", "--json", "soft-lockup")
	var a kb.Article
	if err != nil || json.Unmarshal([]byte(out), &a) != nil || a.ID != "soft-lockup" || a.Match.Taint != "L" {
		t.Errorf("show --json: %v %+v", err, a)
	}
	if _, _, err := runKBCmd("show", "no-such-article"); !failed(err, ExitFailure, "no-such-article") {
		t.Errorf("show of a missing id: %v", err)
	}
	out, _, err = runKBCmd("list")
	if n := strings.Count(out, "\n"); err != nil || n < 25 {
		t.Errorf("list: %d articles, %v", n, err)
	}
	for _, args := range [][]string{nil, {"frobnicate"}, {"search"}, {"show"}, {"show", "a", "b"}, {"add"}} {
		if _, _, err := runKBCmd(args...); !failed(err, ExitUsage, "") {
			t.Errorf("kb %v: %v, want a usage error", args, err)
		}
	}
}

func TestKBAdd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kb")
	t.Setenv(kbDirEnv, "")
	src := filepath.Join(t.TempDir(), "mine.md")
	os.WriteFile(src, []byte(testArticle), 0o644)

	if _, _, err := runKBCmd("add", src); !failed(err, ExitUsage, "no knowledge-base directory") {
		t.Errorf("add without a directory: %v", err)
	}
	out, _, err := runKBCmd("add", "--kb", dir, src)
	if err != nil || !strings.Contains(out, "local-test-article") {
		t.Fatalf("add: %v %s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "local-test-article.md")); err != nil || string(b) != testArticle {
		t.Errorf("the article was not written as given: %v", err)
	}
	// $VMCORE_KB names the directory as --kb does.
	t.Setenv(kbDirEnv, dir)
	out, _, err = runKBCmd("search", "zebra")
	if err != nil || !strings.HasPrefix(out, "local-test-article ") {
		t.Errorf("search in the local KB: %v\n%s", err, out)
	}
	out, _, err = runKBCmd("show", "local-test-article")
	if err != nil || !strings.Contains(out, "A local zebra article") {
		t.Errorf("show from the local KB: %v", err)
	}
	if _, _, err := runKBCmd("add", src); !failed(err, ExitFailure, "already in") {
		t.Errorf("adding twice: %v", err)
	}
	changed := strings.Replace(testArticle, "A local zebra article", "A renamed zebra article", 1)
	os.WriteFile(src, []byte(changed), 0o644)
	if _, _, err := runKBCmd("add", "--force", src); err != nil {
		t.Errorf("add --force: %v", err)
	}
	if out, _, _ := runKBCmd("show", "local-test-article"); !strings.Contains(out, "renamed") {
		t.Errorf("--force did not replace the article")
	}

	// A broken article: rejected with its line, the directory unchanged.
	before, _ := os.ReadDir(dir)
	broken := filepath.Join(t.TempDir(), "broken.md")
	os.WriteFile(broken, []byte(strings.Replace(testArticle, "lang: en", "lang: en\nseverity: high", 1)), 0o644)
	_, _, err = runKBCmd("add", broken)
	if !failed(err, ExitFailure, broken+":5:") {
		t.Errorf("broken article: %v, want %s:5:", err, broken)
	}
	after, _ := os.ReadDir(dir)
	if len(before) != len(after) {
		t.Errorf("a failed add changed the directory: %d files, then %d", len(before), len(after))
	}

	// A local article replaces the shipped one of the same id.
	override := filepath.Join(t.TempDir(), "override.md")
	os.WriteFile(override, []byte(strings.Replace(testArticle, "id: local-test-article", "id: soft-lockup", 1)), 0o644)
	out, _, err = runKBCmd("add", override)
	if err != nil || !strings.Contains(out, "replaces the shipped article") {
		t.Errorf("override: %v %s", err, out)
	}
	if out, _, _ := runKBCmd("show", "soft-lockup"); !strings.Contains(out, "renamed") && !strings.Contains(out, "zebra") {
		t.Errorf("the local article did not replace the shipped one:\n%s", out)
	}
}

// runKBPiped runs `vmcorectl kb ARGS` with data piped to standard input.
func runKBPiped(data []byte, args ...string) (stdout string, err error) {
	var o, e bytes.Buffer
	if code := Run(append([]string{"kb"}, args...), IO{In: bytes.NewReader(data), Out: &o, Err: &e}); code != 0 {
		err = &kbErr{code, e.String()}
	}
	return o.String(), err
}

func TestKBMatch(t *testing.T) {
	t.Setenv(kbDirEnv, "")
	for _, d := range corpus.Find(corpus.Committed()) {
		want := fixtureScenarios[d.Scenario]
		if want == "" || d.Format != "kdump-zlib" {
			continue
		}
		out, _, err := runKBCmd("match", d.Files[0])
		if err != nil || !strings.Contains(out, "\n1. "+want+" ") || !strings.Contains(out, "     - ") {
			t.Errorf("%s: match: %v\n%s", d.Label(), err, out)
		}
		out, _, err = runKBCmd("match", "--json", d.Files[0])
		var res kbMatchResult
		if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Source != "dump" || len(res.Suggestions) == 0 || res.Suggestions[0].ID != want {
			t.Errorf("%s: match --json: %v %+v", d.Label(), err, res)
		}
		// The kernel log alone gives the same first article.
		out, _, err = runKBCmd("match", "--json", d.Ref("dmesg.makedumpfile.txt"))
		res = kbMatchResult{}
		if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Source != "log" || len(res.Suggestions) == 0 || res.Suggestions[0].ID != want {
			t.Errorf("%s: match of its log: %v %+v", d.Label(), err, res)
		}

		// So does the log piped in, with - or with no argument.
		log, _ := os.ReadFile(d.Ref("dmesg.makedumpfile.txt"))
		for _, args := range [][]string{{"kb", "match", "--json", "-"}, {"kb", "match", "--json"}} {
			var o, e bytes.Buffer
			code := Run(args, IO{In: bytes.NewReader(log), Out: &o, Err: &e})
			res = kbMatchResult{}
			if code != 0 || json.Unmarshal(o.Bytes(), &res) != nil || res.Source != "log" || len(res.Suggestions) == 0 || res.Suggestions[0].ID != want {
				t.Errorf("%s: %v of the piped log: exit %d %s %+v", d.Label(), args, code, e.String(), res)
			}
		}
		var e bytes.Buffer
		if code := Run([]string{"kb", "match"}, IO{In: strings.NewReader(""), Out: io.Discard, Err: &e, InIsTerminal: true}); code != ExitUsage {
			t.Errorf("kb match with a terminal for input: exit %d, %s", code, e.String())
		}

		// analyze --json carries the same suggestions.
		code, out, errOut := runCmd("analyze", "--json", d.Files[0])
		var doc analysis.Document
		if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.KB) == 0 || doc.KB[0].ID != want || len(doc.KB[0].Evidence) == 0 {
			t.Errorf("%s: analyze --json kb: exit %d %s %+v", d.Label(), code, errOut, doc.KB)
		}
		if code, out, _ := runCmd("analyze", d.Files[0]); code != 0 || !strings.Contains(out, "kb:    "+want+" ") {
			t.Errorf("%s: analyze summary lacks the suggestion:\n%s", d.Label(), out)
		}
	}
	// A log on standard input: "-", or a pipe with no file named.
	log, err := os.ReadFile(filepath.Join(corpus.RepoRoot(), "testdata", "oops", "027-soft-lockup-panic-inet-inherit-port.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"match", "-"}, {"match"}} {
		out, err := runKBPiped(log, args...)
		if err != nil || !strings.Contains(out, "\n1. soft-lockup ") {
			t.Errorf("kb %v with the log on a pipe: %v\n%s", args, err, out)
		}
	}
	// A named pipe, as <(dmesg) gives.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Write(log)
			f.Close()
		}
	}()
	if out, _, err := runKBCmd("match", fifo); err != nil || !strings.Contains(out, "\n1. soft-lockup ") {
		t.Errorf("kb match FIFO: %v\n%s", err, out)
	}
	dump := corpus.Find(corpus.Committed())[0].Files[0]
	b, _ := os.ReadFile(dump)
	if _, err := runKBPiped(b[:64<<10], "match", "-"); err == nil || !strings.Contains(err.Error(), "crash dump") {
		t.Errorf("a dump on standard input: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.log")
	os.WriteFile(empty, nil, 0o644)
	if out, _, err := runKBCmd("match", empty); err != nil || !strings.Contains(out, "no matching article") {
		t.Errorf("empty log: %v %s", err, out)
	}
	if _, _, err := runKBCmd("match", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file matched")
	}
}
