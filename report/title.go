package report

import "strings"

// titleRewrites take out of a title what differs between reports of one
// bug: task names and PIDs of syzkaller's executors, addresses, IP
// addresses, line numbers, offsets, CPU numbers and other numbers. Each
// runs until the title stops changing (matches may overlap: "0,1,2").
var titleRewrites = []struct {
	re   lazyRE
	with string
}{
	{re(`syz-executor\.?[0-9]+((/|:)[0-9]+)?`), "syz-executor"},
	{re(`syzkaller[0-9]+((/|:)[0-9]+)?`), "syzkaller"},
	{re(`([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}`), "${1}ADDR"},
	{re(`([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})`), "IP"},
	{re(`(\.\w+)(:[0-9]+)+`), "${1}:LINE"},
	{re(`([a-zA-Z][a-zA-Z0-9_.]+)\+0x[0-9a-z]+/0x[0-9a-z]+`), "${1}"},
	{re(`CPU#[0-9]+`), "CPU"},
	{re(`(\W)(\d+)(\W|$)`), "${1}NUM${3}"},
	// Digits in names stay (cfg80211, nl802154); seven or more are a
	// number.
	{re(`(\d+){7,}`), "NUM"},
}

// maxTitleLen bounds a title: corrupted or merged lines can be long.
const maxTitleLen = 120

// cleanTitle rewrites a title (see titleRewrites) and keeps it to one line
// of printable ASCII without runs of spaces.
func cleanTitle(title string) string {
	for _, r := range titleRewrites {
		for {
			t := r.re.ReplaceAllString(title, r.with)
			if t == title {
				break
			}
			title = t
		}
	}
	var b strings.Builder
	prev := byte(' ')
	for i := 0; i < len(title) && i < maxTitleLen; i++ {
		ch := title[i]
		switch {
		case ch == '\t':
			ch = ' '
		case ch < 0x20 || ch >= 0x7f:
			continue
		}
		if ch == ' ' && prev == ' ' {
			continue
		}
		b.WriteByte(ch)
		prev = ch
	}
	return strings.TrimSpace(b.String())
}
