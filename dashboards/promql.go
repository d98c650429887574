package dashboards

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// Query is one PromQL panel of a board: a query shown for every result over that
// result's own measured window.
type Query struct {
	Title string `json:"title"`
	Expr  string `json:"expr"`
	// Unit is a Grafana unit id ("percentunit", "bytes", "short", ...).
	Unit string `json:"unit,omitempty"`
}

// proxyContainers names the sidecar containers of the meshes meshperf knows.
const proxyContainers = `istio-proxy|linkerd-proxy|envoy`

// meshNamespaces names the control planes' namespaces.
const meshNamespaces = `istio-system|linkerd`

// DefaultResourceQueries are the resource panels of a board when the results carry no
// metrics of their own: the proxies' and the control plane's CPU and memory from the
// cAdvisor metrics a Kubernetes Prometheus scrapes. Ranges are fixed ([1m]) rather
// than $__rate_interval so the queries parse, and run, as written.
var DefaultResourceQueries = []Query{
	{Title: "Proxy CPU (cores)", Unit: "short",
		Expr: `sum(rate(container_cpu_usage_seconds_total{container=~"` + proxyContainers + `"}[1m]))`},
	{Title: "Proxy memory", Unit: "bytes",
		Expr: `sum(container_memory_working_set_bytes{container=~"` + proxyContainers + `"})`},
	{Title: "Control plane CPU (cores)", Unit: "short",
		Expr: `sum(rate(container_cpu_usage_seconds_total{namespace=~"` + meshNamespaces + `",container!=""}[1m]))`},
	{Title: "Control plane memory", Unit: "bytes",
		Expr: `sum(container_memory_working_set_bytes{namespace=~"` + meshNamespaces + `",container!=""})`},
}

// ParsePromQL parses a query the way Prometheus will; the error names what is wrong.
func ParsePromQL(expr string) (parser.Expr, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("empty query")
	}
	return parser.NewParser(parser.Options{}).ParseExpr(expr)
}

// shiftPromQL moves a query back in time by d: every selector (and subquery, whose
// inner selectors follow it) gains d to its offset, so a run measured d before the
// board's window is drawn over that window. Queries with @ pin absolute times and
// cannot be moved.
func shiftPromQL(expr string, d time.Duration) (string, error) {
	e, err := ParsePromQL(expr)
	if err != nil {
		return "", err
	}
	if d == 0 {
		return e.String(), nil
	}
	var walkErr error
	var walk func(n parser.Node)
	walk = func(n parser.Node) {
		switch n := n.(type) {
		case *parser.VectorSelector:
			if n.Timestamp != nil || n.StartOrEnd != 0 {
				walkErr = fmt.Errorf("%s: the @ modifier pins a time, so the query cannot be shown over another run's window", n)
				return
			}
			n.OriginalOffset += d
			return
		case *parser.SubqueryExpr:
			if n.Timestamp != nil || n.StartOrEnd != 0 {
				walkErr = fmt.Errorf("%s: the @ modifier pins a time, so the query cannot be shown over another run's window", n)
				return
			}
			n.OriginalOffset += d
			return
		}
		for _, c := range parser.Children(n) {
			walk(c)
		}
	}
	walk(e)
	if walkErr != nil {
		return "", walkErr
	}
	return e.String(), nil
}
