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

// pattern is an article's rule pattern, compiled when a crash first
// reaches it: the shipped articles, checked when their snapshot was made,
// hold hundreds of patterns, and a crash tries a few.
type pattern struct {
	src  string // the expression as compiled (frames and modules anchored whole)
	once sync.Once
	re   *regexp.Regexp
}

// compiledPattern is a pattern compiled already.
func compiledPattern(re *regexp.Regexp) *pattern {
	p := &pattern{src: re.String()}
	p.once.Do(func() { p.re = re })
	return p
}

// never matches nothing: what a pattern that no longer compiles (a
// snapshot made by another Go release) is taken as.
var never = &lazyRegexp{src: `[^\x00-\x{10FFFF}]`}

func (p *pattern) get() *regexp.Regexp {
	p.once.Do(func() {
		re, err := regexp.Compile(p.src)
		if err != nil {
			re = never.get()
		}
		p.re = re
	})
	return p.re
}

// MatchString reports whether s holds a match.
func (p *pattern) MatchString(s string) bool { return p.get().MatchString(s) }

// String is the expression's source.
func (p *pattern) String() string { return p.src }
