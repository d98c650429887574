package smp

import (
	"math/rand/v2"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The pinned library has the layout the fast merge reads: if an upgrade changes it,
// this fails (Merge would quietly fall back to the slow path otherwise).
func TestFastMergeIsActive(t *testing.T) {
	if !hdrLayout.ok {
		t.Fatal("hdrhistogram-go's layout changed: fast merges are off")
	}
}

// indexFor agrees with the library on where every value is counted.
func TestIndexForMatchesTheLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	values := []int64{0, 1, 2047, 2048, 2049, 4095, 4096, 1 << 20, HistogramHighestUs}
	for range 20000 {
		values = append(values, rng.Int64N(HistogramHighestUs))
		values = append(values, rng.Int64N(100_000))
	}
	for _, v := range values {
		h := hdrhistogram.New(HistogramLowestUs, HistogramHighestUs, HistogramSigFigs)
		_ = h.RecordValue(v)
		c := countsOf(h)
		i := indexFor(v)
		if i >= len(c) || c[i] != 1 {
			t.Fatalf("value %d: indexFor says %d, the library counted elsewhere", v, i)
		}
	}
}

// Fast merges equal the library's merges exactly, for live, decoded and compacted
// histograms, and when the recorded maximum is wrong.
func TestFastMergeEqualsTheLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 200 {
		want := hdrhistogram.New(HistogramLowestUs, HistogramHighestUs, HistogramSigFigs)
		got := NewHistogram()
		for range 1 + rng.IntN(8) {
			src := NewHistogram()
			for range rng.IntN(500) {
				v := int64(rng.ExpFloat64() * 3000)
				if rng.IntN(50) == 0 {
					v = rng.Int64N(HistogramHighestUs)
				}
				src.RecordMicros(v)
			}
			switch round % 3 {
			case 1:
				enc, _ := src.Encode()
				src, _ = DecodeHistogram(enc)
			case 2:
				src.Compact()
			}
			if round%7 == 0 {
				src.maxUs = 0 // a wrong maximum must cost time, not counts
			}
			want.Merge(src.view())
			got.Merge(src)
		}
		if !got.h.Equals(want) || got.Count() != want.TotalCount() || got.Quantile(99.9) != want.ValueAtQuantile(99.9) {
			t.Fatalf("round %d: the fast merge differs from the library's", round)
		}
	}
}
