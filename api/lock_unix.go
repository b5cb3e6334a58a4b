//go:build unix

package api

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive lock on the data directory for the life of
// the process: its temporary files are swept and its worker ID names its
// jobs, which two processes on one directory would break. The lock goes
// with the process, however it ends.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("api: data directory lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("api: another vmcored uses the data directory %s", dir)
		}
		return nil, fmt.Errorf("api: data directory lock: %w", err)
	}
	return func() { f.Close() }, nil
}
