package client

import (
	"context"
	"net/url"
)

// AgentCredential is an agent's broker credential, shown once.
type AgentCredential struct {
	Name       string `json:"name"`
	Prefix     bool   `json:"prefix"`
	Credential string `json:"credential"`
}

// CreateAgentCredential issues the credential of the agent called name, or with
// prefix, of every agent called name:<anything> (admin).
func (c *Client) CreateAgentCredential(ctx context.Context, name string, prefix bool) (*AgentCredential, error) {
	var out AgentCredential
	return &out, c.do(ctx, "POST", "/api/v1/agents/credentials", map[string]any{"name": name, "prefix": prefix}, &out)
}

// MeshSyncCredential is an in-cluster MeshSync's broker credential, shown once.
type MeshSyncCredential struct {
	Cluster    string `json:"cluster" yaml:"cluster"`
	ClusterUID string `json:"cluster_uid" yaml:"cluster_uid"`
	Mode       string `json:"mode" yaml:"mode"`
	Credential string `json:"credential" yaml:"credential"`
}

// CreateMeshSyncCredential issues the broker credential of the MeshSync running in
// the cluster of connection ref (admin).
func (c *Client) CreateMeshSyncCredential(ctx context.Context, ref string) (*MeshSyncCredential, error) {
	var out MeshSyncCredential
	return &out, c.do(ctx, "POST", "/api/v1/clusters/"+url.PathEscape(ref)+"/discovery/credential", nil, &out)
}
