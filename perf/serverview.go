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
	}
	if !getJSON(ctx, client, base+"/stats/service?"+q.Encode(), &got) || got.Target != "meshperf" || got.Requests == 0 {
		return smp.ServerView{}, false
	}
	v := smp.ServerView{Endpoint: u.String(), Path: path, Requests: got.Requests, ServiceTime: smp.Summarize(got.ServiceTime)}
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
// the network explains: the generator (CPU, GC, reading responses late) put it there.
func judgeServerView(v *smp.ServerView) {
	excess := v.ClientP99Ms - v.ServiceTime.P99Ms
	if excess > v.NetworkMs && v.ClientP99Ms > 1.5*v.ServiceTime.P99Ms {
		v.Warning = fmt.Sprintf("client p99 %.2f ms exceeds the target's own p99 service time %.2f ms (%s) by %.2f ms, "+
			"more than the network explains (%.2f ms): the excess is the generator's or the network's, not the target's",
			v.ClientP99Ms, v.ServiceTime.P99Ms, v.Endpoint, excess, v.NetworkMs)
	}
}

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
