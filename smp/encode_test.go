package smp

import (
	"math/rand/v2"
	"runtime"
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
// compressor (~800 KB) each time.
func TestEncodeAllocatesLittle(t *testing.T) {
	h := NewHistogram()
	for i := range 20_000 {
		h.RecordMicros(int64(50 + i%3000))
	}
	_, _ = h.Encode() // warm the pool
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 50
	for range n {
		if _, err := h.Encode(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 64<<10 {
		t.Errorf("an encode allocates %d KB; want under 64 KB", per>>10)
	}
}
