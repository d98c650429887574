package loadgen

import (
	"testing"
	"time"

	"fortio.org/fortio/stats"
)

// BenchmarkRecord is the per-request accounting cost: meshperf's recorder (HDR
// latency, status, bytes; and for paced load the two lag histograms) against what
// fortio's periodic runner does per request (its fixed-bucket histogram), in one run.
// Read the ratio of the ns/op.
func BenchmarkRecord(b *testing.B) {
	now := time.Now()
	o := Outcome{Code: 200, OK: true, BytesReceived: 100}
	b.Run("fortio-periodic-histogram", func(b *testing.B) {
		h := stats.NewHistogram(0, 0.001)
		for i := range b.N {
			h.Record(float64(i%5000) / 1e6)
		}
	})
	b.Run("meshperf-unpaced", func(b *testing.B) {
		r := &Recorder{sh: &shard{cur: newBucket(false), next: newBucket(false)}, start: now}
		for i := range b.N {
			r.Record(time.Time{}, now, now.Add(time.Duration(i%5000)*time.Microsecond), -1, 0, o)
		}
	})
	b.Run("meshperf-open", func(b *testing.B) {
		r := &Recorder{open: true, sh: &shard{cur: newBucket(true), next: newBucket(true)}, start: now}
		for i := range b.N {
			sent := now.Add(time.Duration(i%7) * time.Microsecond)
			r.Record(now, sent, sent.Add(time.Duration(i%5000)*time.Microsecond), time.Microsecond, 0, o)
		}
	})
}

// BenchmarkScheduleOffset: finding when a slot is due, for a flat and a staged profile.
func BenchmarkScheduleOffset(b *testing.B) {
	flat := ConstantRate(10000, time.Hour)
	staged := NewRateProfile(0, []Ramp{{time.Minute, 5000}, {time.Minute, 5000}, {time.Minute, 20000}, {time.Hour, 100}})
	b.Run("flat", func(b *testing.B) {
		for i := range b.N {
			flat.Offset(int64(i) % 1_000_000)
		}
	})
	b.Run("staged", func(b *testing.B) {
		for i := range b.N {
			staged.Offset(int64(i) % 1_000_000)
		}
	})
}
