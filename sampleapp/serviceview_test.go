package sampleapp

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The target's own service times: per path, over whole seconds, from the handler's
// start to the response; bad windows are refused naming the parameter.
func TestServiceView(t *testing.T) {
	srv, err := Start(Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	from := time.Now().Unix()
	for range 20 {
		resp, err := http.Get(srv.URL() + "/slow?latency=fixed:20ms")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	_, _ = http.Get(srv.URL() + "/fast")
	to := time.Now().Unix() + 1
	v := serviceView(t, srv, "/slow", from, to)
	if v.Target != "meshperf" || v.Requests != 20 || v.ServiceTime.Min() < 19_000 {
		t.Errorf("view %+v, min %d µs; want 20 requests of at least 20 ms on /slow", v, v.ServiceTime.Min())
	}
	for q, field := range map[string]string{"from=x&to=1": "from", "from=5&to=1": "to", "from=1": "to"} {
		resp, err := http.Get(srv.URL() + "/stats/service?" + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(string(body), field+":") {
			t.Errorf("%s: %d %q; want 400 naming %s", q, resp.StatusCode, body, field)
		}
	}
}

// Beside its service times the target tells its own process's load over the same whole
// seconds: here goroutines spinning on every core it may use make its CPU use and its
// goroutines' wait for a CPU show.
func TestServiceViewCarriesTheProcesssOwnQueueing(t *testing.T) {
	if testing.Short() {
		t.Skip("3 s of spinning; run without -short")
	}
	srv, err := Start(Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	stop := make(chan struct{})
	for range 2 * runtime.GOMAXPROCS(0) {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	from := time.Now().Unix() + 1
	time.Sleep(time.Until(time.Unix(from+2, 0).Add(100 * time.Millisecond)))
	close(stop)
	p := serviceView(t, srv, "/", from, from+2).Process
	if p == nil || p.Seconds != 2 || p.UsableCores != runtime.GOMAXPROCS(0) {
		t.Fatalf("process view %+v; want the 2 seconds asked for", p)
	}
	t.Logf("target process: %.2f of %d cores, sched latency p99 %d µs", p.CPUCores, p.UsableCores, p.SchedLatency.Quantile(99))
	if p.CPUCores < 0.5 || p.SchedLatency.Quantile(99) < 1000 {
		t.Errorf("spinning on every core showed as %.2f cores and a p99 wait of %d µs; want over 0.5 and 1 ms",
			p.CPUCores, p.SchedLatency.Quantile(99))
	}
}

// serviceView asks srv's GET /stats/service for path over [from, to).
func serviceView(t *testing.T, srv *Server, path string, from, to int64) ServiceView {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/stats/service?path=%s&from=%d&to=%d", srv.URL(), path, from, to))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v ServiceView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
