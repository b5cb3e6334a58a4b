package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vmcore/vmcore/api/wire"
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
	Statuses []string
	Filtered bool
}

// parseDay reads a time filter: a date (2026-11-22), a date and time
// (2026-11-22T05:02), or RFC 3339. until dates count the whole day.
func parseDay(v string, until bool) (time.Time, error) {
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
	return time.Time{}, badRequest("%q is not a date (2006-01-02) or time (2006-01-02T15:04)", v)
}

func (u *UI) crashList(w http.ResponseWriter, r *http.Request, v *view) error {
	q := r.URL.Query()
	dq := DumpQuery{Text: q.Get("q"), Host: q.Get("host"), Release: q.Get("release"), Signature: q.Get("signature"),
		Type: q.Get("type"), Status: q.Get("status"), Limit: pageSize}
	var err error
	if dq.Since, err = parseDay(q.Get("since"), false); err != nil {
		return err
	}
	if dq.Until, err = parseDay(q.Get("until"), true); err != nil {
		return err
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	dq.Offset = (page - 1) * pageSize
	res, err := u.b.Dumps(r.Context(), dq)
	if err != nil {
		return err
	}
	facets, err := u.b.Facets(r.Context())
	if err != nil {
		return err
	}
	d := crashListData{Q: q, Rows: res.Dumps, Total: res.Total, Facets: facets, Statuses: statuses,
		From: dq.Offset + 1, To: dq.Offset + len(res.Dumps)}
	for _, k := range []string{"q", "host", "release", "signature", "type", "status", "since", "until"} {
		d.Filtered = d.Filtered || q.Get(k) != ""
	}
	pageURL := func(n int) string {
		p := url.Values{}
		for k, vs := range q {
			if k != "page" && len(vs) > 0 && vs[0] != "" {
				p.Set(k, vs[0])
			}
		}
		if n > 1 {
			p.Set("page", strconv.Itoa(n))
		}
		if len(p) == 0 {
			return "/crashes"
		}
		return "/crashes?" + p.Encode()
	}
	if page > 1 {
		d.Prev = pageURL(page - 1)
	}
	if dq.Offset+len(res.Dumps) < res.Total {
		d.Next = pageURL(page + 1)
	}
	v.Title, v.Nav, v.Data = "Crashes", "crashes", d
	u.render(w, r, http.StatusOK, "crashes", v)
	return nil
}

// stepsSummary says in a few words where an analysis is: for the list.
func stepsSummary(steps []wire.Step) string {
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
		parts = append(parts, strconv.Itoa(ok)+" ok")
	}
	if failed > 0 {
		parts = append(parts, strconv.Itoa(failed)+" failed")
	}
	if running != "" {
		parts = append(parts, running+" running")
	}
	return strings.Join(parts, ", ")
}
