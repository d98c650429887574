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

// Thresholds are a config's thresholds, parsed once and passed to whatever judges the
// run: the abort watch while it runs and the verdicts when it is finished.
type Thresholds struct{ checks []*Check }

// CompileThresholds parses a config's thresholds; a bad one is an error naming its
// field (thresholds[i]).
func CompileThresholds(ts []smp.Threshold) (*Thresholds, error) {
	checks, errs := ParseThresholds(ts)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &Thresholds{checks: checks}, nil
}

// Aborting reports whether any threshold may abort the run while it runs.
func (t *Thresholds) Aborting() bool {
	for _, c := range t.all() {
		if c.AbortOnFail {
			return true
		}
	}
	return false
}

func (t *Thresholds) all() []*Check {
	if t == nil {
		return nil
	}
	return t.checks
}

// Evaluate records every threshold's verdict on the result's summary, marking the one
// that aborted the run (abort may be nil). It reports whether all passed.
func (t *Thresholds) Evaluate(r *smp.Result, abort *ThresholdAbort) bool {
	r.Thresholds = nil
	all := true
	for _, c := range t.all() {
		tr := c.Eval(&r.Summary)
		tr.Aborted = abort != nil && abort.Expr == c.Expr
		all = all && tr.OK
		r.Thresholds = append(r.Thresholds, tr)
	}
	return all
}

// WatchAbort calls stop (once) when an abort_on_fail threshold fails on the measured
// seconds merged so far, once its abort_after has passed. The aggregator merges every
// source, so a distributed run is judged on the whole, never on one agent's share.
func (t *Thresholds) WatchAbort(agg *Aggregator, stop func(*ThresholdAbort)) {
	var aborters []*Check
	for _, c := range t.all() {
		if c.AbortOnFail {
			aborters = append(aborters, c)
		}
	}
	if len(aborters) == 0 {
		return
	}
	stopped := false
	agg.OnMeasured(func(cum *smp.Interval, seconds int) {
		if stopped {
			return
		}
		elapsed := time.Duration(seconds) * time.Second
		s := summaryOf(cum, elapsed.Seconds(), 0)
		for _, c := range aborters {
			if elapsed < c.AbortAfter.D() {
				continue
			}
			if tr := c.Eval(&s); !tr.OK {
				stopped = true
				stop(&ThresholdAbort{Expr: c.Expr, Observed: tr.Observed, At: elapsed})
				return
			}
		}
	})
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

// ThresholdAbort is the cause of a run stopped by an abort_on_fail threshold: which
// one, what it saw, and after how much of the measured window.
type ThresholdAbort struct {
	Expr, Observed string
	At             time.Duration
}

func (e *ThresholdAbort) Error() string {
	return fmt.Sprintf("threshold %q failed at %v of the measured window (observed %s) and aborted the run", e.Expr, e.At.Round(time.Second), e.Observed)
}
