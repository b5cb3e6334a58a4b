//go:build unix

package command

import (
	"fmt"
	"os"
	"syscall"
)

// execCompanion replaces this process with the companion.
func execCompanion(path string, args []string) error {
	err := syscall.Exec(path, append([]string{path}, args...), os.Environ())
	return fmt.Errorf("running %s: %w", path, err)
}
