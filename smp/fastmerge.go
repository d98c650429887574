package smp

import (
	"math/bits"
	"reflect"
	"unsafe"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// hdrhistogram-go merges value by value, re-recording every bucket of the source
// through its iterator (~30 µs for a one-second interval): merging the 10,000 intervals
// of a distributed run that way takes ~300 ms. Histograms that share meshperf's
// parameters have identical bucket layouts, so a merge is a plain sum of their count
// arrays, up to the source's largest value. The library does not expose its counts;
// this reads them through the struct layout, checked once here against the pinned
// library. If the layout ever differs, Merge falls back to the library's own merge.
var hdrLayout = func() (l struct {
	ok            bool
	counts, total uintptr
}) {
	t := reflect.TypeFor[hdrhistogram.Histogram]()
	c, ok1 := t.FieldByName("counts")
	n, ok2 := t.FieldByName("totalCount")
	l.ok = ok1 && ok2 && c.Type == reflect.TypeFor[[]int64]() && n.Type == reflect.TypeFor[int64]()
	l.counts, l.total = c.Offset, n.Offset
	return l
}()

func countsOf(h *hdrhistogram.Histogram) []int64 {
	return *(*[]int64)(unsafe.Add(unsafe.Pointer(h), hdrLayout.counts))
}

func totalOf(h *hdrhistogram.Histogram) *int64 {
	return (*int64)(unsafe.Add(unsafe.Pointer(h), hdrLayout.total))
}

// indexFor is the library's countsIndexFor for meshperf's parameters (unit magnitude
// 0, 2048 sub-buckets, so 1024 per half): the slot a value is counted in.
func indexFor(v int64) int {
	b := 64 - bits.LeadingZeros64(uint64(v|2047)) - 11
	return (b+1)<<10 + int(v>>uint(b)) - 1024
}

func standard(h *hdrhistogram.Histogram) bool {
	return h.LowestTrackableValue() == HistogramLowestUs && h.HighestTrackableValue() == HistogramHighestUs &&
		h.SignificantFigures() == HistogramSigFigs
}

// fastMerge adds src into dst as count arrays when it can, reporting whether it did.
// It adds up to srcMax's slot, then goes on to the end if that did not account for
// every value of src: a wrong maximum costs time, never counts.
func fastMerge(dst, src *hdrhistogram.Histogram, srcMax int64) bool {
	if !hdrLayout.ok || !standard(dst) || !standard(src) {
		return false
	}
	dc, sc := countsOf(dst), countsOf(src)
	if len(dc) != len(sc) {
		return false
	}
	want := *totalOf(src)
	n := min(indexFor(max(srcMax, 0))+1, len(sc))
	var added int64
	for i, c := range sc[:n] {
		dc[i] += c
		added += c
	}
	if added != want {
		for i := n; i < len(sc); i++ {
			dc[i] += sc[i]
		}
	}
	*totalOf(dst) += want
	return true
}
