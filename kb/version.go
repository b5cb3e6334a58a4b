package kb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is an upstream kernel version: 6.1.76 is {6, 1, 76}. Pre is the
// release candidate number (6.8-rc3), 0 for a release.
type Version struct {
	Major, Minor, Patch int // 6, 1, 76
	Pre                 int // release candidate: 3 in 6.8-rc3
	parts               int // how many numbers were written: "6.1" is 2
}

var versionRE = &lazyRegexp{src: `^v?(\d{1,4})(?:\.(\d{1,4}))?(?:\.(\d{1,6}))?(?:-rc(\d{1,3}))?`}

// ParseVersion reads the upstream version at the start of s: "6.1.76",
// "6.8-rc3", "v5.10", or a distribution release such as "6.1.0-56-amd64"
// (whose numbers are only the base version; see kernelVersion for the
// Debian upstream version in the version string).
func ParseVersion(s string) (Version, bool) {
	m := versionRE.get().FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, false
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	v.parts = 1
	if m[2] != "" {
		v.Minor, _ = strconv.Atoi(m[2])
		v.parts = 2
	}
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
		v.parts = 3
	}
	if m[4] != "" {
		v.Pre, _ = strconv.Atoi(m[4])
	}
	return v, true
}

// String prints the version as the kernel does.
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d", v.Major, v.Minor)
	if v.Patch > 0 || v.parts >= 3 {
		s += fmt.Sprintf(".%d", v.Patch)
	}
	if v.Pre > 0 {
		s += fmt.Sprintf("-rc%d", v.Pre)
	}
	return s
}

// Compare orders versions: -1, 0 or +1. A release candidate comes before
// its release (6.8-rc3 < 6.8).
func (v Version) Compare(w Version) int {
	for _, d := range [][2]int{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == 0:
		return 1
	case w.Pre == 0:
		return -1
	case v.Pre < w.Pre:
		return -1
	}
	return 1
}

// sameBranch reports whether two versions are of one stable branch (6.1.x).
func (v Version) sameBranch(w Version) bool { return v.Major == w.Major && v.Minor == w.Minor }

// versionRange is a conjunction of constraints: ">=5.10 <6.1.76".
type versionRange struct {
	text  string
	conds []versionCond
}

type versionCond struct {
	op string // ">=", ">", "<=", "<", "=" (a prefix: "=6.1" is every 6.1.x)
	v  Version
}

func parseRange(s string) (versionRange, error) {
	vr := versionRange{text: strings.TrimSpace(s)}
	for _, f := range strings.Fields(s) {
		op := ""
		for _, o := range []string{">=", "<=", ">", "<", "="} {
			if strings.HasPrefix(f, o) {
				op = o
				break
			}
		}
		rest := strings.TrimSpace(f[len(op):])
		if op == "" {
			op = "="
		}
		v, ok := ParseVersion(rest)
		if !ok || versionRE.get().FindString(rest) != rest {
			return vr, fmt.Errorf("%q is not a version constraint (>=5.10, <6.1.76, =6.1)", f)
		}
		vr.conds = append(vr.conds, versionCond{op, v})
	}
	if len(vr.conds) == 0 {
		return vr, errors.New("empty version range")
	}
	return vr, nil
}

// contains reports whether v satisfies every constraint.
func (vr versionRange) contains(v Version) bool {
	for _, c := range vr.conds {
		d := v.Compare(c.v)
		ok := false
		switch c.op {
		case ">=":
			ok = d >= 0
		case ">":
			ok = d > 0
		case "<=":
			ok = d <= 0
		case "<":
			ok = d < 0
		case "=":
			ok = v.Major == c.v.Major && (c.v.parts < 2 || v.Minor == c.v.Minor) && (c.v.parts < 3 || v.Patch == c.v.Patch)
		}
		if !ok {
			return false
		}
	}
	return true
}

// debianUpstream finds the upstream version Debian writes in the kernel's
// version string ("#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"):
// the release, 6.1.0-56-amd64, names only the ABI.
var debianUpstream = &lazyRegexp{src: `\bDebian (\d+\.\d+\.\d+)`}

// kernelVersion is the crashed kernel's upstream version and how to print
// it, from the release and the version string; ok is false when neither
// says.
func kernelVersion(release, version string) (v Version, text string, ok bool) {
	if m := debianUpstream.get().FindStringSubmatch(version); m != nil {
		if v, ok = ParseVersion(m[1]); ok {
			if release != "" {
				return v, fmt.Sprintf("%s (%s)", v, release), true
			}
			return v, v.String(), true
		}
	}
	if v, ok = ParseVersion(release); ok {
		return v, release, true
	}
	return Version{}, "", false
}
