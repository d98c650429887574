package operator

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/operator/api/v1alpha1"
)

func restConfig(t *testing.T, merged []byte, ctx string) *rest.Config {
	t.Helper()
	cc, err := clientcmd.NewClientConfigFromBytes(merged)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := cc.RawConfig()
	cfg, err := clientcmd.NewDefaultClientConfig(raw, &clientcmd.ConfigOverrides{CurrentContext: ctx}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func eventually(t *testing.T, within time.Duration, what func() string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(within); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after %v: %s", within, what())
		}
	}
}

// testEnv is one namespace of c1 with meshperf's CRDs installed.
type testEnv struct {
	cfg *rest.Config
	cs  kubernetes.Interface
	c   client.Client
	ns  string
}

func newTestEnv(t *testing.T) *testEnv {
	merged := k8stest.Require(t, 1)
	cfg := restConfig(t, merged, "c1")
	ctx := context.Background()
	if err := InstallCRDs(ctx, cfg, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ns := k8stest.Namespace("mp-operator")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// MeshSyncs hold a finalizer that only a running operator removes: the test
		// removes what is left itself.
		var l v1alpha1.MeshSyncList
		if c.List(context.Background(), &l, client.InNamespace(ns)) == nil {
			for _, m := range l.Items {
				_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), MeshSyncClusterRoleName(&m), metav1.DeleteOptions{})
				_ = cs.RbacV1().ClusterRoles().Delete(context.Background(), MeshSyncClusterRoleName(&m), metav1.DeleteOptions{})
				m.Finalizers = nil
				_ = c.Update(context.Background(), &m)
			}
		}
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	return &testEnv{cfg: cfg, cs: cs, c: c, ns: ns}
}

// The API server holds Broker and MeshSync specs to the CRDs' schemas: each invalid
// spec is refused with its field named; a valid one is taken.
func TestAPIServerRejectsInvalidSpecs(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	good := func() *v1alpha1.Broker {
		return &v1alpha1.Broker{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: env.ns},
			Spec: v1alpha1.BrokerSpec{ServerURL: "nats-leaf://server.example:7422", CredentialsSecret: v1alpha1.SecretKeyRef{Name: "creds"}}}
	}
	for field, mutate := range map[string]func(*v1alpha1.Broker){
		"spec.serverURL":              func(b *v1alpha1.Broker) { b.Spec.ServerURL = "http://server.example" },
		"spec.serverURL ":             func(b *v1alpha1.Broker) { b.Spec.ServerURL = "nats-leaf://user:pw@server.example:7422" },
		"spec.port":                   func(b *v1alpha1.Broker) { b.Spec.Port = 70000 },
		"spec.credentialsSecret.name": func(b *v1alpha1.Broker) { b.Spec.CredentialsSecret.Name = "Not_A_Name" },
		"metadata.name":               func(b *v1alpha1.Broker) { b.Name = strings.Repeat("b", 48) },
	} {
		b := good()
		mutate(b)
		err := env.c.Create(ctx, b)
		if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), strings.TrimSpace(field)) {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := env.c.Create(ctx, good()); err != nil {
		t.Fatalf("a valid Broker: %v", err)
	}
	goodMS := func() *v1alpha1.MeshSync {
		return &v1alpha1.MeshSync{ObjectMeta: metav1.ObjectMeta{Name: "m", Namespace: env.ns}, Spec: v1alpha1.MeshSyncSpec{Broker: "b"}}
	}
	for field, mutate := range map[string]func(*v1alpha1.MeshSync){
		"spec.broker":                     func(m *v1alpha1.MeshSync) { m.Spec.Broker = "" },
		"spec.scope.includeNamespaces[0]": func(m *v1alpha1.MeshSync) { m.Spec.Scope.IncludeNamespaces = []string{"Bad_NS"} },
		"spec.scope.includeKinds[0]":      func(m *v1alpha1.MeshSync) { m.Spec.Scope.IncludeKinds = []string{"*"} },
		"spec.scope": func(m *v1alpha1.MeshSync) {
			m.Spec.Scope.IncludeKinds, m.Spec.Scope.ExcludeKinds = []string{"Pod"}, []string{"Pod"}
		},
	} {
		m := goodMS()
		mutate(m)
		err := env.c.Create(ctx, m)
		if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := env.c.Create(ctx, goodMS()); err != nil {
		t.Fatalf("a valid MeshSync: %v", err)
	}
}

// startOperator runs the operator's manager on c1, limited to env's namespace; probe
// stands in for the broker's in-cluster /status (kwok runs no containers: the
// broker runs locally).
func startOperator(t *testing.T, env *testEnv, probe func(context.Context, *v1alpha1.Broker) (*BrokerReport, error)) string {
	t.Helper()
	health := freeAddr(t)
	mgr, err := NewManager(env.cfg, ManagerOptions{Namespace: env.ns, HealthAddr: health},
		Options{Image: "meshperf:test", Version: "v-test", Probe: probe, Resync: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return "http://" + health
}

func cond(conds []metav1.Condition, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(conds, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// Broker and MeshSync reconciled for real on c1: created, changed, given a spec the
// operator refuses, and deleted; their status and conditions; the grants of both
// service accounts, checked by impersonating them; the manager's probes.
func TestReconcileBrokerAndMeshSync(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	_, leafPort := hubWithLeafPort(t)
	local, err := StartBroker(BrokerOptions{ServerURL: "nats-leaf://127.0.0.1:" + strconv.Itoa(leafPort), Token: "mpm1.uid-op.mac",
		Addr: "127.0.0.1:0", MonitorAddr: "127.0.0.1:0", Version: "v-broker"})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	hc := &http.Client{Timeout: 2 * time.Second}
	health := startOperator(t, env, func(ctx context.Context, b *v1alpha1.Broker) (*BrokerReport, error) {
		if b.Name != "main" {
			return nil, fmt.Errorf("no broker %s here", b.Name)
		}
		return ProbeBroker(ctx, hc, local.MonitorURL)
	})

	if _, err := env.cs.CoreV1().Secrets(env.ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		StringData: map[string]string{"token": "mpm1.uid-op.mac"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ms := &v1alpha1.MeshSync{ObjectMeta: metav1.ObjectMeta{Name: "ms", Namespace: env.ns},
		Spec: v1alpha1.MeshSyncSpec{Broker: "main", Scope: v1alpha1.MeshSyncScope{IncludeNamespaces: []string{env.ns}, IncludeKinds: []string{"ConfigMap", "Pod"}}}}
	// Created before its Broker: it waits, then follows when the Broker comes.
	if err := env.c.Create(ctx, ms); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: env.ns, Name: "ms"}
	eventually(t, 20*time.Second, func() string { return fmt.Sprintf("MeshSync not waiting: %+v", ms.Status) }, func() bool {
		_ = env.c.Get(ctx, key, ms)
		return cond(ms.Status.Conditions, v1alpha1.ConditionReady).Reason == v1alpha1.ReasonWaiting
	})
	br := &v1alpha1.Broker{ObjectMeta: metav1.ObjectMeta{Name: "main", Namespace: env.ns},
		Spec: v1alpha1.BrokerSpec{ServerURL: "nats-leaf://server.example:7422", CredentialsSecret: v1alpha1.SecretKeyRef{Name: "creds"}}}
	if err := env.c.Create(ctx, br); err != nil {
		t.Fatal(err)
	}
	bkey := types.NamespacedName{Namespace: env.ns, Name: "main"}
	eventually(t, 30*time.Second, func() string { return fmt.Sprintf("Broker status %+v", br.Status) }, func() bool {
		_ = env.c.Get(ctx, bkey, br)
		return br.Status.Connected && cond(br.Status.Conditions, v1alpha1.ConditionReady).Status == metav1.ConditionTrue &&
			br.Status.Endpoint == "nats://meshperf-broker-main."+env.ns+".svc:4222" && br.Status.Version == "v-broker" && br.Status.LastSeen != nil
	})
	var bd appsv1.Deployment
	if err := env.c.Get(ctx, types.NamespacedName{Namespace: env.ns, Name: "meshperf-broker-main"}, &bd); err != nil {
		t.Fatal(err)
	}
	if bd.Spec.Template.Spec.Containers[0].Image != "meshperf:test" || !metav1.IsControlledBy(&bd, br) {
		t.Errorf("broker deployment %v, owners %v", bd.Spec.Template.Spec.Containers[0].Image, bd.OwnerReferences)
	}
	if _, err := env.cs.CoreV1().Services(env.ns).Get(ctx, "meshperf-broker-main", metav1.GetOptions{}); err != nil {
		t.Errorf("broker service: %v", err)
	}

	var md appsv1.Deployment
	dkey := types.NamespacedName{Namespace: env.ns, Name: "meshperf-meshsync-ms"}
	eventually(t, 30*time.Second, func() string { return fmt.Sprintf("MeshSync status %+v", ms.Status) }, func() bool {
		_ = env.c.Get(ctx, key, ms)
		return env.c.Get(ctx, dkey, &md) == nil && cond(ms.Status.Conditions, v1alpha1.ConditionSpecValid).Status == metav1.ConditionTrue &&
			ms.Status.ObservedGeneration == ms.Generation
	})
	args := md.Spec.Template.Spec.Containers[0].Args
	if argAfter(args, "--nats-url") != br.Status.Endpoint || argAfter(args, "--include-namespaces") != env.ns ||
		argAfter(args, "--include-kinds") != "ConfigMap,Pod" || !strings.Contains(argAfter(args, "--exclude-kinds"), "secrets") {
		t.Errorf("meshsync args %q", args)
	}
	if !slices.Contains(ms.Finalizers, Finalizer) {
		t.Errorf("no finalizer: %v", ms.Finalizers)
	}

	// MeshSync's status event passing through the broker reaches the MeshSync's
	// status (objects, last event, version).
	nc, err := nats.Connect(local.URL, nats.Token("mpm1.uid-op.mac"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	data, err := bus.Encode(&bus.Envelope{Version: bus.SchemaVersion, Kind: bus.KindMeshSyncEvent, Sender: "uid-op", Boot: "b1", Seq: 1,
		Sent: time.Now().UTC(), MeshSyncEvent: &bus.MeshSyncEvent{Cluster: "uid-op", Type: bus.EventStatus,
			Status: &bus.MeshSyncStatus{Mode: "operator", State: "watching", Objects: 42, MeshperfVers: "v-meshsync"}}})
	if err != nil {
		t.Fatal(err)
	}
	events, _ := bus.MeshSyncEvents("uid-op")
	if err := nc.Publish(events, data); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() string { return fmt.Sprintf("MeshSync status %+v", ms.Status) }, func() bool {
		_ = env.c.Get(ctx, key, ms)
		return ms.Status.Objects == 42 && ms.Status.LastEvent != nil && ms.Status.Version == "v-meshsync"
	})

	// What each service account may do, asked of the API server as that account.
	can := func(sa, verb, resource, ns, name string) bool {
		t.Helper()
		cfg := rest.CopyConfig(env.cfg)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + env.ns + ":" + sa}
		cs := kubernetes.NewForConfigOrDie(cfg)
		var err error
		switch verb + " " + resource {
		case "list configmaps":
			_, err = cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		case "list pods":
			_, err = cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		case "get secrets":
			_, err = cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		case "list secrets":
			_, err = cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		case "list nodes":
			_, err = cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		case "get namespaces":
			_, err = cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		case "create configmaps":
			_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "x-"}}, metav1.CreateOptions{DryRun: []string{"All"}})
		case "list services":
			_, err = cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		default:
			t.Fatalf("no case for %s %s", verb, resource)
		}
		if err != nil && !apierrors.IsForbidden(err) && !apierrors.IsNotFound(err) {
			t.Fatalf("%s %s %s as %s: %v", verb, resource, ns, sa, err)
		}
		return !apierrors.IsForbidden(err)
	}
	// RBAC takes a moment to reach the authorizer's cache.
	eventually(t, 20*time.Second, func() string { return "MeshSync cannot list its config maps" }, func() bool {
		return can("meshperf-meshsync-ms", "list", "configmaps", env.ns, "")
	})
	for _, c := range []struct {
		sa, verb, resource, ns, name string
		want                         bool
	}{
		{"meshperf-meshsync-ms", "list", "pods", "", "", true},
		{"meshperf-meshsync-ms", "get", "namespaces", "", "kube-system", true},
		{"meshperf-meshsync-ms", "get", "secrets", env.ns, "creds", false},
		{"meshperf-meshsync-ms", "list", "secrets", "", "", false},
		{"meshperf-meshsync-ms", "list", "nodes", "", "", false},
		{"meshperf-meshsync-ms", "list", "services", env.ns, "", false}, // not in its scope
		{"meshperf-meshsync-ms", "create", "configmaps", env.ns, "", false},
		{"meshperf-broker-main", "get", "secrets", env.ns, "creds", false},
		{"meshperf-broker-main", "list", "configmaps", env.ns, "", false},
		{"meshperf-broker-main", "list", "pods", "kube-system", "", false},
	} {
		if got := can(c.sa, c.verb, c.resource, c.ns, c.name); got != c.want {
			t.Errorf("%s may %s %s in %q: %v, want %v", c.sa, c.verb, c.resource, c.ns, got, c.want)
		}
	}

	// A changed scope rolls the Deployment and widens the grant.
	oldHash := md.Spec.Template.Annotations[HashAnnotation]
	update(t, env, key, ms, func(m *v1alpha1.MeshSync) {
		m.Spec.Scope.IncludeKinds = append(m.Spec.Scope.IncludeKinds, "Service", "Node")
		m.Spec.WatchNodes = true
	})
	eventually(t, 30*time.Second, func() string { return "the Deployment did not roll" }, func() bool {
		return env.c.Get(ctx, dkey, &md) == nil && md.Spec.Template.Annotations[HashAnnotation] != oldHash
	})
	if got := argAfter(md.Spec.Template.Spec.Containers[0].Args, "--include-kinds"); got != "ConfigMap,Pod,Service,Node" {
		t.Errorf("include-kinds %q after the update", got)
	}
	eventually(t, 20*time.Second, func() string { return "the grant did not widen" }, func() bool {
		return can("meshperf-meshsync-ms", "list", "services", env.ns, "") && can("meshperf-meshsync-ms", "list", "nodes", "", "")
	})

	// A spec the schema lets through but the operator cannot act on: a condition
	// naming the field, the last good Deployment left as it was.
	rolled := md.Spec.Template.Annotations[HashAnnotation]
	update(t, env, key, ms, func(m *v1alpha1.MeshSync) { m.Spec.Scope.IncludeKinds = []string{"secrets"} })
	eventually(t, 20*time.Second, func() string { return fmt.Sprintf("no SpecValid=False: %+v", ms.Status.Conditions) }, func() bool {
		_ = env.c.Get(ctx, key, ms)
		c := cond(ms.Status.Conditions, v1alpha1.ConditionSpecValid)
		return c.Status == metav1.ConditionFalse && c.Reason == v1alpha1.ReasonInvalidSpec && strings.Contains(c.Message, "spec.scope.includeKinds[0]") &&
			c.ObservedGeneration == ms.Generation
	})
	if err := env.c.Get(ctx, dkey, &md); err != nil || md.Spec.Template.Annotations[HashAnnotation] != rolled {
		t.Errorf("an invalid spec changed the Deployment: %v", err)
	}

	// The manager's probes exist and answer.
	for _, p := range []string{"/healthz", "/readyz"} {
		if code := get(t, health+p); code != 200 {
			t.Errorf("operator %s: %d", p, code)
		}
	}

	// Deleting the MeshSync removes its cluster-wide grant, then the MeshSync.
	crName := MeshSyncClusterRoleName(ms)
	if err := env.c.Delete(ctx, ms); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() string { return "the MeshSync or its ClusterRole is still there" }, func() bool {
		_, crErr := env.cs.RbacV1().ClusterRoles().Get(ctx, crName, metav1.GetOptions{})
		_, bErr := env.cs.RbacV1().ClusterRoleBindings().Get(ctx, crName, metav1.GetOptions{})
		return apierrors.IsNotFound(env.c.Get(ctx, key, &v1alpha1.MeshSync{})) && apierrors.IsNotFound(crErr) && apierrors.IsNotFound(bErr)
	})
	// The garbage collector takes the Deployments of both with their owners.
	if err := env.c.Delete(ctx, br); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() string { return "owned Deployments still there" }, func() bool {
		return apierrors.IsNotFound(env.c.Get(ctx, dkey, &appsv1.Deployment{})) &&
			apierrors.IsNotFound(env.c.Get(ctx, types.NamespacedName{Namespace: env.ns, Name: "meshperf-broker-main"}, &appsv1.Deployment{}))
	})
}

// update changes a MeshSync's spec, again on a conflict (the operator writes its
// status meanwhile).
func update(t *testing.T, env *testEnv, key types.NamespacedName, ms *v1alpha1.MeshSync, change func(*v1alpha1.MeshSync)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.c.Get(context.Background(), key, ms); err != nil {
			return err
		}
		change(ms)
		return env.c.Update(context.Background(), ms)
	})
	if err != nil {
		t.Fatal(err)
	}
}
