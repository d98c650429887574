package smp

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Merging is exact: samples split at random across N histograms merge into one whose
// every percentile equals that of a single histogram that saw all the samples.
func TestMergeIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, parts := range []int{2, 3, 7, 50} {
		whole := NewHistogram()
		split := make([]*Histogram, parts)
		for i := range split {
			split[i] = NewHistogram()
		}
		for range 200_000 {
			// a long-tailed mix from microseconds to seconds
			v := int64(rng.ExpFloat64() * 2000)
			if rng.IntN(100) == 0 {
				v = rng.Int64N(5_000_000)
			}
			whole.RecordMicros(v)
			split[rng.IntN(parts)].RecordMicros(v)
		}
		merged := NewHistogram()
		for _, h := range split {
			merged.Merge(h)
		}
		if merged.Count() != whole.Count() {
			t.Fatalf("%d parts: count %d, want %d", parts, merged.Count(), whole.Count())
		}
		for _, q := range []float64{0, 50, 75, 90, 95, 99, 99.9, 99.99, 100} {
			if a, b := merged.Quantile(q), whole.Quantile(q); a != b {
				t.Errorf("%d parts: p%v = %d, want %d", parts, q, a, b)
			}
		}
		if Summarize(merged) != Summarize(whole) {
			t.Errorf("%d parts: summaries differ", parts)
		}
		// Averaging the parts' p99s is what merging must never do: show it differs.
		var avg float64
		for _, h := range split {
			avg += float64(h.Quantile(99.9))
		}
		avg /= float64(parts)
		t.Logf("%d parts: merged p99.9 %d µs, average of parts' p99.9 %.0f µs", parts, merged.Quantile(99.9), avg)
	}
}

func TestHistogramRoundTripAndClamp(t *testing.T) {
	h := NewHistogram()
	for _, us := range []int64{-5, 0, 1, 999, 1500, 2_000_000} {
		h.RecordMicros(us)
	}
	h.Record(2 * time.Hour) // beyond the range: clamped, not lost
	if h.Count() != 7 {
		t.Fatalf("count = %d, want 7", h.Count())
	}
	if h.Max() < HistogramHighestUs*999/1000 {
		t.Errorf("clamped max = %d", h.Max())
	}
	enc, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "HISTF") {
		t.Errorf("encoding %q is not the standard compressed form", enc[:10])
	}
	back, err := DecodeHistogram(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(h) {
		t.Errorf("decoded histogram differs")
	}
}

func TestDecodeHistogramRejectsGarbage(t *testing.T) {
	for _, s := range []string{"x", "HISTFAAAAA", "!!!!", strings.Repeat("A", 64), "HISTFAAAACx4nJNpmSzMwMDAyQABzFCaEUoDAAuIAJI="} {
		if _, err := DecodeHistogram(s); err == nil {
			t.Errorf("DecodeHistogram(%.20q) accepted garbage", s)
		}
	}
}

func FuzzDecodeHistogram(f *testing.F) {
	h := NewHistogram()
	h.RecordMicros(1234)
	h.RecordMicros(99)
	enc, _ := h.Encode()
	f.Add(enc)
	f.Add("HISTFAAAACx4nJNpmSzMwMDAyQABzFCaEUoDAAuIAJI=")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := DecodeHistogram(s)
		if err != nil {
			return
		}
		again, err := d.Encode()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		d2, err := DecodeHistogram(again)
		if err != nil || !d2.Equal(d) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

// A compacted histogram reads the same, merges the same, encodes the same, and
// comes back to life on a write.
func TestCompactKeepsEverything(t *testing.T) {
	h := NewHistogram()
	for i := int64(0); i < 5000; i++ {
		h.RecordMicros(i * 37 % 90_000)
	}
	want := Summarize(h)
	enc, _ := h.Encode()
	c := h.Clone()
	c.Compact()
	if c.h != nil || len(c.enc) > 20_000 {
		t.Fatalf("not compact: live=%v, %d bytes", c.h != nil, len(c.enc))
	}
	if Summarize(c) != want || c.Count() != 5000 || !c.Equal(h) {
		t.Errorf("compacted reads differ")
	}
	if got, _ := c.Encode(); got != enc {
		t.Errorf("encoding changed")
	}
	m := NewHistogram()
	m.Merge(c)
	m.Merge(h)
	if m.Count() != 10000 || m.Quantile(99) != h.Quantile(99) {
		t.Errorf("merge from a compacted histogram: count %d", m.Count())
	}
	if c.h != nil {
		t.Errorf("reading thawed the histogram for good")
	}
	c.RecordMicros(1)
	if c.Count() != 5001 || c.h == nil {
		t.Errorf("write after compact: count %d", c.Count())
	}
	var zero Histogram
	if zero.Count() != 0 || Summarize(&zero).Count != 0 {
		t.Errorf("zero histogram")
	}
}

// Whatever the library reads as one of meshperf's histograms, DecodeHistogram reads
// the same.
func FuzzDecodeAgreesWithTheLibrary(f *testing.F) {
	h := NewHistogram()
	h.RecordMicros(1234)
	h.RecordMicrosN(99, 5)
	enc, _ := h.Encode()
	f.Add(enc)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxEncodedHistogram || checkLibrary(s) == nil {
			return
		}
		lib := checkLibrary(s)
		d, err := DecodeHistogram(s)
		if err != nil {
			t.Fatalf("the library reads it (%d values), DecodeHistogram refuses: %v", lib.TotalCount(), err)
		}
		if !d.h.Equals(lib) {
			t.Fatalf("decoded %d values; the library %d", d.Count(), lib.TotalCount())
		}
	})
}

// checkLibrary is the library's decoding of s when it succeeds with meshperf's
// parameters and a bounded inflation, else nil.
func checkLibrary(s string) (h *hdrhistogram.Histogram) {
	defer func() {
		if recover() != nil {
			h = nil
		}
	}()
	var f inflater
	if _, err := inflateHistogram(s, &f); err != nil {
		return nil
	}
	d, err := hdrhistogram.Decode([]byte(s))
	if err != nil || !standard(d) {
		return nil
	}
	return d
}
