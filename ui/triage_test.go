package ui

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// Triage in the UI (issue 18), on the fake backend: who may change what,
// the forms, and the bugs the issue lists, each with a test that failed
// before its fix.

func TestTriageRoles(t *testing.T) {
	tu := newTestUI(t)
	tu.b.addCrash(t, crashID, 5)
	bucket := "/buckets/b0b0b0b0b0b0b0b0/triage"
	form := func(c *client) url.Values {
		return url.Values{"csrf": {c.csrf}, "status": {"investigating"}, "assignee": {"sam"}, "note": {"looking"}}
	}
	for _, tok := range []string{"tok-viewer", "tok-uploader"} {
		c := newClient(t, tu.srv.URL)
		c.login(tok)
		if tok == "tok-uploader" {
			c.get("/upload")
		}
		if code, _, _ := c.do("POST", bucket, form(c), nil); code != http.StatusForbidden {
			t.Errorf("%s changed a bucket's triage: %d", tok, code)
		}
		if code, _, _ := c.do("POST", "/crashes/"+crashID+"/triage", url.Values{"csrf": {c.csrf}, "action": {"close-crash"}}, nil); code != http.StatusForbidden {
			t.Errorf("%s closed a crash: %d", tok, code)
		}
	}
	if len(tu.b.changes) != 0 {
		t.Fatalf("changes by readers: %v", tu.b.changes)
	}
	// A viewer reads the triage but has no form.
	viewer := newClient(t, tu.srv.URL)
	viewer.login("tok-viewer")
	if _, page := viewer.get("/buckets/b0b0b0b0b0b0b0b0"); strings.Contains(page, `id="triageform"`) || !strings.Contains(page, `id="triage"`) {
		t.Errorf("a viewer's bucket page: form shown or triage missing")
	}
	sup := newClient(t, tu.srv.URL)
	sup.login("tok-support")
	if _, page := sup.get("/buckets/b0b0b0b0b0b0b0b0"); !strings.Contains(page, `id="triageform"`) || strings.Contains(page, `action="/buckets/b0b0b0b0b0b0b0b0/merge"`) {
		t.Errorf("support's bucket page: no triage form, or an admin's merge form")
	}
	code, loc, _ := sup.do("POST", bucket, form(sup), nil)
	if code != http.StatusSeeOther || loc != "/buckets/b0b0b0b0b0b0b0b0?done=triage#triage" {
		t.Fatalf("support's change: %d %s", code, loc)
	}
	if want := "sam bucket b0b0b0b0b0b0b0b0 status=investigating assignee=sam note=looking"; len(tu.b.changes) != 1 || tu.b.changes[0] != want {
		t.Errorf("changes %q, want %q", tu.b.changes, want)
	}
	// The result is shown in the triage section, where the page goes.
	_, page := sup.get("/buckets/b0b0b0b0b0b0b0b0?done=triage")
	if !inSection(page, "triage", `id="triage-done"`) {
		t.Errorf("the saved notice is not in the triage section")
	}
	// A bad status is refused with the reason, and a way back.
	code, _, body := sup.do("POST", bucket, url.Values{"csrf": {sup.csrf}, "status": {"done"}}, map[string]string{"Referer": tu.srv.URL + "/buckets/b0b0b0b0b0b0b0b0"})
	if code != http.StatusBadRequest || !strings.Contains(body, "unknown status") || !strings.Contains(body, `href="/buckets/b0b0b0b0b0b0b0b0" id="back"`) {
		t.Errorf("bad status: %d\n%s", code, body)
	}
}

// inSection says whether marker is inside the <section> with id.
func inSection(page, id, marker string) bool {
	i := strings.Index(page, `<section id="`+id+`"`)
	if i < 0 {
		return false
	}
	end := strings.Index(page[i:], "</section>")
	j := strings.Index(page[i:], marker)
	return j >= 0 && j < end
}

func TestTestCrashClosedInOneAction(t *testing.T) {
	tu := newTestUI(t)
	tu.b.addCrash(t, crashID, 5)
	sig := "sysrq: SysRq : Trigger a crash"
	d := tu.b.dumps[crashID]
	d.Signature, d.Panic = sig, "Kernel panic - not syncing: sysrq triggered crash"
	tu.b.dumps[crashID] = d
	tu.b.buckets[0].Title, tu.b.buckets[0].Signatures = sig, []string{sig}
	viewer := newClient(t, tu.srv.URL)
	viewer.login("tok-viewer")
	if _, page := viewer.get("/crashes/" + crashID); strings.Contains(page, `id="close-bucket"`) {
		t.Errorf("a viewer is offered to close the bucket")
	}
	sup := newClient(t, tu.srv.URL)
	sup.login("tok-support")
	_, page := sup.get("/crashes/" + crashID)
	if !strings.Contains(page, `id="close-crash"`) || !strings.Contains(page, `id="close-bucket"`) {
		t.Fatalf("a SysRq crash is not offered to be closed")
	}
	// Its heading is the signature; the panic line comes below.
	if !strings.Contains(page, `<h1 id="panic" class="mono">`+sig+`</h1>`) || !strings.Contains(page, `id="panicline">Kernel panic - not syncing: sysrq triggered crash`) {
		t.Errorf("the heading is not the signature")
	}
	code, loc, _ := sup.do("POST", "/crashes/"+crashID+"/triage", url.Values{"csrf": {sup.csrf}, "action": {"close-bucket"}}, nil)
	if code != http.StatusSeeOther || !strings.HasSuffix(loc, "?done=ruled#triage") {
		t.Fatalf("close the bucket: %d %s", code, loc)
	}
	if want := "sam bucket b0b0b0b0b0b0b0b0 status=not-a-bug rule=not-a-bug"; len(tu.b.changes) != 1 || tu.b.changes[0] != want {
		t.Errorf("changes %q, want %q", tu.b.changes, want)
	}
	// The rule is visible on the bucket's page and can be removed.
	tu.b.triage["bucket/b0b0b0b0b0b0b0b0"] = wire.Triage{Status: "not-a-bug", Rule: "not-a-bug", RuleBy: "sam"}
	_, page = sup.get("/buckets/b0b0b0b0b0b0b0b0")
	if !strings.Contains(page, `id="rule"`) || !strings.Contains(page, `id="unrule"`) {
		t.Errorf("the rule is not shown with a way to remove it")
	}
	sup.do("POST", "/buckets/b0b0b0b0b0b0b0b0/triage", url.Values{"csrf": {sup.csrf}, "action": {"unrule"}}, nil)
	if last := tu.b.changes[len(tu.b.changes)-1]; last != "sam bucket b0b0b0b0b0b0b0b0 rule=" {
		t.Errorf("removing the rule: %q", last)
	}
	// An ordinary crash is not offered the test-crash buttons.
	tu.b.addCrash(t, "00000000000000cc", 5)
	if _, page := sup.get("/crashes/00000000000000cc"); strings.Contains(page, `id="close-bucket"`) {
		t.Errorf("a NULL dereference is offered to be closed as a test crash")
	}
}

// TestCrashListPastTheEnd: /crashes?page=999 said "24951–24950 of 12".
func TestCrashListPastTheEnd(t *testing.T) {
	tu := newTestUI(t)
	tu.b.addCrash(t, crashID, 5)
	tu.b.addCrash(t, "00000000000000cc", 5)
	c := newClient(t, tu.srv.URL)
	c.login("tok-viewer")
	code, page := c.get("/crashes?page=999")
	if code != 200 || !strings.Contains(page, "1–2 of 2 crashes") || !strings.Contains(page, `href="/crashes/`+crashID+`"`) {
		t.Errorf("page 999 of a 2-crash list: %d, count %q", code, regexp.MustCompile(`<p class="count"[^>]*>[^<]*`).FindString(page))
	}
}

// TestSplitOnlyWhereItWorks: "Split off" was offered for the signature
// whose own bucket this is, where it can only fail (409).
func TestSplitOnlyWhereItWorks(t *testing.T) {
	tu := newTestUI(t)
	tu.b.addCrash(t, crashID, 5)
	own := tu.b.buckets[0].Title
	tu.b.buckets[0].Signatures = []string{own, "WARNING in other_function"}
	tu.b.buckets[0].Own = own
	c := newClient(t, tu.srv.URL)
	c.login("tok-admin")
	_, page := c.get("/buckets/b0b0b0b0b0b0b0b0")
	if n := strings.Count(page, ">Split off</button>"); n != 1 || !strings.Contains(page, `aria-label="Split off WARNING in other_function"`) {
		t.Errorf("%d split buttons, want 1, for the merged signature", n)
	}
}

// TestFormResultInView: the "Thank you" after Confirm sat at the top of
// the page, above the suggestions the page scrolls to.
func TestFormResultInView(t *testing.T) {
	tu := newTestUI(t)
	tu.b.addCrash(t, crashID, 5)
	c := newClient(t, tu.srv.URL)
	c.login("tok-viewer")
	code, loc, _ := c.do("POST", "/crashes/"+crashID+"/feedback", url.Values{"csrf": {c.csrf}, "article": {"null-deref-out-of-tree-module"}, "verdict": {"confirm"}}, nil)
	if code != http.StatusSeeOther || !strings.HasSuffix(loc, "#kb") {
		t.Fatalf("confirm: %d %s", code, loc)
	}
	_, page := c.get(strings.TrimSuffix(loc, "#kb"))
	if !inSection(page, "kb", "Thank you") {
		t.Errorf("the thanks are not in the section the page scrolls to")
	}
	if strings.Contains(page, `<p class="flash" role="status">Thank you`) && strings.Index(page, "Thank you") < strings.Index(page, `id="kb"`) {
		t.Errorf("the thanks are still above the suggestions")
	}
}

// TestDmesgLevelFilter: the level filter found 0 lines on a log from
// vmcore-dmesg.txt, which carries no levels.
func TestDmesgLevelFilter(t *testing.T) {
	tu := newTestUI(t)
	id := "00000000000000aa"
	tu.b.dumps[id] = wire.DumpDetail{Dump: wire.Dump{ID: id, Status: "analyzing", HasDmesg: true, Run: 1}}
	tu.b.objects[id+"/2"] = []byte("[    5.000000] crashmod: loaded\n" +
		"[    5.100000] BUG: kernel NULL pointer dereference, address: 0000000000000008\n" +
		"[    5.100001] #PF: supervisor write access in kernel mode\n" +
		"[    5.100002] #PF: error_code(0x0002) - not-present page\n" +
		"[    5.100003] Oops: 0002 [#1] PREEMPT SMP NOPTI\n" +
		"[    5.100004] CPU: 1 PID: 122 Comm: sh Tainted: G           OE      6.1.0-56-amd64 #1  Debian 6.1.192-2\n" +
		"[    5.100005] RIP: 0010:crashmod_null_deref+0x26/0x40 [crashmod]\n" +
		"[    5.100006] Kernel panic - not syncing: Fatal exception\n")
	c := newClient(t, tu.srv.URL)
	c.login("tok-viewer")
	_, page := c.get("/crashes/" + id + "/log?level=err")
	got := regexp.MustCompile(`<span class="m">([^<]*)</span>`).FindAllStringSubmatch(page, -1)
	var lines []string
	for _, m := range got {
		lines = append(lines, m[1])
	}
	want := []string{"BUG: kernel NULL pointer dereference, address: 0000000000000008", "#PF: supervisor write access in kernel mode",
		"#PF: error_code(0x0002) - not-present page", "Kernel panic - not syncing: Fatal exception"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("err and above on vmcore-dmesg.txt: %q, want %q", lines, want)
	}
	if !strings.Contains(page, `id="inferred"`) {
		t.Errorf("the page does not say the levels were read from the text")
	}
	if _, all := c.get("/crashes/" + id + "/log?level=warn"); strings.Count(all, `<div class="r l`) != 7 {
		t.Errorf("warn and above: %d lines, want 7 (the report, not the module's info line)", strings.Count(all, `<div class="r l`))
	}
}

// TestDmesgLevelsAgainstTheDump reads the levels back from the text of
// real kernels' logs (the corpus's makedumpfile --dump-dmesg output, which
// is what vmcore-dmesg.txt holds) and compares them with the levels in the
// same dump's printk ring: no line is put at err or above that the
// kernel did not log so, the report's header is found, and nearly every
// line falls on the right side of the filter's two main cuts (err and
// above; warn; the rest). Notice, info and debug are not told apart:
// nothing in the text says which a boot message was printed at.
func TestDmesgLevelsAgainstTheDump(t *testing.T) {
	dumps := corpus.Find(corpus.Committed(), "/work/shared/corpus")
	n := 0
	for _, d := range dumps {
		if d.Format != "kdump-zlib" {
			continue
		}
		text, ok := d.ReadRef("dmesg.makedumpfile.txt")
		if !ok {
			continue
		}
		t.Run(d.Kernel+"/"+d.Scenario, func(t *testing.T) {
			n++
			truth := ringLevels(t, d.Files[0])
			if len(truth) == 0 {
				t.Skipf("the analyzer reads no log from this dump")
			}
			lines := strings.Split(strings.TrimRight(string(text), "\n"), "\n")
			got := dmesgLevels(lines)
			if len(truth) != len(lines) {
				t.Fatalf("%d lines, the ring has %d", len(lines), len(truth))
			}
			class := func(l int) int { return min(max(l, 3), 5) } // err+, warn, the rest
			same, headers := 0, 0
			for i := range lines {
				if class(got[i]) == class(truth[i]) {
					same++
				}
				if got[i] <= 3 && truth[i] > 3 {
					t.Errorf("line %d at %d, the kernel's %d: %s", i+1, got[i], truth[i], lines[i])
				}
				if got[i] <= 3 && truth[i] <= 3 {
					headers++
				}
			}
			if headers == 0 {
				t.Errorf("no line at err or above, where the kernel logged some")
			}
			if same*100 < len(lines)*95 {
				t.Errorf("%d of %d lines in the kernel's class, want 95%%", same, len(lines))
			}
			t.Logf("%d of %d lines in the kernel's class; %d at err or above", same, len(lines), headers)
		})
	}
	if n == 0 {
		t.Fatal("no corpus dump with a makedumpfile log")
	}
}

// ringLevels lists the level of every line the dump's printk ring prints
// as makedumpfile --dump-dmesg does (a record's continuation lines carry
// its level).
func ringLevels(t *testing.T, path string) []int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	dump, err := vmcore.NewReader(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	a := analyzer.Analyze(context.Background(), dump, analyzer.Options{Sections: analyzer.SectionLog})
	var out []int
	for _, r := range a.Log {
		sc := bufio.NewScanner(strings.NewReader(r.Text))
		for sc.Scan() {
			out = append(out, r.Level)
		}
		if r.Text == "" {
			out = append(out, r.Level)
		}
	}
	return out
}

func TestLanguage(t *testing.T) {
	tu := newTestUI(t)
	tu.b.addCrash(t, crashID, 5)
	c := newClient(t, tu.srv.URL)
	// Before a session: the browser's Accept-Language.
	if _, _, page := c.do("GET", "/login", nil, map[string]string{"Accept-Language": "ja,en-US;q=0.8"}); !strings.Contains(page, `<html lang="ja">`) || !strings.Contains(page, "API トークン") {
		t.Errorf("the login page in Japanese: lang or text missing")
	}
	c.login("tok-viewer")
	// The switch in the header is remembered for the person.
	code, loc, _ := c.do("POST", "/lang", url.Values{"csrf": {c.csrf}, "lang": {"ja"}, "next": {"/crashes/" + crashID}}, nil)
	if code != http.StatusSeeOther || loc != "/crashes/"+crashID || tu.b.langs["victor"] != "ja" {
		t.Fatalf("switch: %d %s %v", code, loc, tu.b.langs)
	}
	other := newClient(t, tu.srv.URL) // another browser of the same person
	other.login("tok-viewer")
	pages := []string{"/crashes", "/crashes/" + crashID, "/crashes/" + crashID + "/log", "/crashes/" + crashID + "/backtraces",
		"/crashes/" + crashID + "/modules", "/crashes/" + crashID + "/tasks", "/crashes/" + crashID + "/steps", "/buckets",
		"/buckets/b0b0b0b0b0b0b0b0", "/kb", "/kb/null-deref-out-of-tree-module", "/kb?q=NULL", "/crashes/ffffffffffffffff"}
	missing := regexp.MustCompile(`\[[a-z_]+\.[a-z0-9_.-]+\]`)
	for _, p := range pages {
		_, page := other.get(p)
		if !strings.Contains(page, `<html lang="ja">`) {
			t.Errorf("%s is not in the person's language", p)
		}
		if m := missing.FindString(page); m != "" {
			t.Errorf("%s (ja): message %s missing", p, m)
		}
		for _, en := range []string{">Crashes<", ">Summary<", "Knowledge base", ">Log out<"} {
			if strings.Contains(page, en) {
				t.Errorf("%s (ja) has English %q", p, en)
			}
		}
	}
	// Without the switch, an admin's pages in English miss nothing either.
	admin := newClient(t, tu.srv.URL)
	admin.login("tok-admin")
	for _, p := range append(pages, "/webhooks", "/upload") {
		_, page := admin.get(p)
		if m := missing.FindString(page); m != "" {
			t.Errorf("%s (en): message %s missing", p, m)
		}
	}
	// A bad language is refused.
	if code, _, _ := c.do("POST", "/lang", url.Values{"csrf": {c.csrf}, "lang": {"xx"}}, nil); code != http.StatusBadRequest {
		t.Errorf("unknown language: %d", code)
	}
}

func TestShareLink(t *testing.T) {
	tu := newTestUI(t)
	tu.b.addCrash(t, crashID, 5)
	admin := newClient(t, tu.srv.URL)
	admin.login("tok-admin")
	code, _, page := admin.do("POST", "/crashes/"+crashID+"/share", url.Values{"csrf": {admin.csrf}}, nil)
	m := regexp.MustCompile(`id="share-url" class="wide" type="text" readonly value="[^"]*(/links/[0-9a-f]{64})"`).FindStringSubmatch(page)
	if code != 200 || m == nil {
		t.Fatalf("share: %d\n%s", code, page)
	}
	// Whoever opens it reads as a viewer, though an admin shared it.
	c := newClient(t, tu.srv.URL)
	_, _, landing := c.do("GET", m[1], nil, nil)
	tok := csrfField.FindStringSubmatch(landing)[1]
	if code, loc, _ := c.do("POST", m[1], url.Values{"csrf": {tok}}, nil); code != http.StatusSeeOther || loc != "/crashes/"+crashID {
		t.Fatalf("open: %d %s", code, loc)
	}
	_, crash := c.get("/crashes/" + crashID)
	if !strings.Contains(crash, `<span class="role">viewer</span>`) {
		t.Errorf("the shared link's session is not a viewer's")
	}
	if code, _ := c.get("/crashes/" + crashID + "/vmcore"); code != http.StatusForbidden {
		t.Errorf("the shared session downloads the dump: %d", code)
	}
}

func TestUnseenAndFacets(t *testing.T) {
	tu := newTestUI(t)
	tu.b.addCrash(t, crashID, 5)
	c := newClient(t, tu.srv.URL)
	c.login("tok-viewer")
	_, list := c.get("/crashes")
	if !strings.Contains(list, `<tr class="unseen">`) || !strings.Contains(list, `class="facet" data-facet="triage"`) || !strings.Contains(list, `id="sort"`) {
		t.Errorf("the list lacks the unseen mark, the facets or the sort")
	}
	if !strings.Contains(list, `class="sub mono dumpid">`+crashID) || !strings.Contains(list, `data-label="Received"`) {
		t.Errorf("the list lacks the dump id or the received time")
	}
	c.get("/crashes/" + crashID)
	if _, list = c.get("/crashes"); strings.Contains(list, `<tr class="unseen">`) {
		t.Errorf("a crash opened is still unseen")
	}
	if _, list = c.get("/crashes?sort=arrival"); !strings.Contains(list, "latest received first") || !strings.Contains(list, "Sort by crash time") {
		t.Errorf("arrival order is not said")
	}
}
