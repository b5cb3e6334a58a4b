package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/ui"
)

// The web UI's triage (ui.TriageBackend), on the same functions as the
// REST API's.

// shareLinkTTL is how long a crash page's share link works: long enough
// to be read in a chat some hours later, once.
const shareLinkTTL = 24 * time.Hour

func (b uiBackend) TriageOf(ctx context.Context, kind, id string) (wire.TriageView, error) {
	v, err := b.s.TriageOf(ctx, kind, id)
	return v, uiErr(err)
}

func (b uiBackend) ChangeTriage(ctx context.Context, actor, kind, id string, c wire.TriageChange) error {
	_, err := b.s.ChangeTriage(ctx, actor, kind, id, c)
	return uiErr(err)
}

// storeQuery maps the UI's crash query to the store's.
func storeQuery(q ui.DumpQuery) store.DumpQuery {
	return store.DumpQuery{Text: q.Text, Signatures: q.Signatures, Module: q.Module, Taint: q.Taint, Triage: q.Triage,
		Article: q.Article, ByArrival: q.ByArrival,
		Filter: store.Filter{Host: q.Host, Release: q.Release, Signature: q.Signature, Type: q.Type, Status: q.Status,
			Since: q.Since, Until: q.Until, Limit: q.Limit, Offset: q.Offset}}
}

func (b uiBackend) CountFacets(ctx context.Context, q ui.DumpQuery) (map[string][]wire.FacetCount, error) {
	return b.s.db.CountFacets(ctx, storeQuery(q), 12)
}

func (b uiBackend) MarkSeen(ctx context.Context, id, actor string) error {
	return b.s.db.MarkSeen(ctx, id, actor)
}

func (b uiBackend) SetLanguage(ctx context.Context, actor, lang string) error {
	return b.s.db.SetLanguage(ctx, actor, lang)
}

func (b uiBackend) ShareLink(ctx context.Context, session, dumpID string) (string, time.Time, error) {
	if !idPattern.MatchString(dumpID) {
		return "", time.Time{}, fmt.Errorf("dump %q: %w", dumpID, ui.ErrNotFound)
	}
	if _, err := b.s.db.GetDump(ctx, dumpID); err != nil {
		return "", time.Time{}, uiErr(err)
	}
	var r [32]byte
	rand.Read(r[:])
	secret := hex.EncodeToString(r[:])
	exp := time.Now().Add(shareLinkTTL)
	if err := b.s.db.CreateSessionLink(ctx, secret, session, "/crashes/"+dumpID, store.RoleViewer, exp); err != nil {
		return "", time.Time{}, uiErr(err)
	}
	return "/links/" + secret, exp.UTC(), nil
}

func (b uiBackend) Webhooks(ctx context.Context) ([]wire.Webhook, error) { return b.s.db.Webhooks(ctx) }

func (b uiBackend) AddWebhook(ctx context.Context, w wire.Webhook, actor string) error {
	_, err := b.s.db.AddWebhook(ctx, w, actor)
	return uiErr(err)
}

func (b uiBackend) DeleteWebhook(ctx context.Context, id, actor string) error {
	return uiErr(b.s.db.DeleteWebhook(ctx, id, actor))
}

func (b uiBackend) Deliveries(ctx context.Context, webhook string) ([]wire.Delivery, error) {
	return b.s.db.Deliveries(ctx, webhook, 100)
}

// ownSignature is the signature whose own bucket b is, or "".
func ownSignature(b store.Bucket) string {
	for _, s := range b.Signatures {
		if store.BucketID(s) == b.ID {
			return s
		}
	}
	return ""
}

// withTriage adds the buckets' triage states.
func (s *Server) withTriage(ctx context.Context, bs []ui.Bucket) error {
	sb := make([]store.Bucket, len(bs))
	for i, b := range bs {
		sb[i].ID = b.ID
	}
	ts, err := s.bucketsWithTriage(ctx, sb)
	if err != nil {
		return err
	}
	for i := range bs {
		bs[i].Triage = ts[i].Triage
	}
	return nil
}

// triageStatuses returns the dumps' triage statuses: their own, else
// their bucket's, else new.
func (s *Server) triageStatuses(ctx context.Context, dumps []store.Dump) (map[string]string, error) {
	ids := make([]string, len(dumps))
	for i, d := range dumps {
		ids[i] = d.ID
	}
	own, err := s.db.Triages(ctx, store.KindDump, ids)
	if err != nil {
		return nil, err
	}
	bucketOf := map[string]string{}
	var bids []string
	for _, d := range dumps {
		if d.Signature == "" || bucketOf[d.Signature] != "" {
			continue
		}
		if id, err := s.db.BucketOf(ctx, d.Signature); err == nil {
			bucketOf[d.Signature] = id
			bids = append(bids, id)
		}
	}
	bts, err := s.db.Triages(ctx, store.KindBucket, bids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(dumps))
	for _, d := range dumps {
		st := own[d.ID].Status
		if st == "" {
			st = bts[bucketOf[d.Signature]].Status
		}
		if st == "" {
			st = store.TriageNew
		}
		out[d.ID] = st
	}
	return out, nil
}

// rowTriage fills the list's rows with their triage status and whether
// the viewer has opened them.
func (s *Server) rowTriage(ctx context.Context, rows []ui.DumpRow, viewer string) error {
	dumps := make([]store.Dump, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		dumps[i], ids[i] = r.Dump, r.ID
	}
	st, err := s.triageStatuses(ctx, dumps)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	if viewer != "" {
		if seen, err = s.db.Seen(ctx, viewer, ids); err != nil {
			return err
		}
	}
	for i := range rows {
		r := &rows[i]
		r.Triage = st[r.ID]
		r.Unseen = viewer != "" && !seen[r.ID] && r.Status != store.StatusUploading
	}
	return nil
}
