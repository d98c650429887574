package client

import (
	"context"
	"net/url"

	"github.com/meshperf/meshperf/apitypes"
)

// ClusterMeshes is what runs in one cluster: meshes and monitoring.
type ClusterMeshes = apitypes.ClusterMeshes

// Meshes identifies the meshes of every usable cluster connection.
func (c *Client) Meshes(ctx context.Context) ([]ClusterMeshes, error) {
	var out struct{ Items []ClusterMeshes }
	return out.Items, c.do(ctx, "GET", "/api/v1/meshes", nil, &out)
}

// ClusterMeshes identifies the meshes of one connection (id or name).
func (c *Client) ClusterMeshes(ctx context.Context, cluster string) (*ClusterMeshes, error) {
	var out ClusterMeshes
	return &out, c.do(ctx, "GET", "/api/v1/clusters/"+url.PathEscape(cluster)+"/meshes", nil, &out)
}
