package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

func profileOut(p *store.Profile) apitypes.Profile {
	return apitypes.Profile{ID: p.ID, Name: p.Name, Description: p.Description, Version: p.Version, Config: json.RawMessage(p.Config),
		CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// profileBody is what creating or updating a profile takes. The config is meshperf's
// test config (an SMP PerformanceTestConfig with meshperf's fields).
type profileBody struct {
	Name        string          `yaml:"name" json:"name"`
	Description string          `yaml:"description" json:"description"`
	Config      *smp.TestConfig `yaml:"config" json:"config"`
}

// checkConfig applies defaults and validates a config with the engines and the target
// policy; it returns the JSON to store, or writes a 400 naming the fields.
func (a *API) checkConfig(w http.ResponseWriter, r *http.Request, cfg *smp.TestConfig, prefix string) (string, bool) {
	return a.checkConfigAt(w, r, cfg, func(path string) string { return prefix + path })
}

// checkConfigAt validates cfg (defaults, limits, allowed targets) and returns its JSON;
// each problem is named by where(its path in the config).
func (a *API) checkConfigAt(w http.ResponseWriter, r *http.Request, cfg *smp.TestConfig, where func(string) string) (string, bool) {
	if cfg == nil {
		badInput(w, r, smp.FieldErrors{{Path: where(""), Msg: "a test config is required"}}, "")
		return "", false
	}
	cfg.ApplyDefaults()
	var errs smp.FieldErrors
	if err := perf.Validate(cfg); err != nil {
		var fe smp.FieldErrors
		if !errors.As(err, &fe) {
			badInput(w, r, err, "")
			return "", false
		}
		errs = append(errs, fe...)
	}
	errs = append(errs, a.checkRunLimits(cfg)...)
	if len(errs) == 0 { // an endpoint that does not parse is named once, above
		errs = append(errs, a.opt.Targets.Check(r.Context(), cfg)...)
	}
	if len(errs) > 0 {
		for i := range errs {
			errs[i].Path = where(errs[i].Path)
		}
		badInput(w, r, errs, "")
		return "", false
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "internal", "encoding the config", nil)
		return "", false
	}
	return string(b), true
}

// checkRunLimits applies the server's own bound on a run's connections (and so on its
// requests in flight), which may be lower than smp.MaxRunConnections.
func (a *API) checkRunLimits(cfg *smp.TestConfig) smp.FieldErrors {
	if a.opt.MaxRunConnections <= 0 {
		return nil
	}
	var total int64
	for _, c := range cfg.Clients {
		total += int64(c.Connections)
	}
	if total > int64(a.opt.MaxRunConnections) {
		return smp.FieldErrors{{Path: "clients", Msg: fmt.Sprintf("the clients ask for %d connections in all; this server allows at most %d per run (--max-run-connections)", total, a.opt.MaxRunConnections)}}
	}
	return nil
}

func validName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("must be 1 to 128 characters")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("may hold letters, digits, '-', '_' and '.' only")
		}
	}
	return nil
}

func (a *API) createProfile(w http.ResponseWriter, r *http.Request) {
	var b profileBody
	if !a.readBody(w, r, &b) {
		return
	}
	if b.Name == "" && b.Config != nil {
		b.Name = b.Config.Name
	}
	if err := validName(b.Name); err != nil {
		badInput(w, r, smp.FieldErrors{{Path: "name", Msg: err.Error()}}, "")
		return
	}
	cfgJSON, ok := a.checkConfig(w, r, b.Config, "config.")
	if !ok {
		return
	}
	p := &store.Profile{Name: b.Name, Description: b.Description, Config: cfgJSON, CreatedBy: auth.Name(r.Context())}
	if err := a.st.CreateProfile(r.Context(), p); err != nil {
		if errors.Is(err, store.ErrConflict) {
			writeError(w, r, http.StatusConflict, "conflict", "a profile named "+b.Name+" exists; update it with PUT /api/v1/profiles/"+b.Name, nil)
			return
		}
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), auth.Name(r.Context()), "profile.create", p.Name, "version 1")
	w.Header().Set("Location", "/api/v1/profiles/"+p.ID)
	writeJSON(w, http.StatusCreated, profileOut(p))
}

func (a *API) listProfiles(w http.ResponseWriter, r *http.Request) {
	ps, err := a.st.ListProfiles(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := make([]apitypes.Profile, len(ps))
	for i := range ps {
		out[i] = profileOut(&ps[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (a *API) getProfile(w http.ResponseWriter, r *http.Request) {
	p, err := a.st.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, profileOut(p))
}

// updateProfile saves a new version (the name stays).
func (a *API) updateProfile(w http.ResponseWriter, r *http.Request) {
	var b profileBody
	if !a.readBody(w, r, &b) {
		return
	}
	cur, err := a.st.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if b.Name != "" && b.Name != cur.Name {
		badInput(w, r, smp.FieldErrors{{Path: "name", Msg: "a profile cannot be renamed; create a new one"}}, "")
		return
	}
	cfgJSON, ok := a.checkConfig(w, r, b.Config, "config.")
	if !ok {
		return
	}
	p, err := a.st.UpdateProfile(r.Context(), cur.ID, cfgJSON, b.Description, auth.Name(r.Context()))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), auth.Name(r.Context()), "profile.update", p.Name, fmt.Sprintf("version %d", p.Version))
	writeJSON(w, http.StatusOK, profileOut(p))
}

// deleteProfile deletes a profile and its versions; its runs and results stay, and the
// answer says how many results were kept.
func (a *API) deleteProfile(w http.ResponseWriter, r *http.Request) {
	kept, err := a.st.DeleteProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), auth.Name(r.Context()), "profile.delete", r.PathValue("id"), fmt.Sprintf("%d results kept", kept))
	writeJSON(w, http.StatusOK, map[string]any{"deleted": r.PathValue("id"), "results_kept": kept,
		"note": "the profile's runs and results are kept; they name the profile and version they ran"})
}

func (a *API) profileVersions(w http.ResponseWriter, r *http.Request) {
	p, err := a.st.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	vs, err := a.st.ProfileVersions(r.Context(), p.ID)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	type versionJSON struct {
		Version   int             `json:"version"`
		Config    json.RawMessage `json:"config"`
		CreatedBy string          `json:"created_by,omitempty"`
		CreatedAt time.Time       `json:"created_at"`
	}
	out := make([]versionJSON, len(vs))
	for i, v := range vs {
		out[i] = versionJSON{Version: v.Version, Config: json.RawMessage(v.Config), CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}
