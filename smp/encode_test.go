package smp

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// fastEncode writes exactly the library's encoding: empty histograms, single values,
// long runs of zeros, counts needing all nine bytes, values at the range's ends.
func TestFastEncodeIsTheLibrarysEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := map[string]func(h *Histogram){
		"empty":       func(*Histogram) {},
		"one value":   func(h *Histogram) { h.RecordMicros(1) },
		"range ends":  func(h *Histogram) { h.RecordMicros(HistogramLowestUs); h.RecordMicros(HistogramHighestUs) },
		"huge counts": func(h *Histogram) { h.RecordMicrosN(1500, 1<<62); h.RecordMicrosN(7, 1<<40) },
		"latencies": func(h *Histogram) {
			for range 100_000 {
				h.RecordMicros(int64(rng.ExpFloat64()*800) + 20)
			}
		},
		"spread": func(h *Histogram) {
			for range 5_000 {
				h.RecordMicrosN(rng.Int64N(HistogramHighestUs)+1, rng.Int64N(1000)+1)
			}
		},
	}
	for name, fill := range cases {
		h := NewHistogram()
		fill(h)
		got, ok := fastEncode(h.h)
		if !ok {
			t.Fatalf("%s: fastEncode refused a standard histogram", name)
		}
		want, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s: encodings differ:\n got %.80s…\nwant %.80s…", name, got, want)
		}
		back, err := DecodeHistogram(got)
		if err != nil || !back.Equal(h) {
			t.Errorf("%s: does not decode to itself: %v", name, err)
		}
	}
	other := hdrhistogram.New(1, 1000, 2)
	if _, ok := fastEncode(other); ok {
		t.Error("fastEncode took a histogram of other parameters")
	}
}

// Encoding a second's histogram allocates a few KB, not the library's fresh
// compressor (~800 KB) each time (the median of 51 encodes).
func TestEncodeAllocatesLittle(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items on purpose under -race; the plain test run measures this")
	}
	h := NewHistogram()
	for i := range 20_000 {
		h.RecordMicros(int64(50 + i%3000))
	}
	_, _ = h.Encode() // warm the pool
	var per []uint64
	for range 51 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := h.Encode(); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		per = append(per, after.TotalAlloc-before.TotalAlloc)
	}
	slices.Sort(per)
	if median := per[len(per)/2]; median > 64<<10 {
		t.Errorf("an encode allocates %d KB (median); want under 64 KB", median>>10)
	}
}

// A histogram made, filled and compacted each second (a generator's intervals) reuses
// the count array of one compacted before: a new one (~190 KB) every time fragmented a
// one-CPU generator's heap until its RSS grew with the run's length.
func TestCompactedHistogramsHandBackTheirCounts(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items on purpose under -race; the plain test run measures this")
	}
	var per []uint64
	for i := range 51 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		h := NewHistogram()
		h.RecordMicrosN(int64(100+i), 1000)
		h.Compact()
		p50 := h.Quantile(50) // a read decodes a transient copy, handed back too
		runtime.ReadMemStats(&after)
		per = append(per, after.TotalAlloc-before.TotalAlloc)
		if h.Count() != 1000 || p50 != int64(100+i) {
			t.Fatalf("compacted histogram reads %d values, p50 %d; want 1000 of %d", h.Count(), p50, 100+i)
		}
	}
	slices.Sort(per)
	if median := per[len(per)/2]; median > 64<<10 {
		t.Errorf("a made-and-compacted histogram allocates %d KB (median); want its counts reused", median>>10)
	}
	// A recycled array starts empty.
	if h := NewHistogram(); h.Count() != 0 || h.Max() != 0 {
		t.Errorf("a new histogram from the pool holds %d values (max %d)", h.Count(), h.Max())
	}
}

// DecodeHistogram reads meshperf's encodings without the library, into the same counts
// the library would give.
func TestFastDecodeIsTheLibrarysDecoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for name, fill := range map[string]func(h *Histogram){
		"empty":       func(*Histogram) {},
		"range ends":  func(h *Histogram) { h.RecordMicros(HistogramLowestUs); h.RecordMicros(HistogramHighestUs) },
		"huge counts": func(h *Histogram) { h.RecordMicrosN(1500, 1<<62); h.RecordMicrosN(7, 1<<40) },
		"spread": func(h *Histogram) {
			for range 5_000 {
				h.RecordMicrosN(rng.Int64N(HistogramHighestUs)+1, rng.Int64N(1000)+1)
			}
		},
	} {
		h := NewHistogram()
		fill(h)
		enc, _ := h.Encode()
		got, err := DecodeHistogram(enc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		lib, err := hdrhistogram.Decode([]byte(enc))
		if err != nil {
			t.Fatal(err)
		}
		if !got.h.Equals(lib) || got.Count() != h.Count() || got.maxUs != h.Max() {
			t.Errorf("%s: decoded %d values (max %d); the library %d, the original %d (max %d)",
				name, got.Count(), got.maxUs, lib.TotalCount(), h.Count(), h.Max())
		}
	}
}
