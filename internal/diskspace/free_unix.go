//go:build unix

package diskspace

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Free returns the bytes an unprivileged process may still write on the
// filesystem that holds path.
func Free(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("diskspace: %s: %w", path, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
