package analysis

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LogFormat says how AppendText prints a record. The zero value prints
// exactly what `makedumpfile --dump-dmesg` prints.
type LogFormat struct {
	Level  bool // "<6>" before the text, as crash's `log -m`
	Caller bool // the caller id, as the kernel's console with CONFIG_PRINTK_CALLER: "[    T1]"
	// WallClock prints "[Sun Nov 22 03:48:09 2026]" (dmesg -T) instead of
	// seconds since boot; Boot is the wall-clock time of timestamp 0.
	WallClock bool
	Boot      time.Time
	Color     bool // ANSI colours by level, for a terminal
}

// Level names, syslog order.
var levelNames = []string{"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"}

// ParseLevel parses a level name or number ("err", "warn", "4"). A trailing
// "+" ("warn+") means that level and every more severe one; the result is
// then the set of accepted levels.
func ParseLevel(s string) (map[int]bool, error) {
	set := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		plus := strings.HasSuffix(part, "+")
		part = strings.TrimSuffix(part, "+")
		lvl := -1
		for i, n := range levelNames {
			if part == n || (n == "warn" && part == "warning") || (n == "err" && part == "error") {
				lvl = i
			}
		}
		if n, err := strconv.Atoi(part); err == nil && n >= 0 && n <= 7 {
			lvl = n
		}
		if lvl < 0 {
			return nil, fmt.Errorf("unknown log level %q (want one of %s, or 0-7, optionally with +)", part, strings.Join(levelNames, ", "))
		}
		set[lvl] = true
		for i := 0; plus && i < lvl; i++ {
			set[i] = true
		}
	}
	return set, nil
}

// LevelName names a syslog level.
func LevelName(l int) string {
	if l >= 0 && l < len(levelNames) {
		return levelNames[l]
	}
	return strconv.Itoa(l)
}

// Timestamp formats a record's time as the kernel does: "%5d.%06d".
func (r *Record) Timestamp() string {
	return string(r.appendTimestamp(nil))
}

// appendTimestamp appends "%5d.%06d" of the seconds and microseconds without
// fmt: it runs once per printed line, and fmt's first use costs a cold
// start-up more than the rest of the formatting.
func (r *Record) appendTimestamp(b []byte) []byte {
	sec, usec := r.TimeNS/1e9, r.TimeNS%1e9/1e3
	var d [20]byte
	digits := strconv.AppendUint(d[:0], sec, 10)
	for n := len(digits); n < 5; n++ {
		b = append(b, ' ')
	}
	b = append(b, digits...)
	b = append(b, '.')
	digits = strconv.AppendUint(d[:0], usec, 10)
	for n := len(digits); n < 6; n++ {
		b = append(b, '0')
	}
	return append(b, digits...)
}

// Caller formats the caller id: "T<pid>" for a task, "C<cpu>" for a CPU in
// interrupt context, or "" when the kernel did not record it.
func (r *Record) Caller() string {
	if !r.HasCaller {
		return ""
	}
	return string(r.appendCaller(nil))
}

func (r *Record) appendCaller(b []byte) []byte {
	if r.CallerID&0x80000000 != 0 {
		return strconv.AppendUint(append(b, 'C'), uint64(r.CallerID&0x7fffffff), 10)
	}
	return strconv.AppendUint(append(b, 'T'), uint64(r.CallerID), 10)
}

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiBold   = "\x1b[1m"
	ansiYellow = "\x1b[33m"
	ansiGreen  = "\x1b[32m"
)

// AppendText appends one record as a line of text. Bytes that are neither
// printable ASCII nor white space print as \xNN, and each newline inside
// the text is followed by an indent the width of the prefix, as
// makedumpfile does. (makedumpfile prints bytes >= 0x80 as \xffffffNN, a
// sign-extension bug we do not copy.)
func (r *Record) AppendText(b []byte, f LogFormat) []byte {
	start := len(b)
	if f.Color {
		b = append(b, ansiGreen...)
	}
	b = append(b, '[')
	if f.WallClock {
		t := f.Boot.Add(time.Duration(r.TimeNS))
		b = t.AppendFormat(b, "Mon Jan _2 15:04:05 2006")
	} else {
		b = r.appendTimestamp(b)
	}
	b = append(b, ']')
	if f.Caller {
		var c [16]byte
		caller := c[:0]
		if r.HasCaller {
			caller = r.appendCaller(caller)
		}
		b = append(b, '[')
		for n := len(caller); n < 6; n++ {
			b = append(b, ' ')
		}
		b = append(append(b, caller...), ']')
	}
	if f.Color {
		b = append(b, ansiReset...)
	}
	b = append(b, ' ')
	if f.Level {
		b = append(strconv.AppendInt(append(b, '<'), int64(r.Level), 10), '>')
	}
	indent := len(b) - start
	if f.Color {
		indent -= len(ansiGreen) + len(ansiReset)
	}
	color := ""
	if f.Color {
		switch {
		case r.Level <= 2:
			color = ansiBold + ansiRed
		case r.Level == 3:
			color = ansiRed
		case r.Level == 4:
			color = ansiYellow
		}
		b = append(b, color...)
	}
	for i := 0; i < len(r.Text); i++ {
		c := r.Text[i]
		switch {
		case c == '\n':
			b = append(b, '\n')
			for k := 0; k < indent; k++ {
				b = append(b, ' ')
			}
		case c >= 0x20 && c < 0x7f, c == '\t', c == '\v', c == '\f', c == '\r':
			b = append(b, c)
		default:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		}
	}
	if color != "" {
		b = append(b, ansiReset...)
	}
	return append(b, '\n')
}

// LogText returns the records' texts, one record per line, as oops parsers
// and searches want them.
func LogText(records []Record) string {
	var b strings.Builder
	for i := range records {
		b.WriteString(records[i].Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// BootTime estimates the wall-clock time of timestamp 0: the crash time
// (VMCOREINFO CRASHTIME, whole seconds) minus the last record's timestamp,
// which the panic path prints moments before the dump is taken.
func BootTime(records []Record, crash time.Time) time.Time {
	if len(records) == 0 {
		return crash
	}
	return crash.Add(-time.Duration(records[len(records)-1].TimeNS))
}
