package kb

import (
	"regexp"
	"sync"
)

// lazyRegexp is a regular expression compiled on first use. kb is linked
// into the command line, where every process pays for what package
// initialisation does: compiling the package's expressions there cost two
// thousand allocations on each start, most of them for commands that never
// match a crash. The shipped articles' rule patterns are lazy too: checked
// when their snapshot was made, they are hundreds, and a crash tries a few.
type lazyRegexp struct {
	src string
	// orNever takes an expression that does not compile as one that never
	// matches (an article pattern of a snapshot made by another Go release);
	// else it is a programming error, and a panic.
	orNever bool
	once    sync.Once
	re      *regexp.Regexp
}

// compiledRegexp is a lazyRegexp compiled already.
func compiledRegexp(re *regexp.Regexp) *lazyRegexp {
	l := &lazyRegexp{src: re.String()}
	l.once.Do(func() { l.re = re })
	return l
}

// neverMatches is what an orNever expression that does not compile is.
var neverMatches = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^\x00-\x{10FFFF}]`) })

// get returns the compiled expression.
func (l *lazyRegexp) get() *regexp.Regexp {
	l.once.Do(func() {
		re, err := regexp.Compile(l.src)
		if err != nil {
			if !l.orNever {
				panic("kb: " + err.Error())
			}
			re = neverMatches()
		}
		l.re = re
	})
	return l.re
}

// MatchString reports whether s holds a match.
func (l *lazyRegexp) MatchString(s string) bool { return l.get().MatchString(s) }

// String is the expression's source.
func (l *lazyRegexp) String() string { return l.src }
