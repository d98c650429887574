package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshperf/meshperf/internal/selfmetrics"
	"github.com/meshperf/meshperf/promquery"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// serverMetrics is the server's own registry: its metrics, the runs by state and the
// queue read from the store at scrape time, and every statement's latency.
func serverMetrics(st *store.Store, log *slog.Logger) (*prometheus.Registry, *selfmetrics.Server) {
	reg := selfmetrics.NewRegistry()
	scrape := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 2*time.Second)
	}
	sm := selfmetrics.NewServer(reg, selfmetrics.ServerGauges{
		RunsByState: func() map[string]float64 {
			ctx, cancel := scrape()
			defer cancel()
			counts, err := st.CountRunsByState(ctx)
			out := make(map[string]float64, len(counts))
			for k, v := range counts {
				out[k] = float64(v)
			}
			if err != nil {
				log.Warn("counting runs for /metrics", "err", err)
			}
			return out
		},
		QueueDepth: func() float64 {
			ctx, cancel := scrape()
			defer cancel()
			n, _, err := st.CountQueuedRuns(ctx, "")
			if err != nil {
				log.Warn("counting queued runs for /metrics", "err", err)
			}
			return float64(n)
		},
	})
	if err := st.ObserveStatements(func(op string, d time.Duration) {
		sm.DBQueryDuration.WithLabelValues(op).Observe(d.Seconds())
	}); err != nil {
		log.Warn("database latency metrics unavailable", "err", err)
	}
	return reg, sm
}

// runMetrics queries the Prometheus connection a run's config names over its measured
// window. An unknown or unusable connection marks the metrics missing with the reason.
func runMetrics(conns *connections.Manager) func(context.Context, *smp.TestConfig, *smp.Result) {
	return func(ctx context.Context, cfg *smp.TestConfig, res *smp.Result) {
		ref := cfg.Metrics.Prometheus
		if ref == "" {
			promquery.Attach(ctx, nil, cfg, res, "metrics.prometheus names no Prometheus connection")
			return
		}
		ep, err := conns.Endpoint(ctx, ref, connections.KindPrometheus)
		if err != nil {
			promquery.Attach(ctx, nil, cfg, res, err.Error())
			return
		}
		promquery.Attach(ctx, &promquery.Source{Name: ep.Name, URL: ep.URL, Authorize: ep.Credential.Authorize, Transport: ep.Transport}, cfg, res, "")
	}
}
