package client

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/meshperf/meshperf/apitypes"
)

// Conformance wire types.
type (
	ConformanceRunRequest = apitypes.ConformanceRunRequest
	ConformanceRun        = apitypes.ConformanceRun
	ConformanceCell       = apitypes.ConformanceCell
	ConformanceKey        = apitypes.ConformanceKey
)

// StartConformance runs profiles on a connected cluster; the run goes on in the server.
func (c *Client) StartConformance(ctx context.Context, req ConformanceRunRequest) (*ConformanceRun, error) {
	var out ConformanceRun
	return &out, c.do(ctx, "POST", "/api/v1/conformance/runs", req, &out)
}

// ConformanceRuns lists runs and uploaded reports, newest first.
func (c *Client) ConformanceRuns(ctx context.Context) ([]ConformanceRun, error) {
	var out struct{ Items []ConformanceRun }
	return out.Items, c.do(ctx, "GET", "/api/v1/conformance/runs", nil, &out)
}

// ConformanceRun gets one run.
func (c *Client) ConformanceRun(ctx context.Context, id string) (*ConformanceRun, error) {
	var out ConformanceRun
	return &out, c.do(ctx, "GET", "/api/v1/conformance/runs/"+url.PathEscape(id), nil, &out)
}

// ConformanceReport downloads a run's report (yaml, json, markdown, junit).
func (c *Client) ConformanceReport(ctx context.Context, id, format string) ([]byte, error) {
	var out []byte
	return out, c.do(ctx, "GET", "/api/v1/conformance/runs/"+url.PathEscape(id)+"/report?format="+url.QueryEscape(format), nil, &out)
}

// UploadConformance hands the server a signed report as JSON.
func (c *Client) UploadConformance(ctx context.Context, reportJSON []byte) (*ConformanceRun, error) {
	var out ConformanceRun
	return &out, c.do(ctx, "POST", "/api/v1/conformance/reports", json.RawMessage(reportJSON), &out)
}

// ConformanceMatrix is the newest result per mesh, version and profile.
func (c *Client) ConformanceMatrix(ctx context.Context) ([]ConformanceCell, error) {
	var out struct{ Items []ConformanceCell }
	return out.Items, c.do(ctx, "GET", "/api/v1/conformance/matrix", nil, &out)
}

// ConformanceKey is the server's public signing key.
func (c *Client) ConformanceKey(ctx context.Context) (*ConformanceKey, error) {
	var out ConformanceKey
	return &out, c.do(ctx, "GET", "/api/v1/conformance/key", nil, &out)
}
