package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

func runOut(r *store.Run) apitypes.Run {
	out := apitypes.Run{ID: r.ID, ProfileID: r.ProfileID, ProfileName: r.ProfileName, ProfileVersion: r.ProfileVersion,
		Status: r.Status, Error: r.Error, Config: json.RawMessage(r.Config), TriggeredBy: r.TriggeredBy, ResultID: r.ResultID,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Links: map[string]string{"self": "/api/v1/runs/" + r.ID, "events": "/api/v1/runs/" + r.ID + "/events"}}
	if r.Overrides != "" {
		out.Overrides = json.RawMessage(r.Overrides)
	}
	if r.ResultID != nil {
		out.Links["result"] = "/api/v1/results/" + *r.ResultID
	}
	return out
}

type runProfileBody struct {
	Overrides *smp.Overrides `yaml:"overrides" json:"overrides"`
}

// runProfile runs exactly the profile's current version, with optional overrides.
func (a *API) runProfile(w http.ResponseWriter, r *http.Request) {
	var b runProfileBody
	if r.ContentLength != 0 && !a.readBody(w, r, &b) {
		return
	}
	p, err := a.st.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	var cfg smp.TestConfig
	if err := json.Unmarshal([]byte(p.Config), &cfg); err != nil {
		a.storeError(w, r, fmt.Errorf("profile %s holds an unreadable config: %w", p.Name, err))
		return
	}
	if cfg.Name == "" {
		cfg.Name = p.Name
	}
	run := &store.Run{ProfileID: &p.ID, ProfileName: p.Name, ProfileVersion: p.Version, TriggeredBy: auth.Name(r.Context())}
	where := func(path string) string { return path } // the profile's own fields
	if b.Overrides != nil {
		b.Overrides.Apply(&cfg)
		ov, _ := json.Marshal(b.Overrides)
		run.Overrides = string(ov)
		where = b.Overrides.Field
	}
	cfgJSON, ok := a.checkConfigAt(w, r, &cfg, where)
	if !ok || !a.checkRunCluster(w, r, &cfg, "") || !a.checkRunPrometheus(w, r, &cfg, "") {
		return
	}
	run.Config = cfgJSON
	a.submit(w, r, run)
}

type runAdHocBody struct {
	Config *smp.TestConfig `yaml:"config" json:"config"`
}

func (a *API) runAdHoc(w http.ResponseWriter, r *http.Request) {
	var b runAdHocBody
	if !a.readBody(w, r, &b) {
		return
	}
	cfgJSON, ok := a.checkConfig(w, r, b.Config, "config.")
	if !ok || !a.checkRunCluster(w, r, b.Config, "config.") || !a.checkRunPrometheus(w, r, b.Config, "config.") {
		return
	}
	a.submit(w, r, &store.Run{Config: cfgJSON, TriggeredBy: auth.Name(r.Context())})
}

func (a *API) submit(w http.ResponseWriter, r *http.Request, run *store.Run) {
	if err := a.runs.Submit(r.Context(), run); err != nil {
		var full *runs.ErrQueueFull
		if errors.As(err, &full) {
			w.Header().Set("Retry-After", "30")
			writeError(w, r, http.StatusTooManyRequests, "queue_full", full.Error(), nil)
			return
		}
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), auth.Name(r.Context()), "run.create", run.ID, run.ProfileName)
	w.Header().Set("Location", "/api/v1/runs/"+run.ID)
	writeJSON(w, http.StatusAccepted, runOut(run))
}

func (a *API) listRuns(w http.ResponseWriter, r *http.Request) {
	limit, ok := intParam(w, r, "limit", 50, 1, 1000)
	if !ok {
		return
	}
	rs, err := a.st.ListRuns(r.Context(), limit)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := make([]apitypes.Run, len(rs))
	for i := range rs {
		out[i] = runOut(&rs[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) {
	run, err := a.st.GetRun(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, runOut(run))
}

func (a *API) cancelRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := a.st.GetRun(r.Context(), id); err != nil {
		a.storeError(w, r, err)
		return
	}
	if err := a.runs.Cancel(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			a.storeError(w, r, err)
			return
		}
		writeError(w, r, http.StatusConflict, "conflict", err.Error(), nil)
		return
	}
	a.st.AddEvent(r.Context(), auth.Name(r.Context()), "run.cancel", id, "")
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": "cancelling"})
}

// runEvents streams a run as server-sent events: "status", a "progress" every second
// (rate, percentiles, failures), then "result" (the result without its intervals) and
// "end". A finished run answers with its result at once.
func (a *API) runEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	run, err := a.st.GetRun(r.Context(), id)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, r, http.StatusInternalServerError, "internal", "streaming unsupported", nil)
		return
	}
	// A stream lasts as long as its run: the server's write timeout is for ordinary
	// answers. The keep-alive comments still fail on a dead client.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(typ string, data any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
		flusher.Flush()
	}
	send("status", runOut(run))
	keepAlive := func() { // a comment line keeps proxies from closing an idle stream
		fmt.Fprint(w, ": keep-alive\n\n")
		flusher.Flush()
	}
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	poll := time.NewTicker(500 * time.Millisecond)
	defer poll.Stop()
	for {
		if store.RunDone(run.Status) {
			a.sendFinal(r, run, send)
			return
		}
		if ch, stop, live := a.runs.Subscribe(id); live {
			defer stop()
			for {
				select {
				case <-r.Context().Done():
					return
				case <-heartbeat.C:
					keepAlive()
				case ev, open := <-ch:
					if !open {
						return
					}
					if ev.Type == "result" {
						if res, ok := ev.Data.(*smp.Result); ok {
							cp := *res
							cp.Intervals = nil
							ev.Data = &cp
						}
					}
					send(ev.Type, ev.Data)
					if ev.Type == "end" {
						return
					}
				}
			}
		}
		// Queued, or executing on another replica: follow it through the store.
		select {
		case <-r.Context().Done():
			return
		case <-heartbeat.C:
			keepAlive()
		case <-poll.C:
		}
		if run, err = a.st.GetRun(r.Context(), id); err != nil {
			send("error", map[string]string{"message": "the run can no longer be read"})
			return
		}
	}
}

func (a *API) sendFinal(r *http.Request, run *store.Run, send func(string, any)) {
	if run.ResultID != nil {
		if _, res, err := a.st.GetResult(r.Context(), *run.ResultID); err == nil {
			res.Intervals = nil
			send("result", res)
		}
	}
	end := map[string]string{"status": run.Status}
	if run.ResultID != nil {
		end["result_id"] = *run.ResultID
	}
	if run.Error != "" {
		end["error"] = run.Error
	}
	send("end", end)
}

// intParam reads an integer query parameter within [lo, hi], or writes a 400 naming it.
func intParam(w http.ResponseWriter, r *http.Request, name string, def, lo, hi int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		badInput(w, r, smp.FieldErrors{{Path: name, Msg: fmt.Sprintf("must be a whole number from %d to %d, got %q", lo, hi, v)}}, "")
		return 0, false
	}
	return n, true
}
