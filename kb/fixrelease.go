package kb

import (
	"strings"
)

// KernelAtLeast says whether a crashed kernel is at or after fix, the
// first release with a fix, and whether the two could be compared at
// all. The kernel is named by its release (utsname: "6.1.0-56-amd64",
// "5.14.0-427.13.1.el9_4.x86_64", "6.12.3") and its version string
// (utsname version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)").
// fix may be written in any of the ways people name kernels:
//
//   - an upstream version ("6.1.193", "v6.8-rc3"): compared with the
//     kernel's upstream version, which on Debian is in the version string
//     (the release's "6.1.0" names only the ABI);
//   - a Debian package version ("6.1.193-1"): compared with the one in
//     the version string;
//   - an ABI release as Debian and Ubuntu write it ("6.1.0-57-amd64",
//     "5.15.0-91"): compared with the release when it has that form and
//     the same base;
//   - any other distribution release ("5.14.0-427.20.1.el9_4"): compared
//     segment by segment with a release that starts with the same
//     upstream version, as rpm and dpkg compare versions.
//
// Anything else is not comparable: ok is false.
func KernelAtLeast(release, version, fix string) (atLeast, ok bool) {
	fix = strings.TrimPrefix(strings.TrimSpace(fix), "v")
	release = strings.TrimSpace(release)
	if fix == "" {
		return false, false
	}
	fixBase, fixRest := splitBase(fix)
	if fixBase == "" {
		return false, false
	}
	deb := debianPackageVersion(version)
	switch {
	case abiRelease(fix):
		if !abiRelease(release) {
			return false, false
		}
		relBase, _ := splitBase(release)
		if relBase != fixBase {
			// Another branch: its ABI numbers say nothing of this one's.
			return compareUpstreamBases(relBase, fixBase)
		}
		return compareSegments(release, fix) >= 0, true
	case fixRest == "" || strings.HasPrefix(fixRest, "-rc"):
		up := deb
		if up != "" {
			up, _ = splitBase(up)
		} else if !abiRelease(release) {
			up = release
		}
		uv, ok1 := ParseVersion(up)
		fv, ok2 := ParseVersion(fix)
		if up == "" || !ok1 || !ok2 {
			return false, false
		}
		return uv.Compare(fv) >= 0, true
	case deb != "" && !abiRelease(fix):
		return compareSegments(deb, fix) >= 0, true
	}
	relBase, _ := splitBase(release)
	if relBase == "" || relBase != fixBase {
		return false, false
	}
	return compareSegments(release, fix) >= 0, true
}

// compareUpstreamBases orders two x.y.z bases of different branches: a
// fix in 6.1 is in every 6.6 release (stable fixes go upstream first).
func compareUpstreamBases(a, b string) (bool, bool) {
	av, ok1 := ParseVersion(a)
	bv, ok2 := ParseVersion(b)
	if !ok1 || !ok2 {
		return false, false
	}
	return av.Compare(bv) >= 0, true
}

// splitBase splits a release at the end of its leading dotted numbers:
// "6.1.0-56-amd64" is "6.1.0" and "-56-amd64". The base is "" when s does
// not start with a digit.
func splitBase(s string) (base, rest string) {
	i := 0
	for i < len(s) && (isDigit(s[i]) || s[i] == '.' && i > 0 && i+1 < len(s) && isDigit(s[i+1])) {
		i++
	}
	if i == 0 || !strings.Contains(s[:i], ".") {
		return "", s
	}
	return s[:i], s[i:]
}

// abiRelease says whether s is an ABI release as Debian and Ubuntu name
// their kernels: x.y.0-N, optionally followed by -flavour
// ("6.1.0-56-amd64", "5.15.0-91-generic").
func abiRelease(s string) bool {
	base, rest := splitBase(s)
	if !strings.HasSuffix(base, ".0") || strings.Count(base, ".") != 2 || !strings.HasPrefix(rest, "-") {
		return false
	}
	rest = rest[1:]
	n := 0
	for n < len(rest) && isDigit(rest[n]) {
		n++
	}
	return n > 0 && (n == len(rest) || rest[n] == '-')
}

// debianPackageVersion finds the package version Debian writes in the
// version string ("#1 SMP Debian 6.1.192-2 (2026-11-16)"), or "". In a
// whole "Linux version" banner the compiler's Debian version comes
// first: the kernel's is the last.
func debianPackageVersion(version string) string {
	found := ""
	for rest := version; ; {
		i := strings.Index(rest, "Debian ")
		if i < 0 {
			return found
		}
		rest = rest[i+len("Debian "):]
		end := strings.IndexAny(rest, " \t)")
		if end < 0 {
			end = len(rest)
		}
		if base, _ := splitBase(rest[:end]); base != "" {
			found = rest[:end]
		}
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// compareSegments orders two version strings as dpkg and rpm do:
// alternating runs of digits (compared as numbers) and of other
// characters (compared as text, '~' before anything, even the end);
// separators only separate. When one string is a prefix of the other in
// segments, the longer is later ("6.1.0-57-amd64" after "6.1.0-57").
func compareSegments(a, b string) int {
	for {
		a, b = skipSeparators(a), skipSeparators(b)
		if a == "" || b == "" {
			switch {
			case a == b:
				return 0
			case a == "":
				if strings.HasPrefix(b, "~") {
					return 1
				}
				return -1
			}
			if strings.HasPrefix(a, "~") {
				return -1
			}
			return 1
		}
		var sa, sb string
		sa, a = segment(a)
		sb, b = segment(b)
		da, db := isDigit(sa[0]), isDigit(sb[0])
		switch {
		case da && db:
			sa, sb = strings.TrimLeft(sa, "0"), strings.TrimLeft(sb, "0")
			if len(sa) != len(sb) {
				if len(sa) < len(sb) {
					return -1
				}
				return 1
			}
			if c := strings.Compare(sa, sb); c != 0 {
				return c
			}
		case da != db:
			// A number is later than text at the same place (1.0 > 1.rc).
			if da {
				return 1
			}
			return -1
		default:
			if sa != sb {
				if strings.HasPrefix(sa, "~") != strings.HasPrefix(sb, "~") {
					if strings.HasPrefix(sa, "~") {
						return -1
					}
					return 1
				}
				return strings.Compare(sa, sb)
			}
		}
	}
}

func skipSeparators(s string) string {
	for s != "" && (s[0] == '.' || s[0] == '-' || s[0] == '_' || s[0] == '+' || s[0] == ':') {
		s = s[1:]
	}
	return s
}

// segment splits off the leading run of digits, or of other characters
// up to a separator or digit.
func segment(s string) (string, string) {
	i := 1
	digits := isDigit(s[0])
	for i < len(s) {
		c := s[i]
		if digits != isDigit(c) || c == '.' || c == '-' || c == '_' || c == '+' || c == ':' {
			break
		}
		i++
	}
	return s[:i], s[i:]
}
