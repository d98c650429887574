package smp

import (
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"gopkg.in/yaml.v3"
)

// Histogram ranges: values are microseconds from 1 µs to one hour with three
// significant figures (0.1% resolution). Every histogram meshperf makes has these
// parameters, so histograms from any engine, process or agent add exactly.
const (
	HistogramLowestUs  = 1
	HistogramHighestUs = int64(time.Hour / time.Microsecond)
	HistogramSigFigs   = 3
	// maxEncodedHistogram bounds a histogram read from outside (files, brokers, API).
	maxEncodedHistogram = 1 << 20
)

// Histogram is an HDR latency histogram in microseconds. It marshals to the standard
// compressed HdrHistogram encoding ("HISTFAAA..."), which other HdrHistogram tools read.
//
// A live histogram takes ~190 KB whatever it holds. Histograms that are only kept (the
// per-second intervals of a long run) can be Compacted to their encoding (~1-3 KB);
// reads then decode a transient copy and writes thaw it.
type Histogram struct {
	h     *hdrhistogram.Histogram
	enc   string // set when compacted (then h is nil)
	count int64  // kept while compacted, so Count needs no decoding
	// maxUs is the largest value recorded (a bound for fast merges; see fastmerge.go).
	maxUs int64
}

// NewHistogram returns an empty histogram with meshperf's standard parameters.
func NewHistogram() *Histogram {
	return &Histogram{h: newHDR()}
}

// Live histograms' count arrays (~190 KB each) are recycled: a generator makes several
// every second and compacts them a second later, and on one CPU that churn of large
// objects fragmented the heap (RSS grew with the run's length while the live heap
// stayed ~4 MB). Compact hands its array back; nothing else holds it.
var hdrPool sync.Pool

func newHDR() *hdrhistogram.Histogram {
	if h, ok := hdrPool.Get().(*hdrhistogram.Histogram); ok {
		h.Reset()
		return h
	}
	return hdrhistogram.New(HistogramLowestUs, HistogramHighestUs, HistogramSigFigs)
}

// view returns the live histogram, decoding a transient one when compacted.
func (h *Histogram) view() *hdrhistogram.Histogram {
	if h.h != nil {
		return h.h
	}
	if h.enc != "" {
		if d, err := DecodeHistogram(h.enc); err == nil {
			return d.h
		}
	}
	return hdrhistogram.New(HistogramLowestUs, HistogramHighestUs, HistogramSigFigs)
}

// thaw makes the histogram live again before a write.
func (h *Histogram) thaw() *hdrhistogram.Histogram {
	if h.h == nil {
		h.h = h.view()
		h.enc, h.count = "", 0
	}
	return h.h
}

// Compact replaces the live histogram by its encoding. Reads still work (slower);
// writes thaw it.
func (h *Histogram) Compact() {
	if h == nil || h.h == nil {
		return
	}
	enc, err := h.Encode()
	if err != nil {
		return // stay live: nothing lost
	}
	h.count = h.h.TotalCount()
	if standard(h.h) {
		hdrPool.Put(h.h)
	}
	h.enc, h.h = enc, nil
}

// RecordMicros adds one value; values beyond the range are clamped to it.
func (h *Histogram) RecordMicros(us int64) {
	if us < 0 {
		us = 0
	} else if us > HistogramHighestUs {
		us = HistogramHighestUs
	}
	_ = h.thaw().RecordValue(us) // cannot fail within range
	if us > h.maxUs {
		h.maxUs = us
	}
}

// RecordMicrosN adds n values of us microseconds at once.
func (h *Histogram) RecordMicrosN(us, n int64) {
	if n <= 0 {
		return
	}
	if us < 0 {
		us = 0
	} else if us > HistogramHighestUs {
		us = HistogramHighestUs
	}
	_ = h.thaw().RecordValues(us, n) // cannot fail within range
	if us > h.maxUs {
		h.maxUs = us
	}
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) { h.RecordMicros(d.Microseconds()) }

// Merge adds every value of o into h. Merging is exact: the result equals one
// histogram that recorded all the values.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || (o.h == nil && o.enc == "") {
		return
	}
	dst, src := h.thaw(), o.view()
	if !fastMerge(dst, src, o.maxUs) {
		dst.Merge(src)
	}
	o.done(src)
	h.maxUs = max(h.maxUs, o.maxUs)
}

// Clone returns an independent copy.
func (h *Histogram) Clone() *Histogram {
	c := NewHistogram()
	c.Merge(h)
	return c
}

// Reset empties the histogram, keeping its memory.
func (h *Histogram) Reset() {
	h.thaw().Reset()
	h.maxUs = 0
}

// Count is the number of recorded values.
func (h *Histogram) Count() int64 {
	switch {
	case h == nil:
		return 0
	case h.h != nil:
		return h.h.TotalCount()
	}
	return h.count
}

// read calls f with the live histogram, or a transient decoded copy of a compacted one
// (its counts handed back to the pool after f).
func read[T any](h *Histogram, f func(*hdrhistogram.Histogram) T) T {
	v := h.view()
	r := f(v)
	h.done(v)
	return r
}

// done recycles v when it was a transient copy made by view.
func (h *Histogram) done(v *hdrhistogram.Histogram) {
	if v != h.h && standard(v) {
		hdrPool.Put(v)
	}
}

// Quantile returns the value (µs) at percentile q (0..100).
func (h *Histogram) Quantile(q float64) int64 {
	return read(h, func(v *hdrhistogram.Histogram) int64 { return v.ValueAtQuantile(q) })
}

// Min, Max, Mean and StdDev in microseconds.
func (h *Histogram) Min() int64      { return read(h, (*hdrhistogram.Histogram).Min) }
func (h *Histogram) Max() int64      { return read(h, (*hdrhistogram.Histogram).Max) }
func (h *Histogram) Mean() float64   { return read(h, (*hdrhistogram.Histogram).Mean) }
func (h *Histogram) StdDev() float64 { return read(h, (*hdrhistogram.Histogram).StdDev) }
func (h *Histogram) Equal(o *Histogram) bool {
	return h.view().Equals(o.view())
}

// Encode returns the base64 compressed HdrHistogram V2 encoding.
func (h *Histogram) Encode() (string, error) {
	if h.h == nil && h.enc != "" {
		return h.enc, nil
	}
	if s, ok := fastEncode(h.view()); ok {
		return s, nil
	}
	b, err := h.view().Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// DecodeHistogram reads the compressed encoding. Input from outside is untrusted: size,
// parameters and decoder panics are all turned into errors.
func DecodeHistogram(s string) (out *Histogram, err error) {
	if len(s) > maxEncodedHistogram {
		return nil, fmt.Errorf("histogram encoding is %d bytes; the limit is %d", len(s), maxEncodedHistogram)
	}
	if s == "" {
		return NewHistogram(), nil
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("histogram encoding is corrupt")
		}
	}()
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	inflated, err := inflateHistogram(s, f)
	if err != nil {
		return nil, err
	}
	if standardEncoding(inflated) { // the usual case: one of ours, read without the library
		h := &Histogram{h: newHDR()}
		if err := fillCounts(h, inflated[v2HeaderSize:]); err != nil {
			return nil, err
		}
		h.maxUs = h.h.Max()
		return h, nil
	}
	// Other parameters: the library decodes, and the values are counted into ours.
	d, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("histogram encoding is corrupt: %v", err)
	}
	h := NewHistogram()
	if dropped := h.h.Merge(d); dropped > 0 {
		return nil, fmt.Errorf("histogram holds %d values outside 0..%d µs", dropped, HistogramHighestUs)
	}
	h.maxUs = h.h.Max()
	return h, nil
}

func (h *Histogram) MarshalJSON() ([]byte, error) {
	s, err := h.Encode()
	if err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// UnmarshalJSON reads the encoding and keeps the histogram compact: decoded results
// are mostly read, not written.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("histogram must be an encoded string")
	}
	return h.setEncoded(s)
}

func (h *Histogram) setEncoded(s string) error {
	d, err := DecodeHistogram(s)
	if err != nil {
		return err
	}
	d.Compact()
	*h = *d
	return nil
}

func (h *Histogram) MarshalYAML() (any, error) { return h.Encode() }

func (h *Histogram) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("histogram must be an encoded string")
	}
	return h.setEncoded(n.Value)
}

// LatencySummary is what people read off a histogram, in milliseconds.
type LatencySummary struct {
	Count    int64   `json:"count" yaml:"count"`
	MinMs    float64 `json:"min_ms" yaml:"min_ms"`
	MeanMs   float64 `json:"mean_ms" yaml:"mean_ms"`
	StdDevMs float64 `json:"stddev_ms" yaml:"stddev_ms"`
	P50Ms    float64 `json:"p50_ms" yaml:"p50_ms"`
	P75Ms    float64 `json:"p75_ms" yaml:"p75_ms"`
	P90Ms    float64 `json:"p90_ms" yaml:"p90_ms"`
	P95Ms    float64 `json:"p95_ms" yaml:"p95_ms"`
	P99Ms    float64 `json:"p99_ms" yaml:"p99_ms"`
	P999Ms   float64 `json:"p99_9_ms" yaml:"p99_9_ms"`
	P9999Ms  float64 `json:"p99_99_ms" yaml:"p99_99_ms"`
	MaxMs    float64 `json:"max_ms" yaml:"max_ms"`
}

// Summarize computes the summary of a histogram. Percentiles always come from one
// (merged) histogram, never from averaging other percentiles.
func Summarize(h *Histogram) LatencySummary {
	if h == nil || h.Count() == 0 {
		return LatencySummary{}
	}
	h = &Histogram{h: h.view()} // decode a compacted histogram once, not per figure
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return LatencySummary{
		Count:    h.Count(),
		MinMs:    ms(h.Min()),
		MeanMs:   round3(h.Mean() / 1000),
		StdDevMs: round3(h.StdDev() / 1000),
		P50Ms:    ms(h.Quantile(50)),
		P75Ms:    ms(h.Quantile(75)),
		P90Ms:    ms(h.Quantile(90)),
		P95Ms:    ms(h.Quantile(95)),
		P99Ms:    ms(h.Quantile(99)),
		P999Ms:   ms(h.Quantile(99.9)),
		P9999Ms:  ms(h.Quantile(99.99)),
		MaxMs:    ms(h.Max()),
	}
}

// Percentile returns the named percentile (50, 90, 99, 99.9 ...) from the summary.
func (s LatencySummary) Percentile(p float64) (float64, bool) {
	switch p {
	case 0:
		return s.MinMs, true
	case 50:
		return s.P50Ms, true
	case 75:
		return s.P75Ms, true
	case 90:
		return s.P90Ms, true
	case 95:
		return s.P95Ms, true
	case 99:
		return s.P99Ms, true
	case 99.9:
		return s.P999Ms, true
	case 99.99:
		return s.P9999Ms, true
	case 100:
		return s.MaxMs, true
	}
	return 0, false
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// HistogramBar is one non-empty bucket of a histogram: Count values from FromUs to ToUs.
type HistogramBar struct {
	FromUs int64 `json:"from_us" yaml:"from_us"`
	ToUs   int64 `json:"to_us" yaml:"to_us"`
	Count  int64 `json:"count" yaml:"count"`
}

// Bars returns the histogram's non-empty buckets in ascending order (to draw it).
func (h *Histogram) Bars() []HistogramBar {
	if h == nil {
		return nil
	}
	var out []HistogramBar
	for _, b := range h.view().Distribution() {
		if b.Count > 0 {
			out = append(out, HistogramBar{FromUs: b.From, ToUs: b.To, Count: b.Count})
		}
	}
	return out
}
