package api

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/meshperf/meshperf/apitypes"
	suite "github.com/meshperf/meshperf/conformance"
	"github.com/meshperf/meshperf/server/auth"
	confsvc "github.com/meshperf/meshperf/server/conformance"
	"github.com/meshperf/meshperf/server/store"
)

// ConformanceRun is a conformance run as the API shows it.
type ConformanceRun = apitypes.ConformanceRun

func conformanceView(r *store.ConformanceRun) ConformanceRun {
	return ConformanceRun{ID: r.ID, Cluster: r.ClusterName, ClusterUID: r.ClusterUID, Mesh: r.Mesh, MeshVersion: r.MeshVersion,
		Profiles: r.Profiles, Status: r.Status, Error: r.Error, Conformant: r.Conformant, KeyID: r.KeyID, CreatedBy: r.CreatedBy,
		CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt}
}

func (a *API) withConformance(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.opt.Conformance == nil {
			writeError(w, r, http.StatusServiceUnavailable, "unavailable", "this server runs no conformance suites", nil)
			return
		}
		h(w, r)
	}
}

func actorOf(r *http.Request) string {
	if p := auth.From(r.Context()); p != nil {
		return p.Name
	}
	return "anonymous"
}

func (a *API) conformanceError(w http.ResponseWriter, r *http.Request, err error) {
	var ie *confsvc.InputError
	if errors.As(err, &ie) {
		writeError(w, r, http.StatusBadRequest, "invalid", ie.Msg, nil)
		return
	}
	a.connError(w, r, err)
}

func (a *API) startConformance(w http.ResponseWriter, r *http.Request) {
	var req confsvc.RunRequest
	if !a.readBody(w, r, &req) {
		return
	}
	run, err := a.opt.Conformance.Start(r.Context(), req, actorOf(r))
	if err != nil {
		a.conformanceError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/conformance/runs/"+run.ID)
	writeJSON(w, http.StatusAccepted, conformanceView(run))
}

func (a *API) listConformance(w http.ResponseWriter, r *http.Request) {
	list, err := a.st.ListConformanceRuns(r.Context(), 500)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	items := make([]ConformanceRun, len(list))
	for i := range list {
		items[i] = conformanceView(&list[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (a *API) getConformance(w http.ResponseWriter, r *http.Request) {
	run, err := a.st.GetConformanceRun(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, conformanceView(run))
}

var reportTypes = map[string]string{suite.FormatYAML: "application/yaml", suite.FormatJSON: "application/json",
	suite.FormatMarkdown: "text/markdown; charset=utf-8", suite.FormatJUnit: "application/xml"}

// conformanceReport serves the report in a format; YAML and JSON carry the signature.
func (a *API) conformanceReport(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = suite.FormatYAML
	}
	ct, ok := reportTypes[format]
	if !ok {
		writeError(w, r, http.StatusBadRequest, "invalid", fmt.Sprintf("format: %q is not yaml, json, markdown or junit", format), nil)
		return
	}
	run, err := a.st.GetConformanceRun(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	rep, err := confsvc.Report(run)
	if err != nil {
		writeError(w, r, http.StatusConflict, "no_report", err.Error(), nil)
		return
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf, format); err != nil {
		a.storeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=conformance-%s.%s", run.ID, map[string]string{
		suite.FormatYAML: "yaml", suite.FormatJSON: "json", suite.FormatMarkdown: "md", suite.FormatJUnit: "xml"}[format]))
	_, _ = w.Write(buf.Bytes())
}

// uploadConformance keeps a signed report (YAML or JSON) made elsewhere, e.g. by a
// CI job, once its signature checks out.
func (a *API) uploadConformance(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, a.opt.MaxBody)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, r, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d bytes", a.opt.MaxBody), nil)
		return
	}
	run, err := a.opt.Conformance.Upload(r.Context(), body, actorOf(r))
	if err != nil {
		a.conformanceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, conformanceView(run))
}

func (a *API) conformanceMatrix(w http.ResponseWriter, r *http.Request) {
	cells, err := a.opt.Conformance.Matrix(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": cells})
}

func (a *API) conformanceKey(w http.ResponseWriter, r *http.Request) {
	pub := a.opt.Conformance.PublicKey()
	pemKey, _ := suite.MarshalPublicKey(pub)
	writeJSON(w, http.StatusOK, apitypes.ConformanceKey{Algorithm: suite.Algorithm, KeyID: suite.KeyID(pub),
		PublicKey: base64.StdEncoding.EncodeToString(pub), PEM: string(pemKey)})
}
