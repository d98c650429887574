package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshperf/meshperf/kube"
	"github.com/meshperf/meshperf/sampleapp"
)

// Reacher reaches the sample apps from outside the mesh: HTTP to a port of a Service.
type Reacher interface {
	Do(ctx context.Context, ns, service string, port int, method, path string, body []byte) (int, []byte, error)
}

// ServiceProxy reaches apps through the API server's service proxy. The API server
// refuses to proxy to loopback addresses, and a mesh in strict mTLS mode may refuse
// the proxied (plain-text, unidentified) request: then use a Reacher that runs in
// the cluster.
type ServiceProxy struct{ Client kubernetes.Interface }

// Do implements Reacher.
func (p ServiceProxy) Do(ctx context.Context, ns, service string, port int, method, path string, body []byte) (int, []byte, error) {
	var code int
	raw, err := p.Client.CoreV1().RESTClient().Verb(method).
		AbsPath("/api/v1/namespaces", ns, "services", fmt.Sprintf("http:%s:%d", service, port), "proxy", path).
		Body(body).Do(ctx).StatusCode(&code).Raw()
	if err != nil && code == 0 {
		return 0, nil, err
	}
	return code, raw, nil
}

// Mesh names the implementation under test.
type Mesh struct {
	Name    string `json:"name" yaml:"name"`
	Version string `json:"version" yaml:"version"`
	Cluster string `json:"cluster,omitempty" yaml:"cluster,omitempty"`
}

// Implementation is Gateway API's report field.
type Implementation struct {
	Organization string   `json:"organization" yaml:"organization"`
	Project      string   `json:"project" yaml:"project"`
	URL          string   `json:"url" yaml:"url"`
	Version      string   `json:"version" yaml:"version"`
	Contact      []string `json:"contact,omitempty" yaml:"contact,omitempty"`
}

// Injection says how a namespace is labelled or annotated for a mesh's injection.
type Injection struct {
	Labels, Annotations map[string]string
}

// Injections per mesh (names as server/meshes gives them).
var Injections = map[string]Injection{
	"linkerd":            {Annotations: map[string]string{"linkerd.io/inject": "enabled"}},
	"istio":              {Labels: map[string]string{"istio-injection": "enabled"}},
	"open_service_mesh":  {Labels: map[string]string{"openservicemesh.io/monitored-by": "osm"}},
	"kuma":               {Labels: map[string]string{"kuma.io/sidecar-injection": "enabled"}},
	"nginx_service_mesh": {Labels: map[string]string{"injector.nsm.nginx.com/auto-inject": "true"}},
	"traefik_mesh":       {},
}

// Options of a run.
type Options struct {
	// Config reaches the cluster.
	Config   *rest.Config
	Profiles []string
	Mesh     Mesh
	// Implementation; meshperf's own when empty.
	Implementation Implementation
	// ExtendedFeatures the implementation supports (tests needing any other extended
	// feature are skipped); AllFeatures tries every one.
	ExtendedFeatures []Feature
	AllFeatures      bool
	SkipTests        []string
	// Extra namespace labels and annotations, on top of the mesh's injection.
	NamespaceLabels, NamespaceAnnotations map[string]string
	// Reacher reaches the apps; the API server's service proxy when nil.
	Reacher Reacher
	// Image of the sample app (`meshperf target`).
	Image string
	// StepTimeout bounds each eventually-consistent check and each setup wait.
	StepTimeout time.Duration
	// Log, when set, hears progress.
	Log func(format string, args ...any)
}

// DefaultImage is the sample app's image.
const DefaultImage = "ghcr.io/meshperf/meshperf:latest"

// Ports of the sample apps.
const (
	PortHTTP    = 9091
	PortHTTPAlt = 9092
	PortGRPC    = 9093
)

type run struct {
	opts Options
	dyn  dynamic.Interface
	cs   kubernetes.Interface
}

// Run runs the profiles' tests and returns the (unsigned) report. Every namespace it
// makes is deleted when it returns, also when ctx is cancelled. An error means the
// run could not be made (bad options, cluster unreachable: no report) or was
// cancelled (the report so far); failed tests are in the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Config == nil {
		return nil, errors.New("config: no cluster to run on")
	}
	if len(opts.Profiles) == 0 {
		return nil, errors.New("profiles: none given")
	}
	for _, p := range opts.Profiles {
		if _, ok := ProfileByName(p); !ok {
			_, err := ParseProfiles(p)
			return nil, err
		}
	}
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = 30 * time.Second
	}
	if opts.Image == "" {
		opts.Image = DefaultImage
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	r := &run{opts: opts}
	var err error
	if r.dyn, err = dynamic.NewForConfig(opts.Config); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if r.cs, err = kubernetes.NewForConfig(opts.Config); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if r.opts.Reacher == nil {
		r.opts.Reacher = ServiceProxy{Client: r.cs}
	}
	if _, err := r.cs.Discovery().ServerVersion(); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	rep := newReport(opts)
	for _, name := range opts.Profiles {
		p, _ := ProfileByName(name)
		results, err := r.runProfile(ctx, p)
		rep.add(p, results, opts)
		if err != nil {
			// Cancelled: the report so far, its remaining tests skipped.
			return rep, err
		}
	}
	return rep, nil
}

func (r *run) supported(p Profile, f Feature) bool {
	if p.isCore(f) || r.opts.AllFeatures {
		return true
	}
	for _, e := range r.opts.ExtendedFeatures {
		if strings.EqualFold(string(e), string(f)) {
			return true
		}
	}
	return false
}

// runProfile runs a profile's tests; the results are in registration order.
func (r *run) runProfile(ctx context.Context, p Profile) ([]TestResult, error) {
	results, err := r.runProfileUnordered(ctx, p)
	order := map[string]int{}
	for i, t := range Tests(p.Name) {
		order[t.ShortName] = i
	}
	sort.SliceStable(results, func(i, j int) bool { return order[results[i].Name] < order[results[j].Name] })
	return results, err
}

func (r *run) runProfileUnordered(ctx context.Context, p Profile) ([]TestResult, error) {
	var results []TestResult
	var todo []Test
	for _, t := range Tests(p.Name) {
		if reason := r.skipReason(p, t); reason != "" {
			results = append(results, TestResult{Name: t.ShortName, Description: t.Description, Spec: t.Spec,
				Features: t.Features, Extended: t.extended(p), Outcome: Skip, Reason: reason})
			continue
		}
		todo = append(todo, t)
	}
	if len(todo) == 0 {
		return results, nil
	}
	ns := p.namespace + "-" + rand.String(6)
	r.opts.Log("%s: namespace %s", p.Name, ns)
	// Cleanup always: even when ctx is cancelled (Ctrl-C), the namespace goes.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := r.cs.CoreV1().Namespaces().Delete(cctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			r.opts.Log("%s: deleting namespace %s: %v", p.Name, ns, err)
		}
	}()
	if err := r.setup(ctx, ns); err != nil {
		// Every test fails the same way: the apps could not be set up.
		for _, t := range todo {
			results = append(results, TestResult{Name: t.ShortName, Description: t.Description, Spec: t.Spec,
				Features: t.Features, Extended: t.extended(p), Outcome: Fail, Reason: "setup: " + err.Error()})
		}
		return results, ctx.Err()
	}
	for _, t := range todo {
		if ctx.Err() != nil {
			results = append(results, TestResult{Name: t.ShortName, Description: t.Description, Spec: t.Spec,
				Features: t.Features, Extended: t.extended(p), Outcome: Skip, Reason: "run cancelled"})
			continue
		}
		res := r.runTest(ctx, p, t, ns)
		r.opts.Log("%s: %s %s %s", p.Name, t.ShortName, res.Outcome, res.Reason)
		results = append(results, res)
	}
	return results, ctx.Err()
}

func (r *run) skipReason(p Profile, t Test) string {
	for _, s := range r.opts.SkipTests {
		if s == t.ShortName {
			return "skipped on request (--skip-tests)"
		}
	}
	for _, f := range t.Features {
		if !r.supported(p, f) {
			return fmt.Sprintf("extended feature %s not claimed by the implementation", f)
		}
	}
	return ""
}

func (r *run) runTest(ctx context.Context, p Profile, test Test, ns string) (res TestResult) {
	began := time.Now()
	t := &T{ctx: ctx, r: r, Namespace: ns}
	res = TestResult{Name: test.ShortName, Description: test.Description, Spec: test.Spec, Features: test.Features, Extended: test.extended(p)}
	var objs []*unstructured.Unstructured
	if test.Manifests != nil {
		objs = test.Manifests(ns)
	}
	defer func() {
		t.deleteAll(objs)
		res.Duration = time.Since(began).Round(time.Millisecond).String()
	}()
	func() {
		defer func() {
			if v := recover(); v != nil {
				if _, ok := v.(stop); !ok {
					t.setupErr = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
				}
			}
		}()
		if err := t.apply(objs...); err != nil {
			t.Setupf("applying manifests: %v", err)
		}
		test.Test(t)
	}()
	res.Assertions = t.assertions
	switch {
	case t.setupErr != nil:
		res.Outcome, res.Reason = Fail, "setup: "+t.setupErr.Error()
	default:
		res.Outcome = Pass
		for _, a := range t.assertions {
			if !a.Passed {
				res.Outcome = Fail
				res.Reason = fmt.Sprintf("%s: expected %s, observed %s", a.Description, a.Expected, a.Observed)
				break
			}
		}
		if len(t.assertions) == 0 && res.Outcome == Pass {
			res.Outcome, res.Reason = Fail, "the test made no assertion"
		}
	}
	return res
}

// Apps of every test namespace.
var Apps = []string{"app-a", "app-b", "app-c"}

// BackendService selects app-b and app-c.
const BackendService = "backend"

func (r *run) setup(ctx context.Context, ns string) error {
	inj := Injections[r.opts.Mesh.Name]
	labels := map[string]string{kube.ManagedByLabel: kube.FieldManager, "meshperf.io/conformance": "true"}
	annotations := map[string]string{}
	for k, v := range inj.Labels {
		labels[k] = v
	}
	for k, v := range r.opts.NamespaceLabels {
		labels[k] = v
	}
	for k, v := range inj.Annotations {
		annotations[k] = v
	}
	for k, v := range r.opts.NamespaceAnnotations {
		annotations[k] = v
	}
	nsObj := obj("v1", "Namespace", "", ns)
	nsObj.SetLabels(labels)
	nsObj.SetAnnotations(annotations)
	t := &T{ctx: ctx, r: r, Namespace: ns}
	if err := t.apply(nsObj); err != nil {
		return err
	}
	if err := t.apply(AppManifests(ns, r.opts.Image)...); err != nil {
		return err
	}
	// The apps answer (through the reacher) when their pods run and the mesh has them.
	deadline := time.Now().Add(2 * r.opts.StepTimeout)
	for _, app := range Apps {
		for {
			code, body, err := r.opts.Reacher.Do(ctx, ns, app, PortHTTP, http.MethodDelete, "/counts", nil)
			if err == nil && code == http.StatusNoContent {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s did not answer within %v: %d %s %v", app, 2*r.opts.StepTimeout, code, truncate(string(body), 200), err)
			}
			sleep(ctx, 200*time.Millisecond)
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Kinds the suite applies.
var gvrs = map[string]schema.GroupVersionResource{
	"Namespace":      {Version: "v1", Resource: "namespaces"},
	"ServiceAccount": {Version: "v1", Resource: "serviceaccounts"},
	"Service":        {Version: "v1", Resource: "services"},
	"Deployment":     {Group: "apps", Version: "v1", Resource: "deployments"},
	"TrafficTarget":  {Group: "access.smi-spec.io", Version: "v1alpha3", Resource: "traffictargets"},
	"HTTPRouteGroup": {Group: "specs.smi-spec.io", Version: "v1alpha4", Resource: "httproutegroups"},
	"TrafficSplit":   {Group: "split.smi-spec.io", Version: "v1alpha4", Resource: "trafficsplits"},
	"HTTPRoute":      {Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"},
	"GRPCRoute":      {Group: "gateway.networking.k8s.io", Version: "v1", Resource: "grpcroutes"},
}

// GVR of a kind the suite applies.
func GVR(kind string) (schema.GroupVersionResource, bool) { g, ok := gvrs[kind]; return g, ok }

func (t *T) resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvr, ok := gvrs[o.GetKind()]
	if !ok {
		return nil, fmt.Errorf("kind %s is not one the suite applies", o.GetKind())
	}
	if o.GetNamespace() == "" {
		return t.r.dyn.Resource(gvr), nil
	}
	return t.r.dyn.Resource(gvr).Namespace(o.GetNamespace()), nil
}

func (t *T) apply(objs ...*unstructured.Unstructured) error {
	for _, o := range objs {
		ri, err := t.resource(o)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(t.ctx, t.r.opts.StepTimeout)
		_, err = ri.Apply(ctx, o.GetName(), o, kube.ApplyOptions())
		cancel()
		if err != nil {
			return fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

// Apply applies objects (server-side) or stops the test as a setup failure.
func (t *T) Apply(objs ...*unstructured.Unstructured) {
	if err := t.apply(objs...); err != nil {
		t.Setupf("applying: %v", err)
	}
}

// Delete deletes objects or stops the test as a setup failure.
func (t *T) Delete(objs ...*unstructured.Unstructured) {
	for _, o := range objs {
		ri, err := t.resource(o)
		if err == nil {
			ctx, cancel := context.WithTimeout(t.ctx, t.r.opts.StepTimeout)
			err = ri.Delete(ctx, o.GetName(), metav1.DeleteOptions{})
			cancel()
		}
		if err != nil && !apierrors.IsNotFound(err) {
			t.Setupf("deleting %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

func (t *T) deleteAll(objs []*unstructured.Unstructured) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 30*time.Second)
	defer cancel()
	for i := len(objs) - 1; i >= 0; i-- {
		if ri, err := t.resource(objs[i]); err == nil {
			_ = ri.Delete(ctx, objs[i].GetName(), metav1.DeleteOptions{})
		}
	}
}

// Call asks app from to make the described call and returns what it got.
func (t *T) Call(from string, c sampleapp.CallRequest) (sampleapp.CallResult, error) {
	var res sampleapp.CallResult
	b, _ := json.Marshal(c)
	ctx, cancel := context.WithTimeout(t.ctx, t.r.opts.StepTimeout+time.Duration(c.Count)*50*time.Millisecond)
	defer cancel()
	code, body, err := t.r.opts.Reacher.Do(ctx, t.Namespace, from, PortHTTP, http.MethodPost, "/call", b)
	if err != nil {
		return res, err
	}
	if code != http.StatusOK {
		return res, fmt.Errorf("%s POST /call: %d %s", from, code, truncate(string(bytes.TrimSpace(body)), 200))
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return res, fmt.Errorf("%s POST /call: %w", from, err)
	}
	return res, nil
}

// URL of a service's port in the test namespace, as an app in the mesh calls it.
func (t *T) URL(service string, port int, path string) string {
	return fmt.Sprintf("http://%s.%s.svc.cluster.local:%d%s", service, t.Namespace, port, path)
}

// GRPCURL of a service's gRPC port.
func (t *T) GRPCURL(service string) string {
	return fmt.Sprintf("grpc://%s.%s.svc.cluster.local:%d", service, t.Namespace, PortGRPC)
}

// Eventually polls check until it holds three times in a row (a mesh applies
// configuration eventually) or the step timeout passes, and records the assertion
// with the last observation. A check that holds when the step timeout passes gets up
// to one more step timeout to be confirmed: a mesh that converged just in time (or a
// slow machine, where one check takes a second) is confirmed, not failed.
func (t *T) Eventually(description, expected string, check func() (observed string, ok bool)) bool {
	deadline := time.Now().Add(t.r.opts.StepTimeout)
	confirmBy := deadline.Add(t.r.opts.StepTimeout)
	var observed string
	inRow := 0
	for {
		var ok bool
		observed, ok = check()
		if ok {
			inRow++
			if inRow == 3 {
				return t.record(Assertion{Description: description, Expected: expected, Observed: observed, Passed: true})
			}
		} else {
			inRow = 0
		}
		now := time.Now()
		if (now.After(deadline) && (inRow == 0 || now.After(confirmBy))) || t.ctx.Err() != nil {
			return t.record(Assertion{Description: description, Expected: expected, Observed: observed, Passed: false})
		}
		sleep(t.ctx, 100*time.Millisecond)
	}
}

// Check records one assertion at once.
func (t *T) Check(description, expected, observed string, ok bool) bool {
	return t.record(Assertion{Description: description, Expected: expected, Observed: observed, Passed: ok})
}
