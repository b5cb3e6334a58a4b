package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/kb"
	"github.com/vmcore/vmcore/messages"
	"github.com/vmcore/vmcore/report"
)

// crashDoc is what the crash pages read from storage, decoded once and
// kept in the docCache: the analysis document, or before there is one,
// the vmcore-dmesg.txt the uploader sent first.
type crashDoc struct {
	key string
	a   *analysis.Document // nil before an analysis is stored
	// dmesg holds vmcore-dmesg.txt's lines when there is no analysis, and
	// dmesgLevel the levels read from their text.
	dmesg      []string
	dmesgLevel []int
	logSource  string
	oopsAt     int       // the record (or dmesg line) where the oops starts; -1 when none
	boot       time.Time // wall-clock time of timestamp 0; zero when unknown
	// oops and prelim are read from vmcore-dmesg.txt while the dump is
	// being analysed: the oops report and the KB's log-only suggestions.
	oops   *report.Report
	prelim []analysis.Suggestion
}

// maxDmesg bounds the vmcore-dmesg.txt read into a page.
const maxDmesg = 32 << 20

var idChars = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)

// readDoc reads a crash's analysis document, or its vmcore-dmesg.txt.
func (u *UI) readDoc(ctx context.Context, d wire.DumpDetail, key string) (*crashDoc, error) {
	doc := &crashDoc{key: key, oopsAt: -1}
	o, err := u.b.Open(ctx, d.ID, ArtifactAnalysis)
	if err == nil {
		defer o.Close()
		a := new(analysis.Document)
		if err := json.NewDecoder(io.NewSectionReader(o, 0, o.Size())).Decode(a); err != nil {
			return nil, fmt.Errorf("ui: decoding the analysis of %s: %w", d.ID, err)
		}
		doc.a, doc.logSource = a, "vmcore"
		doc.oopsAt = oopsRecord(a.Log)
		crash := d.CrashTime
		if a.System != nil && a.System.Date != nil {
			crash = *a.System.Date
		}
		if !crash.IsZero() {
			doc.boot = analysis.BootTime(a.Log, crash)
		}
		return doc, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if !d.HasDmesg {
		return doc, nil
	}
	o, err = u.b.Open(ctx, d.ID, ArtifactDmesg)
	if errors.Is(err, ErrNotFound) {
		return doc, nil
	} else if err != nil {
		return nil, err
	}
	defer o.Close()
	b := make([]byte, min(o.Size(), maxDmesg))
	if _, err := o.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("ui: reading vmcore-dmesg.txt of %s: %w", d.ID, err)
	}
	text := string(bytes.TrimRight(b, "\n"))
	doc.dmesg, doc.logSource = strings.Split(text, "\n"), "vmcore-dmesg.txt"
	doc.dmesgLevel = dmesgLevels(doc.dmesg)
	if p := report.Primary(report.Parse(text)); p != nil {
		doc.oops, doc.oopsAt = p, p.Lines[0]
	}
	if ix, err := u.b.KB(ctx); ix != nil {
		m := &kb.Matcher{Index: ix.Index}
		doc.prelim, _ = m.MatchLog(text) // a failed match leaves the page without suggestions
	} else if err != nil {
		u.log.Warn("ui: knowledge base", "err", err)
	}
	return doc, nil
}

// crashView is the data of every crash page.
type crashView struct {
	D   wire.DumpDetail
	Doc *crashDoc
	A   *analysis.Document
	Tab string
	// Heading is the page's h1: the signature (the bucket's name for the
	// crash), else the panic line.
	Heading string
	// Panic is the panic line, shown under the heading when it differs.
	Panic      string
	InProgress bool
	Running    string // the step running now
	// FromDmesg says the log shown is vmcore-dmesg.txt: no analysis yet.
	FromDmesg bool
	// Previous says the analysis shown is an earlier run's: a new one is
	// under way.
	Previous bool
	BucketID string
	// Bucket is the crash's bucket (its fleet context), nil when it has
	// none yet; Triage the crash's own state and the bucket's.
	Bucket *Bucket
	Triage wire.TriageView
	// Status is the crash's triage status: its own, else its bucket's.
	Status string
	// Article is the article an admin linked to the bucket.
	Article *kb.Localized
	// TestCrash says the crash was caused on purpose (SysRq, LKDTM): the
	// page offers to close it, and its bucket, as not a bug.
	TestCrash bool
	Statuses  []string
	Notes     []noteView

	// Summary tab.
	Suggestions []suggestionView
	Prelim      bool // the suggestions come from vmcore-dmesg.txt alone
	// DoneKB and DoneTriage say what the form just sent did, in the
	// section the page scrolls to after it.
	DoneKB, DoneTriage string
	Articles           []string
	AllArticles        []kb.Localized
	PanicTrace         *traceView
	Oops               *report.Report
	Done               string

	// Other tabs.
	Log     *logView
	Traces  []traceView
	Blocked []blockedView
	Modules []moduleView
	Tasks   *tasksView
	State   *stateView // crash_state.go
}

type suggestionView struct {
	analysis.Suggestion
	Votes kb.Votes
	Lang  string // the article's language, for the title's lang attribute
	// Resolution is the article's resolution, rendered, shown in the card.
	Resolution template.HTML
}

// doneMessage is the result of a page's form, shown after the redirect
// that follows it (?done=…); "" for an unknown key.
func doneMessage(p *messages.Printer, key string) string {
	switch key {
	case "confirm", "reject", "linked", "merged", "split", "article", "triage", "closed", "ruled", "webhook", "unhooked":
		return p.T("done." + key)
	}
	return ""
}

// loadCrash reads what every crash page needs.
func (u *UI) loadCrash(r *http.Request, v *view, tab string) (*crashView, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	if !idChars.MatchString(id) {
		return nil, fmt.Errorf("crash %q: %w", id, ErrNotFound)
	}
	d, err := u.b.Dump(ctx, id)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s/%d/%s/%t", d.ID, d.Run, d.Status, d.HasDmesg)
	doc := u.docs.get(key)
	if doc == nil {
		if doc, err = u.readDoc(ctx, d, key); err != nil {
			return nil, err
		}
		u.docs.put(doc)
	}
	cv := &crashView{D: d, Doc: doc, A: doc.a, Tab: tab, Oops: doc.oops}
	cv.InProgress = d.Status == "uploading" || d.Status == "queued" || d.Status == "analyzing"
	for _, s := range d.Steps {
		if s.Status == "running" {
			cv.Running = s.Name
		}
	}
	cv.Previous = cv.InProgress && doc.a != nil
	cv.FromDmesg = doc.dmesg != nil
	cv.Panic = d.Panic
	if cv.Panic == "" && doc.a != nil && doc.a.System != nil {
		cv.Panic = doc.a.System.Panic
	}
	cv.Heading = d.Signature
	if cv.Heading == "" && doc.oops != nil {
		cv.Heading = doc.oops.Title
	}
	if cv.Heading == "" {
		cv.Heading = cv.Panic
	}
	if cv.Heading == "" {
		cv.Heading = v.P.T("crash.untitled", "ID", d.ID)
	}
	if cv.Panic == cv.Heading {
		cv.Panic = ""
	}
	if d.Signature != "" {
		if b, err := u.b.BucketOf(ctx, d.Signature); err == nil {
			cv.BucketID = b
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	if cv.BucketID != "" {
		b, err := u.b.Bucket(ctx, cv.BucketID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		} else if err == nil {
			b.Hosts, _ = firstN(b.Hosts, 8)
			b.Releases, _ = firstN(b.Releases, 8)
			cv.Bucket = &b
		}
	}
	if cv.Triage, err = u.b.TriageOf(ctx, wire.KindDump, d.ID); err != nil {
		return nil, err
	}
	cv.Status = cv.Triage.Triage.Status
	if cv.Status == "" && cv.Triage.Bucket != nil {
		cv.Status = cv.Triage.Bucket.Status
	}
	if cv.Status == "" {
		cv.Status = wire.TriageNew
	}
	cv.Statuses, cv.Notes = wire.TriageStatuses, notesView(cv.Triage.Notes)
	if err := u.b.MarkSeen(ctx, d.ID, v.S.Name); err != nil {
		return nil, err
	}
	if cv.InProgress {
		v.Refresh, v.RefreshState = "/crashes/"+d.ID+"/status", refreshState(d)
	}
	v.Title, v.Nav = cv.Heading, "crashes"
	// A form's result is shown where the page scrolls to after it (the
	// suggestions, the triage), not above it out of view.
	done := r.URL.Query().Get("done")
	cv.Done = doneMessage(v.P, done)
	switch done {
	case "confirm", "reject", "linked":
		cv.DoneKB = cv.Done
	case "triage", "closed", "ruled":
		cv.DoneTriage = cv.Done
	}
	v.Data = cv
	return cv, nil
}

func (u *UI) crashSummary(w http.ResponseWriter, r *http.Request, v *view) error {
	cv, err := u.loadCrash(r, v, "summary")
	if err != nil {
		return err
	}
	ctx := r.Context()
	sugg := cv.Doc.prelim
	cv.Prelim = cv.A == nil && len(sugg) > 0
	if cv.A != nil {
		sugg = cv.A.KB
	}
	votes := map[string]kb.Votes{}
	if cv.D.Signature != "" {
		if votes, err = u.b.Votes(ctx, cv.D.Signature); err != nil {
			return err
		}
	}
	ix, err := u.b.KB(ctx)
	if ix == nil && err != nil {
		return err
	}
	var ids []string
	for _, s := range sugg {
		sv := suggestionView{Suggestion: s, Votes: votes[s.ID], Lang: "en"}
		if a, err := ix.Get(s.ID); err == nil {
			t := a.Text(v.Lang)
			sv.Title, sv.Lang, sv.Resolution = t.Title, t.Lang, renderMarkdown(t.Resolution)
		}
		cv.Suggestions = append(cv.Suggestions, sv)
		ids = append(ids, s.ID)
	}
	panicLine := cv.D.Panic
	if cv.Doc.oops != nil {
		panicLine += " " + cv.Doc.oops.Title
	}
	cv.TestCrash = testCrash(cv.D.Signature, panicLine, ids)
	if cv.Bucket != nil && cv.Bucket.ArticleID != "" {
		if a, err := ix.Get(cv.Bucket.ArticleID); err == nil {
			l := a.In(v.Lang)
			cv.Article = &l
		}
	}
	if cv.Articles, err = u.b.DumpArticles(ctx, cv.D.ID); err != nil {
		return err
	}
	if v.CanAdmin() {
		cv.AllArticles = localized(ix.Articles(), v.Lang)
	}
	if cv.A != nil {
		for _, t := range orderTraces(cv.A.Backtraces, u.sourceLinker(cv.A)) {
			if t.Panic {
				cv.PanicTrace = &t
				break
			}
		}
	}
	u.render(w, r, http.StatusOK, "crash", v)
	return nil
}

func (u *UI) crashLog(w http.ResponseWriter, r *http.Request, v *view) error {
	cv, err := u.loadCrash(r, v, "log")
	if err != nil {
		return err
	}
	v.Title = v.P.T("tab.log") + " · " + cv.Heading
	if cv.A == nil && cv.Doc.dmesg == nil {
		u.render(w, r, http.StatusOK, "crash_log", v)
		return nil
	}
	q := r.URL.Query()
	if cv.Log, err = buildLog(v.P, cv.Doc, q.Get("level"), q.Get("q"), q.Get("time") == "wall"); err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "crash_log", v)
	return nil
}

// traceView is one stack trace as the pages show it.
type traceView struct {
	CPU    int
	PID    int32
	Comm   string
	Task   analysis.Hex
	Panic  bool
	Error  string
	Frames []frameView
}

type frameView struct {
	N        int
	Function string
	Offset   analysis.Hex
	Module   string
	PC, SP   analysis.Hex
	File     string
	Line     int
	Source   string // a link to the source line, when known
	Inline   bool
	Reliable bool
	User     bool
	Regs     []regView
}

type regView struct{ Name, Value string }

type blockedView struct {
	Count int
	PIDs  string
	Trace traceView
}

// upstreamVersion finds the kernel.org version a kernel was built from,
// for source links: Debian writes it in the version string ("Debian
// 6.1.192-2"); a plain release ("6.12.3") is one.
var (
	debianVersion = regexp.MustCompile(`Debian (\d+\.\d+\.\d+)-`)
	plainRelease  = regexp.MustCompile(`^(\d+\.\d+(?:\.\d+)?)$`)
)

// sourceLinker returns a function that makes a frame's source link, or ""
// when the version or the file is unknown.
func (u *UI) sourceLinker(a *analysis.Document) func(file string, line int) string {
	none := func(string, int) string { return "" }
	if u.cfg.SourceURL == "-" || a.System == nil {
		return none
	}
	ver := ""
	if m := debianVersion.FindStringSubmatch(a.System.Version); m != nil {
		ver = m[1]
	} else if m := plainRelease.FindStringSubmatch(a.System.Release); m != nil {
		ver = m[1]
	}
	if ver == "" {
		return none
	}
	ver = strings.TrimSuffix(ver, ".0") // Elixir's tags: v6.1, v6.1.1
	return func(file string, line int) string {
		file = strings.TrimPrefix(file, "./")
		if file == "" || line <= 0 || strings.HasPrefix(file, "/") || strings.Contains(file, "..") {
			return ""
		}
		return strings.NewReplacer("{version}", ver, "{file}", file, "{line}", strconv.Itoa(line)).Replace(u.cfg.SourceURL)
	}
}

func makeTrace(t analysis.Trace, link func(string, int) string) traceView {
	tv := traceView{CPU: t.CPU, PID: t.PID, Comm: t.Comm, Task: t.Task, Panic: t.Panic, Error: t.Error}
	for i, f := range t.Frames {
		fv := frameView{N: i, Function: f.Function, Offset: f.Offset, Module: f.Module, PC: f.PC, SP: f.SP, File: f.File,
			Line: f.Line, Inline: f.Inline, Reliable: f.Reliable, User: f.User, Source: link(f.File, f.Line)}
		if f.Regs != nil {
			fv.Regs = regList(f.Regs)
		}
		tv.Frames = append(tv.Frames, fv)
	}
	return tv
}

func regList(r *analysis.Regs) []regView {
	var out []regView
	for _, x := range r.Display() {
		out = append(out, regView{x.Name, fmt.Sprintf("%016x", x.Value)})
	}
	return out
}

// orderTraces puts the panic CPU first, then the other CPUs in order.
func orderTraces(ts []analysis.Trace, link func(string, int) string) []traceView {
	out := make([]traceView, 0, len(ts))
	for _, t := range ts {
		out = append(out, makeTrace(t, link))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Panic != out[j].Panic {
			return out[i].Panic
		}
		return out[i].CPU < out[j].CPU
	})
	return out
}

func (u *UI) crashBacktraces(w http.ResponseWriter, r *http.Request, v *view) error {
	cv, err := u.loadCrash(r, v, "backtraces")
	if err != nil {
		return err
	}
	v.Title = v.P.T("tab.backtraces") + " · " + cv.Heading
	if cv.A != nil {
		link := u.sourceLinker(cv.A)
		cv.Traces = orderTraces(cv.A.Backtraces, link)
		for _, g := range cv.A.BlockedGroups {
			pids := make([]string, 0, min(len(g.PIDs), 50))
			for i, p := range g.PIDs {
				if i == 50 {
					pids = append(pids, v.P.T("list.more", "Count", len(g.PIDs)-50))
					break
				}
				pids = append(pids, strconv.Itoa(int(p)))
			}
			cv.Blocked = append(cv.Blocked, blockedView{Count: g.Count, PIDs: strings.Join(pids, ", "), Trace: makeTrace(g.Trace, link)})
		}
	}
	u.render(w, r, http.StatusOK, "crash_bt", v)
	return nil
}

// moduleView is a module with its taint letters explained.
type moduleView struct {
	analysis.Module
	Taints []taintView
}

type taintView struct{ Letter, Description string }

func (u *UI) crashModules(w http.ResponseWriter, r *http.Request, v *view) error {
	cv, err := u.loadCrash(r, v, "modules")
	if err != nil {
		return err
	}
	v.Title = v.P.T("tab.modules") + " · " + cv.Heading
	if cv.A != nil {
		for _, m := range cv.A.Modules {
			mv := moduleView{Module: m}
			for _, c := range m.Taints {
				mv.Taints = append(mv.Taints, taintView{string(c), analysis.TaintDescription(string(c))})
			}
			cv.Modules = append(cv.Modules, mv)
		}
		// Tainting modules first: they are what an engineer looks for.
		sort.SliceStable(cv.Modules, func(i, j int) bool {
			return len(cv.Modules[i].Taints) > 0 && len(cv.Modules[j].Taints) == 0
		})
	}
	u.render(w, r, http.StatusOK, "crash_modules", v)
	return nil
}

// tasksView is the tasks tab: the tasks in a state (or all), and how many
// are in each state.
type tasksView struct {
	State  string
	Tasks  []analysis.Task
	States []stateCount
}

type stateCount struct {
	State, Name string
	Count       int
	Current     bool
}

var stateNames = map[string]string{"R": "running", "S": "sleeping", "D": "uninterruptible", "T": "stopped", "t": "traced",
	"X": "dead", "Z": "zombie", "P": "parked", "I": "idle"}

func (u *UI) crashTasks(w http.ResponseWriter, r *http.Request, v *view) error {
	cv, err := u.loadCrash(r, v, "tasks")
	if err != nil {
		return err
	}
	v.Title = v.P.T("tab.tasks") + " · " + cv.Heading
	if cv.A != nil {
		tv := &tasksView{State: r.URL.Query().Get("state")}
		counts := map[string]int{}
		for _, t := range cv.A.Tasks {
			counts[t.State]++
			if tv.State == "" || t.State == tv.State {
				tv.Tasks = append(tv.Tasks, t)
			}
		}
		for s, n := range counts {
			name := ""
			if stateNames[s] != "" {
				name = v.P.T("task." + stateNames[s])
			}
			tv.States = append(tv.States, stateCount{s, name, n, s == tv.State})
		}
		sort.Slice(tv.States, func(i, j int) bool { return tv.States[i].State < tv.States[j].State })
		cv.Tasks = tv
	}
	u.render(w, r, http.StatusOK, "crash_tasks", v)
	return nil
}

func (u *UI) crashSteps(w http.ResponseWriter, r *http.Request, v *view) error {
	cv, err := u.loadCrash(r, v, "steps")
	if err != nil {
		return err
	}
	v.Title = v.P.T("tab.steps") + " · " + cv.Heading
	u.render(w, r, http.StatusOK, "crash_steps", v)
	return nil
}

// crashStatus answers app.js, which polls it while a crash is being
// analysed and reloads the page when the answer changes.
func (u *UI) crashStatus(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	if !idChars.MatchString(id) {
		return ErrNotFound
	}
	d, err := u.b.Dump(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]any{"state": refreshState(d), "status": d.Status})
}

// refreshState sums up what a crash page shows of an analysis in
// progress: the page reloads when the status endpoint's differs from the
// one it was rendered with.
func refreshState(d wire.DumpDetail) string {
	steps := 0
	for _, s := range d.Steps {
		if s.Status != "running" {
			steps++
		}
	}
	return fmt.Sprintf("%s/%d/%d/%t", d.Status, d.Run, steps, d.HasDmesg)
}

// download serves one of a crash's stored objects. Ranges work, so a dump
// download can resume.
func (u *UI) download(pattern string, roles []string, a Artifact) {
	names := map[Artifact]struct{ ext, ctype string }{
		ArtifactLog:      {"log.txt", "text/plain; charset=utf-8"},
		ArtifactDmesg:    {"vmcore-dmesg.txt", "text/plain; charset=utf-8"},
		ArtifactAnalysis: {"analysis.json", "application/json"},
		ArtifactDump:     {"vmcore", "application/octet-stream"},
	}
	n := names[a]
	u.add(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.serve(w, r, roles, false, func(w http.ResponseWriter, r *http.Request, v *view) error {
			id := r.PathValue("id")
			if !idChars.MatchString(id) {
				return ErrNotFound
			}
			o, err := u.b.Open(r.Context(), id, a)
			if err != nil {
				return err
			}
			defer o.Close()
			w.Header().Set("Content-Type", n.ctype)
			// attachment: a log full of HTML is never rendered as a page.
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s"`, id, n.ext))
			http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(o, 0, o.Size()))
			return nil
		})
	}))
}

func (u *UI) crashFeedback(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	if !idChars.MatchString(id) {
		return ErrNotFound
	}
	verdict := map[string]int{"confirm": 1, "reject": -1}[r.PostFormValue("verdict")]
	article := r.PostFormValue("article")
	if verdict == 0 || article == "" {
		return badRequest("%s", v.P.T("feedback.required"))
	}
	if err := u.b.Feedback(r.Context(), id, article, verdict, v.S.Name); err != nil {
		return err
	}
	http.Redirect(w, r, "/crashes/"+id+"?done="+r.PostFormValue("verdict")+"#kb", http.StatusSeeOther)
	return nil
}

func (u *UI) crashLink(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	if !idChars.MatchString(id) {
		return ErrNotFound
	}
	article := strings.TrimSpace(r.PostFormValue("article"))
	if article == "" {
		return badRequest("%s", v.P.T("link_article.choose"))
	}
	if err := u.b.LinkDump(r.Context(), id, article, v.S.Name); err != nil {
		return err
	}
	http.Redirect(w, r, "/crashes/"+id+"?done=linked#kb", http.StatusSeeOther)
	return nil
}

// testCrash says whether a crash was caused on purpose (SysRq-c, LKDTM):
// by the knowledge base's articles for such crashes among its
// suggestions, or by its signature and panic line.
func testCrash(signature, panicLine string, suggestions []string) bool {
	for _, id := range suggestions {
		if id == "sysrq-trigger-crash" || id == "lkdtm-test-crash" {
			return true
		}
	}
	s := strings.ToLower(signature + " " + panicLine)
	return strings.Contains(s, "sysrq") || strings.Contains(s, "lkdtm")
}
