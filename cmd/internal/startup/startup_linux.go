//go:build linux && (amd64 || arm64)

package startup

import "unsafe"

const (
	// heapChunkBytes is the unit in which the runtime maps heap memory
	// (its pallocChunkBytes), aligned to it.
	heapChunkBytes = 4 << 20
	// hugePageBytes is the PMD huge page size with 4 KiB base pages
	// (x86-64, arm64 with 4 KiB granules).
	hugePageBytes = 2 << 20
	// stackBytes is the main goroutine's stack after growStack: deep
	// enough for the commands' paths (cobra, the dump readers, the
	// decompressors), small enough to be noise.
	stackBytes = 64 << 10
	// populateStep bounds one MADV_POPULATE_READ call, so the address
	// space's lock, which the call holds, is free between steps for the
	// runtime's own mappings.
	populateStep = 512 << 10

	madvHugePage     = 14 // MADV_HUGEPAGE
	madvPopulateRead = 22 // MADV_POPULATE_READ
	madvCollapse     = 25 // MADV_COLLAPSE
)

// probe and spill are package variables so the compiler cannot keep them on
// the stack: their addresses are where the heap is.
var (
	probe *[16]byte
	spill []byte
)

func init() {
	probe = new([16]byte)
	at := uintptr(unsafe.Pointer(probe))
	if pageSize() == 4096 { // the huge page sizes below are 4 KiB pages'
		adviseHeap(at)
	}
	growStack(int(at % 1024))
	go populateImage()
}

// adviseHeap advises the heap chunk holding at, the heap's end, to use
// huge pages, and collapses the 2 MiB around at into one.
func adviseHeap(at uintptr) {
	chunk := at &^ (heapChunkBytes - 1)
	madvise(chunk, heapChunkBytes, madvHugePage)
	if end := chunk + heapChunkBytes; end-at < hugePageBytes {
		// The runtime starts the heap at a random page of its first chunk
		// (Go 1.26's randomised heap base). Near the chunk's end, a command
		// would soon fault its way through a new mapping of 4 KiB pages; an
		// object a little larger than what is left makes the runtime map
		// the next chunk now. The object is never touched (fresh memory
		// needs no zeroing), so it costs address space, not memory, and the
		// next collection frees it.
		spill = make([]byte, end-at+64<<10)
		last := uintptr(unsafe.Pointer(unsafe.SliceData(spill))) + uintptr(len(spill)) - 1
		madvise(last&^(heapChunkBytes-1), heapChunkBytes, madvHugePage)
		spill = nil
	}
	// The pages in use when the advice came stay 4 KiB pages, and so would
	// the rest of their 2 MiB: collapse them into one huge page. (On a host
	// whose memory is fragmented this may compact memory first: for one
	// huge page, once.)
	madvise(at&^(hugePageBytes-1), hugePageBytes, madvCollapse)
}

// growStack has a frame nearly stackBytes large: calling it grows the
// goroutine's stack to stackBytes in one copy, of the few frames below it,
// instead of doubling (and copying every frame, each time) as the command
// goes deeper.
//
// It is not inlined, and it indexes its frame with a value known only at
// run time, so the frame is neither merged nor left out.
//
//go:noinline
func growStack(i int) byte {
	var frame [stackBytes - 4<<10]byte
	frame[i] = byte(i)
	return frame[i/2]
}

// populateImage maps the executable's code and read-only data (already in
// the page cache, as the kernel has just read them to start it) into the
// address space ahead of use. The package initialisers after this one
// touch code in 68 64 KiB windows spread over the whole text: a fault
// each, where one MADV_POPULATE_READ call maps 512 KiB for about the
// price of one fault. It runs beside the initialisers, in address order,
// which is roughly the order they run in.
func populateImage() {
	var buf [4096]byte
	n := readFile("/proc/self/maps\x00", buf[:])
	for _, m := range imageMappings(buf[:n]) {
		madvise(m.start, m.end-m.start, madvHugePage)
		for a := m.start; a < m.end; a += populateStep {
			madvise(a, min(populateStep, m.end-a), madvPopulateRead)
		}
	}
}

// mapping is an address range of the process.
type mapping struct{ start, end uintptr }

// imageMappings finds, in /proc/self/maps's text, the executable's
// read-only mappings (its code and read-only data): those of the first
// mapped file, which at start-up is the executable (the Go heap before it
// is anonymous; the vDSO and stack after it are named in brackets). Its
// writable mapping is left out: the data in it is written, so copied,
// anyway. A line cut short by the buffer's end is not used.
func imageMappings(maps []byte) []mapping {
	var out []mapping
	var image []byte
	for len(maps) > 0 {
		nl := indexByte(maps, '\n')
		if nl < 0 {
			break
		}
		line := maps[:nl]
		maps = maps[nl+1:]
		// start-end perms offset dev inode path
		var f [6][]byte
		nf := 0
		for rest := line; len(rest) > 0 && nf < len(f); {
			for len(rest) > 0 && rest[0] == ' ' {
				rest = rest[1:]
			}
			i := 0
			if nf == len(f)-1 {
				i = len(rest) // the path, spaces and all
			} else {
				for i < len(rest) && rest[i] != ' ' {
					i++
				}
			}
			if i > 0 {
				f[nf] = rest[:i]
				nf++
			}
			rest = rest[i:]
		}
		if nf < 6 || f[5][0] == '[' {
			continue
		}
		if image == nil {
			image = f[5]
		} else if string(f[5]) != string(image) {
			break
		}
		if len(f[1]) < 3 || f[1][1] == 'w' || f[1][0] != 'r' {
			continue
		}
		dash := indexByte(f[0], '-')
		if dash < 0 {
			continue
		}
		start, ok1 := parseHex(f[0][:dash])
		end, ok2 := parseHex(f[0][dash+1:])
		if ok1 && ok2 && start < end {
			out = append(out, mapping{start, end})
		}
	}
	return out
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func parseHex(b []byte) (uintptr, bool) {
	if len(b) == 0 || len(b) > 2*int(unsafe.Sizeof(uintptr(0))) {
		return 0, false
	}
	var v uintptr
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uintptr(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uintptr(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
