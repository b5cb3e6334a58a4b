//go:build unix

package blob

import (
	"errors"
	"syscall"
)

// fsErr marks a filesystem's out-of-space and over-quota errors as
// ErrNoSpace.
func fsErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return errors.Join(ErrNoSpace, err)
	}
	return err
}
