package client

import (
	"context"
	"fmt"
	"github.com/meshperf/meshperf/apitypes"
	"net/url"
	"strings"
	"time"
)

// ClusterNode is one node of a cluster.
type ClusterNode = apitypes.ClusterNode

// Cluster is a cluster connection.
type Cluster = apitypes.Cluster

// AddClusterResult is what became of one kubeconfig context.
type AddClusterResult = apitypes.AddClusterResult

// AddClusters uploads a kubeconfig (credentials inline); each context becomes a
// connection.
func (c *Client) AddClusters(ctx context.Context, kubeconfig []byte, contexts []string, discoverOnly bool) ([]AddClusterResult, error) {
	var out struct{ Results []AddClusterResult }
	body := map[string]any{"kubeconfig": string(kubeconfig), "contexts": contexts, "discover_only": discoverOnly}
	return out.Results, c.do(ctx, "POST", "/api/v1/clusters", body, &out)
}

// Clusters lists cluster connections.
func (c *Client) Clusters(ctx context.Context) ([]Cluster, error) {
	var out struct{ Items []Cluster }
	return out.Items, c.do(ctx, "GET", "/api/v1/clusters", nil, &out)
}

// Cluster gets one connection with its nodes.
func (c *Client) Cluster(ctx context.Context, name string) (*Cluster, error) {
	var out Cluster
	return &out, c.do(ctx, "GET", "/api/v1/clusters/"+url.PathEscape(name), nil, &out)
}

// CheckCluster health-checks a connection now.
func (c *Client) CheckCluster(ctx context.Context, name string) (*Cluster, error) {
	var out Cluster
	return &out, c.do(ctx, "POST", "/api/v1/clusters/"+url.PathEscape(name)+"/check", nil, &out)
}

// ClusterStates are the states a connection can be put in, as the server names them
// (server/api's tests hold this list equal to the server's state machine).
var ClusterStates = []string{"discovered", "connected", "disconnected", "ignored", "maintenance", "deleted"}

// CheckClusterState refuses a state the server does not know, before asking it.
func CheckClusterState(s string) error {
	for _, st := range ClusterStates {
		if strings.EqualFold(strings.TrimSpace(s), st) {
			return nil
		}
	}
	return fmt.Errorf("unknown state %q (one of: %s)", s, strings.Join(ClusterStates, ", "))
}

// SetClusterState moves a connection to another state.
func (c *Client) SetClusterState(ctx context.Context, name, state string) (*Cluster, error) {
	var out Cluster
	return &out, c.do(ctx, "PUT", "/api/v1/clusters/"+url.PathEscape(name)+"/state", map[string]string{"state": state}, &out)
}

// Flushed counts what removing a connection deleted.
type Flushed = apitypes.Flushed

// RemoveCluster removes a connection and everything stored about its cluster.
func (c *Client) RemoveCluster(ctx context.Context, name string) (*Flushed, error) {
	var out struct{ Flushed Flushed }
	return &out.Flushed, c.do(ctx, "DELETE", "/api/v1/clusters/"+url.PathEscape(name), nil, &out)
}

// AgentDeployReport is one cluster's part of an agent deployment.
type AgentDeployReport = apitypes.AgentDeployReport

// DeployAgents is the request to deploy agents.
type DeployAgents struct {
	Clusters       []string `json:"clusters"`
	Replicas       int32    `json:"replicas"`
	Image          string   `json:"image,omitempty"`
	Namespace      string   `json:"namespace,omitempty"`
	BrokerEndpoint string   `json:"broker_endpoint,omitempty"`
	WaitSeconds    int      `json:"wait_seconds"`
}

// DeployAgents deploys agents into clusters; one report per cluster.
func (c *Client) DeployAgents(ctx context.Context, req DeployAgents) ([]AgentDeployReport, error) {
	var out struct{ Results []AgentDeployReport }
	// The server waits for the agents: give it that long, and a minute more.
	long := *c
	h := *c.HTTP
	h.Timeout = time.Duration(req.WaitSeconds)*time.Second + time.Minute
	long.HTTP = &h
	return out.Results, long.do(ctx, "POST", "/api/v1/agents/deploy", req, &out)
}

// UndeployAgents removes agents from clusters.
func (c *Client) UndeployAgents(ctx context.Context, clusters []string, namespace string) ([]AgentDeployReport, error) {
	var out struct{ Results []AgentDeployReport }
	return out.Results, c.do(ctx, "POST", "/api/v1/agents/undeploy", map[string]any{"clusters": clusters, "namespace": namespace}, &out)
}

// AgentDeployment is a record of agents deployed into a cluster.
type AgentDeployment = apitypes.AgentDeployment

// AgentDeployments lists the agents deployed into clusters.
func (c *Client) AgentDeployments(ctx context.Context) ([]AgentDeployment, error) {
	var out struct{ Items []AgentDeployment }
	return out.Items, c.do(ctx, "GET", "/api/v1/agents/deployments", nil, &out)
}
