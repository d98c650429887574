// Package meshes tells which service meshes, and which Prometheus and Grafana, run in
// each connected cluster (meshsync/fingerprint over a Source of the cluster's
// objects), for the API, the CLI and run results.
package meshes

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/meshsync/fingerprint"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/smp"
)

// Clusters is what the service needs of the connection manager.
type Clusters interface {
	List(ctx context.Context) ([]*connections.View, error)
	Get(ctx context.Context, ref string) (*connections.View, error)
	// Environment is a connected cluster's SMP environment for a run starting now.
	Environment(ctx context.Context, ref string) (*smp.KubernetesEnv, error)
}

// Service identifies meshes per cluster.
type Service struct {
	clusters Clusters
	source   Source
	log      *slog.Logger
}

// New makes a service reading clusters' objects from source.
func New(clusters Clusters, source Source, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{clusters: clusters, source: source, log: log}
}

// EnvironmentTimeout bounds how long a run waits for its cluster's fingerprints
// before its load starts; past it the result names no mesh.
var EnvironmentTimeout = 20 * time.Second

// maxParallel bounds how many clusters are read at once.
const maxParallel = 4

// Cluster identifies the meshes of one connection (by id or name). A connection
// that runs and deployments may not use is a connections.NotUsableError.
func (s *Service) Cluster(ctx context.Context, ref string) (*apitypes.ClusterMeshes, error) {
	v, err := s.clusters.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if st := connections.State(v.State); !st.Usable() {
		return nil, &connections.NotUsableError{Name: v.Name, State: st}
	}
	out := s.identify(ctx, v)
	return &out, nil
}

// All identifies the meshes of every usable connection, at most maxParallel at once;
// a cluster that cannot be read says why in its own entry.
func (s *Service) All(ctx context.Context) ([]apitypes.ClusterMeshes, error) {
	views, err := s.clusters.List(ctx)
	if err != nil {
		return nil, err
	}
	var usable []*connections.View
	for _, v := range views {
		if connections.State(v.State).Usable() {
			usable = append(usable, v)
		}
	}
	out := make([]apitypes.ClusterMeshes, len(usable))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, v := range usable {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = s.identify(ctx, v)
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Cluster < out[j].Cluster })
	return out, nil
}

func (s *Service) identify(ctx context.Context, v *connections.View) apitypes.ClusterMeshes {
	out := apitypes.ClusterMeshes{ClusterID: v.ID, Cluster: v.Name, ClusterUID: v.ClusterUID,
		Meshes: []fingerprint.Mesh{}, Monitoring: []fingerprint.Monitoring{}}
	objects, err := s.source.FingerprintObjects(ctx, v.ClusterUID)
	out.CheckedAt = time.Now().UTC()
	if err != nil {
		out.Error = err.Error()
		s.log.Warn("reading a cluster for its meshes", "cluster", v.Name, "error", err)
		return out
	}
	rep := fingerprint.Identify(objects)
	s.offer(ctx, v, rep.Monitoring)
	if rep.Meshes != nil {
		out.Meshes = rep.Meshes
	}
	if rep.Monitoring != nil {
		out.Monitoring = rep.Monitoring
	}
	return out
}

// Offerer takes the Prometheus and Grafana found in a cluster (the connection
// manager offers them as discovered connections).
type Offerer interface {
	OfferFound(ctx context.Context, clusterRef string, found []connections.Monitor) ([]*connections.View, error)
}

// offer hands what a fingerprint found to the clusters, when they take it: every
// identification (API, CLI, Watch) offers, and offering is idempotent.
func (s *Service) offer(ctx context.Context, v *connections.View, ms []fingerprint.Monitoring) {
	o, ok := s.clusters.(Offerer)
	if !ok || len(ms) == 0 {
		return
	}
	found := make([]connections.Monitor, len(ms))
	for i, m := range ms {
		found[i] = connections.Monitor{Kind: m.Kind, Namespace: m.Namespace, Name: m.Name, Version: m.Version, Service: m.Service, Port: m.Port}
	}
	if _, err := o.OfferFound(ctx, v.ID, found); err != nil {
		s.log.Warn("offering a cluster's Prometheus and Grafana as connections", "cluster", v.Name, "error", err)
	}
}

// WatchEvery is how often Watch identifies every cluster.
var WatchEvery = 5 * time.Minute

// Watch identifies every usable cluster now and then every WatchEvery until ctx ends,
// so what MeshSync finds (a Prometheus, a Grafana) is offered without anyone asking.
func (s *Service) Watch(ctx context.Context) error {
	t := time.NewTicker(WatchEvery)
	defer t.Stop()
	for {
		if _, err := s.All(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("identifying the clusters", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Environment is the cluster's SMP environment with the meshes found in it: what
// the run manager records in a result (it implements runs.ClusterEnvironments). A
// cluster whose objects cannot be read still gives its environment, without meshes:
// the run is not failed for want of a fingerprint.
func (s *Service) Environment(ctx context.Context, ref string) (*smp.KubernetesEnv, error) {
	env, err := s.clusters.Environment(ctx, ref)
	if err != nil {
		return nil, err
	}
	// Bounded: the run waits for this before its load starts.
	fctx, cancel := context.WithTimeout(ctx, EnvironmentTimeout)
	defer cancel()
	objects, err := s.source.FingerprintObjects(fctx, env.ClusterUID)
	if err != nil {
		s.log.Warn("the run's result will not name its cluster's meshes", "cluster", env.Cluster, "error", err)
		return env, nil
	}
	env.Meshes = MeshEnvs(fingerprint.Identify(objects).Meshes)
	return env, nil
}

// MeshEnvs converts fingerprints to what a result records.
func MeshEnvs(ms []fingerprint.Mesh) []smp.MeshEnv {
	var out []smp.MeshEnv
	for _, m := range ms {
		out = append(out, smp.MeshEnv{Type: m.Type, Mode: m.Mode, Version: m.Version, Namespace: m.Namespace,
			Proxies: m.Proxies.Count, ProxyVersions: m.Proxies.Versions})
	}
	return out
}
