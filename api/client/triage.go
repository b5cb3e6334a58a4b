package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/vmcore/vmcore/api/wire"
)

// Triage returns a bucket's or a dump's triage state, notes and audit
// trail (kind is wire.KindBucket or wire.KindDump).
func (c *Client) Triage(ctx context.Context, kind, id string) (wire.TriageView, error) {
	var v wire.TriageView
	err := c.call(ctx, http.MethodGet, "/api/v1/"+kind+"s/"+url.PathEscape(id)+"/triage", nil, &v)
	return v, err
}

// SetTriage changes a bucket's or a dump's triage state and returns the
// new state. It needs a support or admin token.
func (c *Client) SetTriage(ctx context.Context, kind, id string, ch wire.TriageChange) (wire.Triage, error) {
	var t wire.Triage
	err := c.call(ctx, http.MethodPatch, "/api/v1/"+kind+"s/"+url.PathEscape(id)+"/triage", ch, &t)
	return t, err
}
