package perf_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/sampleapp/sampleapptest"
	"github.com/meshperf/meshperf/smp"
)

// Against meshperf's target, the result carries the target's own service time beside
// the client's p99; unless the generator was starved the two agree and nothing is flagged.
func TestServerViewBesideClient(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test; run without -short")
	}
	url := startTargetProcess(t) // its own process: its timers are not the generator's
	cfg := config(3*time.Second, smp.Client{RPS: 100, Connections: 16, EndpointURLs: []string{url + "/sv?latency=fixed:30ms"}})
	res, err := perf.Run(context.Background(), cfg, perf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.ServerView) != 1 {
		t.Fatalf("server view %+v; want one, for the target", res.ServerView)
	}
	v := res.ServerView[0]
	t.Logf("client p99 %.2f ms, %d requests; target p99 %.2f ms, %d requests in whole seconds; network %.2f ms; warning %q",
		res.Summary.Latency.P99Ms, res.Summary.Requests, v.ServiceTime.P99Ms, v.Requests, v.NetworkMs, v.Warning)
	if v.Path != "/sv" || v.Requests < 100 || v.Requests > res.Summary.Requests {
		t.Errorf("target counted %d requests on %q; want at least a second's worth, at most the client's %d", v.Requests, v.Path, res.Summary.Requests)
	}
	// Each request's service time lies inside its client latency; with a few hundred
	// requests the two p99s are different ranks, so compare with the client's maximum.
	if v.ServiceTime.P99Ms < 29 || v.ServiceTime.MaxMs > res.Summary.Latency.MaxMs {
		t.Errorf("target p99 %.2f ms, max %.2f ms; want the injected 30 ms, not above the client's max %.2f ms",
			v.ServiceTime.P99Ms, v.ServiceTime.MaxMs, res.Summary.Latency.MaxMs)
	}
	// On a machine busy enough to starve the generator the warning is the truth; on a
	// calm one it must not appear.
	if v.Warning != "" && !res.Generator.Saturated {
		t.Errorf("warned, yet the generator kept its schedule: %s", v.Warning)
	}
}

// A generator starved of CPU (GOMAXPROCS=1 and spinning goroutines) against a target in
// another process: the client's p99 is far above the target's, and the result says so.
func TestServerViewWarnsWhenClientFarAboveServer(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test; run without -short")
	}
	url := startTargetProcess(t)
	sampleapptest.StarveThisProcess(t, 4)
	cfg := config(3*time.Second, smp.Client{RPS: 1000, Connections: 64, EndpointURLs: []string{url + "/starved"}})
	res, err := perf.Run(context.Background(), cfg, perf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.ServerView) != 1 {
		t.Fatalf("server view %+v; want one", res.ServerView)
	}
	v := res.ServerView[0]
	t.Logf("client p99 %.2f ms; target p99 %.2f ms; warning %q", v.ClientP99Ms, v.ServiceTime.P99Ms, v.Warning)
	if v.Warning == "" || !strings.Contains(strings.Join(res.Warnings, " "), "target's own p99") {
		t.Errorf("no warning for a client p99 %.2f ms against a target p99 %.2f ms: %v", v.ClientP99Ms, v.ServiceTime.P99Ms, res.Warnings)
	}
}

// Another server, even one answering /stats/service, is not asked to vouch for a run.
func TestServerViewOnlyFromMeshperfTarget(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stats/service" {
			_, _ = w.Write([]byte(`{"requests": 5}`))
		}
	}))
	defer other.Close()
	cfg := config(2*time.Second, smp.Client{RPS: 50, EndpointURLs: []string{other.URL + "/x"}})
	res, err := perf.Run(context.Background(), cfg, perf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.ServerView) != 0 {
		t.Errorf("server view from a foreign server: %+v", res.ServerView)
	}
}
