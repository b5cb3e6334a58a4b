package vmcore

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MaxVMCoreInfo bounds the VMCOREINFO text; the kernel reserves one page
// (VMCOREINFO_BYTES) for it.
const MaxVMCoreInfo = 1 << 16

// VMCoreInfo is the kernel's VMCOREINFO note: KEY=VALUE lines that describe
// the crashed kernel well enough to read it without debuginfo (release,
// build-id, page size, KASLR offset, the printk ring layout, ...).
// The accessors apply each key family's encoding: SYMBOL and KERNELOFFSET are
// hexadecimal without 0x, SIZE/OFFSET/LENGTH decimal, NUMBER C-style (%ld, or
// 0x-prefixed hex from some architectures).
type VMCoreInfo struct {
	raw  []byte
	vals map[string]string
}

// ParseVMCoreInfo parses VMCOREINFO text. Lines without '=' are skipped;
// later duplicates win, as in the kernel's own consumers. It fails only on an
// oversized or binary blob.
func ParseVMCoreInfo(b []byte) (*VMCoreInfo, error) {
	if len(b) > MaxVMCoreInfo {
		return nil, fmt.Errorf("vmcore: VMCOREINFO of %d bytes exceeds %d", len(b), MaxVMCoreInfo)
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i] // the note is padded with NULs
	}
	// One copy of the text: the keys and values are substrings of it, and
	// the map is sized once (VMCOREINFO has some 300 lines).
	text := string(b)
	vi := &VMCoreInfo{raw: append([]byte(nil), b...), vals: make(map[string]string, strings.Count(text, "\n")+1)}
	for line := range strings.SplitSeq(text, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			continue
		}
		vi.vals[k] = strings.TrimSpace(v)
	}
	if len(vi.vals) == 0 {
		return nil, fmt.Errorf("vmcore: VMCOREINFO has no KEY=VALUE lines")
	}
	return vi, nil
}

// Raw returns the note text as the kernel wrote it (without NUL padding).
func (vi *VMCoreInfo) Raw() []byte { return vi.raw }

// Get returns the raw value of key, e.g. Get("OSRELEASE").
func (vi *VMCoreInfo) Get(key string) (string, bool) {
	v, ok := vi.vals[key]
	return v, ok
}

// Keys returns every key, sorted.
func (vi *VMCoreInfo) Keys() []string {
	keys := make([]string, 0, len(vi.vals))
	for k := range vi.vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Symbol returns SYMBOL(name), the symbol's runtime address (KASLR applied).
func (vi *VMCoreInfo) Symbol(name string) (uint64, bool) {
	return vi.hex("SYMBOL(" + name + ")")
}

// Size returns SIZE(name), the size of a type in bytes.
func (vi *VMCoreInfo) Size(name string) (int64, bool) { return vi.dec("SIZE(" + name + ")") }

// Offset returns OFFSET(name) for a "type.member" name.
func (vi *VMCoreInfo) Offset(name string) (int64, bool) { return vi.dec("OFFSET(" + name + ")") }

// Length returns LENGTH(name), an array length.
func (vi *VMCoreInfo) Length(name string) (int64, bool) { return vi.dec("LENGTH(" + name + ")") }

// Number returns NUMBER(name), in C notation (decimal, possibly negative, or 0x hex).
func (vi *VMCoreInfo) Number(name string) (int64, bool) {
	v, ok := vi.vals["NUMBER("+name+")"]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		u, err := strconv.ParseUint(v, 0, 64)
		if err != nil {
			return 0, false
		}
		n = int64(u)
	}
	return n, true
}

// OSRelease is the kernel release (uname -r), e.g. "6.1.0-56-amd64".
func (vi *VMCoreInfo) OSRelease() string { return vi.vals["OSRELEASE"] }

// BuildID is the hex GNU build-id of the kernel image (5.9 and later), or "".
func (vi *VMCoreInfo) BuildID() string { return strings.ToLower(vi.vals["BUILD-ID"]) }

// PageSize is PAGESIZE, or 0 when absent.
func (vi *VMCoreInfo) PageSize() int {
	n, _ := vi.dec("PAGESIZE")
	return int(n)
}

// KernelOffset is the KASLR slide (KERNELOFFSET): runtime address minus the
// address in vmlinux/System.map. Zero when absent.
func (vi *VMCoreInfo) KernelOffset() uint64 {
	v, _ := vi.hex("KERNELOFFSET")
	return v
}

// CrashTime is CRASHTIME in seconds since the epoch, and whether it is
// present (it is absent in dumps not taken by a crashing kernel, e.g. QEMU's).
func (vi *VMCoreInfo) CrashTime() (int64, bool) { return vi.dec("CRASHTIME") }

func (vi *VMCoreInfo) hex(key string) (uint64, bool) {
	v, ok := vi.vals[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 64)
	return n, err == nil
}

func (vi *VMCoreInfo) dec(key string) (int64, bool) {
	v, ok := vi.vals[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}
