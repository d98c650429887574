package connections

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"k8s.io/client-go/rest"

	"github.com/meshperf/meshperf/server/store"
)

// Monitor is a Prometheus or Grafana found running in a cluster (by its fingerprint):
// its workload and the Service and port that reach it ("" and 0 when none does).
type Monitor struct {
	Kind, Namespace, Name, Version string
	Service                        string
	Port                           int32
}

// FoundBy is the actor named on connections offered from a cluster's fingerprints.
const FoundBy = "meshsync"

// NeedsURL starts the last error of a discovered endpoint no Service reaches.
const NeedsURL = "needs a URL"

// OfferFound offers the Prometheus and Grafana found in a cluster connection as
// endpoint connections in state discovered, reached through the cluster's API server
// service proxy with the cluster's own credential; one no Service reaches is offered
// marked as needing a URL. Each is offered once per workload: a later refresh leaves
// it alone whatever became of it (accepted, ignored, given a URL). It returns the
// connections it added.
func (m *Manager) OfferFound(ctx context.Context, clusterRef string, found []Monitor) ([]*View, error) {
	c, err := m.st.GetConnection(ctx, clusterRef)
	if err != nil {
		return nil, err
	}
	if c.Kind != KindKubernetes {
		return nil, fmt.Errorf("%s is a %s connection, not a cluster", c.Name, c.Kind)
	}
	all, err := m.st.ListConnections(ctx)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(all))
	for _, x := range all {
		known[x.ClusterUID] = true
	}
	var added []*View
	for _, f := range found {
		if !EndpointKind(f.Kind) || f.Namespace == "" || f.Name == "" {
			continue
		}
		key := foundKey(c.ClusterUID, f)
		if known[key] {
			continue
		}
		known[key] = true
		v, err := m.offer(ctx, c, f, key)
		if err != nil {
			return added, err
		}
		if v != nil {
			added = append(added, v)
		}
	}
	return added, nil
}

// foundKey identifies a found workload among connections (their cluster_uid column,
// 64 characters): its cluster, kind, namespace and name, hashed.
func foundKey(clusterUID string, f Monitor) string {
	h := sha256.Sum256([]byte(strings.Join([]string{clusterUID, f.Kind, f.Namespace, f.Name}, "/")))
	return "found " + hex.EncodeToString(h[:])[:48]
}

// ServiceProxyURL is a Service port reached through a cluster's API server.
func ServiceProxyURL(apiServer, namespace, service string, port int32) string {
	return fmt.Sprintf("%s/api/v1/namespaces/%s/services/%s:%d/proxy", strings.TrimRight(apiServer, "/"),
		url.PathEscape(namespace), url.PathEscape(service), port)
}

func (m *Manager) offer(ctx context.Context, c *store.Connection, f Monitor, key string) (*View, error) {
	now := time.Now().UTC()
	ref := f.Namespace + "/" + f.Name
	name := foundName(c.Name, f)
	row := &store.Connection{ID: uuid.NewString(), Kind: f.Kind, Name: name, State: string(Discovered), ClusterUID: key,
		Version: f.Version, LastCheck: &now, StateChangedAt: now, CreatedBy: FoundBy}
	cred := EndpointCredential{}
	if f.Service != "" && f.Port > 0 {
		row.Server = ServiceProxyURL(c.Server, f.Namespace, f.Service, f.Port)
		cred.Cluster = c.ID
	} else {
		row.LastError = fmt.Sprintf("%s: no Service reaches %s %s in cluster %s; add the connection with its URL", NeedsURL, f.Kind, ref, c.Name)
	}
	b, err := json.Marshal(cred)
	if err != nil {
		return nil, err
	}
	saved, outcome, err := m.st.AddConnection(ctx, row, nil, func(id string) []byte { return m.opt.Box.Seal(b, []byte(id)) })
	if errors.Is(err, store.ErrConflict) {
		// The name is taken by a connection of another origin: left to people.
		m.log.Info("a found endpoint's name is taken; not offered", "name", name, "cluster", c.Name, "workload", ref)
		return nil, nil
	}
	if err != nil || outcome != store.ConnAdded {
		return nil, err
	}
	m.st.AddEvent(ctx, FoundBy, "connection.discovered", saved.Name, fmt.Sprintf("%s %s in cluster %s", f.Kind, ref, c.Name))
	m.log.Info(f.Kind+" found in a cluster; offered as discovered", "name", saved.Name, "cluster", c.Name, "workload", ref, "url", saved.Server)
	return view(saved, nil), nil
}

// foundName names a found endpoint after its cluster, namespace and Service (else
// workload): c1-monitoring-prometheus.
func foundName(cluster string, f Monitor) string {
	obj := f.Service
	if obj == "" {
		obj = f.Name
	}
	n := strings.NewReplacer(" ", "-", "/", "-", "\t", "-", "\n", "-").Replace(cluster + "-" + f.Namespace + "-" + obj)
	if len(n) > 128 {
		n = n[:128]
	}
	return n
}

// endpointTransport is how an endpoint is reached: directly, or through a cluster's
// API server as that cluster's connection authenticates (its kubeconfig's
// certificate or token; the endpoint's own credential is not sent).
func (m *Manager) endpointTransport(ctx context.Context, cred EndpointCredential) (http.RoundTripper, error) {
	if cred.Cluster == "" {
		return nil, nil
	}
	c, err := m.st.GetConnection(ctx, cred.Cluster)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("the cluster it was found in is no longer connected; add the connection with its URL")
	}
	if err != nil {
		return nil, err
	}
	rc, err := m.RESTConfig(c)
	if err != nil {
		return nil, err
	}
	return rest.TransportFor(rc)
}
