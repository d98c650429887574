// Package promquery attaches Prometheus data to a run: it checks a config's PromQL
// with Prometheus's own parser, expands a mesh's default queries, chooses a step that
// keeps every series within Prometheus's 11,000 points, and queries the measured
// window with client_golang's API client. It knows no meshperf server or database:
// the server hands it a connection's URL and credential, `meshperf run` a URL.
package promquery

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/meshperf/meshperf/smp"
)

// MaxPoints is the most points per series Prometheus returns from query_range.
const MaxPoints = 11_000

// DefaultStep is the smallest step when the config names none: near a usual scrape
// interval, where a smaller step only repeats samples.
const DefaultStep = 5 * time.Second

// Meshes with default queries.
var Meshes = []string{"istio", "linkerd"}

// Step is the query_range step for a window: at least min, and large enough that a
// series has at most MaxPoints points (Prometheus counts (end-start)/step + 1), in
// whole milliseconds (its resolution).
func Step(window, min time.Duration) time.Duration {
	if min <= 0 {
		min = DefaultStep
	}
	// (window/step) + 1 <= MaxPoints holds for every step above window/MaxPoints: the
	// next whole millisecond is the smallest.
	need := (window / MaxPoints).Truncate(time.Millisecond) + time.Millisecond
	return max(min, need)
}

// Points is how many points query_range returns per series for a window and step.
func Points(window, step time.Duration) int { return int(window/step) + 1 }

// Defaults are a mesh's queries: its proxies' and control plane's CPU (cores) and
// memory (working set bytes) from cAdvisor's container metrics, by the container
// names each mesh uses, and its own request rate. $nsmatch narrows to the run's
// namespace when one is given.
func Defaults(mesh string) []smp.MetricQuery {
	cpu := func(sel string) string {
		return `sum(rate(container_cpu_usage_seconds_total{` + sel + `}[$rate]))`
	}
	mem := func(sel string) string { return `sum(container_memory_working_set_bytes{` + sel + `})` }
	switch strings.ToLower(mesh) {
	case "istio":
		proxy := `container="istio-proxy"$nsmatch`
		cp := `namespace="istio-system",container="discovery"`
		return []smp.MetricQuery{
			{Name: "proxy_cpu", Query: cpu(proxy), Unit: "cores", Role: smp.RoleProxyCPU},
			{Name: "proxy_memory", Query: mem(proxy), Unit: "bytes", Role: smp.RoleProxyMemory},
			{Name: "control_plane_cpu", Query: cpu(cp), Unit: "cores", Role: smp.RoleControlPlaneCPU},
			{Name: "control_plane_memory", Query: mem(cp), Unit: "bytes", Role: smp.RoleControlPlaneMemory},
			{Name: "mesh_requests", Query: `sum(rate(istio_requests_total{reporter="destination"$nsmatch}[$rate]))`, Unit: "requests/s"},
		}
	case "linkerd":
		proxy := `container="linkerd-proxy"$nsmatch`
		cp := `namespace="linkerd",container!="",container!="POD"`
		return []smp.MetricQuery{
			{Name: "proxy_cpu", Query: cpu(proxy), Unit: "cores", Role: smp.RoleProxyCPU},
			{Name: "proxy_memory", Query: mem(proxy), Unit: "bytes", Role: smp.RoleProxyMemory},
			{Name: "control_plane_cpu", Query: cpu(cp), Unit: "cores", Role: smp.RoleControlPlaneCPU},
			{Name: "control_plane_memory", Query: mem(cp), Unit: "bytes", Role: smp.RoleControlPlaneMemory},
			{Name: "mesh_requests", Query: `sum(rate(request_total{direction="inbound"$nsmatch}[$rate]))`, Unit: "requests/s"},
		}
	}
	return nil
}

// Queries are a config's queries to run: the mesh's defaults, then its own, with
// $namespace, $nsmatch, $cluster, $step and $rate replaced. $rate is four steps, so a
// rate() always spans several scrapes.
func Queries(m *smp.MetricsConfig, runCluster string, step time.Duration) []smp.MetricQuery {
	if m == nil {
		return nil
	}
	cluster := m.Cluster
	if cluster == "" {
		cluster = runCluster
	}
	nsmatch := ""
	if m.Namespace != "" {
		nsmatch = `,namespace="` + m.Namespace + `"`
	}
	r := strings.NewReplacer("$nsmatch", nsmatch, "$namespace", m.Namespace, "$cluster", cluster,
		"$step", model.Duration(step).String(), "$rate", model.Duration(4*step).String())
	out := append(Defaults(m.Mesh), m.Queries...)
	for i := range out {
		out[i].Query = r.Replace(out[i].Query)
	}
	return out
}

var roles = map[string]bool{"": true, smp.RoleProxyCPU: true, smp.RoleProxyMemory: true, smp.RoleControlPlaneCPU: true, smp.RoleControlPlaneMemory: true}

// Check adds every problem of a metrics section to errs, each naming its field; PromQL
// is parsed by Prometheus's parser with the placeholders filled in.
func Check(m *smp.MetricsConfig, errs *smp.FieldErrors) {
	if m == nil {
		return
	}
	if m.Mesh != "" && Defaults(m.Mesh) == nil {
		errs.Add("metrics.mesh", 0, "no default queries for mesh %q (known: %s)", m.Mesh, strings.Join(Meshes, ", "))
	}
	if s := m.Step.D(); s < 0 || (s > 0 && s < 100*time.Millisecond) || s > time.Hour {
		errs.Add("metrics.step", 0, "between 100ms and 1h, got %v", m.Step)
	}
	if strings.ContainsAny(m.Namespace, "\"\\{}") || strings.ContainsAny(m.Cluster, "\"\\{}") {
		errs.Add("metrics.namespace", 0, "a namespace or cluster name cannot hold quotes, backslashes or braces")
	}
	if len(m.Prometheus) > 128 || strings.TrimSpace(m.Prometheus) != m.Prometheus {
		errs.Add("metrics.prometheus", 0, "not a connection name")
	}
	if len(m.Queries) > 100 {
		errs.Add("metrics.queries", 0, "at most 100 queries, got %d", len(m.Queries))
	}
	names := map[string]bool{}
	for _, d := range Defaults(m.Mesh) {
		names[d.Name] = true
	}
	resolved := Queries(&smp.MetricsConfig{Namespace: "ns", Cluster: "c", Queries: m.Queries}, "c", DefaultStep)
	for i, q := range m.Queries {
		at := fmt.Sprintf("metrics.queries[%d]", i)
		switch {
		case q.Name == "" || len(q.Name) > 64:
			errs.Add(at+".name", 0, "1 to 64 characters")
		case names[q.Name]:
			errs.Add(at+".name", 0, "%q is used twice (the mesh's defaults: proxy_cpu, proxy_memory, control_plane_cpu, control_plane_memory, mesh_requests)", q.Name)
		}
		names[q.Name] = true
		if !roles[q.Role] {
			errs.Add(at+".role", 0, "one of proxy_cpu, proxy_memory, control_plane_cpu, control_plane_memory, or none")
		}
		if strings.TrimSpace(q.Query) == "" {
			errs.Add(at+".query", 0, "empty")
			continue
		}
		if _, err := parser.NewParser(parser.Options{}).ParseExpr(resolved[i].Query); err != nil {
			errs.Add(at+".query", 0, "not PromQL: %v", err)
		}
	}
}

// Source is the Prometheus to ask.
type Source struct {
	// Name shows in the result: a connection's name or the URL.
	Name string
	URL  string
	// Authorize, if set, adds credentials to each request.
	Authorize func(*http.Request)
	// Transport, if set, carries the requests (a Prometheus found in a cluster is
	// reached through the cluster's API server).
	Transport http.RoundTripper
	// Timeout bounds each query (default 30 s).
	Timeout time.Duration
}

type authorizing struct {
	next http.RoundTripper
	auth func(*http.Request)
}

func (a authorizing) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	a.auth(r)
	return a.next.RoundTrip(r)
}

// Collect runs every query of m over [start, end] and returns what it found. Nothing
// here fails a run: a Prometheus that does not answer, a query it refuses or one
// without series is recorded as missing with the reason.
func Collect(ctx context.Context, src Source, m *smp.MetricsConfig, runCluster string, start, end time.Time) *smp.MetricsResult {
	window := end.Sub(start)
	var min time.Duration
	if m != nil {
		min = m.Step.D()
	}
	step := Step(window, min)
	res := &smp.MetricsResult{Source: src.Name, Start: start.UTC(), End: end.UTC(), Step: smp.Duration(step)}
	qs := Queries(m, runCluster, step)
	if len(qs) == 0 {
		return res
	}
	rt := api.DefaultRoundTripper
	if src.Transport != nil {
		rt = src.Transport
	}
	if src.Authorize != nil {
		rt = authorizing{next: rt, auth: src.Authorize}
	}
	timeout := src.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	client, err := api.NewClient(api.Config{Address: src.URL, RoundTripper: rt})
	if err != nil {
		for _, q := range qs {
			res.Queries = append(res.Queries, smp.QueryResult{MetricQuery: q, Status: smp.MetricsMissing, Reason: "the Prometheus URL: " + err.Error()})
		}
		return res
	}
	prom := v1.NewAPI(client)
	down := "" // once Prometheus does not answer, the other queries say so without waiting
	for _, q := range qs {
		qr := smp.QueryResult{MetricQuery: q, Status: smp.MetricsMissing}
		if down != "" {
			qr.Reason = down
			res.Queries = append(res.Queries, qr)
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, timeout)
		val, warnings, _, err := prom.QueryRange(qctx, q.Query, v1.Range{Start: start, End: end, Step: step}, v1.WithTimeout(timeout))
		cancel()
		switch {
		case err != nil:
			var perr *v1.Error
			if e, ok := err.(*v1.Error); ok {
				perr = e
			}
			if perr != nil && perr.Type != v1.ErrClient && perr.Type != v1.ErrServer {
				qr.Reason = "Prometheus refused the query: " + err.Error()
			} else {
				down = "Prometheus did not answer: " + err.Error()
				qr.Reason = down
			}
		default:
			qr.Series = seriesOf(val)
			if len(qr.Series) == 0 {
				qr.Reason = "no series matched over the window"
			} else {
				qr.Status = smp.MetricsOK
			}
			if len(warnings) > 0 && qr.Reason == "" {
				qr.Reason = "warnings: " + strings.Join(warnings, "; ")
			}
		}
		res.Queries = append(res.Queries, qr)
	}
	return res
}

// seriesOf turns a matrix into series, labels sorted out of the map; values that are
// not numbers (NaN, ±Inf) are left out, JSON has no place for them.
func seriesOf(v model.Value) []smp.Series {
	mat, ok := v.(model.Matrix)
	if !ok {
		return nil
	}
	out := make([]smp.Series, 0, len(mat))
	for _, ss := range mat {
		s := smp.Series{Points: make([][]float64, 0, len(ss.Values))}
		if len(ss.Metric) > 0 {
			s.Labels = make(map[string]string, len(ss.Metric))
			for k, v := range ss.Metric {
				s.Labels[string(k)] = string(v)
			}
		}
		for _, p := range ss.Values {
			f := float64(p.Value)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
			s.Points = append(s.Points, []float64{float64(p.Timestamp) / 1000, f})
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i].Labels) < fmt.Sprint(out[j].Labels) })
	return out
}

// AssumeMesh gives a metrics section that names no mesh the default queries of the
// first mesh found in the run's cluster that has defaults: the per-mesh default set
// from the cluster's fingerprint. It returns a copy of cfg with that mesh and the
// mesh's name, or cfg unchanged and "" (a mesh named, no cluster, no known mesh).
func AssumeMesh(cfg *smp.TestConfig, env *smp.KubernetesEnv) (*smp.TestConfig, string) {
	if cfg == nil || cfg.Metrics == nil || cfg.Metrics.Mesh != "" || env == nil {
		return cfg, ""
	}
	for _, m := range env.Meshes {
		if Defaults(m.Type) == nil {
			continue
		}
		own := map[string]bool{}
		for _, q := range cfg.Metrics.Queries {
			own[q.Name] = true
		}
		clash := false
		for _, d := range Defaults(m.Type) {
			clash = clash || own[d.Name]
		}
		if clash {
			// The config's own queries use the defaults' names: it meant its own set.
			return cfg, ""
		}
		c, mc := *cfg, *cfg.Metrics
		mc.Mesh = strings.ToLower(m.Type)
		c.Metrics = &mc
		return &c, mc.Mesh
	}
	return cfg, ""
}

// Attach queries the measured window of res (MeasureStart to EndTime) for cfg's
// metrics section (with the mesh of res's cluster assumed where it names none, see
// AssumeMesh) and stores what it found in res.Metrics; missing queries also
// become a warning. A nil src (no Prometheus given) marks every query missing with
// missingWhy. The run's status never changes.
func Attach(ctx context.Context, src *Source, cfg *smp.TestConfig, res *smp.Result, missingWhy string) {
	if cfg == nil || cfg.Metrics == nil || res == nil {
		return
	}
	start, end := res.MeasureStart, res.EndTime
	if start.IsZero() {
		start = res.StartTime
	}
	if !end.After(start) {
		return
	}
	cfg, assumed := AssumeMesh(cfg, res.Environment.Kubernetes)
	if src == nil {
		step := Step(end.Sub(start), cfg.Metrics.Step.D())
		res.Metrics = &smp.MetricsResult{Start: start.UTC(), End: end.UTC(), Step: smp.Duration(step)}
		for _, q := range Queries(cfg.Metrics, cfg.TargetCluster(), step) {
			res.Metrics.Queries = append(res.Metrics.Queries, smp.QueryResult{MetricQuery: q, Status: smp.MetricsMissing, Reason: missingWhy})
		}
	} else {
		res.Metrics = Collect(ctx, *src, cfg.Metrics, cfg.TargetCluster(), start, end)
	}
	res.Metrics.AssumedMesh = assumed
	missing, reason := 0, ""
	for _, q := range res.Metrics.Queries {
		if q.Status != smp.MetricsOK {
			missing++
			if reason == "" {
				reason = q.Reason
			}
		}
	}
	if missing > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("metrics: %d of %d queries missing (%s)", missing, len(res.Metrics.Queries), reason))
	}
}
