//go:build unix

package elfdump

import (
	"os"
	"syscall"
)

// mmapReadOnly maps size bytes of file read-only and shared.
func mmapReadOnly(file *os.File, size int) ([]byte, error) {
	// SyscallConn rather than Fd: Fd would switch the descriptor to
	// blocking mode for good.
	rc, err := file.SyscallConn()
	if err != nil {
		return nil, err
	}
	var m []byte
	var merr error
	if err := rc.Control(func(fd uintptr) {
		m, merr = syscall.Mmap(int(fd), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	}); err != nil {
		return nil, err
	}
	return m, merr
}

func munmap(m []byte) error { return syscall.Munmap(m) }
