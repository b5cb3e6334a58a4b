package api

import (
	"context"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/kb"
)

// Triage through the API: the state of buckets and dumps, their notes and
// audit trail, and what happens when a crash arrives in a bucket someone
// has already worked on: a rule closes it, a fix it should not have hit
// reopens the bucket as a regression, a fix its older kernel lacks marks
// it "fixed in X, upgrade". The web UI changes state through the same
// functions (ChangeTriage), so roles, validation, the audit trail and the
// webhooks are the same whichever way a change comes.

// Actors the service records for the changes it makes itself.
const (
	ActorService = "vmcored"      // a regression reopening a bucket, an upgrade mark
	ActorRule    = "vmcored rule" // a bucket's rule closing a new crash
)

// triageRoutes adds the triage endpoints. Reading needs a reading role;
// changing needs support or admin; webhooks are for admins.
func (s *Server) triageRoutes(e *echo.Echo, reader echo.MiddlewareFunc) {
	triager := s.auth(store.RoleSupport, store.RoleAdmin)
	admin := s.auth(store.RoleAdmin)
	small := middleware.BodyLimit("1M")
	const v1 = "/api/v1"
	e.GET(v1+"/buckets/:id/triage", s.getTriage(store.KindBucket), reader)
	e.PATCH(v1+"/buckets/:id/triage", s.patchTriage(store.KindBucket), triager, small)
	e.GET(v1+"/dumps/:id/triage", s.getTriage(store.KindDump), reader)
	e.PATCH(v1+"/dumps/:id/triage", s.patchTriage(store.KindDump), triager, small)
	e.GET(v1+"/facets", s.getFacets, reader)
	e.GET(v1+"/webhooks", s.listWebhooks, admin)
	e.POST(v1+"/webhooks", s.addWebhook, admin, small)
	e.DELETE(v1+"/webhooks/:id", s.deleteWebhook, admin)
	e.GET(v1+"/webhooks/:id/deliveries", s.listDeliveries, admin)
}

var bucketIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// subjectParam reads the :id of a bucket or dump.
func subjectParam(c echo.Context, kind string) (string, error) {
	id := c.Param("id")
	if !bucketIDPattern.MatchString(id) {
		return "", echo.NewHTTPError(http.StatusNotFound, "no such "+kind)
	}
	return id, nil
}

// TriageOf reads a bucket's or dump's triage view; ErrNotFound when the
// subject does not exist.
func (s *Server) TriageOf(ctx context.Context, kind, id string) (wire.TriageView, error) {
	var v wire.TriageView
	var err error
	switch kind {
	case store.KindBucket:
		if _, err = s.db.Buckets(ctx, id); err != nil {
			return v, err
		}
	case store.KindDump:
		d, err := s.db.GetDump(ctx, id)
		if err != nil {
			return v, err
		}
		if d.Signature != "" {
			if bid, err := s.db.BucketOf(ctx, d.Signature); err == nil {
				bt, err := s.db.Triage(ctx, store.KindBucket, bid)
				if err != nil {
					return v, err
				}
				v.Bucket = &bt
			}
		}
	}
	if v.Triage, err = s.db.Triage(ctx, kind, id); err != nil {
		return v, err
	}
	if v.Notes, err = s.db.Notes(ctx, kind, id); err != nil {
		return v, err
	}
	v.Events, err = s.db.TriageEvents(ctx, kind, id, 200)
	return v, err
}

func (s *Server) getTriage(kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := subjectParam(c, kind)
		if err != nil {
			return err
		}
		v, err := s.TriageOf(c.Request().Context(), kind, id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	}
}

func (s *Server) patchTriage(kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := subjectParam(c, kind)
		if err != nil {
			return err
		}
		var ch store.TriageChange
		if err := c.Bind(&ch); err != nil {
			return err
		}
		t, err := s.ChangeTriage(c.Request().Context(), c.Get("token").(string), kind, id, ch)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, t)
	}
}

// ChangeTriage applies a person's change to a bucket or dump (the actor
// is their token's name), and notifies the webhooks of a bucket's state
// change.
func (s *Server) ChangeTriage(ctx context.Context, actor, kind, id string, ch store.TriageChange) (store.Triage, error) {
	t, events, err := s.db.SetTriage(ctx, kind, id, ch, actor)
	if err != nil {
		return t, err
	}
	if kind == store.KindBucket {
		var changes []store.TriageEvent
		for _, e := range events {
			if e.Field != "note" && e.Field != "link_label" {
				changes = append(changes, e)
			}
		}
		if len(changes) > 0 {
			s.notify(ctx, notice{Event: store.EventStateChange, BucketID: id, Actor: actor, Changes: changes})
		}
	}
	return t, nil
}

// arrival is what the worker tells the triage about an analysed dump.
type arrival struct {
	dump      store.Dump
	signature string
	release   string
	newBucket bool
	doc       *analysis.Document
}

// arrived records an analysed dump's facts and, the first time only,
// weighs it against its bucket's triage: a rule closes it, a fixed
// bucket reopens as a regression or marks the dump for an upgrade, and a
// new bucket is announced. Failures are logged, never fail the analysis.
func (s *Server) arrived(ctx context.Context, a arrival) {
	log := s.log.With("dump", a.dump.ID)
	facts := store.DumpFacts{}
	if d := a.doc; d != nil {
		if d.System != nil {
			facts.KernelVersion = d.System.Version
		}
		if d.Taint != nil {
			for _, f := range d.Taint.Flags {
				facts.Taint += f.Letter
			}
		}
		for _, m := range d.Modules {
			facts.Modules = append(facts.Modules, m.Name)
		}
		for _, k := range d.KB {
			facts.Articles = append(facts.Articles, k.ID)
		}
	}
	first, err := s.db.RecordArrival(ctx, a.dump.ID, facts)
	if err != nil {
		log.Warn("recording the crash's facts", "err", err)
		return
	}
	if !first || a.signature == "" {
		return
	}
	bid, err := s.db.BucketOf(ctx, a.signature)
	if err != nil {
		log.Warn("finding the crash's bucket", "err", err)
		return
	}
	if a.newBucket {
		s.notify(ctx, notice{Event: store.EventNewBucket, BucketID: bid, DumpID: a.dump.ID})
		return
	}
	bt, err := s.db.Triage(ctx, store.KindBucket, bid)
	if err != nil {
		log.Warn("reading the bucket's triage", "err", err)
		return
	}
	switch {
	case bt.Rule != "":
		rule := bt.Rule
		_, _, err = s.db.SetTriage(ctx, store.KindDump, a.dump.ID, store.TriageChange{Status: &rule}, ActorRule)
	case bt.Status == store.TriageFixed:
		atLeast, comparable := kb.KernelAtLeast(a.release, facts.KernelVersion, bt.FixRelease)
		if bt.FixRelease != "" && comparable && !atLeast {
			// Explained: the kernel lacks the fix. The crash is fixed (in
			// a release it does not run) whatever the bucket becomes.
			fix, fixed := bt.FixRelease, store.TriageFixed
			_, _, err = s.db.SetTriage(ctx, store.KindDump, a.dump.ID, store.TriageChange{Status: &fixed, Upgrade: &fix}, ActorService)
			break
		}
		// The fix's release or later, or a kernel that cannot be compared
		// with it: people must look again.
		reopen := store.TriageNew
		reg := &store.Regression{DumpID: a.dump.ID, Release: a.release, At: s.now().UTC()}
		if _, _, err = s.db.SetTriage(ctx, store.KindBucket, bid, store.TriageChange{Status: &reopen, Regression: reg}, ActorService); err == nil {
			s.notify(ctx, notice{Event: store.EventRegression, BucketID: bid, DumpID: a.dump.ID, Release: a.release, FixRelease: bt.FixRelease})
		}
	}
	if err != nil {
		log.Warn("applying the bucket's triage to a new crash", "err", err)
	}
}

// bucketTriage is a bucket as the API lists it: with its triage state.
type bucketTriage struct {
	store.Bucket
	Triage wire.Triage `json:"triage"`
}

// bucketsWithTriage adds the buckets' triage states (a bucket never
// changed is new).
func (s *Server) bucketsWithTriage(ctx context.Context, bs []store.Bucket) ([]bucketTriage, error) {
	ids := make([]string, len(bs))
	for i, b := range bs {
		ids[i] = b.ID
	}
	ts, err := s.db.Triages(ctx, store.KindBucket, ids)
	if err != nil {
		return nil, err
	}
	out := make([]bucketTriage, len(bs))
	for i, b := range bs {
		t, ok := ts[b.ID]
		if !ok {
			t = wire.Triage{Kind: store.KindBucket, ID: b.ID, Status: store.TriageNew}
		}
		out[i] = bucketTriage{b, t}
	}
	return out, nil
}

func (s *Server) getFacets(c echo.Context) error {
	q, err := dumpQuery(c)
	if err != nil {
		return err
	}
	f, err := s.db.CountFacets(c.Request().Context(), q, 50)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"facets": f})
}

// dumpQuery reads the list filters shared by GET /dumps and /facets.
func dumpQuery(c echo.Context) (store.DumpQuery, error) {
	q := c.QueryParams()
	dq := store.DumpQuery{Text: q.Get("q"), Module: q.Get("module"), Taint: q.Get("taint"), Triage: q.Get("triage"), Article: q.Get("article"),
		Filter: store.Filter{Host: q.Get("host"), Release: q.Get("release"), Signature: q.Get("signature"), Status: q.Get("status"), Type: q.Get("type")}}
	if dq.Triage != "" && !store.ValidTriageStatus(dq.Triage) {
		return dq, echo.NewHTTPError(http.StatusBadRequest, "triage is one of "+strings.Join(store.TriageStatuses, ", "))
	}
	switch q.Get("sort") {
	case "", "crashed":
	case "arrival":
		dq.ByArrival = true
	default:
		return dq, echo.NewHTTPError(http.StatusBadRequest, "sort is crashed or arrival")
	}
	var err error
	if dq.Since, err = timeParam(q.Get("since")); err != nil {
		return dq, err
	}
	dq.Until, err = timeParam(q.Get("until"))
	return dq, err
}
