// Package api serves meshperf's REST API (/api/v1, JSON) over the store and the run
// manager: profiles, runs with live server-sent events, results, users and tokens.
// Every route is listed once, in routes(), with the role it needs; the OpenAPI
// document (openapi.json) is checked against that list by a test.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/internal/selfmetrics"
	"github.com/meshperf/meshperf/server/adapters"
	"github.com/meshperf/meshperf/server/agents"
	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/conformance"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/inventory"
	"github.com/meshperf/meshperf/server/meshes"
	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

//go:embed openapi.json
var openAPIBase []byte

// Options tune the API.
type Options struct {
	// AnonymousRead lets requests without a token read (never write).
	AnonymousRead bool
	// Targets restricts where loads may be sent; nil allows any target.
	Targets *TargetPolicy
	// MaxBody bounds request bodies (default 1 MiB).
	MaxBody int64
	// MaxRunConnections bounds the connections (so the requests in flight) of one
	// run on this server, below smp.MaxRunConnections (0: that limit only).
	MaxRunConnections int
	// Agents is the registry of agents (nil: none are listening).
	Agents *agents.Registry
	// Clusters manages cluster connections (nil: the cluster routes answer 503).
	Clusters *connections.Manager
	// Meshes identifies the meshes in connected clusters (nil: the mesh routes
	// answer 503).
	Meshes *meshes.Service
	// Inventory is MeshSync's inventory (nil: the inventory routes answer 503);
	// Discovery the embedded MeshSyncs (nil: none run here).
	Inventory *inventory.Inventory
	Discovery *inventory.Supervisor
	// DisableOperator refuses switching a connection to operator mode.
	DisableOperator bool
	// IssueAgentCredential issues an agent's broker credential (nil: an external
	// broker, where agents' identities are configured).
	IssueAgentCredential func(name string, prefix bool) (string, error)
	// IssueMeshSyncCredential issues an in-cluster MeshSync's broker credential for a
	// cluster ID (nil: an external broker).
	IssueMeshSyncCredential func(cluster string) (string, error)
	// Grafana finds Grafana connections to upload boards to (nil: boards are only
	// returned, never uploaded).
	Grafana GrafanaConnections
	// Adapters is the mesh adapters' registry and operations (nil: those routes
	// answer 503).
	Adapters *adapters.Service
	// Metrics records every request by route pattern; MetricsHandler serves /metrics
	// (nil: /metrics answers 404).
	Metrics        *selfmetrics.Server
	MetricsHandler http.Handler
	// Conformance runs and keeps conformance reports (nil: its routes answer 503).
	Conformance *conformance.Service
	Logger      *slog.Logger
}

// API is the HTTP API.
type API struct {
	st   *store.Store
	runs *runs.Manager
	opt  Options
	log  *slog.Logger
}

// New builds the API.
func New(st *store.Store, mgr *runs.Manager, opt Options) *API {
	if opt.MaxBody <= 0 {
		opt.MaxBody = 1 << 20
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &API{st: st, runs: mgr, opt: opt, log: opt.Logger}
}

type route struct {
	method, pattern string
	role            auth.Role // "" = public
	h               http.HandlerFunc
}

// routes is the API: every route, once.
func (a *API) routes() []route {
	return []route{
		{"GET", "/healthz", "", a.healthz},
		{"GET", "/readyz", "", a.readyz},
		{"GET", "/api/v1/openapi.json", "", a.openapi},
		// /metrics reads like any other viewer route: anonymously only where the server
		// allows anonymous reading, else with a token (Prometheus sends it with
		// authorization: {credentials_file: ...}). Run counts, route use and queue depth
		// are as telling as the results list.
		{"GET", "/metrics", auth.Viewer, a.metrics},

		{"GET", "/api/v1/whoami", auth.Viewer, a.whoami},
		{"GET", "/api/v1/users", auth.Admin, a.listUsers},
		{"POST", "/api/v1/users", auth.Admin, a.createUser},
		{"DELETE", "/api/v1/users/{id}", auth.Admin, a.deleteUser},
		{"PUT", "/api/v1/users/{id}/role", auth.Admin, a.setUserRole},
		{"GET", "/api/v1/tokens", auth.Admin, a.listTokens},
		{"POST", "/api/v1/tokens", auth.Viewer, a.createToken},
		{"DELETE", "/api/v1/tokens/{id}", auth.Viewer, a.deleteToken},

		{"GET", "/api/v1/profiles", auth.Viewer, a.listProfiles},
		{"POST", "/api/v1/profiles", auth.Editor, a.createProfile},
		{"GET", "/api/v1/profiles/{id}", auth.Viewer, a.getProfile},
		{"PUT", "/api/v1/profiles/{id}", auth.Editor, a.updateProfile},
		{"DELETE", "/api/v1/profiles/{id}", auth.Editor, a.deleteProfile},
		{"GET", "/api/v1/profiles/{id}/versions", auth.Viewer, a.profileVersions},
		{"POST", "/api/v1/profiles/{id}/runs", auth.Editor, a.runProfile},
		{"GET", "/api/v1/profiles/{id}/trend", auth.Viewer, a.profileTrend},

		{"GET", "/api/v1/schedules", auth.Viewer, a.listSchedules},
		{"POST", "/api/v1/schedules", auth.Editor, a.createSchedule},
		{"GET", "/api/v1/schedules/{id}", auth.Viewer, a.getSchedule},
		{"DELETE", "/api/v1/schedules/{id}", auth.Editor, a.deleteSchedule},
		{"POST", "/api/v1/schedules/{id}/pause", auth.Editor, a.pauseSchedule},
		{"POST", "/api/v1/schedules/{id}/resume", auth.Editor, a.resumeSchedule},

		{"GET", "/api/v1/runs", auth.Viewer, a.listRuns},
		{"POST", "/api/v1/runs", auth.Editor, a.runAdHoc},
		{"GET", "/api/v1/runs/{id}", auth.Viewer, a.getRun},
		{"POST", "/api/v1/runs/{id}/cancel", auth.Editor, a.cancelRun},
		{"GET", "/api/v1/runs/{id}/events", auth.Viewer, a.runEvents},

		{"GET", "/api/v1/agents", auth.Viewer, a.listAgents},
		{"GET", "/api/v1/agents/deployments", auth.Viewer, a.withClusters(a.listAgentDeployments)},
		{"POST", "/api/v1/agents/deploy", auth.Admin, a.withClusters(a.deployAgents)},
		{"POST", "/api/v1/agents/credentials", auth.Admin, a.createAgentCredential},
		{"POST", "/api/v1/agents/undeploy", auth.Admin, a.withClusters(a.undeployAgents)},

		{"GET", "/api/v1/clusters", auth.Viewer, a.withClusters(a.listClusters)},
		{"POST", "/api/v1/clusters", auth.Admin, a.withClusters(a.addClusters)},
		{"GET", "/api/v1/clusters/{id}", auth.Viewer, a.withClusters(a.getCluster)},
		{"DELETE", "/api/v1/clusters/{id}", auth.Admin, a.withClusters(a.deleteCluster)},
		{"POST", "/api/v1/clusters/{id}/check", auth.Editor, a.withClusters(a.checkCluster)},
		{"PUT", "/api/v1/clusters/{id}/state", auth.Admin, a.withClusters(a.setClusterState)},
		{"GET", "/api/v1/clusters/{id}/meshes", auth.Viewer, a.withMeshes(a.clusterMeshes)},
		{"GET", "/api/v1/meshes", auth.Viewer, a.withMeshes(a.listMeshes)},

		{"GET", "/api/v1/adapters", auth.Viewer, a.withAdapters(a.listAdapters)},
		{"POST", "/api/v1/adapters", auth.Admin, a.withAdapters(a.registerAdapter)},
		{"GET", "/api/v1/operations", auth.Viewer, a.withAdapters(a.listOperations)},
		{"POST", "/api/v1/operations", auth.Admin, a.withAdapters(a.startOperation)},
		{"GET", "/api/v1/operations/{id}", auth.Viewer, a.withAdapters(a.getOperation)},
		{"GET", "/api/v1/operations/{id}/events", auth.Viewer, a.withAdapters(a.operationEvents)},

		{"GET", "/api/v1/connections", auth.Viewer, a.withClusters(a.listConnections)},
		{"POST", "/api/v1/connections", auth.Admin, a.withClusters(a.addConnection)},
		{"GET", "/api/v1/connections/{id}", auth.Viewer, a.withClusters(a.getCluster)},
		{"DELETE", "/api/v1/connections/{id}", auth.Admin, a.withClusters(a.deleteCluster)},
		{"POST", "/api/v1/connections/{id}/check", auth.Editor, a.withClusters(a.checkCluster)},
		{"PUT", "/api/v1/connections/{id}/state", auth.Admin, a.withClusters(a.setClusterState)},

		{"GET", "/api/v1/inventory", auth.Viewer, a.withInventory(a.listInventory)},
		{"GET", "/api/v1/inventory/counts", auth.Viewer, a.withInventory(a.inventoryCounts)},
		{"GET", "/api/v1/inventory/events", auth.Viewer, a.withInventory(a.inventoryEvents)},
		{"GET", "/api/v1/inventory/stats", auth.Viewer, a.withInventory(a.inventoryStats)},
		{"GET", "/api/v1/clusters/{id}/inventory/{uid}", auth.Viewer, a.withInventory(a.getInventoryObject)},
		{"POST", "/api/v1/clusters/{id}/inventory/flush", auth.Admin, a.withInventory(a.flushInventory)},
		{"GET", "/api/v1/clusters/{id}/discovery", auth.Viewer, a.withInventory(a.discoveryHealth)},
		{"GET", "/api/v1/clusters/{id}/discovery/settings", auth.Viewer, a.getDiscovery},
		{"PUT", "/api/v1/clusters/{id}/discovery/settings", auth.Admin, a.setDiscovery},
		{"POST", "/api/v1/clusters/{id}/discovery/credential", auth.Admin, a.createMeshSyncCredential},
		{"POST", "/api/v1/clusters/{id}/discovery/resync", auth.Editor, a.withInventory(a.resyncInventory)},
		{"POST", "/api/v1/clusters/{id}/discovery/check", auth.Editor, a.withClusters(a.withInventory(a.discoveryCheck))},

		{"GET", "/api/v1/results", auth.Viewer, a.listResults},
		{"GET", "/api/v1/results/compare", auth.Viewer, a.compareResults},
		{"GET", "/api/v1/results/{id}", auth.Viewer, a.getResult},
		{"GET", "/api/v1/results/{id}/charts", auth.Viewer, a.resultCharts},
		{"GET", "/api/v1/results/{id}/grafana-panels", auth.Viewer, a.withClusters(a.resultGrafanaPanels)},
		{"DELETE", "/api/v1/results/{id}", auth.Editor, a.deleteResult},

		{"POST", "/api/v1/conformance/runs", auth.Editor, a.withConformance(a.startConformance)},
		{"GET", "/api/v1/conformance/runs", auth.Viewer, a.listConformance},
		{"GET", "/api/v1/conformance/runs/{id}", auth.Viewer, a.getConformance},
		{"GET", "/api/v1/conformance/runs/{id}/report", auth.Viewer, a.conformanceReport},
		{"POST", "/api/v1/conformance/reports", auth.Editor, a.withConformance(a.uploadConformance)},
		{"GET", "/api/v1/conformance/matrix", auth.Viewer, a.withConformance(a.conformanceMatrix)},
		{"GET", "/api/v1/conformance/key", auth.Viewer, a.withConformance(a.conformanceKey)},

		// A viewer may build a board; uploading one (connection) needs an editor.
		{"POST", "/api/v1/dashboards", auth.Viewer, a.createDashboard},
	}
}

// Handler returns the API with its middleware: request ids, logs, panics to 500,
// authentication and roles.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		mux.Handle(rt.method+" "+rt.pattern, a.guard(rt.role, rt.h))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path, nil)
	})
	return a.observe(mux)
}

// reqInfo travels with a request so that the access log sees who the guard found.
type reqInfo struct {
	id   string
	user string
}

type ctxReqInfo struct{}

func info(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(ctxReqInfo{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

func requestID(r *http.Request) string { return info(r).id }

// observe adds a request id, logs each request and turns a panic into a 500.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-Id", id)
		ri := &reqInfo{id: id, user: "anonymous"}
		r = r.WithContext(context.WithValue(r.Context(), ctxReqInfo{}, ri))
		sw := &statusWriter{ResponseWriter: w, status: 200}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				a.log.Error("panic serving a request", "request_id", id, "panic", p)
				if !sw.wrote {
					writeError(sw, r, http.StatusInternalServerError, "internal", "internal error", nil)
				}
			}
			took := time.Since(start)
			a.log.Info("request", "request_id", id, "method", r.Method, "path", r.URL.Path, "status", sw.status,
				"ms", took.Milliseconds(), "user", ri.user)
			// The route pattern, not the path: ids would make a series per run.
			route := r.Pattern
			if route == "" || route == "/" {
				route = "unmatched"
			} else if _, p, ok := strings.Cut(route, " "); ok {
				route = p
			}
			a.opt.Metrics.ObserveHTTP(route, r.Method, sw.status, took)
		}()
		next.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (event streams lift the
// write timeout through it).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets server-sent events through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// guard authenticates the request and checks the route's role.
func (a *API) guard(need auth.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if need == "" {
			h(w, r)
			return
		}
		header := r.Header.Get("Authorization")
		if header == "" {
			if need == auth.Viewer && a.opt.AnonymousRead {
				h(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="meshperf"`)
			writeError(w, r, http.StatusUnauthorized, "unauthorized", "an API token is required: Authorization: Bearer <token>", nil)
			return
		}
		token, ok := strings.CutPrefix(header, "Bearer ")
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="meshperf"`)
			writeError(w, r, http.StatusUnauthorized, "unauthorized", "the Authorization header must be: Bearer <token>", nil)
			return
		}
		u, err := a.st.Authenticate(r.Context(), strings.TrimSpace(token))
		if errors.Is(err, store.ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="meshperf", error="invalid_token"`)
			writeError(w, r, http.StatusUnauthorized, "unauthorized", "the API token is not valid", nil)
			return
		}
		if err != nil {
			a.storeError(w, r, err)
			return
		}
		p := &auth.Principal{UserID: u.ID, Name: u.Name, Role: auth.Role(u.Role)}
		info(r).user = u.Name
		if !p.Role.Allows(need) {
			writeError(w, r, http.StatusForbidden, "forbidden", fmt.Sprintf("this needs the %s role; %s is a %s", need, u.Name, u.Role), nil)
			return
		}
		h(w, r.WithContext(auth.With(r.Context(), p)))
	})
}

// --- responses ---

// Error is the one error shape of the API.
type Error = apitypes.Error

func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string, fields []smp.FieldError) {
	writeJSON(w, status, map[string]Error{"error": {Status: status, Code: code, Message: msg, Fields: fields, RequestID: requestID(r)}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// badInput answers 400 naming every bad field; prefix places them (e.g. "config.").
func badInput(w http.ResponseWriter, r *http.Request, err error, prefix string) {
	var fe smp.FieldErrors
	if errors.As(err, &fe) {
		fields := make([]smp.FieldError, len(fe))
		for i, f := range fe {
			f.Path = strings.TrimSuffix(prefix+f.Path, ".")
			fields[i] = f
		}
		msg := fmt.Sprintf("%d problem(s) in the request", len(fields))
		if len(fields) == 1 {
			msg = fields[0].Error()
		}
		writeError(w, r, http.StatusBadRequest, "invalid", msg, fields)
		return
	}
	writeError(w, r, http.StatusBadRequest, "invalid", err.Error(), nil)
}

// storeError maps store errors to statuses. An unexpected error while the database does
// not answer is a 503 the client may retry; gorm's pool reconnects by itself when the
// database is back.
func (a *API) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusNotFound, "not_found", "not found", nil)
		return
	case errors.Is(err, store.ErrConflict):
		writeError(w, r, http.StatusConflict, "conflict", "already exists", nil)
		return
	case errors.As(err, new(*store.AmbiguousIDError)):
		writeError(w, r, http.StatusBadRequest, "invalid", err.Error(), []smp.FieldError{{Path: "id", Msg: err.Error()}})
		return
	case errors.Is(err, store.ErrBadCursor):
		writeError(w, r, http.StatusBadRequest, "invalid", "cursor: not a cursor this server made", []smp.FieldError{{Path: "cursor", Msg: "not valid"}})
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Second)
	defer cancel()
	if perr := a.st.Ping(ctx); perr != nil {
		a.log.Warn("database unavailable", "request_id", requestID(r), "err", perr)
		w.Header().Set("Retry-After", "5")
		writeError(w, r, http.StatusServiceUnavailable, "unavailable", "the database is unavailable; retry shortly", nil)
		return
	}
	a.log.Error("store error", "request_id", requestID(r), "err", err)
	writeError(w, r, http.StatusInternalServerError, "internal", "internal error", nil)
}

// readBody decodes a JSON (or YAML) body strictly into dst: unknown fields and wrong
// types are named; too large a body is a 413. It writes the error and returns false.
func (a *API) readBody(w http.ResponseWriter, r *http.Request, dst any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, a.opt.MaxBody)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, r, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d bytes", a.opt.MaxBody), nil)
			return false
		}
		writeError(w, r, http.StatusBadRequest, "invalid", "reading the body: "+err.Error(), nil)
		return false
	}
	if err := smp.DecodeStrict(body, dst); err != nil {
		badInput(w, r, err, "")
		return false
	}
	return true
}

// listAgents: who is alive, their labels, capacity, clock offset and last heartbeat.
func (a *API) listAgents(w http.ResponseWriter, _ *http.Request) {
	list := []agents.Agent{}
	var rejected int64
	if a.opt.Agents != nil {
		list, rejected = a.opt.Agents.List(), a.opt.Agents.Rejected()
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list, "rejected_messages": rejected})
}

// --- health ---

// pidHeader carries the server's process id on /healthz and /readyz, so a harness can
// check that the server answering is the one it started.
const pidHeader = "X-Meshperf-Pid"

func (a *API) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set(pidHeader, strconv.Itoa(os.Getpid()))
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(pidHeader, strconv.Itoa(os.Getpid()))
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.st.Ping(ctx); err != nil {
		writeError(w, r, http.StatusServiceUnavailable, "unavailable", "the database is unavailable", nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "database": a.st.Dialect})
}

func (a *API) metrics(w http.ResponseWriter, r *http.Request) {
	if a.opt.MetricsHandler == nil {
		writeError(w, r, http.StatusNotFound, "not_found", "this server exports no metrics", nil)
		return
	}
	a.opt.MetricsHandler.ServeHTTP(w, r)
}

func (a *API) openapi(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI())
}
