package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/meshperf/meshperf/apitypes"
)

// Inventory types (the API's own).
type (
	InventoryObject   = apitypes.InventoryObject
	InventoryPage     = apitypes.InventoryPage
	InventoryCount    = apitypes.InventoryCount
	InventoryFlushed  = apitypes.InventoryFlushed
	DiscoveryHealth   = apitypes.DiscoveryHealth
	DiscoverySettings = apitypes.DiscoverySettings
	SyntheticCheck    = apitypes.SyntheticCheck
)

// InventoryFilter selects discovered objects; empty fields match everything.
type InventoryFilter struct {
	Cluster, Kind, Namespace, Name string
	// Selector is a Kubernetes label selector.
	Selector string
	Managed  *bool
	Limit    int
	Cursor   string
}

// Inventory lists one page of discovered objects.
func (c *Client) Inventory(ctx context.Context, f InventoryFilter) (*InventoryPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"cluster": f.Cluster, "kind": f.Kind, "namespace": f.Namespace, "name": f.Name,
		"selector": f.Selector, "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Managed != nil {
		q.Set("managed", strconv.FormatBool(*f.Managed))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out InventoryPage
	return &out, c.do(ctx, "GET", "/api/v1/inventory?"+q.Encode(), nil, &out)
}

// InventoryCounts counts discovered objects per kind per cluster (of one cluster
// when set).
func (c *Client) InventoryCounts(ctx context.Context, cluster string) ([]InventoryCount, error) {
	var out struct{ Items []InventoryCount }
	path := "/api/v1/inventory/counts"
	if cluster != "" {
		path += "?cluster=" + url.QueryEscape(cluster)
	}
	return out.Items, c.do(ctx, "GET", path, nil, &out)
}

// InventoryObject gets one discovered object with its trimmed object.
func (c *Client) InventoryObject(ctx context.Context, cluster, uid string) (*InventoryObject, error) {
	var out InventoryObject
	return &out, c.do(ctx, "GET", "/api/v1/clusters/"+url.PathEscape(cluster)+"/inventory/"+url.PathEscape(uid), nil, &out)
}

// FlushInventory forgets everything discovered of one cluster.
func (c *Client) FlushInventory(ctx context.Context, cluster string) (*InventoryFlushed, error) {
	var out struct{ Flushed InventoryFlushed }
	return &out.Flushed, c.do(ctx, "POST", "/api/v1/clusters/"+url.PathEscape(cluster)+"/inventory/flush", nil, &out)
}

// ResyncDiscovery asks a cluster's MeshSync for a full snapshot.
func (c *Client) ResyncDiscovery(ctx context.Context, cluster string) error {
	return c.do(ctx, "POST", "/api/v1/clusters/"+url.PathEscape(cluster)+"/discovery/resync", nil, nil)
}

// DiscoveryHealth reports a cluster's discovery.
func (c *Client) DiscoveryHealth(ctx context.Context, cluster string) (*DiscoveryHealth, error) {
	var out DiscoveryHealth
	return &out, c.do(ctx, "GET", "/api/v1/clusters/"+url.PathEscape(cluster)+"/discovery", nil, &out)
}

// CheckDiscovery runs the synthetic check: a marker ConfigMap's round trip.
func (c *Client) CheckDiscovery(ctx context.Context, cluster, namespace string) (*SyntheticCheck, error) {
	var out SyntheticCheck
	return &out, c.do(ctx, "POST", "/api/v1/clusters/"+url.PathEscape(cluster)+"/discovery/check", map[string]any{"namespace": namespace}, &out)
}

// DiscoverySettings reads a connection's discovery mode and scope.
func (c *Client) DiscoverySettings(ctx context.Context, cluster string) (*DiscoverySettings, error) {
	var out DiscoverySettings
	return &out, c.do(ctx, "GET", "/api/v1/clusters/"+url.PathEscape(cluster)+"/discovery/settings", nil, &out)
}

// SetDiscoverySettings sets a connection's discovery mode and scope.
func (c *Client) SetDiscoverySettings(ctx context.Context, cluster string, s DiscoverySettings) (*DiscoverySettings, error) {
	var out DiscoverySettings
	return &out, c.do(ctx, "PUT", "/api/v1/clusters/"+url.PathEscape(cluster)+"/discovery/settings", s, &out)
}
