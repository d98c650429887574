package loadgen

import (
	"math"
	"testing"
	"time"

	"github.com/meshperf/meshperf/smp"
)

func TestConstantRate(t *testing.T) {
	p := ConstantRate(1000, 2*time.Second)
	if p.Due(2*time.Second) != 2000 {
		t.Fatalf("slots = %d, want 2000", p.Due(2*time.Second))
	}
	for k, want := range map[int64]time.Duration{0: 0, 1: time.Millisecond, 1999: 1999 * time.Millisecond} {
		if got, ok := p.Offset(k); !ok || got != want {
			t.Errorf("Offset(%d) = %v, %v; want %v", k, got, ok, want)
		}
	}
	if _, ok := p.Offset(2000); ok {
		t.Errorf("slot 2000 is past the end")
	}
	if got := p.Due(time.Second); got != 1000 {
		t.Errorf("Due(1s) = %d, want 1000", got)
	}
}

// Offset and Due agree everywhere: slot k is due at Offset(k), so Due(Offset(k)) = k
// and one nanosecond later k+1, for flat, rising and falling rates.
func TestRampsAreConsistent(t *testing.T) {
	profiles := map[string]*RateProfile{
		"up":        NewRateProfile(0, []Ramp{{10 * time.Second, 100}}),
		"down":      NewRateProfile(100, []Ramp{{10 * time.Second, 0}}),
		"up-hold":   NewRateProfile(10, []Ramp{{2 * time.Second, 500}, {3 * time.Second, 500}}),
		"saw":       NewRateProfile(50, []Ramp{{time.Second, 300}, {time.Second, 20}, {time.Second, 1000}}),
		"fractions": ConstantRate(3.5, 3*time.Second),
	}
	for name, p := range profiles {
		var prev time.Duration = -1
		n := p.Due(p.Total())
		for k := range n {
			off, ok := p.Offset(k)
			if !ok {
				t.Fatalf("%s: slot %d of %d has no offset", name, k, n)
			}
			if off < prev {
				t.Fatalf("%s: offsets not monotonic at %d", name, k)
			}
			prev = off
			if got := p.Due(off); got != k && !(got == k+1 && p.Due(off-time.Nanosecond) <= k) {
				t.Fatalf("%s: Due(Offset(%d)=%v) = %d", name, k, off, got)
			}
			if got := p.Due(off + time.Microsecond); got < k+1 {
				t.Fatalf("%s: Due just after slot %d = %d", name, k, got)
			}
		}
		if _, ok := p.Offset(n); ok {
			t.Errorf("%s: slot %d past the end has an offset", name, n)
		}
	}
	// A ramp from 0 to 100/s over 10 s holds 500 requests; slot 50 is due at √10 s.
	up := profiles["up"]
	if up.Due(10*time.Second) != 500 {
		t.Errorf("ramp holds %d slots, want 500", up.Due(10*time.Second))
	}
	off, _ := up.Offset(50)
	if math.Abs(off.Seconds()-math.Sqrt(10)) > 1e-6 {
		t.Errorf("slot 50 due at %v, want √10 s", off)
	}
	if r := up.MeanRate(0, 10*time.Second); math.Abs(r-50) > 1e-9 {
		t.Errorf("mean rate %v, want 50", r)
	}
}

func TestShardScheduleWithWarmupAndStages(t *testing.T) {
	s := &Shard{Client: smp.Client{RPS: 10, Stages: []smp.Stage{{Duration: smp.Duration(2 * time.Second), RPS: 30}}},
		Warmup: time.Second, Duration: 4 * time.Second}
	p := s.Schedule()
	// warm-up 1 s at 10/s, ramp 10→30 over 2 s (40), then hold 30/s for 2 s (60)
	if got := p.Due(p.Total()); got != 110 {
		t.Errorf("slots = %d, want 110", got)
	}
	if (&Shard{}).Schedule() != nil {
		t.Errorf("an unpaced shard has a schedule")
	}
}
