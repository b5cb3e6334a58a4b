package startup

// System call numbers of linux/arm64.
const (
	sysOpenat  = 56
	sysClose   = 57
	sysRead    = 63
	sysMadvise = 233
)

// basePageSize is 0: arm64 kernels have 4, 16 or 64 KiB pages, which the
// auxiliary vector says.
const basePageSize = 0
