package kb

import (
	"regexp"
	"sync"
)

// lazyRegexp is a regular expression compiled on first use. kb is linked
// into the command line, where every process pays for what package
// initialisation does: compiling the package's expressions there cost two
// thousand allocations on each start, most of them for commands that never
// match a crash.
type lazyRegexp struct {
	src  string
	once sync.Once
	re   *regexp.Regexp
}

// get returns the compiled expression.
func (l *lazyRegexp) get() *regexp.Regexp {
	l.once.Do(func() { l.re = regexp.MustCompile(l.src) })
	return l.re
}
