// Package target is meshperf's sample application: an HTTP, gRPC and TCP echo server
// with latency, error and stall injection, used by demos, tests, gates and conformance.
package sampleapp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Latency is a distribution of injected response delays.
type Latency struct {
	Kind string // none, fixed, uniform, normal, longtail
	A, B time.Duration
}

// ParseLatency reads a latency spec:
//
//	none | fixed:5ms | uniform:1ms-10ms | normal:10ms,2ms (mean, stddev) |
//	longtail:5ms,100ms (median, p99; log-normal)
func ParseLatency(s string) (Latency, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" || s == "0" {
		return Latency{Kind: "none"}, nil
	}
	kind, args, ok := strings.Cut(s, ":")
	if !ok {
		// a bare duration means fixed
		d, err := time.ParseDuration(s)
		if err != nil {
			return Latency{}, fmt.Errorf("latency %q: want fixed:5ms, uniform:1ms-10ms, normal:10ms,2ms or longtail:5ms,100ms", s)
		}
		return Latency{Kind: "fixed", A: d}, nil
	}
	parts := strings.FieldsFunc(args, func(r rune) bool { return r == ',' || r == '-' })
	durs := make([]time.Duration, len(parts))
	for i, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d < 0 {
			return Latency{}, fmt.Errorf("latency %q: %q is not a duration", s, p)
		}
		durs[i] = d
	}
	want := map[string]int{"fixed": 1, "uniform": 2, "normal": 2, "longtail": 2}
	n, known := want[kind]
	if !known {
		return Latency{}, fmt.Errorf("latency %q: kind must be fixed, uniform, normal or longtail", s)
	}
	if len(durs) != n {
		return Latency{}, fmt.Errorf("latency %q: %s takes %d duration(s)", s, kind, n)
	}
	l := Latency{Kind: kind, A: durs[0]}
	if n == 2 {
		l.B = durs[1]
	}
	if kind == "uniform" && l.B < l.A {
		return Latency{}, fmt.Errorf("latency %q: the upper bound is below the lower", s)
	}
	if kind == "longtail" && l.B < l.A {
		return Latency{}, fmt.Errorf("latency %q: the p99 is below the median", s)
	}
	return l, nil
}

// Sample draws one delay.
func (l Latency) Sample() time.Duration {
	switch l.Kind {
	case "fixed":
		return l.A
	case "uniform":
		return l.A + time.Duration(rand.Int64N(int64(l.B-l.A)+1))
	case "normal":
		return max(0, time.Duration(float64(l.A)+rand.NormFloat64()*float64(l.B)))
	case "longtail":
		if l.A <= 0 {
			return 0
		}
		// log-normal with the given median and p99: sigma = ln(p99/median)/z(0.99)
		sigma := math.Log(float64(l.B)/float64(l.A)) / 2.3263
		return time.Duration(float64(l.A) * math.Exp(rand.NormFloat64()*sigma))
	}
	return 0
}

func (l Latency) String() string {
	switch l.Kind {
	case "fixed":
		return "fixed:" + l.A.String()
	case "uniform":
		return "uniform:" + l.A.String() + "-" + l.B.String()
	case "normal", "longtail":
		return l.Kind + ":" + l.A.String() + "," + l.B.String()
	}
	return "none"
}

// Stall pauses every response for Pause at the end of each Every period, counted from
// the server's start: "1s/10s" holds responses during seconds 9-10, 19-20, ...
type Stall struct {
	Pause, Every time.Duration
}

// ParseStall reads "PAUSE/EVERY" such as "1s/10s"; "" means none.
func ParseStall(s string) (Stall, error) {
	if strings.TrimSpace(s) == "" || s == "none" {
		return Stall{}, nil
	}
	p, e, ok := strings.Cut(s, "/")
	if !ok {
		return Stall{}, fmt.Errorf("stall %q: want PAUSE/EVERY such as 1s/10s", s)
	}
	pause, err1 := time.ParseDuration(strings.TrimSpace(p))
	every, err2 := time.ParseDuration(strings.TrimSpace(e))
	if err1 != nil || err2 != nil || pause <= 0 || every <= pause {
		return Stall{}, fmt.Errorf("stall %q: want PAUSE/EVERY with 0 < PAUSE < EVERY", s)
	}
	return Stall{Pause: pause, Every: every}, nil
}

// Until returns when a response ready at now may go out (now if not in a stall).
func (st Stall) Until(start, now time.Time) time.Time {
	if st.Every <= 0 {
		return now
	}
	phase := now.Sub(start) % st.Every
	if phase >= st.Every-st.Pause {
		return now.Add(st.Every - phase)
	}
	return now
}

// Injection is what the target does to each response.
type Injection struct {
	Latency Latency
	// ErrorRate is the share of requests (0..1) answered with ErrorCode.
	ErrorRate float64
	ErrorCode int
	// ResponseBytes is the size of a response body when the request has none to echo.
	ResponseBytes int
	Stall         Stall
}

// overrides applies per-request query parameters: latency, status, error_rate, size.
func (in Injection) overrides(get func(string) string) (Injection, error) {
	if v := get("latency"); v != "" {
		l, err := ParseLatency(v)
		if err != nil {
			return in, err
		}
		in.Latency = l
	}
	if v := get("error_rate"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return in, fmt.Errorf("error_rate %q: want a number from 0 to 1", v)
		}
		in.ErrorRate = f
	}
	if v := get("status"); v != "" {
		c, err := strconv.Atoi(v)
		if err != nil || c < 100 || c > 599 {
			return in, fmt.Errorf("status %q: want an HTTP status code", v)
		}
		in.ErrorCode, in.ErrorRate = c, 1
	}
	if v := get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 64<<20 {
			return in, fmt.Errorf("size %q: want 0 to 64 MiB", v)
		}
		in.ResponseBytes = n
	}
	return in, nil
}

func (in Injection) fails() bool { return in.ErrorRate > 0 && rand.Float64() < in.ErrorRate }
