package loadgen

import (
	"math"
	"sort"
	"time"
)

// Schedule says when each request of a paced load is due. Slots are numbered from 0;
// free workers take the next slot, so the schedule is shared by all connections and
// a slot that nobody could take on time is still due at its own instant.
type Schedule interface {
	// Offset is when slot k is due, relative to the start; ok is false past the end.
	Offset(k int64) (d time.Duration, ok bool)
	// Due is how many slots are due strictly before d.
	Due(d time.Duration) int64
	// MeanRate is the average rate (req/s) over [from, to).
	MeanRate(from, to time.Duration) float64
}

// segment is a stretch where the rate changes linearly from r0 to r1 (req/s).
type segment struct {
	start, length time.Duration
	r0, r1        float64
	before        float64 // slots due before this segment (fractional)
}

// RateProfile is a piecewise-linear rate: holds and ramps, as stages describe.
type RateProfile struct {
	segs  []segment
	total time.Duration
	slots int64 // slots due within total
}

// Ramp is one piece of a profile: over Length, the rate goes linearly to To.
type Ramp struct {
	Length time.Duration
	To     float64
}

// NewRateProfile builds a profile starting at rate from and following ramps; a ramp
// whose To equals the previous rate is a hold.
func NewRateProfile(from float64, ramps []Ramp) *RateProfile {
	p := &RateProfile{}
	r := from
	var at time.Duration
	var count float64
	for _, rp := range ramps {
		if rp.Length <= 0 {
			continue
		}
		s := segment{start: at, length: rp.Length, r0: r, r1: rp.To, before: count}
		p.segs = append(p.segs, s)
		count += (s.r0 + s.r1) / 2 * rp.Length.Seconds()
		at += rp.Length
		r = rp.To
	}
	p.total = at
	p.slots = ceilCount(count)
	return p
}

// ConstantRate is a profile holding rate for length.
func ConstantRate(rate float64, length time.Duration) *RateProfile {
	return NewRateProfile(rate, []Ramp{{Length: length, To: rate}})
}

// Total is the profile's length.
func (p *RateProfile) Total() time.Duration { return p.total }

// Offset implements Schedule: it solves n(t) = k for t inside the segment holding slot k,
// where n(t) = r0·t + (r1−r0)·t²/(2L) is the count of slots due by t.
func (p *RateProfile) Offset(k int64) (time.Duration, bool) {
	if k < 0 || k >= p.slots {
		return 0, false
	}
	kf := float64(k)
	i := sort.Search(len(p.segs), func(i int) bool {
		s := p.segs[i]
		return s.before+(s.r0+s.r1)/2*s.length.Seconds() > kf
	})
	if i == len(p.segs) {
		return 0, false
	}
	s := p.segs[i]
	c := kf - s.before
	a := (s.r1 - s.r0) / (2 * s.length.Seconds())
	b := s.r0
	var t float64
	if c <= 0 {
		t = 0
	} else {
		// t = 2c / (b + sqrt(b² + 4ac)): stable for rising, falling and flat rates.
		disc := b*b + 4*a*c
		if disc < 0 {
			disc = 0
		}
		t = 2 * c / (b + math.Sqrt(disc))
	}
	d := s.start + time.Duration(t*float64(time.Second))
	if d >= p.total {
		return 0, false
	}
	return d, true
}

// Due implements Schedule.
func (p *RateProfile) Due(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	if d >= p.total {
		return p.slots
	}
	return ceilCount(p.countAt(d))
}

// ceilCount rounds a fractional count up, forgiving float error relative to its size.
func ceilCount(n float64) int64 {
	return int64(math.Ceil(n - 1e-12*math.Max(1, n)))
}

func (p *RateProfile) countAt(d time.Duration) float64 {
	i := sort.Search(len(p.segs), func(i int) bool { return p.segs[i].start+p.segs[i].length > d })
	if i == len(p.segs) {
		return float64(p.slots)
	}
	s := p.segs[i]
	t := (d - s.start).Seconds()
	return s.before + s.r0*t + (s.r1-s.r0)*t*t/(2*s.length.Seconds())
}

// MeanRate implements Schedule.
func (p *RateProfile) MeanRate(from, to time.Duration) float64 {
	if to <= from {
		return 0
	}
	to = min(to, p.total)
	return (p.countAt(to) - p.countAt(from)) / (to - from).Seconds()
}
