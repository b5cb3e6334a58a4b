package ui

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/messages"
	"github.com/vmcore/vmcore/report"
)

// logLine is one kernel log record as the log page shows it.
type logLine struct {
	N     int    // position in the log, for anchors (#L12)
	Level int    // syslog level (read from the text for vmcore-dmesg.txt)
	Time  string // "[    5.123456]" or the wall-clock time
	Text  string // printable: control bytes as \xNN
	Oops  bool   // the first line of the report that explains the crash
}

// logView is a log page's data.
type logView struct {
	Lines   []logLine
	Total   int    // records in the log
	Level   string // the filter as given ("err" means err and more severe)
	Query   string
	Wall    bool   // wall-clock times
	HasOops bool   // the oops line is among Lines
	OopsAt  int    // its N, or -1 when the log has none
	Source  string // "vmcore" or "vmcore-dmesg.txt"
	NoWall  string // why wall-clock times are unavailable, if they are
	Levels  []levelOption
	// Inferred says the levels were read from the text (vmcore-dmesg.txt
	// has none of its own).
	Inferred bool
}

type levelOption struct {
	Value, Label string
	Selected     bool
}

// levelOptions are the level filter's choices, most severe first.
func levelOptions(p *messages.Printer, cur string) []levelOption {
	out := []levelOption{{"", p.T("log.all_levels"), cur == ""}}
	for l := 0; l <= 7; l++ {
		n := analysis.LevelName(l)
		label := p.T("log.level_and_more", "Level", n)
		if l == 0 {
			label = p.T("log.emerg_only")
		}
		out = append(out, levelOption{n, label, cur == n})
	}
	return out
}

// levelMax reads the level filter: the least severe level shown, or 7.
func levelMax(p *messages.Printer, v string) (int, error) {
	if v == "" {
		return 7, nil
	}
	for l := 0; l <= 7; l++ {
		if analysis.LevelName(l) == v {
			return l, nil
		}
	}
	return 0, badRequest("%s", p.T("log.bad_level", "Level", v))
}

// printable makes a log text safe to show as text: control bytes and
// invalid UTF-8 become \xNN, as makedumpfile prints them; newlines and tabs
// stay. (HTML escaping is the template's job.)
func printable(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\n' && c != '\t' || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError && r >= 0xa0 {
				b.WriteString(s[i : i+n])
				i += n
				continue
			}
		}
		if c < 0x20 && c != '\n' && c != '\t' || c >= 0x7f {
			fmt.Fprintf(&b, "\\x%02x", c)
		} else {
			b.WriteByte(c)
		}
		i++
	}
	return b.String()
}

// uptimeStamp formats a record's time as the kernel does: "[%5d.%06d]".
func uptimeStamp(ns uint64) string {
	return fmt.Sprintf("[%5d.%06d]", ns/1e9, ns%1e9/1e3)
}

// buildLog filters a crash's log and formats what is left.
func buildLog(p *messages.Printer, doc *crashDoc, level, query string, wall bool) (*logView, error) {
	maxLevel, err := levelMax(p, level)
	if err != nil {
		return nil, err
	}
	lv := &logView{Level: level, Query: query, Wall: wall, OopsAt: doc.oopsAt, Source: doc.logSource, Levels: levelOptions(p, level)}
	q := strings.ToLower(strings.TrimSpace(query))
	if doc.boot.IsZero() {
		lv.NoWall = p.T("log.no_wall")
		if doc.dmesg != nil {
			lv.NoWall = p.T("log.no_wall_dmesg")
		}
		wall = false
		lv.Wall = false
	}
	if doc.dmesg != nil {
		lv.Total, lv.Inferred = len(doc.dmesg), true
		for i, l := range doc.dmesg {
			if doc.dmesgLevel[i] > maxLevel {
				continue
			}
			if q != "" && !strings.Contains(strings.ToLower(l), q) {
				continue
			}
			stamp, text, _ := splitStamp(l)
			lv.Lines = append(lv.Lines, logLine{N: i, Level: doc.dmesgLevel[i], Time: stamp, Text: printable(text), Oops: i == doc.oopsAt})
		}
	} else {
		recs := doc.a.Log
		lv.Total = len(recs)
		lv.Lines = make([]logLine, 0, len(recs))
		var tb []byte
		for i := range recs {
			r := &recs[i]
			if r.Level > maxLevel {
				continue
			}
			if q != "" && !containsFold(r.Text, q) {
				continue
			}
			var ts string
			if wall {
				tb = doc.boot.Add(time.Duration(r.TimeNS)).UTC().AppendFormat(append(tb[:0], '['), "Mon Jan _2 15:04:05 2006")
				ts = string(append(tb, ']'))
			} else {
				ts = uptimeStamp(r.TimeNS)
			}
			lv.Lines = append(lv.Lines, logLine{N: i, Level: r.Level, Time: ts, Text: printable(r.Text), Oops: i == doc.oopsAt})
		}
	}
	for _, l := range lv.Lines {
		if l.Oops {
			lv.HasOops = true
		}
	}
	return lv, nil
}

// containsFold reports whether lower-case q occurs in s, ignoring ASCII
// case, without allocating a lowered copy of every log line.
func containsFold(s, q string) bool {
	if len(q) > len(s) {
		return false
	}
	for i := 0; i+len(q) <= len(s); i++ {
		j := 0
		for ; j < len(q); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != q[j] {
				break
			}
		}
		if j == len(q) {
			return true
		}
	}
	return false
}

// oopsRecord finds the record where the report that explains the crash
// starts: report.Parse works on the log's text, one line per record line, so
// its line number is mapped back to the record holding it.
func oopsRecord(recs []analysis.Record) int {
	p := report.Primary(report.Parse(analysis.LogText(recs)))
	if p == nil {
		return -1
	}
	line := 0
	for i := range recs {
		n := 1 + strings.Count(recs[i].Text, "\n")
		if p.Lines[0] < line+n {
			return i
		}
		line += n
	}
	return -1
}
