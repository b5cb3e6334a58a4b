package kb

import "testing"

// The kernels of the corpus (testdata/corpus/make.sh): Debian 12's
// 6.1.0-56-amd64 is package 6.1.192-2, 6.1.0-57-arm64 is 6.1.192-3.
const (
	amd64Version = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"
	arm64Version = "#1 SMP Debian 6.1.192-3 (2026-11-26)"
	arm64Banner  = "Linux version 6.1.0-57-arm64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP Debian 6.1.192-3 (2026-11-26)"
)

func TestKernelAtLeast(t *testing.T) {
	for _, c := range []struct {
		release, version, fix string
		atLeast, ok           bool
	}{
		// Upstream versions against Debian's version string: the release
		// says 6.1.0, the kernel is 6.1.192.
		{"6.1.0-56-amd64", amd64Version, "6.1.192", true, true},
		{"6.1.0-56-amd64", amd64Version, "6.1.193", false, true},
		{"6.1.0-56-amd64", amd64Version, "v6.1.100", true, true},
		{"6.1.0-56-amd64", amd64Version, "6.2", false, true},
		{"6.1.0-56-amd64", amd64Version, "6.1", true, true},
		// Without the version string, an ABI release's upstream is unknown.
		{"6.1.0-56-amd64", "", "6.1.100", false, false},
		// Debian package versions.
		{"6.1.0-56-amd64", amd64Version, "6.1.192-2", true, true},
		{"6.1.0-56-amd64", amd64Version, "6.1.192-3", false, true},
		{"6.1.0-57-arm64", arm64Version, "6.1.192-3", true, true},
		{"6.1.0-57-arm64", arm64Banner, "6.1.192-3", true, true},
		{"6.1.0-57-arm64", arm64Banner, "6.1.193", false, true},
		{"6.1.0-56-amd64", amd64Version, "6.1.192-2~bpo11+1", true, true},
		// ABI releases.
		{"6.1.0-56-amd64", amd64Version, "6.1.0-57-amd64", false, true},
		{"6.1.0-57-arm64", arm64Version, "6.1.0-57-amd64", true, true},
		{"6.1.0-57-arm64", arm64Version, "6.1.0-56", true, true},
		{"6.1.0-56-amd64", amd64Version, "6.1.0-100", false, true},
		{"6.12.0-1-amd64", "", "6.1.0-57", true, true},
		{"5.15.0-91-generic", "#101-Ubuntu SMP", "5.15.0-92-generic", false, true},
		{"6.12.3", "", "6.1.0-57", false, false},
		// RHEL and Fedora releases.
		{"5.14.0-427.13.1.el9_4.x86_64", "#1 SMP PREEMPT_DYNAMIC", "5.14.0-427.20.1.el9_4", false, true},
		{"5.14.0-427.20.1.el9_4.x86_64", "#1 SMP PREEMPT_DYNAMIC", "5.14.0-427.20.1.el9_4", true, true},
		{"5.14.0-503.11.1.el9_5.x86_64", "#1 SMP PREEMPT_DYNAMIC", "5.14.0-427.20.1.el9_4", true, true},
		{"5.14.0-427.13.1.el9_4.x86_64", "", "5.14.1", false, true},
		{"6.11.4-301.fc41.x86_64", "", "6.11.5", false, true},
		{"6.11.4-301.fc41.x86_64", "", "6.11.4", true, true},
		// Plain upstream kernels and release candidates.
		{"6.12.3", "#1 SMP", "6.12.3", true, true},
		{"6.8.0-rc3", "", "6.8-rc2", true, true},
		{"6.8.0-rc3", "", "6.8", false, true},
		// Nonsense is not comparable.
		{"6.1.0-56-amd64", amd64Version, "the next one", false, false},
		{"custom", "", "6.1.193", false, false},
		{"6.1.0-56-amd64", amd64Version, "", false, false},
	} {
		atLeast, ok := KernelAtLeast(c.release, c.version, c.fix)
		if atLeast != c.atLeast || ok != c.ok {
			t.Errorf("KernelAtLeast(%q, %q, %q) = %t, %t; want %t, %t", c.release, c.version, c.fix, atLeast, ok, c.atLeast, c.ok)
		}
	}
}

func TestCompareSegments(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0}, {"1.0", "1.1", -1}, {"1.10", "1.9", 1}, {"1.0~rc1", "1.0", -1}, {"1.0", "1.0a", -1},
		{"6.1.0-57", "6.1.0-57-amd64", -1}, {"007", "7", 0}, {"1.0.el9", "1.0.1", -1},
	} {
		if got := compareSegments(c.a, c.b); got != c.want {
			t.Errorf("compareSegments(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
