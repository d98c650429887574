package api

// A result's charts: what a browser draws of one result, computed from the stored
// HDR histograms (which a browser cannot decode).

import (
	"math"
	"net/http"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

// histogramBinsPerDecade sets the histogram's resolution: ten bins per power of ten
// keeps a few dozen bars whatever the spread.
const histogramBinsPerDecade = 10

func (a *API) resultCharts(w http.ResponseWriter, r *http.Request) {
	_, res, err := a.st.GetResult(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, BuildCharts(res))
}

// BuildCharts computes a result's charts.
func BuildCharts(res *smp.Result) apitypes.ResultCharts {
	out := apitypes.ResultCharts{ID: res.ID, Percentiles: []apitypes.PercentilePoint{}, Histogram: []apitypes.HistogramBin{},
		Series: apitypes.SecondSeries{Second: []int{}, RPS: []float64{}, P50Ms: []float64{}, P99Ms: []float64{}, ErrorsPerSecond: []float64{}}}
	if h := res.Latency; h != nil && h.Count() > 0 {
		out.Percentiles = percentileCurve(h)
		out.MaxMs = float64(h.Max()) / 1000
		out.Histogram = logBins(h.Bars())
	}
	for _, s := range perf.Seconds(res) {
		secs := s.End.Sub(s.Start).Seconds()
		if secs <= 0 {
			continue
		}
		var p50, p99 float64
		if s.Latency != nil && s.Latency.Count() > 0 {
			p50, p99 = float64(s.Latency.Quantile(50))/1000, float64(s.Latency.Quantile(99))/1000
		}
		out.Series.Second = append(out.Series.Second, s.Index)
		out.Series.RPS = append(out.Series.RPS, round3(float64(s.Requests)/secs))
		out.Series.P50Ms = append(out.Series.P50Ms, p50)
		out.Series.P99Ms = append(out.Series.P99Ms, p99)
		out.Series.ErrorsPerSecond = append(out.Series.ErrorsPerSecond, round3(float64(s.Requests-s.Successes)/secs))
	}
	return out
}

// percentileCurve samples the curve at 100·(1-10^(-k/10)): ten points per "nine",
// up to the nines the count can resolve.
func percentileCurve(h *smp.Histogram) []apitypes.PercentilePoint {
	nines := math.Ceil(math.Log10(float64(h.Count()))) + 1
	var out []apitypes.PercentilePoint
	for k := 0.0; k <= nines*10; k++ {
		p := 100 * (1 - math.Pow(10, -k/10))
		out = append(out, apitypes.PercentilePoint{Percentile: p, Ms: float64(h.Quantile(p)) / 1000})
	}
	return out
}

// logBins merges the histogram's buckets into bins of equal width on a log scale.
func logBins(bars []smp.HistogramBar) []apitypes.HistogramBin {
	var out []apitypes.HistogramBin
	for _, b := range bars {
		mid := math.Max(float64(b.FromUs+b.ToUs)/2, 1)
		k := math.Floor(math.Log10(mid) * histogramBinsPerDecade)
		from := math.Pow(10, k/histogramBinsPerDecade) / 1000
		if n := len(out); n > 0 && out[n-1].FromMs == from {
			out[n-1].Count += b.Count
			continue
		}
		out = append(out, apitypes.HistogramBin{FromMs: from, ToMs: math.Pow(10, (k+1)/histogramBinsPerDecade) / 1000, Count: b.Count})
	}
	return out
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
