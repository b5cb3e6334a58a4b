package startup

// System call numbers of linux/amd64.
const (
	sysRead    = 0
	sysClose   = 3
	sysMadvise = 28
	sysOpenat  = 257
)

// basePageSize is x86-64's one base page size.
const basePageSize = 4096
