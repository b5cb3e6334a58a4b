//go:build linux && (amd64 || arm64)

package startup

import "unsafe"

// rawSyscall makes a system call with up to three arguments and returns
// what the kernel returned: a value, or -errno. It is raw (the scheduler
// is not told), which suits this package's calls: each lasts at most a
// fraction of a millisecond, and the package must not import syscall,
// whose initialisation, and that of the ten packages lexically before it,
// would then run first (see the package doc).
func rawSyscall(trap, a1, a2, a3 uintptr) uintptr

// failed says whether a raw system call's result is an error (-4095..-1).
func failed(r uintptr) bool { return r > ^uintptr(4095) }

// madvise gives the kernel advice on [addr, addr+n); a refusal changes
// nothing the command relies on, so its error is not looked at.
func madvise(addr, n uintptr, advice int) {
	rawSyscall(sysMadvise, addr, n, uintptr(advice))
}

// readFile reads what one read(2) of a file gives; nothing on error.
// name ends with a NUL.
func readFile(name string, buf []byte) int {
	const atFDCWD, oRDONLY, oCLOEXEC = ^uintptr(99), 0, 0o2000000 // AT_FDCWD is -100
	fd := rawSyscall(sysOpenat, atFDCWD, uintptr(unsafe.Pointer(unsafe.StringData(name))), oRDONLY|oCLOEXEC)
	if failed(fd) {
		return 0
	}
	n := rawSyscall(sysRead, fd, uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(len(buf)))
	rawSyscall(sysClose, fd, 0, 0)
	if failed(n) || n > uintptr(len(buf)) {
		return 0
	}
	return int(n)
}

// pageSize is the base page size: the architecture's only one, else from
// the auxiliary vector (AT_PAGESZ); 0 if unknown.
func pageSize() uintptr {
	if basePageSize != 0 {
		return basePageSize
	}
	const atPagesz = 6
	var buf [1024]byte
	n := readFile("/proc/self/auxv\x00", buf[:])
	for i := 0; i+16 <= n; i += 16 {
		tag := *(*uintptr)(unsafe.Pointer(&buf[i]))
		if tag == atPagesz {
			return *(*uintptr)(unsafe.Pointer(&buf[i+8]))
		}
		if tag == 0 {
			break
		}
	}
	return 0
}
