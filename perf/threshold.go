package perf

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// metricKind says how a threshold's value is written and compared.
type metricKind int

const (
	kindLatency metricKind = iota // a duration, compared in ms
	kindRatio                     // "1%" or 0.01
	kindRate                      // req/s
	kindCount
)

type metric struct {
	kind metricKind
	get  func(s *smp.Summary) float64
}

// thresholdMetrics are the figures a threshold may name: the metric registry, each
// with the kind its limit is written in.
var thresholdMetrics = func() map[string]metric {
	kinds := map[string]metricKind{UnitMs: kindLatency, UnitRatio: kindRatio, UnitRate: kindRate, UnitCount: kindCount}
	out := map[string]metric{}
	for _, m := range metricRegistry {
		out[m.Name] = metric{kinds[m.Unit], m.FromSummary}
	}
	return out
}()

// Check is a parsed threshold.
type Check struct {
	smp.Threshold
	metric string
	op     string
	limit  float64 // in the metric's unit
}

var thresholdRE = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$`)

// ParseThreshold reads "METRIC OP VALUE": p50..p99.99, min, max, mean, stddev (a
// duration: 250ms, 1.5s), error_rate (1% or 0.01), rps (req/s), requests (count).
func ParseThreshold(t smp.Threshold) (*Check, error) {
	m := thresholdRE.FindStringSubmatch(t.Expr)
	if m == nil {
		return nil, fmt.Errorf("%q is not METRIC OP VALUE, e.g. \"p99 < 250ms\" or \"error_rate < 1%%\"", t.Expr)
	}
	name := strings.ToLower(m[1])
	mt, ok := thresholdMetrics[name]
	if !ok {
		_, err := LookupMetric(m[1])
		return nil, fmt.Errorf("%q: %w", t.Expr, err)
	}
	c := &Check{Threshold: t, metric: name, op: m[2]}
	raw := m[3]
	switch mt.kind {
	case kindLatency:
		d, err := time.ParseDuration(raw)
		if err != nil {
			if _, nerr := strconv.ParseFloat(raw, 64); nerr == nil {
				return nil, fmt.Errorf("%q: %s is a latency: give a unit, e.g. %sms", t.Expr, name, raw)
			}
			return nil, fmt.Errorf("%q: %q is not a duration such as 250ms or 1s", t.Expr, raw)
		}
		c.limit = float64(d) / float64(time.Millisecond)
	case kindRatio:
		v, err := parseRatio(raw)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", t.Expr, err)
		}
		c.limit = v
	default:
		v, err := strconv.ParseFloat(strings.TrimSuffix(raw, "/s"), 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%q: %q is not a non-negative number", t.Expr, raw)
		}
		c.limit = v
	}
	if t.AbortAfter < 0 {
		return nil, fmt.Errorf("abort_after must not be negative")
	}
	return c, nil
}

func parseRatio(raw string) (float64, error) {
	if p, ok := strings.CutSuffix(raw, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 || v > 100 {
			return 0, fmt.Errorf("%q is not a percentage from 0%% to 100%%", raw)
		}
		return v / 100, nil
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || v < 0 || v > 1 {
		return 0, fmt.Errorf("%q is not a ratio from 0 to 1 (or a percentage such as 1%%)", raw)
	}
	return v, nil
}

// Eval checks the threshold against a summary.
func (c *Check) Eval(s *smp.Summary) smp.ThresholdResult {
	v := thresholdMetrics[c.metric].get(s)
	var ok bool
	switch c.op {
	case "<":
		ok = v < c.limit
	case "<=":
		ok = v <= c.limit
	case ">":
		ok = v > c.limit
	case ">=":
		ok = v >= c.limit
	case "==":
		ok = v == c.limit
	case "!=":
		ok = v != c.limit
	}
	return smp.ThresholdResult{Expr: c.Expr, OK: ok, Value: v, Observed: formatValue(thresholdMetrics[c.metric].kind, v)}
}

func formatValue(k metricKind, v float64) string {
	switch k {
	case kindLatency:
		if v >= 1000 {
			return strconv.FormatFloat(v/1000, 'f', 3, 64) + "s"
		}
		return strconv.FormatFloat(v, 'f', 3, 64) + "ms"
	case kindRatio:
		return strconv.FormatFloat(v*100, 'f', 3, 64) + "%"
	case kindRate:
		return strconv.FormatFloat(v, 'f', 1, 64) + "/s"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// ParseThresholds parses a config's thresholds, naming the field of each bad one.
func ParseThresholds(ts []smp.Threshold) ([]*Check, smp.FieldErrors) {
	var errs smp.FieldErrors
	out := make([]*Check, 0, len(ts))
	for i, t := range ts {
		c, err := ParseThreshold(t)
		if err != nil {
			errs.Add(fmt.Sprintf("thresholds[%d]", i), 0, "%v", err)
			continue
		}
		out = append(out, c)
	}
	return out, errs
}

// EvaluateThresholds checks every threshold of the config on the result's summary and
// records the verdicts in the result. It reports whether all passed.
func EvaluateThresholds(r *smp.Result, ts []smp.Threshold) bool {
	checks, _ := ParseThresholds(ts) // validated before the run
	r.Thresholds = r.Thresholds[:0]
	all := true
	for _, c := range checks {
		tr := c.Eval(&r.Summary)
		all = all && tr.OK
		r.Thresholds = append(r.Thresholds, tr)
	}
	return all
}

// ThresholdsPassed reports whether a result's recorded thresholds all passed.
func ThresholdsPassed(r *smp.Result) bool {
	for _, t := range r.Thresholds {
		if !t.OK {
			return false
		}
	}
	return true
}

// AbortedByThreshold reports whether an abort_on_fail threshold stopped the run.
func AbortedByThreshold(r *smp.Result) bool {
	for _, t := range r.Thresholds {
		if t.Aborted {
			return true
		}
	}
	return false
}

// errThresholdAbort is the cause of a run stopped by an abort_on_fail threshold.
type errThresholdAbort struct {
	expr, observed string
	at             time.Duration
}

func (e *errThresholdAbort) Error() string {
	return fmt.Sprintf("threshold %q failed at %v of the measured window (observed %s) and aborts the run", e.expr, e.at.Round(time.Second), e.observed)
}
