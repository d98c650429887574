// Package testmesh is a STAND-IN FOR A REAL SERVICE MESH, for tests only: no real mesh
// can run on the machines meshperf is tested on (no container runtime, no images), so
// the conformance suite is proven against this small mesh instead. Import it from
// tests only.
//
// It reads SMI and Gateway API (GAMMA) objects, Services and Pods from a REAL
// Kubernetes API server (kwok makes the pods Running without running anything), and
// for every Running pod of an injected namespace it runs meshperf's sample app
// in-process on loopback, standing for the pod, plus a sidecar proxy the app's
// outbound calls go through. The sidecar enforces what a mesh would: SMI
// TrafficTargets with HTTPRouteGroup matches and ports (deny by default when asked),
// TrafficSplits, and HTTPRoutes/GRPCRoutes attached to Services (matches, weights,
// request header modification, redirects).
//
// Defects can be switched on so that tests can show the suite fails exactly the
// tests that cover each one.
package testmesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/meshperf/meshperf/conformance"
	"github.com/meshperf/meshperf/sampleapp"
)

// InjectLabel marks the namespaces the test mesh manages (value "enabled").
const InjectLabel = "testmesh.meshperf.io/inject"

// Name of the mesh in reports.
const Name = "meshperf-testmesh"

// Labels are the namespace labels a conformance run passes for the test mesh.
func Labels() map[string]string { return map[string]string{InjectLabel: "enabled"} }

// Defects the mesh can be told to have.
type Defects struct {
	IgnoreTrafficTarget bool // allow everything, whatever the TrafficTargets say
	SkewSplitWeights    bool // double the weight of the first backend (by name) of splits and routes
	IgnoreMethodMatches bool // HTTPRouteGroup and HTTPRoute method matches always match
	IgnoreHeaderMatches bool // header matches (SMI, HTTPRoute, GRPCRoute) always match
	DropHTTPRoutes      bool // HTTPRoutes are not programmed (as if dropped)
}

// Options of the mesh.
type Options struct {
	Config *rest.Config
	// DenyByDefault enforces SMI access control: without a TrafficTarget nothing passes.
	DenyByDefault bool
	Defects       Defects
}

var (
	gvrPod       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrService   = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrNamespace = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

func gvr(kind string) schema.GroupVersionResource { g, _ := conformance.GVR(kind); return g }

// Mesh is a running test mesh.
type Mesh struct {
	opts    Options
	factory dynamicinformer.DynamicSharedInformerFactory
	stores  map[string]cache.Store // by kind
	cancel  context.CancelFunc
	done    chan struct{}

	mu   sync.Mutex
	pods map[string]*pod // by UID
}

type pod struct {
	uid, ns, name, sa string
	app               *sampleapp.Server
	sidecar           *http.Server
	ports             map[int64]string // container port -> loopback address
}

// Start installs the CRDs the suite needs when absent, watches the cluster and
// serves the pods of injected namespaces until Close.
func Start(ctx context.Context, opts Options) (*Mesh, error) {
	if err := EnsureCRDs(ctx, opts.Config); err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(opts.Config)
	if err != nil {
		return nil, err
	}
	m := &Mesh{opts: opts, stores: map[string]cache.Store{}, pods: map[string]*pod{}, done: make(chan struct{})}
	m.factory = dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	for kind, g := range map[string]schema.GroupVersionResource{"Pod": gvrPod, "Service": gvrService, "Namespace": gvrNamespace,
		"TrafficTarget": gvr("TrafficTarget"), "HTTPRouteGroup": gvr("HTTPRouteGroup"), "TrafficSplit": gvr("TrafficSplit"),
		"HTTPRoute": gvr("HTTPRoute"), "GRPCRoute": gvr("GRPCRoute")} {
		m.stores[kind] = m.factory.ForResource(g).Informer().GetStore()
	}
	rctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.factory.Start(rctx.Done())
	sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
	defer scancel()
	for g, ok := range m.factory.WaitForCacheSync(sctx.Done()) {
		if !ok {
			m.Close()
			return nil, fmt.Errorf("test mesh: %s did not sync", g.Resource)
		}
	}
	go m.reconcileLoop(rctx)
	return m, nil
}

// Close stops every app and sidecar.
func (m *Mesh) Close() {
	m.cancel()
	m.factory.Shutdown()
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for uid, p := range m.pods {
		p.stop()
		delete(m.pods, uid)
	}
}

func (p *pod) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.sidecar.Shutdown(ctx)
	p.app.Close()
}

func (m *Mesh) reconcileLoop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		m.reconcile()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Mesh) injected(ns string) bool {
	o, ok := m.get("Namespace", "", ns)
	return ok && o.GetLabels()[InjectLabel] == "enabled"
}

func (m *Mesh) get(kind, ns, name string) (*unstructured.Unstructured, bool) {
	key := name
	if ns != "" {
		key = ns + "/" + name
	}
	o, ok, _ := m.stores[kind].GetByKey(key)
	if !ok {
		return nil, false
	}
	return o.(*unstructured.Unstructured), true
}

func (m *Mesh) list(kind, ns string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range m.stores[kind].List() {
		u := o.(*unstructured.Unstructured)
		if u.GetNamespace() == ns {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// reconcile starts an app for every Running pod of an injected namespace and stops
// those whose pod is gone.
func (m *Mesh) reconcile() {
	seen := map[string]bool{}
	for _, o := range m.stores["Pod"].List() {
		u := o.(*unstructured.Unstructured)
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		if phase != "Running" || u.GetDeletionTimestamp() != nil || !m.injected(u.GetNamespace()) {
			continue
		}
		uid := string(u.GetUID())
		seen[uid] = true
		m.mu.Lock()
		_, have := m.pods[uid]
		m.mu.Unlock()
		if have {
			continue
		}
		p, err := m.startPod(u)
		if err != nil {
			continue // tried again on the next tick
		}
		m.mu.Lock()
		m.pods[uid] = p
		m.mu.Unlock()
	}
	m.mu.Lock()
	for uid, p := range m.pods {
		if !seen[uid] {
			p.stop()
			delete(m.pods, uid)
		}
	}
	m.mu.Unlock()
}

func (m *Mesh) startPod(u *unstructured.Unstructured) (*pod, error) {
	containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "containers")
	if len(containers) == 0 {
		return nil, errors.New("no container")
	}
	c := containers[0].(map[string]any)
	name := u.GetLabels()["app"]
	if args, ok := c["args"].([]any); ok {
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "--name" {
				name, _ = args[i+1].(string)
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	app, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0", ExtraHTTPAddrs: []string{"127.0.0.1:0"}, GRPCAddr: "127.0.0.1:0",
		Name: name, CallVia: ln.Addr().String()})
	if err != nil {
		ln.Close()
		return nil, err
	}
	sa, _, _ := unstructured.NestedString(u.Object, "spec", "serviceAccountName")
	if sa == "" {
		sa = "default"
	}
	p := &pod{uid: string(u.GetUID()), ns: u.GetNamespace(), name: u.GetName(), sa: sa, app: app, ports: map[int64]string{}}
	byName := map[string]string{"http": app.Addrs().HTTP, "http-alt": app.Addrs().ExtraHTTP[0], "grpc": app.Addrs().GRPC}
	ports, _ := c["ports"].([]any)
	for _, pp := range ports {
		pm := pp.(map[string]any)
		n, _ := pm["name"].(string)
		cp, _ := pm["containerPort"].(int64)
		if addr, ok := byName[n]; ok {
			p.ports[cp] = addr
		}
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	p.sidecar = &http.Server{Handler: &sidecar{m: m, p: p}, Protocols: &protos, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.sidecar.Serve(ln) }()
	return p, nil
}

// endpoint is a pod behind a service port.
type endpoint struct {
	p    *pod
	addr string
	port int64 // container port
}

// resolve picks a pod of service svc for its port, as kube-proxy would.
func (m *Mesh) resolve(ns, svc string, port int64) (endpoint, error) {
	s, ok := m.get("Service", ns, svc)
	if !ok {
		return endpoint{}, fmt.Errorf("no Service %s/%s", ns, svc)
	}
	selector, _, _ := unstructured.NestedStringMap(s.Object, "spec", "selector")
	ports, _, _ := unstructured.NestedSlice(s.Object, "spec", "ports")
	target := int64(0)
	for _, pp := range ports {
		pm := pp.(map[string]any)
		if pm["port"] == port {
			switch tp := pm["targetPort"].(type) {
			case int64:
				target = tp
			default:
				target = port
			}
		}
	}
	if target == 0 {
		return endpoint{}, fmt.Errorf("Service %s/%s has no port %d", ns, svc, port)
	}
	var eps []endpoint
	m.mu.Lock()
	for _, o := range m.list("Pod", ns) {
		if !matches(o.GetLabels(), selector) {
			continue
		}
		if p, ok := m.pods[string(o.GetUID())]; ok && p.ports[target] != "" {
			eps = append(eps, endpoint{p: p, addr: p.ports[target], port: target})
		}
	}
	m.mu.Unlock()
	if len(eps) == 0 {
		return endpoint{}, fmt.Errorf("Service %s/%s has no ready endpoint for port %d", ns, svc, port)
	}
	return eps[rand.IntN(len(eps))], nil
}

func matches(labels, selector map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Reacher reaches the apps directly, as the API server's service proxy reaches
// pods: not through the mesh.
func (m *Mesh) Reacher() conformance.Reacher { return reacher{m} }

type reacher struct{ m *Mesh }

func (r reacher) Do(ctx context.Context, ns, service string, port int, method, path string, body []byte) (int, []byte, error) {
	ep, err := r.m.resolve(ns, service, int64(port))
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+ep.addr+path, strings.NewReader(string(body)))
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// sidecar is a pod's outbound proxy.
type sidecar struct {
	m *Mesh
	p *pod
}

var h2cTransport = func() *http.Transport {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Transport{Protocols: &p}
}()

var h1Transport = &http.Transport{MaxIdleConnsPerHost: 64}

func (s *sidecar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	grpcReq := strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
	fail := func(code int, msg string) {
		if grpcReq {
			// gRPC status in a trailers-only answer.
			w.Header().Set("Content-Type", "application/grpc")
			w.Header().Set("Grpc-Status", map[int]string{http.StatusForbidden: "7", http.StatusNotFound: "12"}[code])
			if w.Header().Get("Grpc-Status") == "" {
				w.Header().Set("Grpc-Status", "14")
			}
			w.Header().Set("Grpc-Message", msg)
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Error(w, "testmesh: "+msg, code)
	}
	host, portStr, err := net.SplitHostPort(r.Host)
	if err != nil {
		fail(http.StatusBadGateway, "no port in host "+r.Host)
		return
	}
	port, _ := strconv.ParseInt(portStr, 10, 64)
	svc, ns := host, s.p.ns
	if parts := strings.Split(strings.TrimSuffix(host, ".svc.cluster.local"), "."); len(parts) >= 2 {
		svc, ns = parts[0], parts[1]
	}
	m := s.m
	dest, backendPort := svc, port
	kind := "HTTPRoute"
	if grpcReq {
		kind = "GRPCRoute"
	}
	if rules := m.routeRules(kind, ns, svc, port); rules != nil {
		rule, ok := m.pickRule(rules, r, grpcReq)
		if !ok {
			fail(http.StatusNotFound, "no route rule matches")
			return
		}
		if done := applyFilters(rule, w, r, grpcReq); done {
			return
		}
		refs, _, _ := unstructured.NestedSlice(rule, "backendRefs")
		b, ok := m.pickWeighted(refs, "name")
		if !ok {
			fail(http.StatusInternalServerError, "route rule has no backend")
			return
		}
		dest = b["name"].(string)
		if p, ok := b["port"].(int64); ok {
			backendPort = p
		}
	} else if split := m.split(ns, svc); split != nil {
		backends, _, _ := unstructured.NestedSlice(split.Object, "spec", "backends")
		b, ok := m.pickWeighted(backends, "service")
		if !ok {
			fail(http.StatusServiceUnavailable, "TrafficSplit has no backend with weight")
			return
		}
		dest = b["service"].(string)
	}
	ep, err := m.resolve(ns, dest, backendPort)
	if err != nil {
		fail(http.StatusServiceUnavailable, err.Error())
		return
	}
	if m.opts.DenyByDefault && !m.opts.Defects.IgnoreTrafficTarget && !m.allowed(s.p, ep, r) {
		fail(http.StatusForbidden, fmt.Sprintf("no TrafficTarget allows %s to %s", s.p.sa, ep.p.sa))
		return
	}
	tr := h1Transport
	if grpcReq {
		tr = h2cTransport
	}
	target := &url.URL{Scheme: "http", Host: ep.addr}
	rp := &httputil.ReverseProxy{Transport: tr, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = r.Host
	}, ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) { fail(http.StatusBadGateway, err.Error()) }}
	rp.ServeHTTP(w, r)
}

// routeRules are the rules of the routes of kind attached to Service svc (and its
// port, when the parentRef names one); nil when none is.
func (m *Mesh) routeRules(kind, ns, svc string, port int64) []map[string]any {
	if kind == "HTTPRoute" && m.opts.Defects.DropHTTPRoutes {
		return nil
	}
	var rules []map[string]any
	found := false
	for _, rt := range m.list(kind, ns) {
		parents, _, _ := unstructured.NestedSlice(rt.Object, "spec", "parentRefs")
		attached := false
		for _, pr := range parents {
			p := pr.(map[string]any)
			if p["kind"] == "Service" && p["name"] == svc && (p["namespace"] == nil || p["namespace"] == ns) {
				if pp, ok := p["port"].(int64); !ok || pp == port {
					attached = true
				}
			}
		}
		if !attached {
			continue
		}
		found = true
		rs, _, _ := unstructured.NestedSlice(rt.Object, "spec", "rules")
		for _, r := range rs {
			rules = append(rules, r.(map[string]any))
		}
	}
	if !found {
		return nil
	}
	return rules
}

// pickRule returns the first rule with a match the request meets (a rule without
// matches matches everything). Gateway API orders by specificity; the suite's routes
// list the specific rules first, so order suffices here.
func (m *Mesh) pickRule(rules []map[string]any, r *http.Request, grpcReq bool) (map[string]any, bool) {
	for _, rule := range rules {
		ms, _ := rule["matches"].([]any)
		if len(ms) == 0 {
			return rule, true
		}
		for _, mm := range ms {
			if m.routeMatch(mm.(map[string]any), r, grpcReq) {
				return rule, true
			}
		}
	}
	return nil, false
}

func (m *Mesh) routeMatch(match map[string]any, r *http.Request, grpcReq bool) bool {
	if p, ok := match["path"].(map[string]any); ok && !grpcReq {
		v, _ := p["value"].(string)
		switch p["type"] {
		case "Exact":
			if r.URL.Path != v {
				return false
			}
		default: // PathPrefix
			if !(r.URL.Path == v || strings.HasPrefix(r.URL.Path, strings.TrimSuffix(v, "/")+"/")) {
				return false
			}
		}
	}
	if meth, ok := match["method"]; ok && !m.opts.Defects.IgnoreMethodMatches {
		switch mv := meth.(type) {
		case string: // HTTPRoute
			if r.Method != mv {
				return false
			}
		case map[string]any: // GRPCRoute {service, method}
			svc, method, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
			if (mv["service"] != nil && mv["service"] != svc) || (mv["method"] != nil && mv["method"] != method) {
				return false
			}
		}
	}
	if hs, ok := match["headers"].([]any); ok && !m.opts.Defects.IgnoreHeaderMatches {
		for _, h := range hs {
			hm := h.(map[string]any)
			name, _ := hm["name"].(string)
			if r.Header.Get(name) != hm["value"] {
				return false
			}
		}
	}
	if qs, ok := match["queryParams"].([]any); ok {
		for _, q := range qs {
			qm := q.(map[string]any)
			name, _ := qm["name"].(string)
			if r.URL.Query().Get(name) != qm["value"] {
				return false
			}
		}
	}
	return true
}

// applyFilters applies a rule's filters; true when it answered (a redirect).
func applyFilters(rule map[string]any, w http.ResponseWriter, r *http.Request, grpcReq bool) bool {
	fs, _ := rule["filters"].([]any)
	for _, f := range fs {
		fm := f.(map[string]any)
		switch fm["type"] {
		case "RequestHeaderModifier":
			hm, _ := fm["requestHeaderModifier"].(map[string]any)
			kv := func(key string, apply func(k, v string)) {
				list, _ := hm[key].([]any)
				for _, e := range list {
					em := e.(map[string]any)
					n, _ := em["name"].(string)
					v, _ := em["value"].(string)
					apply(n, v)
				}
			}
			kv("set", r.Header.Set)
			kv("add", r.Header.Add)
			rm, _ := hm["remove"].([]any)
			for _, n := range rm {
				r.Header.Del(n.(string))
			}
		case "RequestRedirect":
			if grpcReq {
				continue
			}
			rd, _ := fm["requestRedirect"].(map[string]any)
			scheme, _ := rd["scheme"].(string)
			if scheme == "" {
				scheme = "http"
			}
			host := r.Host
			if h, ok := rd["hostname"].(string); ok {
				host = h
			}
			path := r.URL.Path
			if p, ok := rd["path"].(map[string]any); ok && p["type"] == "ReplaceFullPath" {
				path, _ = p["replaceFullPath"].(string)
			}
			code := http.StatusFound
			if c, ok := rd["statusCode"].(int64); ok {
				code = int(c)
			}
			w.Header().Set("Location", scheme+"://"+host+path)
			w.WriteHeader(code)
			return true
		}
	}
	return false
}

// pickWeighted picks an entry by its weight (default 1); the skew defect doubles
// the first entry's (by name).
func (m *Mesh) pickWeighted(entries []any, nameKey string) (map[string]any, bool) {
	type we struct {
		e map[string]any
		w int64
	}
	var list []we
	for _, e := range entries {
		em := e.(map[string]any)
		w := int64(1)
		if v, ok := em["weight"].(int64); ok {
			w = v
		}
		list = append(list, we{em, w})
	}
	sort.Slice(list, func(i, j int) bool { return fmt.Sprint(list[i].e[nameKey]) < fmt.Sprint(list[j].e[nameKey]) })
	if m.opts.Defects.SkewSplitWeights && len(list) > 1 {
		list[0].w *= 2
	}
	var total int64
	for _, x := range list {
		total += x.w
	}
	if total <= 0 {
		return nil, false
	}
	n := rand.Int64N(total)
	for _, x := range list {
		if n < x.w {
			return x.e, true
		}
		n -= x.w
	}
	return nil, false
}

func (m *Mesh) split(ns, svc string) *unstructured.Unstructured {
	for _, s := range m.list("TrafficSplit", ns) {
		if root, _, _ := unstructured.NestedString(s.Object, "spec", "service"); root == svc {
			return s
		}
	}
	return nil
}

// allowed applies SMI access control: a TrafficTarget to the destination's service
// account (and port, when it names one) lists the source's service account and a
// rule whose HTTPRouteGroup matches the request.
func (m *Mesh) allowed(src *pod, dst endpoint, r *http.Request) bool {
	for _, tt := range m.list("TrafficTarget", dst.p.ns) {
		d, _, _ := unstructured.NestedMap(tt.Object, "spec", "destination")
		if d["name"] != dst.p.sa || (d["namespace"] != nil && d["namespace"] != dst.p.ns) {
			continue
		}
		if p, ok := d["port"].(int64); ok && p != dst.port {
			continue
		}
		sources, _, _ := unstructured.NestedSlice(tt.Object, "spec", "sources")
		listed := false
		for _, s := range sources {
			sm := s.(map[string]any)
			ns, _ := sm["namespace"].(string)
			if ns == "" {
				ns = tt.GetNamespace()
			}
			if sm["kind"] == "ServiceAccount" && sm["name"] == src.sa && ns == src.ns {
				listed = true
			}
		}
		if !listed {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(tt.Object, "spec", "rules")
		for _, rr := range rules {
			if m.ruleAllows(tt.GetNamespace(), rr.(map[string]any), r) {
				return true
			}
		}
	}
	return false
}

func (m *Mesh) ruleAllows(ns string, rule map[string]any, r *http.Request) bool {
	if rule["kind"] != "HTTPRouteGroup" {
		return false
	}
	name, _ := rule["name"].(string)
	g, ok := m.get("HTTPRouteGroup", ns, name)
	if !ok {
		return false
	}
	wanted := map[string]bool{}
	names, _ := rule["matches"].([]any)
	for _, n := range names {
		wanted[fmt.Sprint(n)] = true
	}
	ms, _, _ := unstructured.NestedSlice(g.Object, "spec", "matches")
	for _, mm := range ms {
		match := mm.(map[string]any)
		if len(wanted) > 0 && !wanted[fmt.Sprint(match["name"])] {
			continue
		}
		if m.smiMatch(match, r) {
			return true
		}
	}
	return false
}

func fullMatch(pattern, s string) bool {
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	return err == nil && re.MatchString(s)
}

func (m *Mesh) smiMatch(match map[string]any, r *http.Request) bool {
	if p, ok := match["pathRegex"].(string); ok && !fullMatch(p, r.URL.Path) {
		return false
	}
	if ms, ok := match["methods"].([]any); ok && len(ms) > 0 && !m.opts.Defects.IgnoreMethodMatches {
		found := false
		for _, x := range ms {
			if x == "*" || x == r.Method {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	if hs, ok := match["headers"].(map[string]any); ok && !m.opts.Defects.IgnoreHeaderMatches {
		for k, v := range hs {
			if !fullMatch(fmt.Sprint(v), r.Header.Get(k)) {
				return false
			}
		}
	}
	return true
}

// EnsureCRDs creates minimal CRDs for the SMI and Gateway API kinds the suite uses
// where the cluster has none (fields unchecked). Existing CRDs, such as Gateway API's
// real ones, are left alone, so applying concurrently from several tests is safe.
func EnsureCRDs(ctx context.Context, cfg *rest.Config) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	kinds := []string{"TrafficTarget", "HTTPRouteGroup", "TrafficSplit", "HTTPRoute", "GRPCRoute"}
	for _, kind := range kinds {
		g := gvr(kind)
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": g.Resource + "." + g.Group,
				// *.k8s.io groups are protected; Gateway API's CRDs carry this approval.
				"annotations": map[string]any{"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/2466"}},
			"spec": map[string]any{
				"group": g.Group, "scope": "Namespaced",
				"names": map[string]any{"kind": kind, "plural": g.Resource, "singular": strings.ToLower(kind), "listKind": kind + "List"},
				"versions": []any{map[string]any{"name": g.Version, "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
			},
		}}
		if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("CRD for %s: %w", kind, err)
		}
	}
	// Wait until every kind is served.
	deadline := time.Now().Add(60 * time.Second)
	for _, kind := range kinds {
		g := gvr(kind)
		for {
			_, err := dyn.Resource(g).Namespace("default").List(ctx, metav1.ListOptions{Limit: 1})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD for %s not served: %w", kind, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}
