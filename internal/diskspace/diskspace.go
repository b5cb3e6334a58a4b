// Package diskspace tells how much room is left on the filesystem of a
// path, for the guards that keep a service or a command from filling it.
package diskspace

import (
	"errors"
	"fmt"
)

var (
	// ErrUnknown means the platform cannot tell a filesystem's free space.
	ErrUnknown = errors.New("diskspace: free space unknown on this platform")
	// ErrLow is a Guard's refusal: the filesystem is nearly full.
	ErrLow = errors.New("the filesystem is nearly full")
)

// Guard returns a check that fails when the filesystem of a directory has
// fewer than reserve bytes free: handed to vmcore.OpenOptions.CheckSpace,
// it stops an expansion before it fills the disk. A platform that cannot
// tell is not stopped.
func Guard(reserve int64) func(dir string, written int64) error {
	return func(dir string, written int64) error {
		free, err := Free(dir)
		if errors.Is(err, ErrUnknown) {
			return nil
		} else if err != nil {
			return err
		}
		if free < reserve {
			return fmt.Errorf("%w: %d bytes written, %d bytes left free, fewer than the %d to keep", ErrLow, written, free, reserve)
		}
		return nil
	}
}
