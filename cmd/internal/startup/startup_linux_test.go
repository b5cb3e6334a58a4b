//go:build linux && (amd64 || arm64)

package startup

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

func TestImageMappings(t *testing.T) {
	tests := []struct {
		name string
		maps string
		want []mapping
	}{{
		name: "static executable, heap above it",
		maps: `00400000-00a0f000 r-xp 00000000 fe:00 1234                               /usr/bin/vmcorectl
00a0f000-010f8000 r--p 0060f000 fe:00 1234                               /usr/bin/vmcorectl
010f8000-0125d000 rw-p 00cf8000 fe:00 1234                               /usr/bin/vmcorectl
0125d000-034c5000 rw-p 00000000 00:00 0
c000000000-c004000000 rw-p 00000000 00:00 0
7ffd1b9f0000-7ffd1ba11000 rw-p 00000000 00:00 0                          [stack]
`,
		want: []mapping{{0x400000, 0xa0f000}, {0xa0f000, 0x10f8000}},
	}, {
		name: "position-independent executable, randomised heap below it",
		maps: `1c2556000000-1c2556400000 rw-p 00000000 00:00 0
55d0c8a00000-55d0c9000000 r--p 00000000 fe:00 99                         /opt/vmcore/bin/vmcorectl
55d0c9000000-55d0c9600000 r-xp 00600000 fe:00 99                         /opt/vmcore/bin/vmcorectl
55d0c9600000-55d0c9700000 rw-p 00c00000 fe:00 99                         /opt/vmcore/bin/vmcorectl
7f00aa000000-7f00aa100000 r--p 00000000 fe:00 7                          /var/cache/vmcore/profile
7ffe2c9f2000-7ffe2c9f4000 r-xp 00000000 00:00 0                          [vdso]
`,
		want: []mapping{{0x55d0c8a00000, 0x55d0c9000000}, {0x55d0c9000000, 0x55d0c9600000}},
	}, {
		name: "a path with spaces",
		maps: "00400000-00500000 r-xp 00000000 fe:00 5 /home/a b/vmcorectl\n00500000-00600000 r--p 00100000 fe:00 5 /home/a b/vmcorectl\n",
		want: []mapping{{0x400000, 0x500000}, {0x500000, 0x600000}},
	}, {
		name: "a line cut short by the buffer",
		maps: "00400000-00500000 r-xp 00000000 fe:00 5 /bin/x\n00500000-0060",
		want: []mapping{{0x400000, 0x500000}},
	}, {
		name: "no file mapped",
		maps: "c000000000-c004000000 rw-p 00000000 00:00 0\n7ffe2c9f2000-7ffe2c9f4000 r-xp 00000000 00:00 0 [vdso]\n",
	}, {
		name: "garbage",
		maps: "zz-yy r-xp 0 0 0 /x\n-00 r--p 0 0 0 /x\n00500000-00400000 r--p 0 0 0 /x\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := imageMappings([]byte(tt.maps))
			if len(got) != len(tt.want) {
				t.Fatalf("imageMappings = %x, want %x", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("imageMappings = %x, want %x", got, tt.want)
				}
			}
		})
	}
}

func FuzzImageMappings(f *testing.F) {
	if b, err := os.ReadFile("/proc/self/maps"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("00400000-00500000 r-xp 00000000 fe:00 5 /bin/x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range imageMappings(b) {
			if m.start >= m.end {
				t.Fatalf("empty or reversed mapping %x", m)
			}
		}
	})
}

// smapsEntry is one mapping of /proc/self/smaps: its range, resident size
// and VmFlags.
type smapsEntry struct {
	start, end uintptr
	rssKiB     uint64
	flags      []string
}

func readSmaps(t *testing.T) []smapsEntry {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	var out []smapsEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			lo, hi, _ := strings.Cut(fields[0], "-")
			s, _ := strconv.ParseUint(lo, 16, 64)
			e, _ := strconv.ParseUint(hi, 16, 64)
			out = append(out, smapsEntry{start: uintptr(s), end: uintptr(e)})
		case len(out) > 0 && fields[0] == "Rss:":
			out[len(out)-1].rssKiB, _ = strconv.ParseUint(fields[1], 10, 64)
		case len(out) > 0 && fields[0] == "VmFlags:":
			out[len(out)-1].flags = fields[1:]
		}
	}
	return out
}

// TestHeapAdvised checks, in this test binary (whose start ran init), that
// the heap chunk init found is advised to use huge pages ("hg" in smaps).
func TestHeapAdvised(t *testing.T) {
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || strings.Contains(string(b), "[never]") {
		t.Skip("no transparent huge pages here")
	}
	if os.Getpagesize() != 4096 {
		t.Skip("base pages are not 4 KiB")
	}
	at := uintptr(unsafe.Pointer(probe))
	for _, m := range readSmaps(t) {
		if m.start <= at && at < m.end {
			for _, f := range m.flags {
				if f == "hg" {
					return
				}
			}
			t.Fatalf("the heap mapping %x-%x holding %x has VmFlags %v, no hg", m.start, m.end, at, m.flags)
		}
	}
	t.Fatalf("no mapping holds the heap address %x", at)
}

// TestPopulateImage checks that populateImage finds this executable's code
// and read-only data in the real /proc/self/maps and leaves them resident.
func TestPopulateImage(t *testing.T) {
	populateImage()
	var buf [4096]byte
	image := imageMappings(buf[:readFile("/proc/self/maps\x00", buf[:])])
	if len(image) < 2 {
		t.Fatalf("imageMappings found %x in this process's maps, want code and read-only data", image)
	}
	code := uintptr(unsafe.Pointer(&buf)) // a stack address: not in the image
	for _, m := range image {
		if m.start <= code && code < m.end {
			t.Fatalf("mapping %x holds a stack address", m)
		}
	}
	smaps := readSmaps(t)
	for _, m := range image {
		for _, s := range smaps {
			if s.start == m.start && s.end == m.end {
				if size := uint64(s.end-s.start) >> 10; s.rssKiB < size {
					t.Errorf("mapping %x-%x: %d KiB resident of %d after populateImage", s.start, s.end, s.rssKiB, size)
				}
			}
		}
	}
}
