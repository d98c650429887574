package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

func resultRowOut(r *store.Result) apitypes.ResultRow {
	out := apitypes.ResultRow{ID: r.ID, RunID: r.RunID, ProfileID: r.ProfileID, ProfileName: r.ProfileName, ProfileVersion: r.ProfileVersion,
		Name: r.Name, Status: r.Status, StartTime: r.StartTime, EndTime: r.EndTime, Requests: r.Requests, ErrorRate: r.ErrorRate,
		ActualRPS: r.ActualRPS, TargetRPS: r.TargetRPS, P50Ms: r.P50Ms, P90Ms: r.P90Ms, P99Ms: r.P99Ms, P999Ms: r.P999Ms,
		MaxMs: r.MaxMs, Saturated: r.Saturated}
	_ = json.Unmarshal([]byte(r.Labels), &out.Labels)
	return out
}

// MaxLabelFilters bounds the label filters of one results query.
const MaxLabelFilters = 16

// listResults: ?profile=&label=k=v (repeatable)&since=&until=&status=&limit=&cursor=
func (a *API) listResults(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var errs smp.FieldErrors
	f := store.ResultFilter{Profile: q.Get("profile"), Status: q.Get("status"), Cursor: q.Get("cursor")}
	if n := len(q["label"]); n > MaxLabelFilters {
		// Each filter is a join or a subquery; past a few the database gives up (1,100
		// made SQLite answer "Expression tree is too large").
		badInput(w, r, smp.FieldErrors{{Path: "label", Msg: fmt.Sprintf("at most %d label filters, got %d", MaxLabelFilters, n)}}, "")
		return
	}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			errs.Add("label", 0, "%q is not key=value", l)
			continue
		}
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels[k] = v
	}
	f.Since = timeParam(q.Get("since"), "since", &errs)
	f.Until = timeParam(q.Get("until"), "until", &errs)
	switch f.Status {
	case "", string(smp.StatusCompleted), string(smp.StatusPartial), string(smp.StatusFailed):
	default:
		errs.Add("status", 0, "must be completed, partial or failed, got %q", f.Status)
	}
	limit, ok := intParam(w, r, "limit", 50, 1, 1000)
	if !ok {
		return
	}
	if len(errs) > 0 {
		badInput(w, r, errs, "")
		return
	}
	f.Limit = limit
	rows, next, err := a.st.ListResults(r.Context(), f)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := make([]apitypes.ResultRow, len(rows))
	for i := range rows {
		out[i] = resultRowOut(&rows[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "next_cursor": next})
}

// timeParam reads an optional RFC 3339 query parameter, naming it when it is bad.
func timeParam(v, name string, errs *smp.FieldErrors) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		errs.Add(name, 0, "must be an RFC 3339 time such as 2026-11-21T06:00:00Z, got %q", v)
	}
	return t
}

// getResult answers the full result as JSON (default), YAML, SMP (YAML or JSON) or
// CSV, chosen by ?format= or the Accept header.
func (a *API) getResult(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		switch accept := r.Header.Get("Accept"); {
		case strings.Contains(accept, "yaml"):
			format = smp.FormatYAML
		case strings.Contains(accept, "text/csv"):
			format = smp.FormatCSV
		default:
			format = smp.FormatJSON
		}
	}
	contentType := map[string]string{smp.FormatJSON: "application/json", smp.FormatYAML: "application/yaml",
		smp.FormatCSV: "text/csv", smp.FormatSMP: "application/yaml", smp.FormatSMPJSON: "application/json", smp.FormatSMPEnv: "application/yaml"}[format]
	if contentType == "" {
		badInput(w, r, smp.FieldErrors{{Path: "format", Msg: fmt.Sprintf("must be one of %s, got %q", strings.Join(smp.OutputFormats, ", "), format)}}, "")
		return
	}
	_, res, err := a.st.GetResult(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if res.DetailsURI == "" {
		res.DetailsURI = "/api/v1/results/" + res.ID
	}
	var buf bytes.Buffer
	if err := smp.WriteResult(&buf, res, format); err != nil {
		a.storeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(buf.Bytes())
}

func (a *API) deleteResult(w http.ResponseWriter, r *http.Request) {
	if err := a.st.DeleteResult(r.Context(), r.PathValue("id")); err != nil {
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), auth.Name(r.Context()), "result.delete", r.PathValue("id"), "")
	w.WriteHeader(http.StatusNoContent)
}

// compareResults: ?ids=a,b[,c...] (2 to 10).
func (a *API) compareResults(w http.ResponseWriter, r *http.Request) {
	var ids []string
	for _, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) < 2 || len(ids) > 10 {
		badInput(w, r, smp.FieldErrors{{Path: "ids", Msg: fmt.Sprintf("give 2 to 10 comma-separated result ids, got %d", len(ids))}}, "")
		return
	}
	rows := make([]apitypes.ResultRow, len(ids))
	full := make([]*smp.Result, len(ids))
	for i, id := range ids {
		row, res, err := a.st.GetResult(r.Context(), id)
		if err != nil {
			if err == store.ErrNotFound {
				writeError(w, r, http.StatusNotFound, "not_found", "result "+id+" not found", []smp.FieldError{{Path: "ids", Msg: id + " not found"}})
				return
			}
			a.storeError(w, r, err)
			return
		}
		rows[i] = resultRowOut(row)
		full[i] = res
	}
	cmp := Compare(rows, full)
	for _, c := range full[1:] {
		cmp.Changes = append(cmp.Changes, apitypes.CandidateChanges{Candidate: c.ID, Changes: perf.Compare(full[0], c)})
	}
	writeJSON(w, http.StatusOK, cmp)
}

// comparedMetrics are the summary figures of the side-by-side table.
var comparedMetrics = []string{"rps", "error_rate", "p50", "p90", "p99", "p99.9", "max", "requests"}

// Compare builds the comparison table of results (rows are their listing rows); the
// figures are read from the summaries through perf's metric registry.
func Compare(rows []apitypes.ResultRow, results []*smp.Result) apitypes.Comparison {
	out := apitypes.Comparison{Results: rows}
	for _, name := range comparedMetrics {
		m, err := perf.LookupMetric(name)
		if err != nil {
			panic(err) // a name in the table above that the registry lacks: a programming error
		}
		row := apitypes.MetricRow{Metric: m.Name, Unit: m.Unit, Better: m.Better}
		base := m.FromSummary(&results[0].Summary)
		for _, r := range results {
			v := m.FromSummary(&r.Summary)
			row.Values = append(row.Values, v)
			row.Delta = append(row.Delta, v-base)
			if base == 0 {
				row.DeltaPct = append(row.DeltaPct, nil)
			} else {
				p := (v - base) / base * 100
				row.DeltaPct = append(row.DeltaPct, &p)
			}
		}
		out.Metrics = append(out.Metrics, row)
	}
	return out
}
