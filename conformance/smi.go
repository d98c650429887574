package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshperf/meshperf/sampleapp"
)

// SMI specifications, for the Meshery-compatible view.
const (
	SpecAccess  = "traffic-access"
	SpecSpecs   = "traffic-specs"
	SpecSplit   = "traffic-split"
	SpecMetrics = "traffic-metrics"
)

// Helpers shared by the profiles.

type req struct {
	from, url, method string
	headers           map[string]string
}

func (r req) String() string {
	m := r.method
	if m == "" {
		m = "GET"
	}
	s := r.from + " " + m + " " + r.url
	for _, k := range sortedKeys(r.headers) {
		s += fmt.Sprintf(" %s:%s", k, r.headers[k])
	}
	return s
}

func (r req) call(n, conc int) sampleapp.CallRequest {
	m := r.method
	if m == "" {
		m = "GET"
	}
	return sampleapp.CallRequest{URL: r.url, Method: m, Headers: r.headers, Count: n, Concurrency: conc, TimeoutMS: 3000}
}

func observe(res sampleapp.CallResult, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	s := "status " + res.First.Status
	if res.First.App != "" {
		s += " from " + res.First.App
	}
	if res.First.Error != "" {
		s += " (" + truncate(res.First.Error, 120) + ")"
	}
	return s
}

// expectAllowed: the call is answered 200 by app to.
func (t *T) expectAllowed(desc string, r req, to string) bool {
	return t.Eventually(desc+": "+r.String(), "status 200 from "+to, func() (string, bool) {
		res, err := t.Call(r.from, r.call(1, 1))
		return observe(res, err), err == nil && res.First.Status == "200" && res.First.App == to
	})
}

// expectRouted: 20 calls in a row are all answered 200 by app to (a route, not
// chance, sent them there).
func (t *T) expectRouted(desc string, r req, to string) bool {
	return t.Eventually(desc+": "+r.String(), "20 of 20 answered 200 by "+to, func() (string, bool) {
		res, err := t.Call(r.from, r.call(20, 1))
		if err != nil {
			return observe(res, err), false
		}
		return fmt.Sprintf("answers by app: %s; by status: %s", fmtCounts(res.ByApp), fmtCounts(res.ByStatus)),
			res.ByApp[to] == 20 && res.ByStatus["200"] == 20
	})
}

// expectDenied: the call gets no 2xx answer (refused, reset, 403, 404, 503 ...).
func (t *T) expectDenied(desc string, r req) bool {
	return t.Eventually(desc+": "+r.String(), "denied (no 2xx answer)", func() (string, bool) {
		res, err := t.Call(r.from, r.call(1, 1))
		return observe(res, err), err == nil && !strings.HasPrefix(res.First.Status, "2") && res.First.Status != "OK"
	})
}

// Weighted splits are judged like Gateway API's: 500 requests, 10 at a time, each
// backend's share within ±5 points of its weight's share, a backend of weight 0
// gets nothing; up to 10 attempts. The counts are binomial: at 70/30 one standard
// deviation is 2.05 points, so ±5 points fails a correct mesh in ~1.5% of attempts
// (10 attempts in a row: never, for any purpose), while a skew of 10 points or more
// fails practically every attempt.
const (
	splitRequests    = 500
	splitConcurrency = 10
	splitTolerance   = 0.05
	splitAttempts    = 10
)

func (t *T) expectSplit(desc string, r req, weights map[string]int) bool {
	return t.expectSplitStatus(desc, r, weights, "200")
}

func (t *T) expectSplitStatus(desc string, r req, weights map[string]int, okStatus string) bool {
	total := 0
	for _, w := range weights {
		total += w
	}
	expected := ""
	for _, app := range sortedKeys(weights) {
		expected += fmt.Sprintf("%s %.0f%% ", app, 100*float64(weights[app])/float64(total))
	}
	expected = strings.TrimSpace(expected) + fmt.Sprintf(" of %d requests (±%.0f points; weight 0: none)", splitRequests, 100*splitTolerance)
	var observed string
	for attempt := 1; attempt <= splitAttempts && t.ctx.Err() == nil; attempt++ {
		res, err := t.Call(r.from, r.call(splitRequests, splitConcurrency))
		if err != nil {
			observed = "error: " + err.Error()
			continue
		}
		observed = fmt.Sprintf("answers by app: %s; by status: %s (attempt %d)", fmtCounts(res.ByApp), fmtCounts(res.ByStatus), attempt)
		ok := res.ByStatus[okStatus] == splitRequests
		for app, w := range weights {
			got := res.ByApp[app]
			if w == 0 {
				ok = ok && got == 0
				continue
			}
			share := float64(got) / float64(splitRequests)
			ok = ok && math.Abs(share-float64(w)/float64(total)) <= splitTolerance
		}
		for app, n := range res.ByApp {
			if _, known := weights[app]; !known && n > 0 {
				ok = false
			}
		}
		if ok {
			return t.Check(desc+": "+r.String(), expected, observed, true)
		}
	}
	return t.Check(desc+": "+r.String(), expected, observed, false)
}

func allPaths(ns string) *unstructured.Unstructured {
	return routeGroup(ns, "everything", HTTPMatch{Name: "all", PathRegex: ".*"})
}

func init() {
	a := func(t *T, path string) req { return req{from: "app-a", url: t.URL("app-b", PortHTTP, path)} }
	Register(
		Test{ShortName: "smi-access-default-deny", Spec: SpecAccess, Profile: ProfileSMI,
			Description: "Without a TrafficTarget, app-a cannot reach app-b",
			Features:    []Feature{FeatureSMITrafficAccess},
			Test: func(t *T) {
				t.expectDenied("no TrafficTarget", a(t, "/echo"))
			}},
		Test{ShortName: "smi-access-allow", Spec: SpecAccess, Profile: ProfileSMI,
			Description: "A TrafficTarget from app-a to app-b allows app-a, and app-b counts it as received from app-a",
			Features:    []Feature{FeatureSMITrafficAccess},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{allPaths(ns), trafficTarget(ns, "a-to-b", "app-b", 0, "everything", []string{"all"}, "app-a")}
			},
			Test: func(t *T) {
				if t.expectAllowed("TrafficTarget app-a -> app-b", a(t, "/echo"), "app-b") {
					t.expectReceived("app-b", "app-a")
				}
			}},
		Test{ShortName: "smi-access-deny-after-removal", Spec: SpecAccess, Profile: ProfileSMI,
			Description: "Once the TrafficTarget is deleted, app-a is denied again",
			Features:    []Feature{FeatureSMITrafficAccess},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{allPaths(ns), trafficTarget(ns, "a-to-b", "app-b", 0, "everything", []string{"all"}, "app-a")}
			},
			Test: func(t *T) {
				if !t.expectAllowed("with the TrafficTarget", a(t, "/echo"), "app-b") {
					return
				}
				t.Delete(trafficTarget(t.Namespace, "a-to-b", "app-b", 0, "", nil))
				t.expectDenied("TrafficTarget deleted", a(t, "/echo"))
			}},
		Test{ShortName: "smi-access-unlisted-source", Spec: SpecAccess, Profile: ProfileSMI,
			Description: "A source not listed in the TrafficTarget (app-c) is denied while a listed one (app-a) is allowed",
			Features:    []Feature{FeatureSMITrafficAccess},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{allPaths(ns), trafficTarget(ns, "a-to-b", "app-b", 0, "everything", []string{"all"}, "app-a")}
			},
			Test: func(t *T) {
				if t.expectAllowed("listed source", a(t, "/echo"), "app-b") {
					t.expectDenied("unlisted source", req{from: "app-c", url: t.URL("app-b", PortHTTP, "/echo")})
				}
			}},
		Test{ShortName: "smi-access-port", Spec: SpecAccess, Profile: ProfileSMI,
			Description: "A TrafficTarget for port 9091 allows that port and not app-b's other port 9092",
			Features:    []Feature{FeatureSMITrafficAccess, FeatureSMIPortRestrict},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{allPaths(ns), trafficTarget(ns, "a-to-b-9091", "app-b", PortHTTP, "everything", []string{"all"}, "app-a")}
			},
			Test: func(t *T) {
				if t.expectAllowed("listed port", a(t, "/echo"), "app-b") {
					t.expectDenied("other port", req{from: "app-a", url: t.URL("app-b", PortHTTPAlt, "/echo")})
				}
			}},
		Test{ShortName: "smi-specs-path", Spec: SpecSpecs, Profile: ProfileSMI,
			Description: "An HTTPRouteGroup pathRegex match allows matching paths only",
			Features:    []Feature{FeatureSMITrafficAccess, FeatureSMITrafficSpecs},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{routeGroup(ns, "paths", HTTPMatch{Name: "allowed", PathRegex: "/echo/allowed.*"}),
					trafficTarget(ns, "a-to-b-path", "app-b", 0, "paths", []string{"allowed"}, "app-a")}
			},
			Test: func(t *T) {
				if t.expectAllowed("matching path", a(t, "/echo/allowed/1"), "app-b") {
					t.expectDenied("other path", a(t, "/echo/other"))
				}
			}},
		Test{ShortName: "smi-specs-method", Spec: SpecSpecs, Profile: ProfileSMI,
			Description: "An HTTPRouteGroup methods match allows GET and denies POST",
			Features:    []Feature{FeatureSMITrafficAccess, FeatureSMITrafficSpecs},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{routeGroup(ns, "methods", HTTPMatch{Name: "get", PathRegex: ".*", Methods: []string{"GET"}}),
					trafficTarget(ns, "a-to-b-get", "app-b", 0, "methods", []string{"get"}, "app-a")}
			},
			Test: func(t *T) {
				if t.expectAllowed("GET", a(t, "/echo"), "app-b") {
					r := a(t, "/echo")
					r.method = "POST"
					t.expectDenied("POST", r)
				}
			}},
		Test{ShortName: "smi-specs-headers", Spec: SpecSpecs, Profile: ProfileSMI,
			Description: "An HTTPRouteGroup headers match allows requests with the header and denies those without",
			Features:    []Feature{FeatureSMITrafficAccess, FeatureSMITrafficSpecs, FeatureSMIHeaderMatches},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{routeGroup(ns, "headers", HTTPMatch{Name: "tagged", PathRegex: ".*", Headers: map[string]string{"X-Conformance": "yes"}}),
					trafficTarget(ns, "a-to-b-hdr", "app-b", 0, "headers", []string{"tagged"}, "app-a")}
			},
			Test: func(t *T) {
				r := a(t, "/echo")
				r.headers = map[string]string{"X-Conformance": "yes"}
				if t.expectAllowed("with the header", r, "app-b") {
					t.expectDenied("without the header", a(t, "/echo"))
				}
			}},
		splitTest("smi-split-100-0", "A TrafficSplit 100/0 sends everything to app-b", map[string]int{"app-b": 100, "app-c": 0}),
		splitTest("smi-split-0-100", "A TrafficSplit 0/100 sends everything to app-c", map[string]int{"app-b": 0, "app-c": 100}),
		splitTest("smi-split-weighted", "A TrafficSplit 70/30 shares requests within ±5 points over 500 requests", map[string]int{"app-b": 70, "app-c": 30}),
		Test{ShortName: "smi-metrics", Spec: SpecMetrics, Profile: ProfileSMI,
			Description: "TrafficMetrics of app-b (metrics.smi-spec.io/v1alpha1) count requests after traffic",
			Features:    []Feature{FeatureSMITrafficAccess, FeatureSMITrafficMetrics},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{allPaths(ns), trafficTarget(ns, "a-to-b", "app-b", 0, "everything", []string{"all"}, "app-a")}
			},
			Test: func(t *T) {
				if !t.expectAllowed("traffic for the metrics", a(t, "/echo"), "app-b") {
					return
				}
				if _, err := t.Call("app-a", a(t, "/echo").call(50, 5)); err != nil {
					t.Setupf("traffic: %v", err)
				}
				path := "/apis/metrics.smi-spec.io/v1alpha1/namespaces/" + t.Namespace + "/deployments/app-b"
				t.Eventually("TrafficMetrics "+path, "a non-zero request count", func() (string, bool) {
					ctx, cancel := context.WithTimeout(t.ctx, t.r.opts.StepTimeout)
					defer cancel()
					raw, err := t.r.cs.Discovery().RESTClient().Get().AbsPath(path).DoRaw(ctx)
					if err != nil {
						return "error: " + truncate(err.Error(), 160), false
					}
					n := metricsCount(raw)
					return fmt.Sprintf("%d requests", n), n > 0
				})
			}},
	)
}

// metricsCount sums the request counts of a TrafficMetrics (or its list).
func metricsCount(raw []byte) int64 {
	var doc struct {
		Metrics []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"metrics"`
		Items []json.RawMessage `json:"items"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return 0
	}
	var n int64
	for _, m := range doc.Metrics {
		if m.Name == "success_count" || m.Name == "failure_count" {
			var v int64
			_, _ = fmt.Sscan(m.Value, &v)
			n += v
		}
	}
	for _, it := range doc.Items {
		n += metricsCount(it)
	}
	return n
}

func splitTest(name, desc string, weights map[string]int) Test {
	return Test{ShortName: name, Spec: SpecSplit, Profile: ProfileSMI, Description: desc,
		Features: []Feature{FeatureSMITrafficAccess, FeatureSMITrafficSplit},
		Manifests: func(ns string) []*unstructured.Unstructured {
			return []*unstructured.Unstructured{allPaths(ns),
				trafficTarget(ns, "a-to-b", "app-b", 0, "everything", []string{"all"}, "app-a"),
				trafficTarget(ns, "a-to-c", "app-c", 0, "everything", []string{"all"}, "app-a"),
				trafficSplit(ns, "backend-split", BackendService, weights)}
		},
		Test: func(t *T) {
			r := req{from: "app-a", url: t.URL(BackendService, PortHTTP, "/echo")}
			// The split is in place once a zero-weight backend stops answering.
			for app, w := range weights {
				if w == 100 {
					if !t.expectAllowed("split applied", r, app) {
						return
					}
				}
			}
			t.expectSplit("TrafficSplit", r, weights)
		}}
}

// expectReceived checks the destination counted requests from the caller.
func (t *T) expectReceived(app, from string) bool {
	ctx, cancel := context.WithTimeout(t.ctx, t.r.opts.StepTimeout)
	defer cancel()
	code, body, err := t.r.opts.Reacher.Do(ctx, t.Namespace, app, PortHTTP, "GET", "/counts", nil)
	var c sampleapp.Counts
	if err == nil && code == 200 {
		err = json.Unmarshal(body, &c)
	} else if err == nil {
		err = fmt.Errorf("GET /counts: %d", code)
	}
	observed := "error: " + fmt.Sprint(err)
	if err == nil {
		observed = fmt.Sprintf("received from %s: %d", from, c.Received[from])
	}
	return t.Check(app+" counted requests from "+from, "at least 1", observed, err == nil && c.Received[from] > 0)
}
