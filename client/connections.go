package client

import (
	"context"
	"fmt"
	"net/url"

	"github.com/meshperf/meshperf/apitypes"
)

// Connection is a connection of any kind (kubernetes, prometheus, grafana), in the
// clusters' shape.
type Connection = apitypes.Cluster

// EndpointConnection is a Prometheus or Grafana connection to add. The credential
// travels once, to be sealed by the server.
type EndpointConnection struct {
	Kind         string `json:"kind"`
	Name         string `json:"name"`
	URL          string `json:"url"`
	BearerToken  string `json:"bearer_token,omitempty"`
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	DiscoverOnly bool   `json:"discover_only,omitempty"`
}

// AddConnection adds a Prometheus or Grafana connection.
func (c *Client) AddConnection(ctx context.Context, e EndpointConnection) (*AddClusterResult, error) {
	var out struct{ Results []AddClusterResult }
	if err := c.do(ctx, "POST", "/api/v1/connections", e, &out); err != nil {
		return nil, err
	}
	if len(out.Results) != 1 {
		return nil, fmt.Errorf("the server answered %d results for one connection", len(out.Results))
	}
	return &out.Results[0], nil
}

// Connections lists connections, of one kind when kind is set.
func (c *Client) Connections(ctx context.Context, kind string) ([]Connection, error) {
	var out struct{ Items []Connection }
	path := "/api/v1/connections"
	if kind != "" {
		path += "?kind=" + url.QueryEscape(kind)
	}
	return out.Items, c.do(ctx, "GET", path, nil, &out)
}

// ConnectionByName gets one connection of any kind.
func (c *Client) ConnectionByName(ctx context.Context, name string) (*Connection, error) {
	var out Connection
	return &out, c.do(ctx, "GET", "/api/v1/connections/"+url.PathEscape(name), nil, &out)
}

// CheckConnection health-checks a connection of any kind now.
func (c *Client) CheckConnection(ctx context.Context, name string) (*Connection, error) {
	var out Connection
	return &out, c.do(ctx, "POST", "/api/v1/connections/"+url.PathEscape(name)+"/check", nil, &out)
}

// RemoveConnection removes a connection of any kind.
func (c *Client) RemoveConnection(ctx context.Context, name string) (*Flushed, error) {
	var out struct{ Flushed Flushed }
	return &out.Flushed, c.do(ctx, "DELETE", "/api/v1/connections/"+url.PathEscape(name), nil, &out)
}
