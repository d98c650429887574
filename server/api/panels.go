package api

import (
	"net/http"
	"strings"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/dashboards"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/smp"
)

// ResultPanels are the Grafana panels attached to a result's profile, each linked over
// the run's measured window on one Grafana connection.
type ResultPanels = apitypes.ResultPanels

// resultGrafanaPanels: ?connection=NAME (default: the only Grafana connection). The
// links carry no credential: a person opens them with their own Grafana login.
func (a *API) resultGrafanaPanels(w http.ResponseWriter, r *http.Request) {
	_, res, err := a.st.GetResult(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := ResultPanels{ResultID: res.ID, Links: []apitypes.PanelLink{}}
	if res.Config == nil || len(res.Config.GrafanaPanels) == 0 {
		writeJSON(w, http.StatusOK, out)
		return
	}
	list, err := a.opt.Clusters.ListKind(r.Context(), connections.KindGrafana)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	want := r.URL.Query().Get("connection")
	var grafana *connections.View
	var names []string
	for _, c := range list {
		if c.Server == "" {
			continue // found in a cluster, still without a URL
		}
		names = append(names, c.Name)
		if want != "" && (c.Name == want || c.ID == want) {
			grafana = c
		}
	}
	switch {
	case want != "" && grafana == nil:
		writeError(w, r, http.StatusNotFound, "not_found", "Grafana connection "+want+" not found", nil)
		return
	case want == "" && len(names) == 1:
		for _, c := range list {
			if c.Name == names[0] {
				grafana = c
			}
		}
	case want == "" && len(names) == 0:
		badInput(w, r, smp.FieldErrors{{Path: "connection", Msg: "this server has no Grafana connection with a URL (meshperf connection add grafana URL)"}}, "")
		return
	case want == "":
		badInput(w, r, smp.FieldErrors{{Path: "connection", Msg: "name one of the Grafana connections: " + strings.Join(names, ", ")}}, "")
		return
	}
	links, err := dashboards.PanelLinks(grafana.Server, res)
	if err != nil {
		badInput(w, r, smp.FieldErrors{{Path: "connection", Msg: err.Error()}}, "")
		return
	}
	out.Connection = grafana.Name
	for _, l := range links {
		out.Links = append(out.Links, apitypes.PanelLink{BoardUID: l.BoardUID, PanelID: l.PanelID, Title: l.Title, URL: l.URL})
	}
	writeJSON(w, http.StatusOK, out)
}
