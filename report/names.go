package report

import (
	"regexp"
	"strings"
	"sync"
)

// nameSet is a list of expressions a function name is matched against
// (skip lists, anchors). Most entries are plain names, a prefix (^name) or
// a suffix (name$): those are matched as strings, which is what keeps
// titling a report cheap; the rest go through one regular expression.
type nameSet struct {
	exprs []string
	// anchored says every expression is matched at the start of a name
	// (a ^ is put before each when the set is compiled).
	anchored bool
	once     sync.Once
	// contains, prefix, suffix and exact hold the plain entries.
	contains, prefix, suffix, exact []string
	re                              *regexp.Regexp // the other entries, nil when none
}

// names makes a nameSet of expressions matched anywhere in a name.
func names(exprs ...string) *nameSet { return &nameSet{exprs: exprs} }

// prefixNames makes a nameSet of expressions matched at the start of a
// name.
func prefixNames(exprs ...string) *nameSet { return &nameSet{exprs: exprs, anchored: true} }

// plain tells an expression without metacharacters.
func plain(s string) bool { return !strings.ContainsAny(s, `\.+*?()|[]{}^$`) }

func (s *nameSet) compile() {
	var other []string
	for _, e := range s.exprs {
		if s.anchored {
			e = "^" + e
		}
		body, anchored := strings.CutPrefix(e, "^")
		body, ended := strings.CutSuffix(body, "$")
		switch {
		case !plain(body):
			other = append(other, e)
		case anchored && ended:
			s.exact = append(s.exact, body)
		case anchored:
			s.prefix = append(s.prefix, body)
		case ended:
			s.suffix = append(s.suffix, body)
		default:
			s.contains = append(s.contains, body)
		}
	}
	if len(other) > 0 {
		s.re = regexp.MustCompile(strings.Join(other, "|"))
	}
}

// match reports whether any expression matches name.
func (s *nameSet) match(name string) bool {
	s.once.Do(s.compile)
	for _, e := range s.exact {
		if name == e {
			return true
		}
	}
	for _, p := range s.prefix {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, p := range s.suffix {
		if strings.HasSuffix(name, p) {
			return true
		}
	}
	for _, c := range s.contains {
		if strings.Contains(name, c) {
			return true
		}
	}
	return s.re != nil && s.re.MatchString(name)
}
