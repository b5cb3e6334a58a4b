package testsvc

import (
	"os/exec"
	"strconv"
	"testing"
)

// Tmpfs mounts a tmpfs of size bytes on a new temporary directory and
// returns it, unmounted when the test ends: a real filesystem that fills
// up, for tests of what the service does on a full disk. It needs root
// (CAP_SYS_ADMIN), as CI has; elsewhere the test is skipped (a failure
// when CI is set).
func Tmpfs(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10)+",mode=0700", "tmpfs", dir).CombinedOutput()
	if err != nil {
		unavailable(t, "mounting a tmpfs needs root: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("unmounting the tmpfs %s: %v: %s", dir, err, out)
		}
	})
	return dir
}
