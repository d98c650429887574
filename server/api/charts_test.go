package api_test

import (
	"testing"
	"time"

	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/smp"
)

// The charts come from the histograms exactly: the curve rises, its median is the
// histogram's, the bins hold every request, and the series has a point per second.
func TestBuildCharts(t *testing.T) {
	h := smp.NewHistogram()
	for us := int64(1); us <= 10000; us++ { // 1 µs .. 10 ms, evenly
		h.RecordMicros(us)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	res := &smp.Result{ID: "r1", Latency: h}
	for i := range 3 {
		sec := smp.NewHistogram()
		sec.RecordMicrosN(int64(1000*(i+1)), 100)
		res.Intervals = append(res.Intervals, smp.Interval{Source: "c0", Index: i, Start: start.Add(time.Duration(i) * time.Second),
			End: start.Add(time.Duration(i+1) * time.Second), Requests: 100, Successes: 90, Latency: sec})
	}
	c := api.BuildCharts(res)
	var total int64
	for i, b := range c.Histogram {
		total += b.Count
		if b.ToMs <= b.FromMs || (i > 0 && b.FromMs < c.Histogram[i-1].ToMs-1e-9) {
			t.Errorf("bin %d: %+v after %+v", i, b, c.Histogram[max(i-1, 0)])
		}
	}
	if total != 10000 {
		t.Errorf("the bins hold %d of 10000", total)
	}
	if n := len(c.Histogram); n < 30 || n > 50 { // four decades, ten bins each
		t.Errorf("%d bins", n)
	}
	for i := 1; i < len(c.Percentiles); i++ {
		if c.Percentiles[i].Percentile <= c.Percentiles[i-1].Percentile || c.Percentiles[i].Ms < c.Percentiles[i-1].Ms {
			t.Fatalf("the curve does not rise at %d: %+v then %+v", i, c.Percentiles[i-1], c.Percentiles[i])
		}
	}
	if last := c.Percentiles[len(c.Percentiles)-1].Percentile; last < 99.99 || last >= 100 {
		t.Errorf("the curve ends at the %vth percentile", last)
	}
	if p50 := c.Percentiles[3].Ms; p50 < 4.9 || p50 > 5.1 { // 100·(1-10^-0.3) ≈ 49.9
		t.Errorf("median %v ms", p50)
	}
	if c.MaxMs < 9.99 || c.MaxMs > 10.01 {
		t.Errorf("max %v ms", c.MaxMs)
	}
	s := c.Series
	if len(s.Second) != 3 || s.RPS[1] != 100 || s.ErrorsPerSecond[2] != 10 || s.P50Ms[2] < 2.99 || s.P50Ms[2] > 3.01 {
		t.Errorf("series %+v", s)
	}
	if empty := api.BuildCharts(&smp.Result{ID: "e"}); empty.Percentiles == nil || empty.Histogram == nil || empty.Series.RPS == nil {
		t.Errorf("an empty result's charts must be empty lists, not null: %+v", empty)
	}
}
