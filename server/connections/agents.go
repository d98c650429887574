package connections

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/server/agentdeploy"
	"github.com/meshperf/meshperf/server/store"
)

// AgentDefaults is what agents in clusters need from this server.
type AgentDefaults struct {
	// BrokerEndpoint, when set, is the broker URL agents in every cluster use (the
	// server's --agent-broker-url); a deployment may still give its own.
	BrokerEndpoint string
	BrokerUser     string
	AgentToken     string
	// Credential, when set, issues the credential of a cluster's agents (for the
	// names under the cluster's prefix); it replaces BrokerUser and AgentToken.
	Credential func(cluster string) (string, error)
	Image      string // default image
}

// BrokerServiceName is the Service looked up in the agents' namespace when no endpoint
// is given: an operator or a person exposes the broker through it.
const BrokerServiceName = "meshperf-broker"

// DeployRequest is agents for some clusters.
type DeployRequest struct {
	Clusters       []string      `json:"clusters"`
	Replicas       int32         `json:"replicas"`
	Image          string        `json:"image,omitempty"`
	Namespace      string        `json:"namespace,omitempty"`
	BrokerEndpoint string        `json:"broker_endpoint,omitempty"`
	Wait           time.Duration `json:"-"`
}

// DeployReport is one cluster's part of a deployment.
type DeployReport = apitypes.AgentDeployReport

// DeployAgents deploys agents to each cluster at once; each cluster has its own report,
// and one that fails fails only its own.
func (m *Manager) DeployAgents(ctx context.Context, req DeployRequest, actor string) []DeployReport {
	return m.eachCluster(ctx, req.Clusters, func(ctx context.Context, c *store.Connection, r *DeployReport) error {
		return m.deployOne(ctx, c, req, actor, r)
	})
}

// UndeployAgents removes agents from each cluster at once.
func (m *Manager) UndeployAgents(ctx context.Context, clusters []string, namespace, actor string) []DeployReport {
	if namespace == "" {
		namespace = agentdeploy.DefaultNamespace
	}
	return m.eachCluster(ctx, clusters, func(ctx context.Context, c *store.Connection, r *DeployReport) error {
		cs, _, err := m.Clientset(c)
		if err != nil {
			return err
		}
		removed, err := agentdeploy.Remove(ctx, cs, namespace)
		r.Objects = removed
		if err != nil {
			return err
		}
		if err := m.st.DeleteAgentDeployment(ctx, c.ID, namespace); err != nil {
			return err
		}
		m.st.AddEvent(ctx, actor, "agents.undeployed", c.Name, namespace)
		return nil
	})
}

func (m *Manager) eachCluster(ctx context.Context, refs []string, do func(context.Context, *store.Connection, *DeployReport) error) []DeployReport {
	out := make([]DeployReport, len(refs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallel)
	for i, ref := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			start := time.Now()
			r := &out[i]
			r.Cluster = ref
			c, err := m.Usable(ctx, ref)
			if err == nil {
				r.Cluster = c.Name
				err = do(ctx, c, r)
			}
			r.OK, r.Seconds = err == nil, time.Since(start).Seconds()
			if err != nil {
				r.Error = err.Error()
			}
		}()
	}
	wg.Wait()
	return out
}

func (m *Manager) deployOne(ctx context.Context, c *store.Connection, req DeployRequest, actor string, r *DeployReport) error {
	cs, _, err := m.Clientset(c)
	if err != nil {
		return err
	}
	ns := req.Namespace
	if ns == "" {
		ns = agentdeploy.DefaultNamespace
	}
	in := agentdeploy.EndpointInput{Override: req.BrokerEndpoint, APIServerURL: c.Server}
	if in.Override == "" {
		in.Override = m.opt.Agents.BrokerEndpoint
	}
	if in.Override == "" {
		svc, err := cs.CoreV1().Services(ns).Get(ctx, BrokerServiceName, metav1.GetOptions{})
		switch {
		case err == nil:
			in.Service = svc
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("looking up the broker service: %w", err)
		}
	}
	ep, err := agentdeploy.BrokerEndpoint(in)
	if err != nil {
		return err
	}
	r.Endpoint = &ep
	image := req.Image
	if image == "" {
		image = m.opt.Agents.Image
	}
	spec := agentdeploy.Spec{Cluster: c.Name, Namespace: ns, Replicas: req.Replicas, Image: image, BrokerURL: ep.URL,
		BrokerUser: m.opt.Agents.BrokerUser, AgentToken: m.opt.Agents.AgentToken}
	if m.opt.Agents.Credential != nil {
		if spec.AgentToken, err = m.opt.Agents.Credential(c.Name); err != nil {
			return fmt.Errorf("the agents' credential: %w", err)
		}
		spec.BrokerUser, spec.AgentNamePrefix = "", c.Name
	}
	rec := &store.AgentDeployment{ConnectionID: c.ID, Namespace: ns, Replicas: req.Replicas, Image: image,
		BrokerURL: ep.URL, BrokerSource: ep.Source, Status: "progressing", UpdatedBy: actor}
	applied, err := agentdeploy.Apply(ctx, cs, spec)
	if applied != nil {
		r.Objects = applied.Objects
	}
	if err != nil {
		return err
	}
	m.st.AddEvent(ctx, actor, "agents.deployed", c.Name, fmt.Sprintf("%d replicas of %s in %s", req.Replicas, image, ns))
	r.Replicas = req.Replicas
	if req.Wait > 0 {
		st, werr := agentdeploy.Wait(ctx, cs, ns, req.Wait)
		r.Ready, rec.Ready = st.Ready, st.Ready
		rec.Status = "ready"
		if werr != nil {
			rec.Status, rec.Error = "failed", werr.Error()
		}
		if err := m.st.SaveAgentDeployment(ctx, rec); err != nil {
			return err
		}
		return werr
	}
	return m.st.SaveAgentDeployment(ctx, rec)
}

// Deployment is a record of agents deployed into a cluster.
type Deployment = apitypes.AgentDeployment

// Deployments lists the agents meshperf deployed, by cluster name, as last recorded.
func (m *Manager) Deployments(ctx context.Context) ([]Deployment, error) {
	conns, err := m.st.ListConnections(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, c := range conns {
		names[c.ID] = c.Name
	}
	recs, err := m.st.AgentDeployments(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]Deployment, 0, len(recs))
	for _, d := range recs {
		out = append(out, Deployment{Cluster: names[d.ConnectionID], Namespace: d.Namespace, Replicas: d.Replicas, Ready: d.Ready,
			Image: d.Image, BrokerEndpoint: d.BrokerURL, BrokerSource: d.BrokerSource, Status: d.Status, Error: d.Error,
			UpdatedBy: d.UpdatedBy, UpdatedAt: d.UpdatedAt})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		return out[i].Namespace < out[j].Namespace
	})
	return out, nil
}
