package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/messages"
)

// pageSize is how many crashes one page of the list shows.
const pageSize = 25

// Statuses a dump goes through, for the status filter.
var statuses = []string{"uploading", "queued", "analyzing", "done", "failed"}

type crashListData struct {
	Q        url.Values // the filters as given, to refill the form
	Rows     []DumpRow
	Total    int
	From, To int // 1-based positions of the rows shown
	Prev     string
	Next     string
	Facets   Facets
	Counts   []facetView
	Statuses []string
	Triages  []string
	Filtered bool
	Arrival  bool
	// Sort links the other order.
	SortOther string
}

// facetView is one facet of the list: its values with their counts, each
// a link that adds (or removes) the filter.
type facetView struct {
	Name, Label string
	Values      []facetValue
}

type facetValue struct {
	Value, Label string
	Count        int
	Link         string
	Current      bool
}

// listFilters are the crash list's query parameters that select crashes.
var listFilters = []string{"q", "host", "release", "signature", "type", "status", "triage", "module", "taint", "article", "since", "until"}

// parseDay reads a time filter: a date (2026-11-22), a date and time
// (2026-11-22T05:02), or RFC 3339. until dates count the whole day.
func parseDay(p *messages.Printer, v string, until bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		if until {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badRequest("%s", p.T("crashes.bad_date", "Value", v))
}

// listURL is the crash list with the query q, one parameter changed (""
// removes it) and the page dropped unless given.
func listURL(q url.Values, key, value string) string {
	p := url.Values{}
	for k, vs := range q {
		if k != "page" && len(vs) > 0 && vs[0] != "" {
			p.Set(k, vs[0])
		}
	}
	if value == "" {
		p.Del(key)
	} else {
		p.Set(key, value)
	}
	if len(p) == 0 {
		return "/crashes"
	}
	return "/crashes?" + p.Encode()
}

func (u *UI) crashList(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx := r.Context()
	q := r.URL.Query()
	dq := DumpQuery{Text: q.Get("q"), Host: q.Get("host"), Release: q.Get("release"), Signature: q.Get("signature"),
		Type: q.Get("type"), Status: q.Get("status"), Triage: q.Get("triage"), Module: q.Get("module"), Taint: q.Get("taint"),
		Article: q.Get("article"), ByArrival: q.Get("sort") == "arrival", Viewer: v.S.Name, Limit: pageSize}
	if dq.Triage != "" && !wire.ValidTriageStatus(dq.Triage) {
		return badRequest("%s", v.P.T("crashes.bad_triage", "Value", dq.Triage))
	}
	var err error
	if dq.Since, err = parseDay(v.P, q.Get("since"), false); err != nil {
		return err
	}
	if dq.Until, err = parseDay(v.P, q.Get("until"), true); err != nil {
		return err
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	dq.Offset = (page - 1) * pageSize
	res, err := u.b.Dumps(ctx, dq)
	if err != nil {
		return err
	}
	// A page past the end (an old link, a list that shrank) shows the
	// last page, not "24951–24950 of 12".
	if len(res.Dumps) == 0 && res.Total > 0 && dq.Offset >= res.Total {
		page = (res.Total + pageSize - 1) / pageSize
		dq.Offset = (page - 1) * pageSize
		if res, err = u.b.Dumps(ctx, dq); err != nil {
			return err
		}
	}
	facets, err := u.b.Facets(ctx)
	if err != nil {
		return err
	}
	counts, err := u.b.CountFacets(ctx, dq)
	if err != nil {
		return err
	}
	d := crashListData{Q: q, Rows: res.Dumps, Total: res.Total, Facets: facets, Statuses: statuses, Triages: wire.TriageStatuses,
		From: dq.Offset + 1, To: dq.Offset + len(res.Dumps), Arrival: dq.ByArrival}
	for _, k := range listFilters {
		d.Filtered = d.Filtered || q.Get(k) != ""
	}
	for _, f := range []struct{ name, param string }{{wire.FacetStatus, "triage"}, {wire.FacetKernel, "release"}, {wire.FacetHost, "host"},
		{wire.FacetModule, "module"}, {wire.FacetTaint, "taint"}, {wire.FacetType, "type"}} {
		fv := facetView{Name: f.param, Label: v.P.T("facet." + f.name)}
		for _, c := range counts[f.name] {
			x := facetValue{Value: c.Value, Label: c.Value, Count: c.Count, Current: q.Get(f.param) == c.Value}
			switch f.name {
			case wire.FacetStatus:
				x.Label = v.P.T("status." + c.Value)
			case wire.FacetTaint:
				x.Label = c.Value + " " + analysis.TaintDescription(c.Value)
			}
			x.Link = listURL(q, f.param, c.Value)
			if x.Current {
				x.Link = listURL(q, f.param, "")
			}
			fv.Values = append(fv.Values, x)
		}
		if len(fv.Values) > 0 {
			d.Counts = append(d.Counts, fv)
		}
	}
	pageURL := func(n int) string {
		s := listURL(q, "page", "")
		if n <= 1 {
			return s
		}
		if strings.Contains(s, "?") {
			return s + "&page=" + strconv.Itoa(n)
		}
		return s + "?page=" + strconv.Itoa(n)
	}
	if page > 1 {
		d.Prev = pageURL(page - 1)
	}
	if dq.Offset+len(res.Dumps) < res.Total {
		d.Next = pageURL(page + 1)
	}
	if d.Arrival {
		d.SortOther = listURL(q, "sort", "")
	} else {
		d.SortOther = listURL(q, "sort", "arrival")
	}
	v.Title, v.Nav, v.Data = v.P.T("crashes.title"), "crashes", d
	u.render(w, r, http.StatusOK, "crashes", v)
	return nil
}

// stepsSummary says in a few words where an analysis is: for the list.
func stepsSummary(p *messages.Printer, steps []wire.Step) string {
	ok, failed := 0, 0
	running := ""
	for _, s := range steps {
		switch s.Status {
		case "ok":
			ok++
		case "failed":
			failed++
		case "running":
			running = s.Name
		}
	}
	var parts []string
	if ok > 0 {
		parts = append(parts, p.T("steps.ok", "Count", ok))
	}
	if failed > 0 {
		parts = append(parts, p.T("steps.failed", "Count", failed))
	}
	if running != "" {
		parts = append(parts, p.T("steps.running", "Step", running))
	}
	return strings.Join(parts, p.T("list.sep"))
}
