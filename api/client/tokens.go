package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/vmcore/vmcore/api/wire"
)

// Tokens lists the service's tokens (an admin token's right).
func (c *Client) Tokens(ctx context.Context) ([]wire.Token, error) {
	var l wire.TokenList
	err := c.call(ctx, http.MethodGet, "/api/v1/tokens", nil, &l)
	return l.Tokens, err
}

// CreateToken makes a token; the answer holds its secret, shown this once.
func (c *Client) CreateToken(ctx context.Context, req wire.TokenRequest) (wire.NewToken, error) {
	var t wire.NewToken
	err := c.call(ctx, http.MethodPost, "/api/v1/tokens", req, &t)
	return t, err
}

// RevokeToken deletes the token with that ID, with its browser sessions.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(id), nil, nil)
}
