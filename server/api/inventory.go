package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/meshsync"
	"github.com/meshperf/meshperf/server/inventory"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// MaxSelectorTerms bounds a label selector: each term is a subquery.
const MaxSelectorTerms = 10

// withInventory answers 503 instead of h when the server runs without MeshSync.
func (a *API) withInventory(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.opt.Inventory == nil {
			writeError(w, r, http.StatusServiceUnavailable, "unavailable", "this server keeps no inventory", nil)
			return
		}
		h(w, r)
	}
}

// clusterParam resolves a connection (by id or name) from a path or query parameter.
func (a *API) clusterParam(w http.ResponseWriter, r *http.Request, param, ref string) (*store.Connection, bool) {
	c, err := a.st.GetConnection(r.Context(), ref)
	if errors.Is(err, store.ErrNotFound) {
		if param == "id" {
			writeError(w, r, http.StatusNotFound, "not_found", "no such cluster connection", nil)
		} else {
			badInput(w, r, smp.FieldErrors{{Path: param, Msg: fmt.Sprintf("no cluster connection %q", ref)}}, "")
		}
		return nil, false
	}
	if err != nil {
		a.storeError(w, r, err)
		return nil, false
	}
	return c, true
}

// selectorParam parses a Kubernetes label selector into the store's terms.
func selectorParam(s string) ([]store.LabelRequirement, error) {
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, err
	}
	reqs, _ := sel.Requirements()
	if len(reqs) > MaxSelectorTerms {
		return nil, fmt.Errorf("at most %d terms, got %d", MaxSelectorTerms, len(reqs))
	}
	var out []store.LabelRequirement
	for _, q := range reqs {
		lr := store.LabelRequirement{Key: q.Key(), Values: q.Values().List()}
		switch q.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
			lr.Op = "in"
		case selection.NotEquals, selection.NotIn:
			lr.Op = "notin"
		case selection.Exists:
			lr.Op = "exists"
		case selection.DoesNotExist:
			lr.Op = "!exists"
		default:
			return nil, fmt.Errorf("operator %q is not supported (use =, !=, in, notin, exists, !)", q.Operator())
		}
		out = append(out, lr)
	}
	return out, nil
}

func (a *API) listInventory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var errs smp.FieldErrors
	f := store.InventoryFilter{Kind: q.Get("kind"), Namespace: q.Get("namespace"), Name: q.Get("name"), Cursor: q.Get("cursor")}
	if ref := q.Get("cluster"); ref != "" {
		c, ok := a.clusterParam(w, r, "cluster", ref)
		if !ok {
			return
		}
		f.Cluster = c.ClusterUID
	}
	if s := q.Get("selector"); s != "" {
		reqs, err := selectorParam(s)
		if err != nil {
			errs.Add("selector", 0, "%v", err)
		}
		f.Labels = reqs
	}
	if m := q.Get("managed"); m != "" {
		b, err := strconv.ParseBool(m)
		if err != nil {
			errs.Add("managed", 0, "must be true or false, got %q", m)
		}
		f.Managed = &b
	}
	limit, ok := intParam(w, r, "limit", 100, 1, 1000)
	if !ok {
		return
	}
	if len(errs) > 0 {
		badInput(w, r, errs, "")
		return
	}
	f.Limit = limit
	rows, next, err := a.st.ListInventory(r.Context(), f)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	page := apitypes.InventoryPage{Items: make([]apitypes.InventoryObject, len(rows)), NextCursor: next}
	for i := range rows {
		page.Items[i] = inventory.View(&rows[i])
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *API) inventoryCounts(w http.ResponseWriter, r *http.Request) {
	uid, names := "", map[string]string{}
	if ref := r.URL.Query().Get("cluster"); ref != "" {
		c, ok := a.clusterParam(w, r, "cluster", ref)
		if !ok {
			return
		}
		uid = c.ClusterUID
	}
	conns, err := a.st.ListConnections(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	for _, c := range conns {
		names[c.ClusterUID] = c.Name
	}
	counts, err := a.st.InventoryCounts(r.Context(), uid)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := make([]apitypes.InventoryCount, len(counts))
	for i, c := range counts {
		out[i] = apitypes.InventoryCount{ClusterUID: c.ClusterUID, Cluster: names[c.ClusterUID], Group: c.Group, Kind: c.Kind, Count: c.Count}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (a *API) getInventoryObject(w http.ResponseWriter, r *http.Request) {
	c, ok := a.clusterParam(w, r, "id", r.PathValue("id"))
	if !ok {
		return
	}
	o, err := a.st.GetInventoryObject(r.Context(), c.ClusterUID, r.PathValue("uid"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inventory.View(o))
}

func (a *API) flushInventory(w http.ResponseWriter, r *http.Request) {
	c, ok := a.clusterParam(w, r, "id", r.PathValue("id"))
	if !ok {
		return
	}
	f, err := a.opt.Inventory.Flush(r.Context(), c.ClusterUID)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), infoUser(r), "inventory.flushed", c.Name, fmt.Sprintf("%d objects", f.Objects))
	writeJSON(w, http.StatusOK, map[string]any{"flushed": apitypes.InventoryFlushed(f)})
}

func (a *API) resyncInventory(w http.ResponseWriter, r *http.Request) {
	c, ok := a.clusterParam(w, r, "id", r.PathValue("id"))
	if !ok {
		return
	}
	if err := a.opt.Inventory.Resync(c.ClusterUID, "asked by "+infoUser(r)); err != nil {
		writeError(w, r, http.StatusServiceUnavailable, "unavailable", err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "requested"})
}

func infoUser(r *http.Request) string { return info(r).user }

func (a *API) discoveryHealth(w http.ResponseWriter, r *http.Request) {
	c, ok := a.clusterParam(w, r, "id", r.PathValue("id"))
	if !ok {
		return
	}
	h, err := a.opt.Inventory.Health(r.Context(), c.ClusterUID)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	h.Cluster, h.Mode = c.Name, a.modeOf(c)
	if a.opt.Discovery != nil {
		h.Embedded = a.opt.Discovery.Embedded(c.ClusterUID)
		if h.Mode == meshsync.ModeOperator {
			// Read from the cluster, briefly: an unreachable cluster says so in
			// operator.error rather than holding the request.
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			h.Operator = a.opt.Discovery.OperatorStatus(ctx, c)
			cancel()
		}
	}
	writeJSON(w, http.StatusOK, h)
}

func (a *API) modeOf(c *store.Connection) string {
	if a.opt.Discovery != nil {
		return a.opt.Discovery.ModeOf(c)
	}
	if c.MeshSyncMode != "" {
		return c.MeshSyncMode
	}
	return meshsync.ModeEmbedded
}

type syntheticCheckBody struct {
	// Namespace receives the marker ConfigMap (default "default").
	Namespace string `json:"namespace" yaml:"namespace"`
	// TimeoutSeconds bounds each wait (default 30, at most 120).
	TimeoutSeconds int `json:"timeout_seconds" yaml:"timeout_seconds"`
}

func (a *API) discoveryCheck(w http.ResponseWriter, r *http.Request) {
	var b syntheticCheckBody
	if r.ContentLength != 0 && !a.readBody(w, r, &b) {
		return
	}
	if b.Namespace == "" {
		b.Namespace = "default"
	}
	var errs smp.FieldErrors
	if b.TimeoutSeconds == 0 {
		b.TimeoutSeconds = 30
	}
	if b.TimeoutSeconds < 1 || b.TimeoutSeconds > 120 {
		errs.Add("timeout_seconds", 0, "must be from 1 to 120, got %d", b.TimeoutSeconds)
	}
	if len(b.Namespace) > 63 {
		errs.Add("namespace", 0, "at most 63 characters")
	}
	if len(errs) > 0 {
		badInput(w, r, errs, "")
		return
	}
	c, ok := a.clusterParam(w, r, "id", r.PathValue("id"))
	if !ok {
		return
	}
	cs, _, err := a.opt.Clusters.Clientset(c)
	if err != nil {
		a.connError(w, r, err)
		return
	}
	res := a.opt.Inventory.Check(r.Context(), c.ClusterUID, cs, b.Namespace, time.Duration(b.TimeoutSeconds)*time.Second)
	writeJSON(w, http.StatusOK, res)
}

func (a *API) setDiscovery(w http.ResponseWriter, r *http.Request) {
	var b apitypes.DiscoverySettings
	if !a.readBody(w, r, &b) {
		return
	}
	switch b.Mode {
	case "", meshsync.ModeEmbedded, meshsync.ModeOperator:
	default:
		badInput(w, r, smp.FieldErrors{{Path: "mode", Msg: fmt.Sprintf("must be embedded or operator, got %q", b.Mode)}}, "")
		return
	}
	if b.Mode == meshsync.ModeOperator && (a.opt.DisableOperator || (a.opt.Discovery != nil && !a.opt.Discovery.OperatorEnabled())) {
		writeError(w, r, http.StatusConflict, "operator_disabled",
			"operator mode is disabled on this server (--disable-operator): keep mode embedded", []smp.FieldError{{Path: "mode", Msg: "operator mode is disabled"}})
		return
	}
	c, ok := a.clusterParam(w, r, "id", r.PathValue("id"))
	if !ok {
		return
	}
	scope := ""
	if sc := meshsync.Scope(b.Scope); len(sc.IncludeKinds)+len(sc.ExcludeKinds)+len(sc.IncludeNamespaces)+len(sc.ExcludeNamespaces)+len(sc.FullKinds) > 0 {
		js, _ := json.Marshal(sc)
		scope = string(js)
	}
	if err := a.st.SetConnectionMeshSync(r.Context(), c.ID, b.Mode, scope); err != nil {
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), infoUser(r), "connection.discovery", c.Name, fmt.Sprintf("mode %q, scope %s", b.Mode, scope))
	if a.opt.Discovery != nil {
		a.opt.Discovery.Poke()
	}
	writeJSON(w, http.StatusOK, b)
}

func (a *API) getDiscovery(w http.ResponseWriter, r *http.Request) {
	c, ok := a.clusterParam(w, r, "id", r.PathValue("id"))
	if !ok {
		return
	}
	sc, err := inventory.ParseScope(c.MeshSyncScope)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.DiscoverySettings{Mode: c.MeshSyncMode, Scope: apitypes.DiscoveryScope(sc)})
}

// inventoryEvents streams committed inventory changes (server-sent events, one
// "change" event each), of one cluster or all.
func (a *API) inventoryEvents(w http.ResponseWriter, r *http.Request) {
	cluster := ""
	if ref := r.URL.Query().Get("cluster"); ref != "" {
		c, ok := a.clusterParam(w, r, "cluster", ref)
		if !ok {
			return
		}
		cluster = c.ClusterUID
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, r, http.StatusInternalServerError, "internal", "streaming unsupported", nil)
		return
	}
	sub := a.opt.Inventory.Subscribe(cluster)
	defer sub.Close()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": inventory changes\n\n")
	flusher.Flush()
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	var lost int64
	for {
		select {
		case <-r.Context().Done():
			return
		case <-heartbeat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		case ch := <-sub.C:
			if n := sub.Lost(); n > lost { // the client fell behind: say so, once per burst
				b, _ := json.Marshal(map[string]int64{"lost": n - lost})
				fmt.Fprintf(w, "event: lost\ndata: %s\n\n", b)
				lost = n
			}
			b, _ := json.Marshal(ch)
			fmt.Fprintf(w, "event: change\ndata: %s\n\n", b)
			flusher.Flush()
		}
	}
}

// inventoryStats: what the consumer refused, dropped and wrote since the server
// started.
func (a *API) inventoryStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.opt.Inventory.Stats())
}
