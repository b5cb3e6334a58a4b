package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analysis"
)

// TestCrashState shows the sections after the backtraces on the kernel
// state tab, with their findings first and what they could not read,
// and the kernel's strings in them (commands, mount points, symbols, the
// command line) as text.
func TestCrashState(t *testing.T) {
	tu := newTestUI(t)
	a := tu.b.addCrash(t, crashID, 0)
	chain := analysis.WaitChain{Locks: []analysis.Lock{{Kind: analysis.LockMutex, Addr: 0xffffffffc0a01000, Symbol: hostileLog,
		Owner: 81, Waiters: []int32{80}}}, Head: analysis.ChainTask{PID: 81, Comm: hostileHost, State: "D",
		Trace: &analysis.Trace{Frames: []analysis.Frame{{Function: "__mutex_lock", Reliable: true}}}}, Cycle: true, Blocked: 2,
		Text: "2 tasks wait on mutex " + hostileLog}
	a.Memory = &analysis.Memory{PageSize: 4096, Total: 39727, Free: 31903, Missing: []string{"vmcounter <i>NR_X</i>"},
		Zones: []analysis.Zone{{Name: "DMA32", Present: 77789, Free: 28095, Min: 329, Low: 411, High: 493, FreeBlocks: []uint64{1, 11, 12}}}}
	a.Slab = &analysis.Slab{Allocator: "slub", Caches: []analysis.SlabCache{{Name: hostileHost, Bytes: 6848512, Allocated: 10020, Total: 10032}}}
	a.TaskMemory = &analysis.TaskMemory{Tasks: []analysis.ProcessMemory{{PID: 123, Comm: hostileHost, RSS: 394, OOMScoreAdj: -1000, Cgroup: hostileLog}},
		Cgroups: []analysis.MemoryCgroup{{Path: hostileLog, Usage: 8192, Limit: 8192}}}
	a.Locks = &analysis.Locks{Waits: []analysis.LockWait{{PID: 80, Comm: hostileHost, Kind: analysis.LockMutex, Function: hostilePS,
		Lock: &chain.Locks[0]}}, Chains: []analysis.WaitChain{chain}, Deadlocks: []analysis.WaitChain{chain}}
	a.RunQueues = &analysis.RunQueues{CPUs: []analysis.RunQueue{{CPU: 1, Clock: 6147653204,
		Current: analysis.RunQueueTask{PID: 123, Comm: hostileHost, Class: "fair", Running: 5e9},
		Queued:  []analysis.RunQueueTask{{PID: 124, Comm: hostileHost, Class: "fair", Prio: 120, Waiting: 3e9}}}}}
	a.Block = &analysis.Block{Disks: []analysis.Disk{{Name: hostileHost, Major: 254, MQ: true, Writes: 1, OldestAge: 12e9}}}
	a.Filesystems = &analysis.Filesystems{Mounts: []analysis.Mount{{Dir: hostileLog, Type: "ext4", Device: hostileHost, Frozen: "complete",
		Flags: []string{"SB_RDONLY"}, ReadOnly: true, WritebackError: "EIO"}}}
	a.System.CommandLine = "console=ttyS0 " + hostileLog
	a.Findings = analysis.Findings{Deadlock: &chain, OOM: &analysis.OOMFinding{Text: "memory cgroup " + hostileLog + " hit its limit"}}
	doc, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	tu.b.mu.Lock()
	tu.b.objects[crashID+"/0"] = doc
	tu.b.mu.Unlock()

	c := newClient(t, tu.srv.URL)
	c.login("tok-admin")
	code, body := c.get("/crashes/" + crashID + "/state")
	if code != http.StatusOK {
		t.Fatalf("state tab: %d", code)
	}
	noMarkup(t, "state", body)
	for _, want := range []string{"Findings", "Deadlock:", "hit its limit", "28095", "6.5 MiB", "10020", "unkillable",
		"frozen (complete)", "writeback error EIO", "Waiting", "3.00 s", "12.00 s", "Not read", "NR_X", "console=ttyS0",
		`aria-current="page">Kernel state`} {
		if !strings.Contains(body, want) && !strings.Contains(body, strings.ReplaceAll(want, `"`, "&#34;")) {
			t.Errorf("state tab lacks %q", want)
		}
	}
	// In Japanese every label is a message of the catalogue.
	ja := newClient(t, tu.srv.URL)
	ja.login("tok-viewer")
	if code, _, _ := ja.do("POST", "/lang", url.Values{"csrf": {ja.csrf}, "lang": {"ja"}, "next": {"/crashes"}}, nil); code != http.StatusSeeOther {
		t.Fatalf("switching to Japanese: %d", code)
	}
	_, page := ja.get("/crashes/" + crashID + "/state")
	if m := regexp.MustCompile(`\[[a-z_]+\.[a-z0-9_.-]+\]`).FindString(page); m != "" {
		t.Errorf("state tab (ja): message %s missing", m)
	}
	for _, want := range []string{`<html lang="ja">`, "カーネルの状態", "所見", "バディアロケータ", "凍結中（complete）"} {
		if !strings.Contains(page, want) {
			t.Errorf("state tab (ja) lacks %q", want)
		}
	}
	// A crash analysed before the sections existed has none: the tab says so.
	tu.b.addCrash(t, "1111222233334444", 0)
	if code, body := c.get("/crashes/1111222233334444/state"); code != http.StatusOK || !strings.Contains(body, "Not computed") {
		t.Errorf("state tab of a v2 document: %d", code)
	}
}
