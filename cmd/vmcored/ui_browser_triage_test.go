package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestUIBrowserTriage drives the triage of issue 18 in real headless
// Chromium against the real vmcored, on two real crashes (a NULL
// dereference in a module, a SysRq crash): an admin adds a webhook; a
// support engineer reads the crash list's facets and unseen marks and
// sorts it by arrival, reads both tables on a 390-pixel phone, closes the
// SysRq crash's bucket as not a bug with a rule for its future crashes
// (and removes the rule), sets the other bucket's status, assignee, case
// link and a Markdown note, sees the crash page's fleet context, confirms
// a suggestion and sees the thanks, jumps to the oops through a search
// that hides it, follows a link to a log line, shares the crash with a
// link that opens it read-only after a chat's preview, and reads the UI
// in Japanese; the admin is asked to confirm a merge and reads the
// webhook's delivery log. Screenshots go to docs/screenshots.
func TestUIBrowserTriage(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	chrome := findChromium(t)
	svc := startUIService(t)
	d := svc.d
	out, stderr, err := ctl(t, nil, "upload", "--server", d.url(), "--token", svc.uploader, kdumpDir(t, fixture(t, "sysrq-c")))
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, stderr)
	}
	sysrq := lastLine(out)
	waitDone(t, d, svc.viewer, sysrq)
	support := newToken(t, d, "support")

	// A webhook receiver on loopback.
	var mu sync.Mutex
	var received []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, string(b))
		mu.Unlock()
	}))
	defer hook.Close()

	b := startBrowser(t, chrome, d.url())
	login := func(tok string) {
		t.Helper()
		b.do(chromedp.Navigate(b.base + "/login"))
		if eval[bool](b, `!!document.querySelector(".who button")`) {
			b.do(chromedp.Click(chromedp.CSS(".who button")))
		}
		b.do(chromedp.WaitVisible(chromedp.CSS("#token")), chromedp.SendKeys(chromedp.CSS("#token"), tok), chromedp.Click(chromedp.CSS(".login button")))
		b.do(chromedp.WaitVisible(chromedp.CSS(".who")))
	}
	// inView says an element is in the viewport as the page is scrolled.
	inView := func(sel string) bool {
		return eval[bool](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false;
			const r = e.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth; })()`, sel))
	}
	// waitInView waits until the page, loaded and scrolled to its
	// fragment, shows an element.
	waitInView := func(sel string) {
		t.Helper()
		b.waitJS(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || document.readyState !== "complete") return false;
			const r = e.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth; })()`, sel))
	}
	// onScreen scrolls down to an element and says whether it is then
	// wholly in view: nothing cut off to the right or hidden.
	onScreen := func(sel string) bool {
		eval[bool](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (e) e.scrollIntoView({block: "center"}); return true; })()`, sel))
		return inView(sel)
	}

	// The admin adds the webhook.
	login(adminToken)
	b.do(chromedp.Navigate(b.base+"/webhooks"), chromedp.WaitVisible(chromedp.CSS("#wh-url")))
	b.do(chromedp.SendKeys(chromedp.CSS("#wh-url"), hook.URL), chromedp.Click(chromedp.CSS("#wh-add")))
	b.waitJS(`document.querySelector("section.webhook h2") && document.querySelector("section.webhook h2").textContent.startsWith("http://127.0.0.1")`)

	// The crash list: facets with counts, unseen marks, arrival order.
	login(support)
	b.do(chromedp.Navigate(b.base+"/crashes"), chromedp.WaitVisible(chromedp.CSS("table.dumps")))
	if n := eval[int](b, `document.querySelectorAll("tr.unseen").length`); n != 2 {
		t.Errorf("%d unseen crashes, want 2", n)
	}
	facets := eval[[]string](b, `[...document.querySelectorAll(".facet")].map(f => f.dataset.facet)`)
	if strings.Join(facets, " ") != "triage release host module taint type" {
		t.Errorf("facets %q", facets)
	}
	if got := eval[string](b, `document.querySelector('.facet[data-facet="module"] a').textContent`); !strings.Contains(got, "crashmod") || !strings.HasSuffix(got, "2") {
		t.Errorf("module facet %q, want crashmod with 2", got)
	}
	b.do(chromedp.Click(chromedp.CSS("#sort")))
	b.waitJS(`location.search.includes("sort=arrival")`)
	if first := eval[string](b, `document.querySelector("table.dumps tbody td.sig a").getAttribute("href")`); first != "/crashes/"+sysrq {
		t.Errorf("latest received first: %s, want the SysRq crash", first)
	}
	b.shot("crashes-facets")
	b.do(chromedp.Click(chromedp.CSS(`.facet[data-facet="taint"] a`)))
	b.waitJS(`location.search.includes("taint=")`)

	// A phone: the tables' signature and count stay in view.
	b.do(chromedp.EmulateViewport(390, 844))
	b.do(chromedp.Navigate(b.base+"/crashes"), chromedp.WaitVisible(chromedp.CSS("table.dumps")))
	if !onScreen("table.dumps tbody td.sig a") {
		t.Errorf("at 390 px the crash list's signature is out of view")
	}
	b.shot("crashes-390")
	b.do(chromedp.Navigate(b.base+"/buckets"), chromedp.WaitVisible(chromedp.CSS("table.buckets")))
	if !onScreen("table.buckets tbody td.sig a") || !onScreen("table.buckets tbody td.count") {
		t.Errorf("at 390 px the bucket list's signature or count is out of view")
	}
	b.shot("buckets-390")
	b.do(chromedp.EmulateViewport(1366, 900))

	// The SysRq crash: headed by its signature, closed as not a bug with
	// its bucket and a rule for the bucket's future crashes.
	b.do(chromedp.Navigate(b.base+"/crashes/"+sysrq), chromedp.WaitVisible(chromedp.CSS("#testcrash")))
	if h := eval[string](b, `document.querySelector("#panic").textContent`); !strings.HasPrefix(h, "sysrq") && !strings.Contains(strings.ToLower(h), "sysrq") {
		t.Errorf("the SysRq crash's heading %q is not its signature", h)
	}
	b.do(chromedp.Click(chromedp.CSS("#close-bucket")))
	b.waitJS(`location.search.includes("done=ruled")`)
	waitInView("#triage-done") // where the page scrolls to, not above it
	b.shot("crash-test-closed")
	b.do(chromedp.Click(chromedp.CSS(".fleet a")), chromedp.WaitVisible(chromedp.CSS("#rule")))
	b.shot("bucket-rule")
	b.do(chromedp.Click(chromedp.CSS("#unrule")))
	b.waitJS(`location.search.includes("done=triage") && !document.querySelector("#rule")`)
	if n := eval[int](b, `document.querySelectorAll("table.events tbody tr").length`); n != 3 {
		t.Errorf("%d audit rows after status, rule and its removal, want 3", n)
	}

	// The other bucket: status, assignee, case link, a Markdown note.
	b.do(chromedp.Navigate(b.base+"/crashes/"+svc.id), chromedp.WaitVisible(chromedp.CSS(".fleet a")))
	b.do(chromedp.Click(chromedp.CSS(".fleet a")), chromedp.WaitVisible(chromedp.CSS("#triageform")))
	b.do(chromedp.SetValue(chromedp.CSS("#status"), "investigating"),
		chromedp.SendKeys(chromedp.CSS("#assignee"), "sam"),
		chromedp.SendKeys(chromedp.CSS("#link_url"), "https://bugs.example/show_bug.cgi?id=4242"),
		chromedp.SendKeys(chromedp.CSS("#link_label"), "BZ#4242"),
		chromedp.SendKeys(chromedp.CSS("#note"), "`crashmod` writes through a **NULL** pointer"),
		chromedp.Click(chromedp.CSS("#triage-save")))
	b.waitJS(`location.search.includes("done=triage")`)
	waitInView("#triage-done")
	if got := eval[string](b, `document.querySelector("li.note .prose").innerHTML`); !strings.Contains(got, "<code>crashmod</code>") || !strings.Contains(got, "<strong>NULL</strong>") {
		t.Errorf("the note is not rendered as Markdown: %q", got)
	}
	if got := eval[string](b, `document.querySelector("#caselink").textContent`); got != "BZ#4242" {
		t.Errorf("case link %q", got)
	}
	b.shot("bucket-triage")

	// The crash page: fleet context, then confirm a suggestion.
	b.do(chromedp.Navigate(b.base+"/crashes/"+svc.id), chromedp.WaitVisible(chromedp.CSS("#fleet")))
	fleet := eval[string](b, `document.querySelector("#fleet").textContent`)
	for _, want := range []string{"investigating", "sam", "BZ#4242", "Hosts", "6.1.0-56-amd64"} {
		if !strings.Contains(fleet, want) {
			t.Errorf("the fleet context lacks %q: %q", want, fleet)
		}
	}
	b.shot("crash-fleet")
	b.do(chromedp.Click(chromedp.CSS(`.suggestion button[value="confirm"]`)))
	b.waitJS(`location.search.includes("done=confirm")`)
	waitInView("#kb-done") // issue 18: the thanks were above the suggestions, out of view
	b.shot("crash-confirmed")

	// The log: a search that hides the oops, then "Jump to the oops".
	b.do(chromedp.Navigate(b.base+"/crashes/"+svc.id+"/log"), chromedp.WaitVisible(chromedp.CSS("#log")))
	b.do(chromedp.SendKeys(chromedp.CSS("#lq"), "virtio"))
	b.waitJS(`document.querySelector("#oops").closest(".r").hidden`)
	b.do(chromedp.Click(chromedp.CSS("a.jump")))
	b.waitJS(`location.hash === "#oops" && !document.querySelector("#oops").closest(".r").hidden`)
	waitInView("#oops") // issue 18: the jump did nothing while a search hid the oops
	b.shot("log-jump")
	b.do(chromedp.Navigate(b.base + "/crashes/" + svc.id + "/log#L12"))
	b.waitJS(`document.querySelector(":target") && document.querySelector(":target").id === "L12"`)

	// Share: the link survives a chat's preview and opens as a viewer.
	b.do(chromedp.Navigate(b.base+"/crashes/"+svc.id), chromedp.WaitVisible(chromedp.CSS("#share")))
	b.do(chromedp.Click(chromedp.CSS("#share")), chromedp.WaitVisible(chromedp.CSS("#share-url")))
	link := eval[string](b, `document.querySelector("#share-url").value`)
	b.shot("share")
	preview, err := http.Get(link) // what a chat does to show a preview
	if err != nil || preview.StatusCode != 200 {
		t.Fatalf("a preview of the link: %v", err)
	}
	preview.Body.Close()
	fresh, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	if err := chromedp.Do(fresh); err != nil {
		t.Fatal(err)
	}
	b2 := &browser{t: t, ctx: fresh, base: b.base, shots: b.shots}
	b2.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#open-link")))
	b2.shot("link")
	b2.do(chromedp.Click(chromedp.CSS("#open-link")), chromedp.WaitVisible(chromedp.CSS("#panic")))
	if role := eval[string](b2, `document.querySelector(".who .role").textContent`); role != "viewer" {
		t.Errorf("the shared link's session is a %s's", role)
	}

	// Japanese, from the switch in the header, remembered for the person.
	b.do(chromedp.Navigate(b.base+"/crashes/"+svc.id), chromedp.WaitVisible(chromedp.CSS("form.lang")))
	b.do(chromedp.Click(chromedp.CSS(`form.lang button[value="ja"]`)))
	b.waitJS(`document.documentElement.lang === "ja"`)
	if nav := eval[string](b, `document.querySelector(".top nav a[href='/crashes']").textContent`); nav != "クラッシュ" {
		t.Errorf("the menu in Japanese: %q", nav)
	}
	b.shot("crash-ja")
	b.do(chromedp.Navigate(b.base+"/crashes"), chromedp.WaitVisible(chromedp.CSS("table.dumps")))
	b.shot("crashes-ja")
	login(support) // a new session of the same person keeps the choice
	if lang := eval[string](b, `document.documentElement.lang`); lang != "ja" {
		t.Errorf("the language is not remembered for the person: %s", lang)
	}
	b.do(chromedp.Click(chromedp.CSS(`form.lang button[value="en"]`)))
	b.waitJS(`document.documentElement.lang === "en"`)

	// The admin: a merge is confirmed first; the webhook's log.
	login(adminToken)
	b.do(chromedp.Navigate(b.base+"/crashes/"+svc.id), chromedp.WaitVisible(chromedp.CSS(".fleet a")))
	b.do(chromedp.Click(chromedp.CSS(".fleet a")), chromedp.WaitVisible(chromedp.CSS("#merge")))
	b.do(chromedp.Click(chromedp.CSS("#merge")), chromedp.WaitVisible(chromedp.CSS("#merge-confirm")))
	b.shot("merge-confirm")
	b.do(chromedp.Click(chromedp.CSS("#merge-cancel")), chromedp.WaitVisible(chromedp.CSS("#triage")))
	// Deliveries go out every few seconds: reload until one is logged.
	for i := 0; ; i++ {
		b.do(chromedp.Navigate(b.base+"/webhooks"), chromedp.WaitVisible(chromedp.CSS("section.webhook")))
		if eval[bool](b, `!!document.querySelector(".dl-delivered")`) {
			break
		}
		if i == 60 {
			t.Fatal("no delivery logged as delivered")
		}
		time.Sleep(time.Second)
	}
	b.shot("webhooks")
	mu.Lock()
	got := strings.Join(received, "\n")
	mu.Unlock()
	if !strings.Contains(got, `"event":"state_change"`) || !strings.Contains(got, `"actor":"e2e support"`) {
		t.Errorf("the receiver got %q", got)
	}
}
