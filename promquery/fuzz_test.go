package promquery

import (
	"testing"

	"github.com/meshperf/meshperf/smp"
)

// FuzzCheck: whatever a config's metrics section holds, checking it never panics, and
// a query it accepts resolves without placeholders left for Prometheus to choke on.
func FuzzCheck(f *testing.F) {
	for _, seed := range [][3]string{
		{"istio", "q", `sum(rate(container_cpu_usage_seconds_total{namespace="$namespace"}[$rate]))`},
		{"", "broken", `sum(rate(x[5m])`}, {"linkerd", "", `up`}, {"consul", "x", `{__name__=~".+"}`},
		{"", "q", `histogram_quantile(0.99, sum by (le) (rate(h_bucket[$step])))`}, {"", "q", "$cluster"},
	} {
		f.Add(seed[0], seed[1], seed[2], "ns")
	}
	f.Fuzz(func(t *testing.T, mesh, name, query, ns string) {
		m := &smp.MetricsConfig{Mesh: mesh, Namespace: ns, Queries: []smp.MetricQuery{{Name: name, Query: query}}}
		var errs smp.FieldErrors
		Check(m, &errs)
		for _, e := range errs {
			if e.Path == "" || e.Msg == "" {
				t.Fatalf("an error without a field or message: %+v", e)
			}
		}
		_ = Queries(m, "c", DefaultStep)
	})
}
