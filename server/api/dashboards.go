package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/dashboards"
	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// GrafanaConnections finds a Grafana connection by name: its URL and its credential,
// unsealed for this one call (a token, or user:password). The connections manager
// implements it once Grafana connections exist; nil means none are configured.
type GrafanaConnections interface {
	Grafana(ctx context.Context, name string) (url, credential string, err error)
}

// ErrNoGrafanaConnection is what GrafanaConnections returns for a name it does not know.
var ErrNoGrafanaConnection = errors.New("no such Grafana connection")

// maxBoardResults bounds one board: each result adds a query to every panel.
const maxBoardResults = 20

// createDashboard returns a Grafana board comparing results, or uploads it to a
// Grafana connection (which changes that Grafana: editors only).
func (a *API) createDashboard(w http.ResponseWriter, r *http.Request) {
	var req apitypes.DashboardRequest
	if !a.readBody(w, r, &req) {
		return
	}
	if n := len(req.Results); n < 1 || n > maxBoardResults {
		badInput(w, r, smp.FieldErrors{{Path: "results", Msg: fmt.Sprintf("give 1 to %d result ids, got %d", maxBoardResults, n)}}, "")
		return
	}
	req.Connection = strings.TrimSpace(req.Connection)
	if req.Connection != "" {
		if p := auth.From(r.Context()); p == nil || !p.Role.Allows(auth.Editor) {
			writeError(w, r, http.StatusForbidden, "forbidden", "uploading to a Grafana connection needs the editor role", nil)
			return
		}
		if a.opt.Grafana == nil {
			writeError(w, r, http.StatusServiceUnavailable, "unavailable", "this server has no Grafana connections", nil)
			return
		}
	}
	results := make([]*smp.Result, len(req.Results))
	for i, id := range req.Results {
		_, res, err := a.st.GetResult(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, r, http.StatusNotFound, "not_found", "result "+id+" not found",
				[]smp.FieldError{{Path: fmt.Sprintf("results[%d]", i), Msg: id + " not found"}})
			return
		}
		if err != nil {
			a.storeError(w, r, err)
			return
		}
		results[i] = res
	}
	board, err := dashboards.Build(results, dashboards.Options{Title: req.Title, PrometheusDatasource: req.PrometheusDatasource})
	if err != nil {
		badInput(w, r, err, "")
		return
	}
	if req.Connection == "" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+board.UID+`.json"`)
		writeJSON(w, http.StatusOK, board.JSON)
		return
	}
	url, credential, err := a.opt.Grafana.Grafana(r.Context(), req.Connection)
	if errors.Is(err, ErrNoGrafanaConnection) {
		writeError(w, r, http.StatusNotFound, "not_found", "Grafana connection "+req.Connection+" not found",
			[]smp.FieldError{{Path: "connection", Msg: req.Connection + " not found"}})
		return
	}
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	folder := req.Folder
	if folder == "" {
		folder = "meshperf"
	}
	boardURL, err := dashboards.Upload(r.Context(), url, credential, board, folder)
	if err != nil {
		// The error names the board and Grafana's answer, never the credential.
		writeError(w, r, http.StatusBadGateway, "grafana", "Grafana connection "+req.Connection+": "+err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusCreated, apitypes.DashboardUpload{UID: board.UID, URL: boardURL, Connection: req.Connection})
}
