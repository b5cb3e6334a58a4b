package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vmcore/vmcore/kb"
)

// TestUIBrowser drives the web UI in real headless Chromium against the
// real vmcored, with the committed fixture uploaded by the real vmcorectl:
// log in, find the crash by host, open it and see crash's panic line, the
// first KB suggestion and the panic CPU's backtrace; filter the log by
// level; open the bucket; search the KB in Japanese; upload a second
// dump from the browser and watch its analysis; spend a vmcorectl open
// link. It saves a screenshot of each page in $VMCORE_SCREENSHOTS when
// set (docs/ui.md says how the documentation's are remade).
//
// It needs Debian's chromium (apt-get install chromium): without it the
// test is skipped, unless CI=true, where a missing browser is a failure.
func TestUIBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	chrome := findChromium(t)
	// Steps slowed down, so the browser sees an analysis in progress.
	svc := startUIService(t, "--fault-step-delay", "400ms")
	fx := fixture(t, "module-null-deref")
	b := startBrowser(t, chrome, svc.d.url())
	ctx := b.ctx

	// Log in: the crash list sends a browser without a session to the
	// login form and back.
	b.do(chromedp.Navigate(b.base + "/crashes"))
	b.do(chromedp.WaitVisible(chromedp.CSS("#token")))
	b.shot("login")
	b.do(chromedp.SendKeys(chromedp.CSS("#token"), svc.viewer), chromedp.Click(chromedp.CSS(".login button")))
	b.do(chromedp.WaitVisible(chromedp.CSS("form.filters")))

	// Find the crash by host.
	b.do(chromedp.SetValue(chromedp.CSS("#host"), svc.hostname), chromedp.Click(chromedp.CSS("form.filters button[type=submit]")))
	b.waitJS(`location.search.includes("host=")`)
	link := fmt.Sprintf(`table.dumps a[href="/crashes/%s"]`, svc.id)
	b.do(chromedp.WaitVisible(chromedp.CSS(link)))
	if n := eval[int](b, `document.querySelectorAll("table.dumps tbody tr").length`); n != 1 {
		t.Errorf("%d crashes listed for host %q, want 1", n, svc.hostname)
	}
	b.shot("crashes")

	// Open it: crash's panic line, the first suggestion, the panic CPU's
	// backtrace.
	b.do(chromedp.Click(chromedp.CSS(link)))
	b.do(chromedp.WaitVisible(chromedp.CSS("#panic")))
	if got := eval[string](b, `document.querySelector("#panicline").textContent`); got != svc.panic {
		t.Errorf("panic line %q, want crash's %q", got, svc.panic)
	}
	first := eval[[]string](b, `(() => { const a = document.querySelector(".suggestion h3 a"); return [a.getAttribute("href"), a.textContent]; })()`)
	want := articleTitle(t, "null-deref-out-of-tree-module")
	if len(first) != 2 || first[0] != "/kb/null-deref-out-of-tree-module" || first[1] != want {
		t.Errorf("first suggestion %q, want %q", first, want)
	}
	cpu := panicCPU(t, fx.Ref("crash-bt.txt"))
	head := eval[string](b, `document.querySelector("section.trace.panic h3").textContent`)
	frames := eval[[]string](b, `[...document.querySelectorAll("section.trace.panic .fn")].map(e => e.textContent)`)
	if !strings.HasPrefix(head, fmt.Sprintf("CPU %d panic", cpu)) || len(frames) == 0 || !strings.HasPrefix(frames[0], "crashmod_null_deref+0x") {
		t.Errorf("panic CPU's backtrace: %q %q, want CPU %d from crashmod_null_deref", head, frames, cpu)
	}
	b.shot("crash")
	b.do(chromedp.EmulateViewport(1920, 1080))
	b.shot("crash-wide")
	b.do(chromedp.EmulateViewport(1366, 900))

	// The log, filtered by level in place (app.js), then the oops.
	b.do(chromedp.Click(chromedp.CSS(`nav.tabs a[href$="/log"]`)))
	b.do(chromedp.WaitVisible(chromedp.CSS("#log")))
	all := eval[int](b, `document.querySelectorAll("#log .r").length`)
	b.shot("log")
	b.do(chromedp.SetValue(chromedp.CSS("#level"), "err"), chromedp.Click(chromedp.CSS("#logfilter button[type=submit]")))
	b.waitJS(`location.search.includes("level=err")`)
	shown := eval[[]string](b, `[...document.querySelectorAll("#log .r")].filter(r => r.getClientRects().length > 0).map(r => r.className)`)
	for _, c := range shown {
		if !regexp.MustCompile(`^r l[0-3]$`).MatchString(c) {
			t.Errorf("a line of class %q shows at level err", c)
		}
	}
	if len(shown) != 4 || all < 100 {
		t.Errorf("%d of %d lines shown at err and above, want 4", len(shown), all)
	}
	b.shot("log-filtered")
	b.do(chromedp.Click(chromedp.CSS("a.jump")))
	b.waitJS(`location.hash === "#oops"`)

	for _, tab := range []string{"backtraces", "modules", "tasks", "steps"} {
		b.do(chromedp.Navigate(b.base+"/crashes/"+svc.id+"/"+tab), chromedp.WaitVisible(chromedp.CSS("nav.tabs")))
		b.shot(tab)
	}

	// The bucket.
	b.do(chromedp.Navigate(b.base + "/buckets"))
	b.do(chromedp.WaitVisible(chromedp.CSS("table.buckets")))
	b.shot("buckets")
	b.do(chromedp.Click(chromedp.CSS(`table.buckets a[href^="/buckets/"]`)))
	b.do(chromedp.WaitVisible(chromedp.CSS("figure.bigchart")))
	if n := eval[int](b, fmt.Sprintf(`document.querySelectorAll('a[href="/crashes/%s"]').length`, svc.id)); n != 1 {
		t.Errorf("the bucket page does not list the crash")
	}
	b.shot("bucket")

	// The knowledge base, in Japanese.
	b.do(chromedp.Navigate(b.base + "/kb"))
	b.do(chromedp.SendKeys(chromedp.CSS("#kbq"), "署名のないモジュール"), chromedp.Click(chromedp.CSS("form.filters button")))
	b.do(chromedp.WaitVisible(chromedp.CSS(`ol.hits a[href="/kb/module-unsigned-taint"]`)))
	b.shot("kb-search")
	b.do(chromedp.Click(chromedp.CSS(`ol.hits a[href="/kb/module-unsigned-taint"]`)), chromedp.WaitVisible(chromedp.CSS("article.article")))
	b.shot("kb-article")

	// Unknown ids are the 404 page.
	b.do(chromedp.Navigate(b.base + "/crashes/0000000000000000"))
	b.do(chromedp.WaitVisible(chromedp.CSS("section.error")))
	if h := eval[string](b, `document.querySelector("h1").textContent`); !strings.HasPrefix(h, "Not found") {
		t.Errorf("unknown crash: %q", h)
	}
	b.shot("not-found")

	// A viewer has no upload page; an admin uploads from the browser.
	b.do(chromedp.Click(chromedp.CSS(".who button")))
	b.do(chromedp.WaitVisible(chromedp.CSS("#token")))
	b.do(chromedp.SendKeys(chromedp.CSS("#token"), adminToken), chromedp.Click(chromedp.CSS(".login button")))
	b.do(chromedp.WaitVisible(chromedp.CSS("form.filters")))
	b.do(chromedp.Navigate(b.base + "/upload"))
	b.do(chromedp.WaitVisible(chromedp.CSS("#vmcore")))
	b.shot("upload")
	sysrq := fixture(t, "sysrq-c")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#vmcore"), []string{sysrq.Files[0]}),
		chromedp.SetUploadFiles(chromedp.CSS("#dmesg"), []string{sysrq.Ref("dmesg.makedumpfile.txt")}),
		chromedp.SendKeys(chromedp.CSS("#uphost"), "customer-db1"),
		chromedp.Click(chromedp.CSS("#upbutton")))
	b.do(chromedp.WaitVisible(chromedp.CSS("#uploaded")))
	b.shot("upload-done")
	href := eval[string](b, `document.querySelector("#uploaded").getAttribute("href")`)
	id := strings.TrimPrefix(href, "/crashes/")
	var d struct{ SHA256, Status string }
	apiCall(t, "GET", b.base+"/api/v1/dumps/"+id, adminToken, nil, &d)
	if d.SHA256 != fileSHA256(t, sysrq.Files[0]) {
		t.Errorf("the browser's SHA-256 %q differs from the file's", d.SHA256)
	}
	// While it is analysed, the page shows the step running and the
	// vmcore-dmesg.txt sent first; it reloads itself until it is done.
	b.do(chromedp.Click(chromedp.CSS("#uploaded")))
	b.do(chromedp.WaitVisible(chromedp.CSS("#panic")))
	if eval[bool](b, `document.querySelector(".facts .badge[class*=' st-']").textContent !== "done"`) {
		if !eval[bool](b, `!!document.querySelector(".notice[role=status]")`) {
			t.Errorf("an analysis in progress is not announced")
		}
		b.shot("crash-in-progress")
	} else {
		t.Logf("the analysis ended before the page showed it in progress")
	}
	b.waitJS(`document.querySelector(".facts .badge[class*=' st-']") && document.querySelector(".facts .badge[class*=' st-']").textContent === "done"`)
	if got := eval[string](b, `document.querySelector("#panic").textContent + document.querySelector("#panicline").textContent`); !strings.Contains(got, "sysrq") {
		t.Errorf("the uploaded crash's heading and panic line: %q", got)
	}
	// The host name typed at upload survives the analysis of a dump whose
	// kernel says "(none)" (issue 18).
	if got := eval[string](b, `document.querySelector(".facts .host").textContent`); got != "customer-db1" {
		t.Errorf("the uploaded crash's host: %q, want customer-db1", got)
	}

	// vmcorectl open: the link logs a new browser in at the crash, once.
	out, stderr, err := ctl(t, []string{"VMCORE_SERVER=" + b.base, "VMCORE_TOKEN=" + svc.viewer, "DISPLAY=", "WAYLAND_DISPLAY="}, "open", svc.id)
	if err != nil {
		t.Fatalf("vmcorectl open: %v %s", err, stderr)
	}
	fresh, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	if err := chromedp.Do(fresh); err != nil {
		t.Fatal(err)
	}
	b2 := &browser{t: t, ctx: fresh, base: b.base}
	// The link's page spends nothing (a chat's preview fetches it); its
	// button logs in, once.
	b2.do(chromedp.Navigate(strings.TrimSpace(out)), chromedp.WaitVisible(chromedp.CSS("#open-link")))
	b2.do(chromedp.Navigate(strings.TrimSpace(out)), chromedp.WaitVisible(chromedp.CSS("#open-link")))
	b2.do(chromedp.Click(chromedp.CSS("#open-link")), chromedp.WaitVisible(chromedp.CSS("#panic")))
	if loc := eval[string](b2, `location.pathname`); loc != "/crashes/"+svc.id {
		t.Errorf("the link led to %s", loc)
	}
	b2.do(chromedp.Navigate(strings.TrimSpace(out)), chromedp.WaitVisible(chromedp.CSS("#open-link")))
	b2.do(chromedp.Click(chromedp.CSS("#open-link")), chromedp.WaitVisible(chromedp.CSS("section.error")))
	if h := eval[string](b2, `document.querySelector("h1").textContent`); !strings.Contains(h, "used or expired") {
		t.Errorf("the link's second use: %q", h)
	}
}

// startBrowser starts headless Chromium at 1366×900 for a test, its
// screenshots going to $VMCORE_SCREENSHOTS (docs/screenshots when the
// documentation's pictures are remade), else to a temporary directory.
func startBrowser(t *testing.T, chrome, base string) *browser {
	t.Helper()
	// A test run must not rewrite the checkout (nor put a future clock's
	// dates into the documentation): the screenshots go to a temporary
	// directory unless asked for.
	shots := os.Getenv("VMCORE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1366, 900))
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 8*time.Minute)
	t.Cleanup(cancel)
	// The first call starts the browser and binds it to its context: the
	// test's, not a step's.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chrome, err)
	}
	b := &browser{t: t, ctx: ctx, base: base, shots: shots}
	b.do(chromedp.EmulateViewport(1366, 900))
	return b
}

// findChromium returns Debian's chromium, or skips the test (fails it
// under CI=true) when it is not installed.
func findChromium(t *testing.T) string {
	for _, p := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install -y chromium); CI must run the browser test")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium)")
	return ""
}

// browser is a chromedp tab with the test's failure handling.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

// do runs steps, each call bounded, so that a step that waits for what
// never comes fails with the page's address and a screenshot.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(err)
	}
}

func (b *browser) fail(err error) {
	b.t.Helper()
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	if b.shots != "" {
		if png, serr := chromedp.Run(b.ctx, chromedp.CaptureScreenshot()); serr == nil {
			os.WriteFile(filepath.Join(b.t.TempDir(), "failure.png"), png, 0o644)
		}
	}
	html, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
	b.t.Fatalf("browser at %s: %v\npage text:\n%s", loc, err, html)
}

func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.fail(fmt.Errorf("%s: %w", js, err))
	}
	return v
}

// waitJS waits until a JavaScript condition holds on the page (across
// reloads), for at most a minute.
func (b *browser) waitJS(cond string) {
	b.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+cond+`); } catch (e) { return false; } })()`))
		if err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	b.t.Fatalf("at %s, %s never held", loc, cond)
}

// shot saves a screenshot of the viewport as shots/name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func articleTitle(t *testing.T, id string) string {
	arts, err := kb.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range arts {
		if a.ID == id {
			return a.Text("en").Title
		}
	}
	t.Fatalf("no shipped article %s", id)
	return ""
}

// panicCPU reads the panic task's CPU from crash's bt.
func panicCPU(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`CPU: (\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no CPU in %s", path)
	}
	var cpu int
	fmt.Sscan(string(m[1]), &cpu)
	return cpu
}
