package client

import (
	"context"
	"net/url"

	"github.com/meshperf/meshperf/apitypes"
)

// Token is a token as an admin's list shows it: never its secret.
type Token = apitypes.Token

// Tokens lists every token, or one user's (admin only).
func (c *Client) Tokens(ctx context.Context, user string) ([]Token, error) {
	var out struct{ Items []Token }
	path := "/api/v1/tokens"
	if user != "" {
		path += "?user=" + url.QueryEscape(user)
	}
	return out.Items, c.do(ctx, "GET", path, nil, &out)
}

// RevokeToken deletes a token: one of the caller's, or (admin) anyone's.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/api/v1/tokens/"+url.PathEscape(id), nil, nil)
}

// DeleteUser deletes a user and revokes its tokens (admin only).
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/api/v1/users/"+url.PathEscape(name), nil, nil)
}

// SetRole changes a user's role (admin only).
func (c *Client) SetRole(ctx context.Context, name, role string) (*User, error) {
	var out User
	return &out, c.do(ctx, "PUT", "/api/v1/users/"+url.PathEscape(name)+"/role", map[string]string{"role": role}, &out)
}
