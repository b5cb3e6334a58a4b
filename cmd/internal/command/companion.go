package command

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// The companions of vmcorectl. vmcorectl itself links only what printing a
// kernel log needs; every other command is in vmcorectl-full (the whole
// command line but the knowledge base: what the capture kernel needs to
// upload a dump) or vmcorectl-kb (the whole command line and the knowledge
// base, whose index costs any binary that links it some 6 ms of start-up).
const (
	Full = "vmcorectl-full"
	KB   = "vmcorectl-kb"
)

// Companion finds a companion binary beside the running executable, then
// in $PATH.
func Companion(name string) (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s is installed neither next to vmcorectl nor in $PATH", name)
}

// Hand runs args (a command line without the program name) in the first
// of the companions that is installed, in place of this process where the
// system allows it, so that the companion's exit status, signals and
// terminal are the user's. It returns only when no companion could run.
func Hand(args []string, companions ...string) error {
	var firstErr error
	for _, name := range companions {
		path, err := Companion(name)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		return execCompanion(path, args)
	}
	return firstErr
}
