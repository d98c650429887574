// Package selfmetrics defines meshperf's own Prometheus metrics: those of the server,
// of an agent and of the sample target. Each process (and each test) builds its own
// registry with NewRegistry, so no state is shared through client_golang's global
// default registry. Every name is documented in docs/metrics.md; a test holds the two
// together.
package selfmetrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry is a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves a registry in the Prometheus exposition formats.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// latencyBuckets span 100 µs to ~26 s: request latencies of a target, an API and a
// database alike.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 19)

// Server is the server's metrics. A nil *Server records nothing.
type Server struct {
	HTTPRequests     *prometheus.CounterVec
	HTTPDuration     *prometheus.HistogramVec
	DBQueryDuration  *prometheus.HistogramVec
	BrokerLag        prometheus.Histogram
	ScheduleFirings  *prometheus.CounterVec
	ConnectionChecks *prometheus.CounterVec
}

// ServerGauges are read at scrape time from the parts that know them.
type ServerGauges struct {
	// RunsByState counts stored runs by state (queued, running, completed, ...).
	RunsByState func() map[string]float64
	// QueueDepth is the runs waiting for a slot.
	QueueDepth func() float64
}

// NewServer registers the server's metrics on reg.
func NewServer(reg prometheus.Registerer, g ServerGauges) *Server {
	s := &Server{
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meshperf_server_http_requests_total",
			Help: "API requests by route pattern, method and status code."}, []string{"route", "method", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "meshperf_server_http_request_duration_seconds",
			Help: "API request durations by route pattern and method.", Buckets: latencyBuckets}, []string{"route", "method"}),
		DBQueryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "meshperf_server_db_query_duration_seconds",
			Help: "Database statement durations by operation (create, query, update, delete, row, raw).", Buckets: latencyBuckets}, []string{"operation"}),
		BrokerLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "meshperf_server_broker_interval_lag_seconds",
			Help: "From an agent sending an interval to the coordinator reading it from the stream.", Buckets: latencyBuckets}),
		ScheduleFirings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meshperf_server_schedule_firings_total",
			Help: "Schedule firings this server claimed, by outcome (started, skipped, failed)."}, []string{"outcome"}),
		ConnectionChecks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meshperf_server_connection_checks_total",
			Help: "Connection health checks by connection kind and result (ok, failed)."}, []string{"kind", "result"}),
	}
	reg.MustRegister(s.HTTPRequests, s.HTTPDuration, s.DBQueryDuration, s.BrokerLag, s.ScheduleFirings, s.ConnectionChecks)
	if g.RunsByState != nil {
		reg.MustRegister(&mapGauge{desc: prometheus.NewDesc("meshperf_server_runs",
			"Stored runs by state.", []string{"state"}, nil), read: g.RunsByState})
	}
	if g.QueueDepth != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "meshperf_server_run_queue_depth",
			Help: "Runs queued, waiting for a slot."}, g.QueueDepth))
	}
	return s
}

// ObserveHTTP records one API request.
func (s *Server) ObserveHTTP(route, method string, code int, d time.Duration) {
	if s == nil {
		return
	}
	s.HTTPRequests.WithLabelValues(route, method, codeText(code)).Inc()
	s.HTTPDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// ObserveBrokerLag records how late an interval reached the coordinator.
func (s *Server) ObserveBrokerLag(d time.Duration) {
	if s != nil {
		s.BrokerLag.Observe(max(d, 0).Seconds())
	}
}

// Firing counts a schedule firing by outcome.
func (s *Server) Firing(outcome string) {
	if s != nil {
		s.ScheduleFirings.WithLabelValues(outcome).Inc()
	}
}

// ConnectionCheck counts a health check.
func (s *Server) ConnectionCheck(kind string, ok bool) {
	if s == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "failed"
	}
	s.ConnectionChecks.WithLabelValues(kind, result).Inc()
}

// mapGauge is a gauge vector read from a function at scrape time.
type mapGauge struct {
	desc *prometheus.Desc
	read func() map[string]float64
}

func (m *mapGauge) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }
func (m *mapGauge) Collect(ch chan<- prometheus.Metric) {
	for k, v := range m.read() {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, v, k)
	}
}

// Agent is an agent's metrics. A nil *Agent records nothing.
type Agent struct {
	ShardsRunning prometheus.Gauge
	Shards        prometheus.Counter
	IntervalsSent prometheus.Counter
	OutboxDepth   prometheus.Gauge
	SendLag       prometheus.Histogram
}

// NewAgent registers an agent's metrics on reg.
func NewAgent(reg prometheus.Registerer) *Agent {
	a := &Agent{
		ShardsRunning: prometheus.NewGauge(prometheus.GaugeOpts{Name: "meshperf_agent_shards_running", Help: "Shards running now (0 or 1)."}),
		Shards:        prometheus.NewCounter(prometheus.CounterOpts{Name: "meshperf_agent_shards_total", Help: "Shards started."}),
		IntervalsSent: prometheus.NewCounter(prometheus.CounterOpts{Name: "meshperf_agent_intervals_sent_total",
			Help: "Intervals (and final messages) the broker acknowledged."}),
		OutboxDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "meshperf_agent_outbox_depth",
			Help: "Intervals measured but not yet acknowledged by the broker."}),
		SendLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "meshperf_agent_send_lag_seconds",
			Help: "From an interval closing to the broker acknowledging it.", Buckets: latencyBuckets}),
	}
	reg.MustRegister(a.ShardsRunning, a.Shards, a.IntervalsSent, a.OutboxDepth, a.SendLag)
	return a
}

// ShardStarted and ShardEnded track the running shard.
func (a *Agent) ShardStarted() {
	if a != nil {
		a.Shards.Inc()
		a.ShardsRunning.Inc()
	}
}

// ShardEnded: see ShardStarted.
func (a *Agent) ShardEnded() {
	if a != nil {
		a.ShardsRunning.Dec()
	}
}

// Queued counts an interval into the outbox.
func (a *Agent) Queued() {
	if a != nil {
		a.OutboxDepth.Inc()
	}
}

// Sent records an interval acknowledged after waiting d since it was queued;
// given up (acked false) it leaves the outbox uncounted as sent.
func (a *Agent) Sent(d time.Duration, acked bool) {
	if a == nil {
		return
	}
	a.OutboxDepth.Dec()
	if acked {
		a.IntervalsSent.Inc()
		a.SendLag.Observe(d.Seconds())
	}
}

// MaxTargetPaths bounds the path label of the target's metrics: paths are chosen by
// clients, and each new one would be a new series. Past the bound, paths count as
// "other".
const MaxTargetPaths = 100

// Target is the sample target's metrics. A nil *Target records nothing.
type Target struct {
	Requests *prometheus.CounterVec
	Duration *prometheus.HistogramVec

	mu    sync.Mutex
	paths map[string]bool
}

// NewTarget registers the target's metrics on reg.
func NewTarget(reg prometheus.Registerer) *Target {
	t := &Target{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meshperf_target_requests_total",
			Help: "Requests the target answered, by path (gRPC: full method) and code."}, []string{"path", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "meshperf_target_request_duration_seconds",
			Help: "Time from a request's arrival to its response, injected latency included.", Buckets: latencyBuckets}, []string{"path"}),
		paths: map[string]bool{},
	}
	reg.MustRegister(t.Requests, t.Duration)
	return t
}

// Observe records one answered request.
func (t *Target) Observe(path, code string, d time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if !t.paths[path] {
		if len(t.paths) >= MaxTargetPaths {
			path = "other"
		} else {
			t.paths[path] = true
		}
	}
	t.mu.Unlock()
	t.Requests.WithLabelValues(path, code).Inc()
	t.Duration.WithLabelValues(path).Observe(d.Seconds())
}

func codeText(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "other"
	}
	return string([]byte{digits[code/100%10], digits[code/10%10], digits[code%10]})
}
