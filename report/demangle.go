package report

import (
	"strconv"
	"strings"
)

// demangle turns a frame's symbol back into the name its language writes:
// Rust's v0 symbols (_R…, Rust code in the kernel) and the simple C++
// names a kernel module written in C++ carries (_Z…). Skip lists and
// titles use the names, as syzbot does. A symbol it cannot read is
// returned as it is.
func demangle(sym string) string {
	switch {
	case strings.HasPrefix(sym, "_R"):
		d := rustDemangler{s: sym[2:]}
		if name, ok := d.symbol(); ok {
			return name
		}
	case strings.HasPrefix(sym, "_Z"):
		if name, ok := demangleItanium(sym[2:]); ok {
			return name
		}
	}
	return sym
}

// demangleItanium reads the name of an Itanium C++ ABI symbol without its
// parameters: a plain name ("8fakeNameiii": fakeName) or a nested one
// ("N3foo3barEv": foo::bar).
func demangleItanium(s string) (string, bool) {
	nested := strings.HasPrefix(s, "N")
	if nested {
		s = strings.TrimLeft(s[1:], "rVK") // cv-qualifiers of a method
	}
	var parts []string
	for s != "" && s[0] >= '1' && s[0] <= '9' {
		n, rest, ok := decimal(s)
		if !ok || n > len(rest) {
			return "", false
		}
		parts, s = append(parts, rest[:n]), rest[n:]
		if !nested {
			break
		}
	}
	if len(parts) == 0 || nested && !strings.HasPrefix(s, "E") {
		return "", false
	}
	return strings.Join(parts, "::"), true
}

// decimal reads a decimal number at the start of s.
func decimal(s string) (int, string, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(s[:i])
	return n, s[i:], err == nil && n < 1<<20
}

// rustDemangler reads a Rust v0 symbol (RFC 2603) as the demangle package
// syzkaller uses prints it without parameters: paths joined with "::",
// crate hashes and generic arguments left out, impls as <Type> and
// <Type as Trait>.
type rustDemangler struct {
	s     string // the symbol after "_R"
	pos   int
	depth int // bounds backreference chains and nesting
}

const maxRustDepth = 64

func (d *rustDemangler) symbol() (string, bool) {
	for d.pos < len(d.s) && d.s[d.pos] >= '0' && d.s[d.pos] <= '9' {
		d.pos++ // the encoding version
	}
	name, ok := d.path()
	return name, ok
}

func (d *rustDemangler) next() (byte, bool) {
	if d.pos >= len(d.s) {
		return 0, false
	}
	d.pos++
	return d.s[d.pos-1], true
}

func (d *rustDemangler) peek() byte {
	if d.pos >= len(d.s) {
		return 0
	}
	return d.s[d.pos]
}

// base62 reads a base-62 number ended by '_' ("_" alone is 0). Values
// past 2^40 stay there.
func (d *rustDemangler) base62() (int, bool) {
	if d.peek() == '_' {
		d.pos++
		return 0, true
	}
	n := 0
	for {
		c, ok := d.next()
		if !ok {
			return 0, false
		}
		var v int
		switch {
		case c == '_':
			return n + 1, true
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'a' && c <= 'z':
			v = int(c-'a') + 10
		case c >= 'A' && c <= 'Z':
			v = int(c-'A') + 36
		default:
			return 0, false
		}
		if n < 1<<40 { // a crate hash overflows: only backreferences need the value
			n = n*62 + v
		}
	}
}

// disambiguator skips an optional "s<base62>".
func (d *rustDemangler) disambiguator() bool {
	if d.peek() != 's' {
		return true
	}
	d.pos++
	_, ok := d.base62()
	return ok
}

// identifier reads [disambiguator] ["u"] <decimal> ["_"] <bytes>.
func (d *rustDemangler) identifier() (string, bool) {
	if !d.disambiguator() {
		return "", false
	}
	if d.peek() == 'u' {
		d.pos++ // Punycode: kept as it is
	}
	n, rest, ok := decimal(d.s[d.pos:])
	if !ok {
		return "", false
	}
	d.pos = len(d.s) - len(rest)
	if d.peek() == '_' {
		d.pos++
	}
	if d.pos+n > len(d.s) {
		return "", false
	}
	id := d.s[d.pos : d.pos+n]
	d.pos += n
	return id, true
}

// backref runs f at the position a backreference names.
func (d *rustDemangler) backref(f func() (string, bool)) (string, bool) {
	start := d.pos - 1
	at, ok := d.base62()
	if !ok || at >= start || d.depth >= maxRustDepth {
		return "", false
	}
	saved := d.pos
	d.pos = at
	d.depth++
	out, ok := f()
	d.depth--
	d.pos = saved
	return out, ok
}

func (d *rustDemangler) path() (string, bool) {
	if d.depth >= maxRustDepth {
		return "", false
	}
	d.depth++
	defer func() { d.depth-- }()
	c, ok := d.next()
	if !ok {
		return "", false
	}
	switch c {
	case 'C': // crate root: its hash is left out
		return d.identifier()
	case 'N': // nested: namespace, parent, name
		ns, ok := d.next()
		if !ok {
			return "", false
		}
		parent, ok := d.path()
		if !ok {
			return "", false
		}
		id, ok := d.identifier()
		if !ok {
			return "", false
		}
		if ns >= 'A' && ns <= 'Z' {
			// A closure or shim: {closure#N} in demangle's words.
			if ns == 'C' {
				return parent + "::{closure#0}", true
			}
			return parent + "::{shim:" + id + "}", true
		}
		return parent + "::" + id, true
	case 'M': // inherent impl: <Type>
		if !d.disambiguator() {
			return "", false
		}
		if _, ok := d.path(); !ok {
			return "", false
		}
		t, ok := d.typ()
		return "<" + t + ">", ok
	case 'X': // trait impl: <Type as Trait>
		if !d.disambiguator() {
			return "", false
		}
		if _, ok := d.path(); !ok {
			return "", false
		}
		t, ok := d.typ()
		if !ok {
			return "", false
		}
		tr, ok := d.path()
		return "<" + t + " as " + tr + ">", ok
	case 'Y': // trait definition: <Type as Trait>
		t, ok := d.typ()
		if !ok {
			return "", false
		}
		tr, ok := d.path()
		return "<" + t + " as " + tr + ">", ok
	case 'I': // generic arguments: left out
		p, ok := d.path()
		for ok && d.peek() != 'E' {
			ok = d.genericArg()
		}
		if ok {
			d.pos++
		}
		return p, ok
	case 'B':
		return d.backref(d.path)
	}
	return "", false
}

func (d *rustDemangler) genericArg() bool {
	switch d.peek() {
	case 'L':
		d.pos++
		_, ok := d.base62()
		return ok
	case 'K':
		d.pos++
		return d.constant()
	}
	_, ok := d.typ()
	return ok
}

// constant skips a const generic argument.
func (d *rustDemangler) constant() bool {
	c, ok := d.next()
	if !ok {
		return false
	}
	switch {
	case c == 'p':
		return true
	case c == 'B':
		_, ok := d.backref(func() (string, bool) { return "", d.constant() })
		return ok
	case c >= 'a' && c <= 'z':
		if d.peek() == 'n' {
			d.pos++
		}
		for d.pos < len(d.s) && d.s[d.pos] != '_' {
			d.pos++
		}
		d.pos++
		return d.pos <= len(d.s)
	}
	return false
}

// rustBasicTypes are the one-letter types.
var rustBasicTypes = map[byte]string{
	'a': "i8", 'b': "bool", 'c': "char", 'd': "f64", 'e': "str", 'f': "f32", 'h': "u8", 'i': "isize",
	'j': "usize", 'l': "i32", 'm': "u32", 'n': "i128", 'o': "u128", 's': "i16", 't': "u16", 'u': "()",
	'v': "...", 'x': "i64", 'y': "u64", 'z': "!", 'p': "_",
}

func (d *rustDemangler) typ() (string, bool) {
	if d.depth >= maxRustDepth {
		return "", false
	}
	d.depth++
	defer func() { d.depth-- }()
	c := d.peek()
	if t, ok := rustBasicTypes[c]; ok {
		d.pos++
		return t, true
	}
	switch c {
	case 'R', 'Q': // references
		d.pos++
		if d.peek() == 'L' {
			d.pos++
			if _, ok := d.base62(); !ok {
				return "", false
			}
		}
		t, ok := d.typ()
		if c == 'Q' {
			return "&mut " + t, ok
		}
		return "&" + t, ok
	case 'P', 'O': // raw pointers
		d.pos++
		t, ok := d.typ()
		if c == 'O' {
			return "*mut " + t, ok
		}
		return "*const " + t, ok
	case 'S':
		d.pos++
		t, ok := d.typ()
		return "[" + t + "]", ok
	case 'A':
		d.pos++
		t, ok := d.typ()
		if ok && d.peek() == 'K' {
			d.pos++
		}
		return "[" + t + "; _]", ok && d.constant()
	case 'T':
		d.pos++
		var ts []string
		for d.peek() != 'E' {
			t, ok := d.typ()
			if !ok {
				return "", false
			}
			ts = append(ts, t)
		}
		d.pos++
		return "(" + strings.Join(ts, ", ") + ")", true
	case 'B':
		d.pos++
		return d.backref(d.typ)
	}
	return d.path()
}
