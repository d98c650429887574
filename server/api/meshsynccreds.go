package api

import (
	"net/http"

	"github.com/meshperf/meshperf/server/auth"
)

// createMeshSyncCredential issues the broker credential of a connection's in-cluster
// MeshSync (operator mode; admin). It proves the cluster's ID (the UID of its
// kube-system namespace) and lets its holder publish that cluster's discovery
// events only. Shown once, kept nowhere.
func (a *API) createMeshSyncCredential(w http.ResponseWriter, r *http.Request) {
	if a.opt.IssueMeshSyncCredential == nil {
		writeError(w, r, http.StatusConflict, "external_broker",
			"this server uses an external NATS: MeshSync's identity and permissions are configured there (publish on meshperf.v1.meshsync.<cluster>.events)", nil)
		return
	}
	c, ok := a.clusterParam(w, r, "id", r.PathValue("id"))
	if !ok {
		return
	}
	if c.ClusterUID == "" {
		writeError(w, r, http.StatusConflict, "cluster_unknown",
			"the cluster's ID (the UID of its kube-system namespace) is not known yet: check the connection first (meshperf cluster check "+c.Name+")", nil)
		return
	}
	cred, err := a.opt.IssueMeshSyncCredential(c.ClusterUID)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.log.Info("issued a MeshSync credential", "cluster", c.Name, "cluster_uid", c.ClusterUID, "by", auth.Name(r.Context()))
	a.st.AddEvent(r.Context(), infoUser(r), "connection.meshsync_credential", c.Name, "issued for cluster "+c.ClusterUID)
	writeJSON(w, http.StatusCreated, map[string]any{"cluster": c.Name, "cluster_uid": c.ClusterUID, "mode": c.MeshSyncMode, "credential": cred})
}
