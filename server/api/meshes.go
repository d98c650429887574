package api

import (
	"net/http"
)

// withMeshes answers 503 instead of h when the server runs without cluster
// connections (and so without fingerprints).
func (a *API) withMeshes(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.opt.Meshes == nil {
			writeError(w, r, http.StatusServiceUnavailable, "unavailable", "this server has no cluster connections", nil)
			return
		}
		h(w, r)
	}
}

// listMeshes reads every usable cluster now; a cluster that cannot be read says why
// in its own entry, the others answer.
func (a *API) listMeshes(w http.ResponseWriter, r *http.Request) {
	list, err := a.opt.Meshes.All(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

func (a *API) clusterMeshes(w http.ResponseWriter, r *http.Request) {
	m, err := a.opt.Meshes.Cluster(r.Context(), r.PathValue("id"))
	if err != nil {
		a.connError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}
