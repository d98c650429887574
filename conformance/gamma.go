package conformance

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshperf/meshperf/sampleapp"
)

// GAMMA: routes attached to the Service "backend" (parentRef kind Service) steer the
// calls app-a makes to it towards app-b or app-c.

func httpRoute(ns, name string, rules ...Rule) *unstructured.Unstructured {
	return route("HTTPRoute", ns, name, BackendService, PortHTTP, rules...)
}

func grpcRoute(ns, name string, rules ...Rule) *unstructured.Unstructured {
	return route("GRPCRoute", ns, name, BackendService, PortGRPC, rules...)
}

func toB() map[string]int { return map[string]int{"app-b": 1} }
func toC() map[string]int { return map[string]int{"app-c": 1} }

// echoed decodes what the answering app says it received.
func echoed(res sampleapp.CallResult) (sampleapp.Echo, bool) {
	var e sampleapp.Echo
	return e, json.Unmarshal([]byte(res.First.Body), &e) == nil
}

func init() {
	b := func(t *T, path string) req { return req{from: "app-a", url: t.URL(BackendService, PortHTTP, path)} }
	Register(
		Test{ShortName: "mesh-basic", Profile: ProfileMeshHTTP,
			Description: "Without routes, app-a reaches app-b by its Service and the Service backend reaches app-b or app-c",
			Features:    []Feature{FeatureMesh},
			Test: func(t *T) {
				t.expectAllowed("Service app-b", req{from: "app-a", url: t.URL("app-b", PortHTTP, "/echo")}, "app-b")
				t.Eventually("Service backend: "+b(t, "/echo").String(), "status 200 from app-b or app-c", func() (string, bool) {
					res, err := t.Call("app-a", b(t, "/echo").call(1, 1))
					return observe(res, err), err == nil && res.First.Status == "200" && (res.First.App == "app-b" || res.First.App == "app-c")
				})
			}},
		Test{ShortName: "mesh-httproute-path", Profile: ProfileMeshHTTP,
			Description: "An HTTPRoute on Service backend sends path prefix /echo/v1 to app-b and /echo/v2 to app-c",
			Features:    []Feature{FeatureMesh, FeatureHTTPRoute},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{httpRoute(ns, "by-path",
					Rule{Matches: []any{pathPrefix("/echo/v1")}, Backends: toB()},
					Rule{Matches: []any{pathPrefix("/echo/v2")}, Backends: toC()})}
			},
			Test: func(t *T) {
				t.expectRouted("prefix /echo/v1", b(t, "/echo/v1/x"), "app-b")
				t.expectRouted("prefix /echo/v2", b(t, "/echo/v2/x"), "app-c")
			}},
		Test{ShortName: "mesh-httproute-header", Profile: ProfileMeshHTTP,
			Description: "An HTTPRoute on Service backend sends X-Version v1 to app-b and v2 to app-c",
			Features:    []Feature{FeatureMesh, FeatureHTTPRoute},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{httpRoute(ns, "by-header",
					Rule{Matches: []any{headerMatch("X-Version", "v1")}, Backends: toB()},
					Rule{Matches: []any{headerMatch("X-Version", "v2")}, Backends: toC()})}
			},
			Test: func(t *T) {
				for v, app := range map[string]string{"v1": "app-b", "v2": "app-c"} {
					r := b(t, "/echo")
					r.headers = map[string]string{"X-Version": v}
					t.expectRouted("header X-Version "+v, r, app)
				}
			}},
		Test{ShortName: "mesh-httproute-query", Profile: ProfileMeshHTTP,
			Description: "An HTTPRoute on Service backend sends ?v=1 to app-b and ?v=2 to app-c",
			Features:    []Feature{FeatureMesh, FeatureHTTPRoute, FeatureHTTPRouteQueryParamMatch},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{httpRoute(ns, "by-query",
					Rule{Matches: []any{queryMatch("v", "1")}, Backends: toB()},
					Rule{Matches: []any{queryMatch("v", "2")}, Backends: toC()})}
			},
			Test: func(t *T) {
				t.expectRouted("query v=1", b(t, "/echo?v=1"), "app-b")
				t.expectRouted("query v=2", b(t, "/echo?v=2"), "app-c")
			}},
		Test{ShortName: "mesh-httproute-method", Profile: ProfileMeshHTTP,
			Description: "An HTTPRoute on Service backend sends GET to app-b and POST to app-c",
			Features:    []Feature{FeatureMesh, FeatureHTTPRoute, FeatureHTTPRouteMethodMatch},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{httpRoute(ns, "by-method",
					Rule{Matches: []any{methodMatch("GET")}, Backends: toB()},
					Rule{Matches: []any{methodMatch("POST")}, Backends: toC()})}
			},
			Test: func(t *T) {
				t.expectRouted("GET", b(t, "/echo"), "app-b")
				r := b(t, "/echo")
				r.method = "POST"
				t.expectRouted("POST", r, "app-c")
			}},
		Test{ShortName: "mesh-httproute-weight", Profile: ProfileMeshHTTP,
			Description: "An HTTPRoute on Service backend weighted 70/30 shares requests within ±5 points over 500 requests",
			Features:    []Feature{FeatureMesh, FeatureHTTPRoute},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{httpRoute(ns, "weighted", Rule{Backends: map[string]int{"app-b": 70, "app-c": 30}})}
			},
			Test: func(t *T) {
				t.expectSplit("HTTPRoute weights", b(t, "/echo"), map[string]int{"app-b": 70, "app-c": 30})
			}},
		Test{ShortName: "mesh-httproute-header-modifier", Profile: ProfileMeshHTTP,
			Description: "A RequestHeaderModifier sets, adds and removes request headers on the way to app-b",
			Features:    []Feature{FeatureMesh, FeatureHTTPRoute},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{httpRoute(ns, "modify", Rule{Backends: toB(),
					Filters: []any{headerModifier(map[string]string{"X-Set": "set-by-route"}, map[string]string{"X-Add": "added-by-route"}, "X-Remove")}})}
			},
			Test: func(t *T) {
				r := b(t, "/echo")
				r.headers = map[string]string{"X-Set": "from-client", "X-Add": "from-client", "X-Remove": "from-client"}
				want := "X-Set [set-by-route], X-Add [from-client added-by-route], no X-Remove"
				t.Eventually("RequestHeaderModifier: "+r.String(), want, func() (string, bool) {
					res, err := t.Call("app-a", r.call(1, 1))
					if err != nil || res.First.Status != "200" {
						return observe(res, err), false
					}
					e, ok := echoed(res)
					if !ok {
						return "an answer that is not the sample app's echo", false
					}
					got := fmt.Sprintf("X-Set %v, X-Add %v, X-Remove %v", e.Headers["X-Set"], e.Headers["X-Add"], e.Headers["X-Remove"])
					return got, strings.Join(e.Headers["X-Set"], ",") == "set-by-route" &&
						strings.Join(e.Headers["X-Add"], ",") == "from-client,added-by-route" && len(e.Headers["X-Remove"]) == 0
				})
			}},
		Test{ShortName: "mesh-httproute-redirect", Profile: ProfileMeshHTTP,
			Description: "A RequestRedirect answers 302 with the new hostname in Location",
			Features:    []Feature{FeatureMesh, FeatureHTTPRoute},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{httpRoute(ns, "redirect",
					Rule{Matches: []any{pathPrefix("/moved")}, Filters: []any{redirect("example.org", "", 302)}},
					Rule{Backends: toB()})}
			},
			Test: func(t *T) {
				t.expectRedirect(b(t, "/moved/here"), "302", "http://example.org/moved/here")
			}},
		Test{ShortName: "mesh-httproute-path-redirect", Profile: ProfileMeshHTTP,
			Description: "A RequestRedirect with ReplaceFullPath answers 301 with the new path in Location",
			Features:    []Feature{FeatureMesh, FeatureHTTPRoute, FeatureHTTPRoutePathRedirect},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{httpRoute(ns, "path-redirect",
					Rule{Matches: []any{pathPrefix("/old")}, Filters: []any{redirect("", "/new", 301)}},
					Rule{Backends: toB()})}
			},
			Test: func(t *T) {
				r := b(t, "/old/x")
				host := strings.TrimPrefix(t.URL(BackendService, PortHTTP, ""), "http://")
				t.expectRedirect(r, "301", "http://"+host+"/new")
			}},

		// MESH-GRPC
		Test{ShortName: "mesh-grpcroute-weight", Profile: ProfileMeshGRPC,
			Description: "A GRPCRoute on Service backend weighted 70/30 shares calls within ±5 points over 500 calls",
			Features:    []Feature{FeatureMesh, FeatureGRPCRoute},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{grpcRoute(ns, "weighted", Rule{Backends: map[string]int{"app-b": 70, "app-c": 30}})}
			},
			Test: func(t *T) {
				t.expectGRPCSplit(req{from: "app-a", url: t.GRPCURL(BackendService)}, map[string]int{"app-b": 70, "app-c": 30})
			}},
		Test{ShortName: "mesh-grpcroute-header-match", Profile: ProfileMeshGRPC,
			Description: "A GRPCRoute on Service backend sends metadata x-version v1 to app-b and v2 to app-c",
			Features:    []Feature{FeatureMesh, FeatureGRPCRoute},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{grpcRoute(ns, "by-header",
					Rule{Matches: []any{headerMatch("x-version", "v1")}, Backends: toB()},
					Rule{Matches: []any{headerMatch("x-version", "v2")}, Backends: toC()})}
			},
			Test: func(t *T) {
				for v, app := range map[string]string{"v1": "app-b", "v2": "app-c"} {
					r := req{from: "app-a", url: t.GRPCURL(BackendService), headers: map[string]string{"x-version": v}}
					t.Eventually("metadata x-version "+v+": "+r.String(), "20 of 20 answered OK by "+app, func() (string, bool) {
						res, err := t.Call("app-a", r.call(20, 1))
						if err != nil {
							return observe(res, err), false
						}
						return fmt.Sprintf("answers by app: %s; by status: %s", fmtCounts(res.ByApp), fmtCounts(res.ByStatus)),
							res.ByApp[app] == 20 && res.ByStatus["OK"] == 20
					})
				}
			}},
		Test{ShortName: "mesh-grpcroute-header-modifier", Profile: ProfileMeshGRPC,
			Description: "A GRPCRoute RequestHeaderModifier sets and removes metadata on the way to app-b",
			Features:    []Feature{FeatureMesh, FeatureGRPCRoute},
			Manifests: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{grpcRoute(ns, "modify", Rule{Backends: toB(),
					Filters: []any{headerModifier(map[string]string{"x-set": "set-by-route"}, nil, "x-remove")}})}
			},
			Test: func(t *T) {
				r := req{from: "app-a", url: t.GRPCURL(BackendService), headers: map[string]string{"x-set": "from-client", "x-remove": "from-client"}}
				t.Eventually("GRPCRoute RequestHeaderModifier: "+r.String(), "x-set [set-by-route], no x-remove, from app-b", func() (string, bool) {
					res, err := t.Call("app-a", r.call(1, 1))
					if err != nil || res.First.Status != "OK" {
						return observe(res, err), false
					}
					md := sampleapp.ReceivedMetadata(res.First.Headers)
					return fmt.Sprintf("x-set %v, x-remove %v, from %s", md["x-set"], md["x-remove"], res.First.App),
						strings.Join(md["x-set"], ",") == "set-by-route" && len(md["x-remove"]) == 0 && res.First.App == "app-b"
				})
			}},
	)
}

func (t *T) expectRedirect(r req, code, location string) bool {
	return t.Eventually("redirect: "+r.String(), code+" to "+location, func() (string, bool) {
		res, err := t.Call(r.from, r.call(1, 1))
		if err != nil {
			return observe(res, err), false
		}
		loc := ""
		if l := res.First.Headers["Location"]; len(l) > 0 {
			loc = l[0]
		}
		return fmt.Sprintf("%s to %q", res.First.Status, loc), res.First.Status == code && loc == location
	})
}

func (t *T) expectGRPCSplit(r req, weights map[string]int) bool {
	// The same judgement as HTTP, over gRPC's OK instead of 200.
	return t.expectSplitStatus("GRPCRoute weights", r, weights, "OK")
}
