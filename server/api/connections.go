package api

import (
	"net/http"

	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// /api/v1/connections holds every kind of connection in one shape (the cluster view):
// Kubernetes clusters, added from kubeconfigs under /api/v1/clusters, and the HTTP
// endpoints (Prometheus, Grafana) added here. Get, check, state and delete work alike
// on every kind, so they share the cluster routes' handlers.

type addConnectionBody struct {
	// Kind is prometheus or grafana.
	Kind string `json:"kind" yaml:"kind"`
	Name string `json:"name" yaml:"name"`
	URL  string `json:"url" yaml:"url"`
	// BearerToken, or Username and Password: how to authenticate (sealed at rest,
	// never shown again).
	BearerToken  string `json:"bearer_token" yaml:"bearer_token"`
	Username     string `json:"username" yaml:"username"`
	Password     string `json:"password" yaml:"password"`
	DiscoverOnly bool   `json:"discover_only" yaml:"discover_only"`
}

func (a *API) addConnection(w http.ResponseWriter, r *http.Request) {
	var b addConnectionBody
	if !a.readBody(w, r, &b) {
		return
	}
	res, err := a.opt.Clusters.AddEndpoint(r.Context(), connections.EndpointSpec{Kind: b.Kind, Name: b.Name, URL: b.URL,
		Credential:   connections.EndpointCredential{BearerToken: b.BearerToken, Username: b.Username, Password: b.Password},
		DiscoverOnly: b.DiscoverOnly}, auth.Name(r.Context()))
	if err != nil {
		if _, ok := err.(smp.FieldErrors); ok {
			badInput(w, r, err, "")
			return
		}
		a.storeError(w, r, err)
		return
	}
	status := http.StatusOK
	if res.Outcome == store.ConnAdded {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"results": []connections.AddResult{res}})
}

func (a *API) listConnections(w http.ResponseWriter, r *http.Request) {
	kind := r.URL.Query().Get("kind")
	if kind != "" && kind != connections.KindKubernetes && !connections.EndpointKind(kind) {
		badInput(w, r, smp.FieldErrors{{Path: "kind", Msg: "one of kubernetes, prometheus, grafana"}}, "")
		return
	}
	list, err := a.opt.Clusters.ListKind(r.Context(), kind)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

// checkRunPrometheus refuses a run whose metrics name a Prometheus connection that does
// not exist (a disconnected one is accepted: it may be back when the run ends, and if
// not the metrics are recorded missing).
func (a *API) checkRunPrometheus(w http.ResponseWriter, r *http.Request, cfg *smp.TestConfig, prefix string) bool {
	if cfg.Metrics == nil || cfg.Metrics.Prometheus == "" {
		return true
	}
	const field = "metrics.prometheus"
	if a.opt.Clusters == nil {
		badInput(w, r, smp.FieldErrors{{Path: field, Msg: "this server has no connections"}}, prefix)
		return false
	}
	list, err := a.opt.Clusters.ListKind(r.Context(), connections.KindPrometheus)
	if err != nil {
		a.storeError(w, r, err)
		return false
	}
	for _, c := range list {
		if c.Name == cfg.Metrics.Prometheus || c.ID == cfg.Metrics.Prometheus {
			return true
		}
	}
	badInput(w, r, smp.FieldErrors{{Path: field, Msg: "no Prometheus connection named " + cfg.Metrics.Prometheus + " (meshperf connection add prometheus URL)"}}, prefix)
	return false
}
