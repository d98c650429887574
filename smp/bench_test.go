package smp

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkMergeIntervals merges 10,000 one-second interval histograms (a 10-agent run
// of 1000 s, or a long local run) into one, against recording the same samples into one
// histogram directly. Target (for distributed runs): the merge under 100 ms.
func BenchmarkMergeIntervals(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	intervals := make([]*Histogram, 10_000)
	var samples []int64
	for i := range intervals {
		h := NewHistogram()
		for range 200 { // 200 requests per second each: a realistic spread of values
			v := int64(rng.ExpFloat64()*1500) + 50
			h.RecordMicros(v)
			if i < 100 {
				samples = append(samples, v)
			}
		}
		intervals[i] = h
	}
	b.Run("merge-10000-intervals", func(b *testing.B) {
		for range b.N {
			total := NewHistogram()
			for _, h := range intervals {
				total.Merge(h)
			}
		}
	})
	b.Run("summarize", func(b *testing.B) {
		total := NewHistogram()
		for _, h := range intervals {
			total.Merge(h)
		}
		b.ResetTimer()
		for range b.N {
			_ = Summarize(total)
		}
	})
	b.Run("encode-interval", func(b *testing.B) {
		for i := range b.N {
			if _, err := intervals[i%len(intervals)].Encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
