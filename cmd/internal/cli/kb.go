package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/cmd/internal/command"
)

// The knowledge base is not linked into vmcorectl-full. Its search engine
// (bleve) costs every process that links it about 6 ms of start-up and
// doubles the binary that kdump copies into the capture kernel's
// initramfs to upload dumps. So the KB's commands live in vmcorectl-kb,
// which is the whole command line plus the knowledge base; vmcorectl-full
// runs it for `kb` and for the suggestions of a local `analyze`.

// Companion is the knowledge base's binary, looked up next to the running
// executable, then in $PATH.
const Companion = command.KB

// KB is the knowledge base linked in, in vmcorectl-kb.
type KB struct {
	// Run runs `kb ARGS`.
	Run func(args []string, stdout, stderr io.Writer) error
	// Prepare starts readying the index in the background.
	Prepare func()
	// Suggest fills an analysis's KB suggestions, a failure becoming a
	// warning of the document.
	Suggest func(a *analysis.Document)
}

var linkedKB *KB

// RegisterKB links the knowledge base into this binary's command line.
func RegisterKB(k KB) { linkedKB = &k }

// companionPath finds vmcorectl-kb.
func companionPath() (string, error) {
	p, err := command.Companion(Companion)
	if err != nil {
		return "", fmt.Errorf("the knowledge base is in %s: %w", Companion, err)
	}
	return p, nil
}

// runKB runs `vmcorectl kb`: linked in, or through vmcorectl-kb.
func runKB(args []string, stdout, stderr io.Writer) error {
	if linkedKB != nil {
		return linkedKB.Run(args, stdout, stderr)
	}
	path, err := companionPath()
	if err != nil {
		return err
	}
	cmd := exec.Command(path, append([]string{"kb"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() > 0 {
		return command.ExitStatus(exit.ExitCode())
	}
	return err
}

// SuggestCommand is the hidden `kb` command of vmcorectl-kb that reads an
// analysis document on stdin and prints its suggestions as JSON.
const SuggestCommand = "suggest"

// suggestions gets a local analysis's KB suggestions ready while the dump
// is analysed: the linked index is built on another goroutine, or
// vmcorectl-kb is started at once, so its start-up and index overlap the
// analysis, and is handed the document at the end.
type suggestions struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout bytes.Buffer
	stderr bytes.Buffer
	err    error
}

func startSuggestions() *suggestions {
	s := &suggestions{}
	if linkedKB != nil {
		linkedKB.Prepare()
		return s
	}
	path, err := companionPath()
	if err != nil {
		s.err = err
		return s
	}
	s.cmd = exec.Command(path, "kb", SuggestCommand)
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	if s.stdin, s.err = s.cmd.StdinPipe(); s.err == nil {
		s.err = s.cmd.Start()
	}
	if s.err != nil {
		s.cmd = nil
	}
	return s
}

// abort stops a started companion whose analysis failed.
func (s *suggestions) abort() {
	if s.cmd != nil {
		s.stdin.Close()
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// fill sets a.KB, or says in a warning of the document why there are no
// suggestions.
func (s *suggestions) fill(a *analysis.Document) {
	if linkedKB != nil {
		linkedKB.Suggest(a)
		return
	}
	if s.cmd == nil {
		a.Warnings = append(a.Warnings, "kb: no suggestions: "+s.err.Error())
		return
	}
	werr := json.NewEncoder(s.stdin).Encode(a)
	s.stdin.Close()
	if err := s.cmd.Wait(); err != nil || werr != nil {
		msg := bytes.TrimSpace(s.stderr.Bytes())
		a.Warnings = append(a.Warnings, fmt.Sprintf("kb: no suggestions: %s: %v %s", Companion, errors.Join(werr, err), msg))
		return
	}
	var out struct {
		Suggestions []analysis.Suggestion `json:"suggestions"`
		Warnings    []string              `json:"warnings"`
	}
	if err := json.Unmarshal(s.stdout.Bytes(), &out); err != nil {
		a.Warnings = append(a.Warnings, fmt.Sprintf("kb: no suggestions: %s printed %v", Companion, err))
		return
	}
	a.KB = out.Suggestions
	a.Warnings = append(a.Warnings, out.Warnings...)
}

// printKB prints the first n suggestions of an analysis, one a line.
func printKB(w io.Writer, sugs []analysis.Suggestion, n int) {
	for i, s := range sugs {
		if i == n {
			break
		}
		fmt.Fprintf(w, "kb:    %s (%.2f) %s\n", s.ID, s.Confidence, s.Title)
	}
}
