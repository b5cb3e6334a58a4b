package ui

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/kb"
)

// bucketsPerPage bounds the list (each bucket costs a history query).
const bucketsPerPage = 50

// chartDays is the span of the list's charts.
const chartDays = 30

type bucketRow struct {
	Bucket
	Rank      int
	Chart     template.HTML
	MoreHosts int
	MoreRels  int
}

type bucketListData struct {
	Rows       []bucketRow
	Total      int
	ChartStart time.Time
	ChartEnd   time.Time
	Prev, Next string
}

// firstN returns at most n of list and how many were left out.
func firstN(list []string, n int) ([]string, int) {
	if len(list) <= n {
		return list, 0
	}
	return list[:n], len(list) - n
}

func (u *UI) bucketList(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx := r.Context()
	all, err := u.b.Buckets(ctx)
	if err != nil {
		return err
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	d := bucketListData{Total: len(all)}
	// One time axis for every chart of the page, ending at the newest
	// crash: bars line up and compare across buckets.
	for _, b := range all {
		if b.LastSeen.After(d.ChartEnd) {
			d.ChartEnd = b.LastSeen
		}
	}
	if d.ChartEnd.IsZero() {
		d.ChartEnd = u.cfg.Now()
	}
	d.ChartEnd = d.ChartEnd.UTC().Truncate(24 * time.Hour)
	d.ChartStart = d.ChartEnd.AddDate(0, 0, -(chartDays - 1))
	from := min((page-1)*bucketsPerPage, len(all))
	to := min(from+bucketsPerPage, len(all))
	for i, b := range all[from:to] {
		hist, err := u.b.BucketHistory(ctx, b.ID)
		if err != nil {
			return err
		}
		row := bucketRow{Bucket: b, Rank: from + i + 1, Chart: dayChart(v.P, hist, d.ChartEnd, chartDays, 150, 28)}
		row.Hosts, row.MoreHosts = firstN(b.Hosts, 3)
		row.Releases, row.MoreRels = firstN(b.Releases, 3)
		d.Rows = append(d.Rows, row)
	}
	if page > 1 {
		d.Prev = "/buckets?page=" + strconv.Itoa(page-1)
	}
	if to < len(all) {
		d.Next = "/buckets?page=" + strconv.Itoa(page+1)
	}
	v.Title, v.Nav, v.Data = v.P.T("buckets.title"), "buckets", d
	u.render(w, r, http.StatusOK, "buckets", v)
	return nil
}

type bucketData struct {
	B          Bucket
	Chart      template.HTML
	ChartStart time.Time
	ChartEnd   time.Time
	Article    *kb.Localized
	Rows       []DumpRow
	Total      int
	Prev, Next string
	// For admins: the other buckets (to merge) and the articles (to link).
	Others   []Bucket
	Articles []kb.Localized
	// The triage: state, notes (Markdown, rendered), audit trail.
	Triage   wire.Triage
	Notes    []noteView
	Events   []wire.TriageEvent
	Statuses []string
	Rules    []string
	Done     string
}

// noteView is a note with its Markdown rendered.
type noteView struct {
	wire.Note
	HTML template.HTML
}

func notesView(notes []wire.Note) []noteView {
	out := make([]noteView, len(notes))
	for i, n := range notes {
		out[i] = noteView{n, renderMarkdown(n.Body)}
	}
	return out
}

func (u *UI) bucketPage(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if !idChars.MatchString(id) {
		return ErrNotFound
	}
	b, err := u.b.Bucket(ctx, id)
	if err != nil {
		return err
	}
	hist, err := u.b.BucketHistory(ctx, id)
	if err != nil {
		return err
	}
	d := bucketData{B: b}
	// The whole life of the bucket, between two weeks and three months.
	d.ChartEnd = b.LastSeen.UTC().Truncate(24 * time.Hour)
	days := int(b.LastSeen.Sub(b.FirstSeen)/(24*time.Hour)) + 1
	days = min(max(days, 14), 90)
	d.ChartStart = d.ChartEnd.AddDate(0, 0, -(days - 1))
	d.Chart = dayChart(v.P, hist, d.ChartEnd, days, 600, 80)
	tv, err := u.b.TriageOf(ctx, wire.KindBucket, id)
	if err != nil {
		return err
	}
	d.Triage, d.Notes, d.Events = tv.Triage, notesView(tv.Notes), tv.Events
	d.Statuses, d.Rules = wire.TriageStatuses, []string{wire.TriageNotABug, wire.TriageWontFix, wire.TriageFixed}
	ix, err := u.b.KB(ctx)
	if ix == nil {
		return err
	}
	if b.ArticleID != "" {
		if a, err := ix.Get(b.ArticleID); err == nil {
			l := a.In(v.Lang)
			d.Article = &l
		}
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	res, err := u.b.Dumps(ctx, DumpQuery{Signatures: b.Signatures, Limit: pageSize, Offset: (page - 1) * pageSize})
	if err != nil {
		return err
	}
	d.Rows, d.Total = res.Dumps, res.Total
	if page > 1 {
		d.Prev = "/buckets/" + url.PathEscape(id) + "?page=" + strconv.Itoa(page-1)
	}
	if page*pageSize < res.Total {
		d.Next = "/buckets/" + url.PathEscape(id) + "?page=" + strconv.Itoa(page+1)
	}
	if v.CanAdmin() {
		all, err := u.b.Buckets(ctx)
		if err != nil {
			return err
		}
		for _, o := range all {
			if o.ID != b.ID {
				d.Others = append(d.Others, o)
			}
		}
		d.Articles = localized(ix.Articles(), v.Lang)
	}
	v.Title, v.Nav, v.Data = b.Title, "buckets", d
	d.Done = doneMessage(v.P, r.URL.Query().Get("done"))
	v.Data = d
	if r.URL.Query().Get("done") != "triage" {
		v.Flash = d.Done
	}
	u.render(w, r, http.StatusOK, "bucket", v)
	return nil
}

func (u *UI) bucketLink(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	if !idChars.MatchString(id) {
		return ErrNotFound
	}
	article := strings.TrimSpace(r.PostFormValue("article"))
	if err := u.b.LinkBucket(r.Context(), id, article, v.S.Name); err != nil {
		return err
	}
	http.Redirect(w, r, "/buckets/"+id+"?done=article", http.StatusSeeOther)
	return nil
}

func (u *UI) bucketMerge(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	from := r.PostFormValue("from")
	if !idChars.MatchString(id) {
		return ErrNotFound
	}
	if !idChars.MatchString(from) {
		return badRequest("%s", v.P.T("merge.choose"))
	}
	// Merging is not undone by a click: it is confirmed on a page that
	// says what moves where.
	if r.PostFormValue("confirm") != "yes" {
		into, err := u.b.Bucket(r.Context(), id)
		if err != nil {
			return err
		}
		other, err := u.b.Bucket(r.Context(), from)
		if err != nil {
			return err
		}
		v.Title, v.Nav, v.Data = v.P.T("merge.title"), "buckets", mergeData{Into: into, From: other}
		u.render(w, r, http.StatusOK, "merge", v)
		return nil
	}
	if err := u.b.MergeBuckets(r.Context(), id, from, v.S.Name); err != nil {
		return err
	}
	http.Redirect(w, r, "/buckets/"+id+"?done=merged", http.StatusSeeOther)
	return nil
}

func (u *UI) bucketSplit(w http.ResponseWriter, r *http.Request, v *view) error {
	sig := r.PostFormValue("signature")
	if sig == "" {
		return badRequest("%s", v.P.T("split.choose"))
	}
	nid, err := u.b.SplitSignature(r.Context(), sig, v.S.Name)
	if errors.Is(err, ErrNotFound) {
		return badRequest("%s", v.P.T("split.none", "Signature", sig))
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, "/buckets/"+url.PathEscape(nid)+"?done=split", http.StatusSeeOther)
	return nil
}

type mergeData struct {
	Into, From Bucket
}
