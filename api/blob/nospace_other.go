//go:build !unix

package blob

import (
	"errors"
	"syscall"
)

// fsErr marks a filesystem's out-of-space errors as ErrNoSpace.
func fsErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return errors.Join(ErrNoSpace, err)
	}
	return err
}
