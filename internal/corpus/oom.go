package corpus

import (
	"regexp"
	"strings"
)

// OOMTaskTable reads the OOM killer's task dump in a kernel log
// (dump_tasks(): a "[  pid  ]   uid  tgid total_vm      rss ..." header,
// then one "[  131]     0   131 ..." row per process), the reference the
// task memory tests and the knowledge base's OOM evidence are checked
// against. Feed it the log's lines, timestamps removed, in order.
type OOMTaskTable struct {
	header []string
}

// oomTaskRow is a row of the task dump: the PID in brackets, then the
// columns the header names (the last one, name, holds no spaces).
var oomTaskRow = regexp.MustCompile(`^\[\s*(\d+)\]\s+(.*)$`)

// Row returns a task row's columns by the header's names (pid, uid, tgid,
// total_vm, rss, pgtables_bytes, swapents, oom_score_adj, name; older
// kernels lack some); ok is false for any other line, a header included.
func (t *OOMTaskTable) Row(line string) (cols map[string]string, ok bool) {
	line = strings.TrimSpace(line)
	if h, isHeader := strings.CutPrefix(line, "[  pid  ]"); isHeader {
		t.header = strings.Fields(h)
		return nil, false
	}
	m := oomTaskRow.FindStringSubmatch(line)
	if m == nil || t.header == nil {
		return nil, false
	}
	f := strings.Fields(m[2])
	if len(f) != len(t.header) {
		return nil, false
	}
	cols = make(map[string]string, len(f))
	for i, h := range t.header {
		cols[h] = f[i]
	}
	return cols, true
}
