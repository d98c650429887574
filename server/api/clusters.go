package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/meshsync"
	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// withClusters answers 503 instead of h when the server runs without cluster
// connections.
func (a *API) withClusters(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.opt.Clusters == nil {
			writeError(w, r, http.StatusServiceUnavailable, "unavailable", "this server has no cluster connections", nil)
			return
		}
		h(w, r)
	}
}

// connError maps the connection manager's errors to statuses.
func (a *API) connError(w http.ResponseWriter, r *http.Request, err error) {
	var te *connections.TransitionError
	var nu *connections.NotUsableError
	var ue *connections.UnreachableError
	switch {
	case errors.As(err, &te):
		writeError(w, r, http.StatusConflict, "invalid_transition", err.Error(), nil)
	case errors.As(err, &nu):
		writeError(w, r, http.StatusConflict, "not_usable", err.Error(), nil)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusNotFound, "not_found", "no such connection", nil)
	case errors.Is(err, store.ErrConflict):
		writeError(w, r, http.StatusConflict, "conflict", err.Error(), nil)
	case errors.As(err, &ue):
		writeError(w, r, http.StatusBadGateway, "unreachable", err.Error(), nil)
	default:
		a.storeError(w, r, err)
	}
}

type addClustersBody struct {
	// Kubeconfig is the kubeconfig's text (YAML or JSON), credentials inline.
	Kubeconfig string `json:"kubeconfig" yaml:"kubeconfig"`
	// Contexts to add (default: every context).
	Contexts []string `json:"contexts" yaml:"contexts"`
	// DiscoverOnly adds them as discovered, not connected.
	DiscoverOnly bool `json:"discover_only" yaml:"discover_only"`
}

func (a *API) addClusters(w http.ResponseWriter, r *http.Request) {
	var b addClustersBody
	if !a.readBody(w, r, &b) {
		return
	}
	res, err := a.opt.Clusters.Add(r.Context(), []byte(b.Kubeconfig), b.Contexts, b.DiscoverOnly, auth.Name(r.Context()))
	if err != nil {
		badInput(w, r, err, "")
		return
	}
	status := http.StatusOK
	for _, x := range res {
		if x.Outcome == store.ConnAdded {
			status = http.StatusCreated
		}
	}
	writeJSON(w, status, map[string]any{"results": res})
}

func (a *API) listClusters(w http.ResponseWriter, r *http.Request) {
	list, err := a.opt.Clusters.List(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if list == nil {
		list = []*connections.View{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

func (a *API) getCluster(w http.ResponseWriter, r *http.Request) {
	v, err := a.opt.Clusters.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.connError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) checkCluster(w http.ResponseWriter, r *http.Request) {
	v, err := a.opt.Clusters.Check(r.Context(), r.PathValue("id"))
	if err != nil {
		a.connError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

type clusterStateBody struct {
	State string `json:"state" yaml:"state"`
}

func (a *API) setClusterState(w http.ResponseWriter, r *http.Request) {
	var b clusterStateBody
	if !a.readBody(w, r, &b) {
		return
	}
	to, err := connections.ParseState(b.State)
	if err != nil {
		badInput(w, r, smp.FieldErrors{{Path: "state", Msg: err.Error()}}, "")
		return
	}
	v, err := a.opt.Clusters.SetState(r.Context(), r.PathValue("id"), to, auth.Name(r.Context()))
	if err != nil {
		a.connError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) deleteCluster(w http.ResponseWriter, r *http.Request) {
	// A cluster in operator mode loses its operator first, while the server still
	// holds the credential to reach it (best effort: an unreachable cluster keeps it,
	// and the log says so).
	if a.opt.Discovery != nil && a.opt.Discovery.OperatorEnabled() {
		if c, err := a.st.GetConnection(r.Context(), r.PathValue("id")); err == nil && a.modeOf(c) == meshsync.ModeOperator {
			if err := a.opt.Discovery.RemoveOperator(r.Context(), c); err != nil {
				a.opt.Logger.Warn("removing the operator of a deleted connection", "connection", c.Name, "err", err)
			}
		}
	}
	f, err := a.opt.Clusters.Remove(r.Context(), r.PathValue("id"), auth.Name(r.Context()))
	if err != nil {
		a.connError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"flushed": apitypes.Flushed(f)})
}

type deployAgentsBody struct {
	Clusters       []string `json:"clusters" yaml:"clusters"`
	Replicas       int32    `json:"replicas" yaml:"replicas"`
	Image          string   `json:"image" yaml:"image"`
	Namespace      string   `json:"namespace" yaml:"namespace"`
	BrokerEndpoint string   `json:"broker_endpoint" yaml:"broker_endpoint"`
	// WaitSeconds waits for the agents to be ready (0: do not wait; at most 600).
	WaitSeconds int `json:"wait_seconds" yaml:"wait_seconds"`
}

func validClusters(list []string, errs *smp.FieldErrors) {
	if len(list) == 0 || len(list) > 100 {
		errs.Add("clusters", 0, "name 1 to 100 clusters")
	}
	for i, c := range list {
		if c == "" {
			errs.Add("clusters["+strconv.Itoa(i)+"]", 0, "empty")
		}
	}
}

func validNamespace(ns string, errs *smp.FieldErrors) {
	if ns == "" {
		return
	}
	ok := len(ns) <= 63
	for i, c := range ns {
		ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(ns)-1)
	}
	if !ok {
		errs.Add("namespace", 0, "%q is not a Kubernetes namespace name (lower-case letters, digits and -, at most 63)", ns)
	}
}

func (a *API) deployAgents(w http.ResponseWriter, r *http.Request) {
	var b deployAgentsBody
	if !a.readBody(w, r, &b) {
		return
	}
	var errs smp.FieldErrors
	validClusters(b.Clusters, &errs)
	validNamespace(b.Namespace, &errs)
	if b.Replicas < 1 || b.Replicas > 1000 {
		errs.Add("replicas", 0, "must be between 1 and 1000, got %d", b.Replicas)
	}
	if b.WaitSeconds < 0 || b.WaitSeconds > 600 {
		errs.Add("wait_seconds", 0, "must be between 0 and 600")
	}
	if len(errs) > 0 {
		badInput(w, r, errs, "")
		return
	}
	reports := a.opt.Clusters.DeployAgents(r.Context(), connections.DeployRequest{Clusters: b.Clusters, Replicas: b.Replicas,
		Image: b.Image, Namespace: b.Namespace, BrokerEndpoint: b.BrokerEndpoint, Wait: time.Duration(b.WaitSeconds) * time.Second},
		auth.Name(r.Context()))
	writeJSON(w, http.StatusOK, map[string]any{"results": reports})
}

type undeployAgentsBody struct {
	Clusters  []string `json:"clusters" yaml:"clusters"`
	Namespace string   `json:"namespace" yaml:"namespace"`
}

func (a *API) undeployAgents(w http.ResponseWriter, r *http.Request) {
	var b undeployAgentsBody
	if !a.readBody(w, r, &b) {
		return
	}
	var errs smp.FieldErrors
	validClusters(b.Clusters, &errs)
	validNamespace(b.Namespace, &errs)
	if len(errs) > 0 {
		badInput(w, r, errs, "")
		return
	}
	reports := a.opt.Clusters.UndeployAgents(r.Context(), b.Clusters, b.Namespace, auth.Name(r.Context()))
	writeJSON(w, http.StatusOK, map[string]any{"results": reports})
}

// checkRunCluster refuses a run whose target cluster is unknown or not connected, naming
// the field it came from.
func (a *API) checkRunCluster(w http.ResponseWriter, r *http.Request, cfg *smp.TestConfig, prefix string) bool {
	ref := cfg.TargetCluster()
	if ref == "" {
		return true
	}
	field := "cluster"
	if cfg.Cluster == "" {
		field = "agents.selector." + smp.ClusterLabel
	}
	if a.opt.Clusters == nil {
		badInput(w, r, smp.FieldErrors{{Path: field, Msg: "this server has no cluster connections"}}, prefix)
		return false
	}
	_, err := a.opt.Clusters.Usable(r.Context(), ref)
	var nu *connections.NotUsableError
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrNotFound):
		badInput(w, r, smp.FieldErrors{{Path: field, Msg: "no cluster connection named " + ref}}, prefix)
	case errors.As(err, &nu):
		badInput(w, r, smp.FieldErrors{{Path: field, Msg: err.Error()}}, prefix)
	default:
		a.storeError(w, r, err)
	}
	return false
}

func (a *API) listAgentDeployments(w http.ResponseWriter, r *http.Request) {
	ds, err := a.opt.Clusters.Deployments(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ds})
}
