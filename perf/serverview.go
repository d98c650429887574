package perf

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// serverViewTimeout bounds the whole cross-check: it never holds a result back long.
const serverViewTimeout = 2 * time.Second

// addServerView asks each plain-HTTP endpoint whether it is meshperf's target and,
// when it is, puts the target's service time over the measured window beside the
// client's figures (res.ServerView), warning when the client's p99 exceeds the
// server's by more than a few network round trips explain. Endpoints that are not
// meshperf's target get one GET /stats/service and are left alone. Call it after
// Summarize.
func addServerView(ctx context.Context, res *smp.Result) {
	if res.Config == nil || res.Summary.Latency.Count == 0 || ctx.Err() != nil {
		return // nothing to compare, or a cancelled run: its caller wants it back now
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serverViewTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	// Whole seconds inside the measured window: the target counts by second completed.
	from := res.MeasureStart.Unix() + 1
	to := res.EndTime.Unix()
	if to <= from {
		return
	}
	var seen []string
	for _, c := range res.Config.Clients {
		if c.Protocol != smp.ProtocolHTTP {
			continue
		}
		for _, ep := range c.EndpointURLs {
			u, err := url.Parse(ep)
			if err != nil || u.Scheme != "http" || slices.Contains(seen, ep) {
				continue
			}
			seen = append(seen, ep)
			if v, ok := fetchServerView(ctx, client, u, from, to); ok {
				v.ClientP99Ms = res.Summary.Latency.P99Ms
				judgeServerView(&v)
				if v.Warning != "" {
					res.Warnings = append(res.Warnings, v.Warning)
				}
				res.ServerView = append(res.ServerView, v)
			}
		}
	}
}

func fetchServerView(ctx context.Context, client *http.Client, u *url.URL, from, to int64) (smp.ServerView, bool) {
	path := u.Path
	if path == "" {
		path = "/"
	}
	q := url.Values{"path": {path}, "from": {strconv.FormatInt(from, 10)}, "to": {strconv.FormatInt(to, 10)}}
	base := u.Scheme + "://" + u.Host
	var got struct {
		Target      string         `json:"target"`
		Requests    int64          `json:"requests"`
		ServiceTime *smp.Histogram `json:"service_time"`
		Process     *struct {
			Seconds      int            `json:"seconds"`
			CPUCores     float64        `json:"cpu_cores"`
			UsableCores  int            `json:"usable_cores"`
			SchedLatency *smp.Histogram `json:"sched_latency"`
		} `json:"process"`
	}
	if !getJSON(ctx, client, base+"/stats/service?"+q.Encode(), &got) || got.Target != "meshperf" || got.Requests == 0 {
		return smp.ServerView{}, false
	}
	v := smp.ServerView{Endpoint: u.String(), Path: path, Requests: got.Requests, ServiceTime: smp.Summarize(got.ServiceTime)}
	if p := got.Process; p != nil && p.Seconds > 0 && p.SchedLatency != nil {
		v.TargetProcess = &smp.TargetProcess{CPUCores: round(p.CPUCores, 3), UsableCores: p.UsableCores,
			SchedLatencyP99Ms: float64(p.SchedLatency.Quantile(99)) / 1000}
	}
	// What the network explains: twice the fastest of a few round trips to the idle
	// target (the fastest, as a starved generator would inflate the others), plus a
	// millisecond of scheduling on either side.
	rtt := time.Hour
	for range 5 {
		t0 := time.Now()
		if !getJSON(ctx, client, base+"/healthz", nil) {
			return smp.ServerView{}, false
		}
		rtt = min(rtt, time.Since(t0))
	}
	v.NetworkMs = float64((2*rtt+time.Millisecond)/time.Microsecond) / 1000
	return v, true
}

// judgeServerView warns when the client's p99 is above the server's by more than
// the network explains. The excess is the generator's (CPU, GC, reading responses
// late) unless the target's process says it was busy itself: then its own queueing,
// outside the service time, may hold it too.
func judgeServerView(v *smp.ServerView) {
	excess := v.ClientP99Ms - v.ServiceTime.P99Ms
	if excess <= v.NetworkMs || v.ClientP99Ms <= 1.5*v.ServiceTime.P99Ms {
		return
	}
	v.Warning = fmt.Sprintf("client p99 %.2f ms exceeds the target's own p99 service time %.2f ms (%s) by %.2f ms, "+
		"more than the network explains (%.2f ms): ", v.ClientP99Ms, v.ServiceTime.P99Ms, v.Endpoint, excess, v.NetworkMs)
	if p := v.TargetProcess; p != nil && (p.SchedLatencyP99Ms > targetQueueingMs || p.CPUCores >= targetBusyShare*float64(p.UsableCores)) {
		v.Warning += fmt.Sprintf("the target's process was busy too (%.2f of its %d cores; its goroutines waited up to %.2f ms (p99) for a CPU), "+
			"so the excess is its own queueing outside the service time, the generator's, or the network's", p.CPUCores, p.UsableCores, p.SchedLatencyP99Ms)
		return
	}
	v.Warning += "the excess is the generator's or the network's, not the target's"
}

// A target process this busy queues requests outside its service time.
const (
	targetQueueingMs = 1.0
	targetBusyShare  = 0.5
)

func getJSON(ctx context.Context, client *http.Client, u string, into any) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return false
	}
	return into == nil || json.Unmarshal(body, into) == nil
}
