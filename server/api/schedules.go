package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/schedule"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

func scheduleOut(s *store.Schedule) apitypes.Schedule {
	out := apitypes.Schedule{ID: s.ID, Name: s.Name, ProfileID: s.ProfileID, Cron: s.Cron, Missed: s.Missed, Paused: s.Paused, CreatedBy: s.CreatedBy}
	if !s.LastFire.IsZero() {
		lf := s.LastFire
		out.LastFire = &lf
	}
	if !s.Paused {
		out.Next = schedule.Next(s.Cron, time.Now(), 3)
	}
	return out
}

type scheduleBody struct {
	Name    string `yaml:"name" json:"name"`
	Profile string `yaml:"profile" json:"profile"`
	Cron    string `yaml:"cron" json:"cron"`
	Missed  string `yaml:"missed" json:"missed"`
	Paused  bool   `yaml:"paused" json:"paused"`
}

func (a *API) createSchedule(w http.ResponseWriter, r *http.Request) {
	var b scheduleBody
	if !a.readBody(w, r, &b) {
		return
	}
	var errs smp.FieldErrors
	if err := validName(b.Name); err != nil {
		errs.Add("name", 0, "%v", err)
	}
	if _, err := schedule.Parse(b.Cron); err != nil {
		errs.Add("cron", 0, "%v", err)
	}
	if b.Missed == "" {
		b.Missed = store.MissedSkip
	}
	if b.Missed != store.MissedSkip && b.Missed != store.MissedRunOnce {
		errs.Add("missed", 0, "must be skip or run_once, got %q", b.Missed)
	}
	if b.Profile == "" {
		errs.Add("profile", 0, "the profile to run is required")
	}
	if len(errs) > 0 {
		badInput(w, r, errs, "")
		return
	}
	p, err := a.st.GetProfile(r.Context(), b.Profile)
	if errors.Is(err, store.ErrNotFound) {
		badInput(w, r, smp.FieldErrors{{Path: "profile", Msg: fmt.Sprintf("no profile %q", b.Profile)}}, "")
		return
	}
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	sc := &store.Schedule{Name: b.Name, ProfileID: p.ID, Cron: b.Cron, Missed: b.Missed, Paused: b.Paused,
		LastFire: time.Now().UTC(), CreatedBy: auth.Name(r.Context())}
	if err := a.st.CreateSchedule(r.Context(), sc); err != nil {
		if errors.Is(err, store.ErrConflict) {
			writeError(w, r, http.StatusConflict, "conflict", "a schedule named "+b.Name+" exists", nil)
			return
		}
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), auth.Name(r.Context()), "schedule.create", sc.Name, sc.Cron+" "+p.Name)
	w.Header().Set("Location", "/api/v1/schedules/"+sc.ID)
	writeJSON(w, http.StatusCreated, scheduleOut(sc))
}

func (a *API) listSchedules(w http.ResponseWriter, r *http.Request) {
	ss, err := a.st.ListSchedules(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := make([]apitypes.Schedule, len(ss))
	for i := range ss {
		out[i] = scheduleOut(&ss[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

// getSchedule answers a schedule with its next fire times and its history.
func (a *API) getSchedule(w http.ResponseWriter, r *http.Request) {
	sc, err := a.st.GetSchedule(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := scheduleOut(sc)
	fs, err := a.st.Firings(r.Context(), sc.ID, 50)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	for _, f := range fs {
		out.History = append(out.History, apitypes.Firing{FireTime: f.FireTime, RunID: f.RunID, Outcome: f.Outcome, Server: f.Owner})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) pauseSchedule(w http.ResponseWriter, r *http.Request)  { a.setPaused(w, r, true) }
func (a *API) resumeSchedule(w http.ResponseWriter, r *http.Request) { a.setPaused(w, r, false) }

func (a *API) setPaused(w http.ResponseWriter, r *http.Request, paused bool) {
	sc, err := a.st.GetSchedule(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if err := a.st.SetSchedulePaused(r.Context(), sc.ID, paused); err != nil {
		a.storeError(w, r, err)
		return
	}
	action := map[bool]string{true: "schedule.pause", false: "schedule.resume"}[paused]
	a.st.AddEvent(r.Context(), auth.Name(r.Context()), action, sc.Name, "")
	sc, _ = a.st.GetSchedule(r.Context(), sc.ID)
	writeJSON(w, http.StatusOK, scheduleOut(sc))
}

func (a *API) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	sc, err := a.st.GetSchedule(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if err := a.st.DeleteSchedule(r.Context(), sc.ID); err != nil {
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), auth.Name(r.Context()), "schedule.delete", sc.Name, "")
	w.WriteHeader(http.StatusNoContent)
}

// profileTrend: ?metric=p99 (default)&since=RFC3339&limit=
func (a *API) profileTrend(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	metric := q.Get("metric")
	if metric == "" {
		metric = "p99"
	}
	var errs smp.FieldErrors
	m, err := perf.LookupMetric(metric)
	if err != nil {
		errs.Add("metric", 0, "%v", err)
	}
	since := timeParam(q.Get("since"), "since", &errs)
	limit, ok := intParam(w, r, "limit", 500, 1, 10000)
	if !ok {
		return
	}
	if len(errs) > 0 {
		badInput(w, r, errs, "")
		return
	}
	p, err := a.st.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	pts, err := a.st.Trend(r.Context(), p.ID, m.Name, m.FromSummary, since, limit)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"profile": p.Name, "metric": m.Name, "points": pts})
}
