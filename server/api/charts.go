package api

import (
	"math"
	"net/http"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

// ResultCharts is what a browser draws of one result, computed from the stored HDR
// histograms (which a browser cannot decode): the percentile curve, the histogram in
// logarithmic bins and the per-second series of the measured window.
type ResultCharts struct {
	ID string `json:"id"`
	// Percentiles run from 0 to just below 100 in steps that halve the remaining
	// distance to 100 (as HdrHistogram's percentile plots do); MaxMs is the 100th.
	Percentiles []PercentilePoint `json:"percentiles"`
	MaxMs       float64           `json:"max_ms"`
	Histogram   []HistogramBin    `json:"histogram"`
	Series      SecondSeries      `json:"series"`
}

// PercentilePoint is one point of the percentile curve.
type PercentilePoint struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// HistogramBin counts the requests whose latency fell in [FromMs, ToMs).
type HistogramBin struct {
	FromMs float64 `json:"from_ms"`
	ToMs   float64 `json:"to_ms"`
	Count  int64   `json:"count"`
}

// SecondSeries is the measured window second by second, all sources merged; the
// slices are parallel.
type SecondSeries struct {
	Second          []int     `json:"second"`
	RPS             []float64 `json:"rps"`
	P50Ms           []float64 `json:"p50_ms"`
	P99Ms           []float64 `json:"p99_ms"`
	ErrorsPerSecond []float64 `json:"errors_per_second"`
}

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
func BuildCharts(res *smp.Result) ResultCharts {
	out := ResultCharts{ID: res.ID, Percentiles: []PercentilePoint{}, Histogram: []HistogramBin{},
		Series: SecondSeries{Second: []int{}, RPS: []float64{}, P50Ms: []float64{}, P99Ms: []float64{}, ErrorsPerSecond: []float64{}}}
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
func percentileCurve(h *smp.Histogram) []PercentilePoint {
	nines := math.Ceil(math.Log10(float64(h.Count()))) + 1
	var out []PercentilePoint
	for k := 0.0; k <= nines*10; k++ {
		p := 100 * (1 - math.Pow(10, -k/10))
		out = append(out, PercentilePoint{Percentile: p, Ms: float64(h.Quantile(p)) / 1000})
	}
	return out
}

// logBins merges the histogram's buckets into bins of equal width on a log scale.
func logBins(bars []smp.HistogramBar) []HistogramBin {
	var out []HistogramBin
	for _, b := range bars {
		mid := math.Max(float64(b.FromUs+b.ToUs)/2, 1)
		k := math.Floor(math.Log10(mid) * histogramBinsPerDecade)
		from := math.Pow(10, k/histogramBinsPerDecade) / 1000
		if n := len(out); n > 0 && out[n-1].FromMs == from {
			out[n-1].Count += b.Count
			continue
		}
		out = append(out, HistogramBin{FromMs: from, ToMs: math.Pow(10, (k+1)/histogramBinsPerDecade) / 1000, Count: b.Count})
	}
	return out
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
