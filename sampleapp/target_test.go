package sampleapp

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestParseLatency(t *testing.T) {
	good := map[string]Latency{
		"":                   {Kind: "none"},
		"5ms":                {Kind: "fixed", A: 5 * time.Millisecond},
		"fixed:5ms":          {Kind: "fixed", A: 5 * time.Millisecond},
		"uniform:1ms-10ms":   {Kind: "uniform", A: time.Millisecond, B: 10 * time.Millisecond},
		"normal:10ms,2ms":    {Kind: "normal", A: 10 * time.Millisecond, B: 2 * time.Millisecond},
		"longtail:5ms,100ms": {Kind: "longtail", A: 5 * time.Millisecond, B: 100 * time.Millisecond},
	}
	for in, want := range good {
		got, err := ParseLatency(in)
		if err != nil || got != want {
			t.Errorf("ParseLatency(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"gaussian:1ms", "fixed:", "uniform:5ms-1ms", "fixed:1ms,2ms", "longtail:10ms,1ms", "soon"} {
		if _, err := ParseLatency(bad); err == nil {
			t.Errorf("ParseLatency(%q) accepted", bad)
		}
	}
}

// The distributions have the shape they promise.
func TestLatencyDistributions(t *testing.T) {
	pct := func(l Latency, q float64) time.Duration {
		v := make([]time.Duration, 20000)
		for i := range v {
			v[i] = l.Sample()
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		return v[int(q*float64(len(v)-1))]
	}
	lt := Latency{Kind: "longtail", A: 5 * time.Millisecond, B: 100 * time.Millisecond}
	if m := pct(lt, 0.5); m < 4*time.Millisecond || m > 6*time.Millisecond {
		t.Errorf("longtail median %v, want ~5ms", m)
	}
	if p := pct(lt, 0.99); p < 70*time.Millisecond || p > 140*time.Millisecond {
		t.Errorf("longtail p99 %v, want ~100ms", p)
	}
	u := Latency{Kind: "uniform", A: time.Millisecond, B: 3 * time.Millisecond}
	if lo, hi := pct(u, 0), pct(u, 1); lo < time.Millisecond || hi > 3*time.Millisecond {
		t.Errorf("uniform range %v..%v", lo, hi)
	}
	if n := (Latency{Kind: "normal", A: time.Millisecond, B: 10 * time.Millisecond}); pct(n, 0) < 0 {
		t.Errorf("normal went negative")
	}
}

func TestStallWindows(t *testing.T) {
	st, err := ParseStall("1s/5s")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1000, 0)
	for off, want := range map[time.Duration]time.Duration{
		0:                       0,
		3900 * time.Millisecond: 3900 * time.Millisecond,
		4 * time.Second:         5 * time.Second, // in the stall: held until it ends
		4500 * time.Millisecond: 5 * time.Second,
		5 * time.Second:         5 * time.Second,
		9200 * time.Millisecond: 10 * time.Second,
	} {
		if got := st.Until(start, start.Add(off)).Sub(start); got != want {
			t.Errorf("ready at %v: released at %v, want %v", off, got, want)
		}
	}
	for _, bad := range []string{"1s", "5s/1s", "0s/1s", "x/y"} {
		if _, err := ParseStall(bad); err == nil {
			t.Errorf("ParseStall(%q) accepted", bad)
		}
	}
}

func TestHTTPOverridesAndStats(t *testing.T) {
	srv, err := Start(Config{HTTPAddr: "127.0.0.1:0", Injection: Injection{ResponseBytes: 10}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	get := func(path string, hdr ...string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL()+path, nil)
		if len(hdr) == 2 {
			req.Header.Set(hdr[0], hdr[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/a"); code != 200 || len(body) != 10 {
		t.Errorf("GET /a: %d %q", code, body)
	}
	if code, _ := get("/b?status=503", "X-Meshperf-Caller", "agent-1"); code != 503 {
		t.Errorf("status override: %d", code)
	}
	if code, body := get("/c?size=100"); code != 200 || len(body) != 100 {
		t.Errorf("size override: %d, %d bytes", code, len(body))
	}
	start := time.Now()
	if code, _ := get("/d?latency=fixed:50ms"); code != 200 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("latency override: %d after %v", code, time.Since(start))
	}
	if code, body := get("/e?latency=soon"); code != 400 || !strings.Contains(body, "latency") {
		t.Errorf("bad override: %d %q", code, body)
	}
	resp, err := http.Post(srv.URL()+"/echo", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello" {
		t.Errorf("echo = %q", b)
	}
	st := srv.Stats()
	if st.Total != 6 || st.ByStatus["503"] != 1 || st.ByStatus["400"] != 1 || st.ByCaller["agent-1"] != 1 || st.ByPath["/echo"] != 1 || st.ByProto["HTTP/1.1"] != 5 {
		t.Errorf("stats %+v", st)
	}
}
