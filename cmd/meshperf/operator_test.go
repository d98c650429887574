package main_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/server/operatordeploy"
)

// kubeconfigAs writes a kubeconfig of context c1 that acts as the service account
// ns/sa (impersonation): a process outside the cluster gets exactly the grant the
// pod would have.
func kubeconfigAs(t *testing.T, merged []byte, ns, sa string) string {
	t.Helper()
	cfg, err := clientcmd.Load(k8stest.Contexts(t, merged, []string{"c1"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range cfg.AuthInfos {
		ai.Impersonate = "system:serviceaccount:" + ns + ":" + sa
	}
	path := filepath.Join(t.TempDir(), "kubeconfig-"+sa)
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// localArgs are a Deployment's container args with only what cannot hold outside a
// pod replaced: each flag in swap gets the value given (listen addresses, mounted
// files, in-cluster DNS names); a flag to swap that the Deployment lacks fails the
// test. Everything else is passed exactly as the Deployment carries it.
func localArgs(t *testing.T, d *appsv1.Deployment, swap map[string]string) []string {
	t.Helper()
	args := slices.Clone(d.Spec.Template.Spec.Containers[0].Args)
	for flag, v := range swap {
		i := slices.Index(args, flag)
		if i < 0 || i+1 >= len(args) {
			t.Fatalf("deployment %s has no %s: %q", d.Name, flag, args)
		}
		args[i+1] = v
	}
	return args
}

func startProc(t *testing.T, name string, env []string, args ...string) *syncBuffer {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	procStops = append(procStops, stop)
	return logs
}

var procStops []func()

func getDeployment(t *testing.T, cs kubernetes.Interface, ns, name string, within time.Duration) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	waitUntil(t, within, func() string { return "no deployment " + ns + "/" + name }, func() bool {
		var err error
		d, err = cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		return err == nil
	})
	return d
}

// Operator mode end to end, with no inbound port into the "cluster": the server
// installs the operator for c1 when its connection switches to operator mode; the
// operator, run as its Deployment runs it (its args and env, its service account's
// grant through impersonation), turns the Broker and MeshSync resources into
// Deployments; the broker and MeshSync, run with exactly those Deployments' args,
// carry c1's objects to the inventory through a leaf connection the broker dials out
// to the server. Then back to embedded mode while objects come and go: the operator
// and everything it made are removed, and the inventory equals the cluster.
func TestOperatorModeThroughTheLeafBroker(t *testing.T) {
	procStops = nil
	merged := k8stest.Require(t, 1)
	cs := k8stest.Clientset(t, merged, "c1")
	ctx := context.Background()
	ns, opns := k8stest.Namespace("mp-op-e2e"), k8stest.Namespace("mp-op-sys")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A test that failed midway leaves the operator's objects (a MeshSync whose
		// finalizer no operator will run, cluster-wide grants): Remove takes them out.
		if _, err := operatordeploy.Remove(context.Background(), k8stest.RESTConfig(t, merged, "c1"), opns); err != nil {
			t.Logf("cleanup: %v", err)
		}
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), opns, metav1.DeleteOptions{})
	})
	leafAddr := freeAddr(t)
	srv := startServerWith(t, freeAddr(t), t.TempDir(), "", []string{"--nats-leaf-addr", leafAddr,
		"--operator-namespace", opns, "--operator-image", "meshperf:e2e"}, "MESHPERF_ADMIN_TOKEN="+adminToken)
	loginAndAddC1(t, srv, merged)
	scope := []string{"--include-namespace", ns, "--include-kind", "ConfigMap"}
	if r := meshperf(t, append([]string{"inventory", "scope", "c1", "--mode", "embedded"}, scope...)...); r.code != 0 {
		t.Fatalf("scope: %d %s", r.code, r.stderr)
	}

	// Churn: config maps created and deleted all along, until the end.
	churnCtx, stopChurn := context.WithCancel(ctx)
	var churn sync.WaitGroup
	churn.Add(1)
	go func() {
		defer churn.Done()
		for i := 0; churnCtx.Err() == nil; i++ {
			_, _ = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("churn-%d", i)}}, metav1.CreateOptions{})
			if i%3 == 2 {
				_ = cs.CoreV1().ConfigMaps(ns).Delete(ctx, fmt.Sprintf("churn-%d", i-2), metav1.DeleteOptions{})
			}
			select {
			case <-churnCtx.Done():
			case <-time.After(150 * time.Millisecond):
			}
		}
	}()
	defer func() { stopChurn(); churn.Wait() }()

	// Embedded -> operator: the server installs the operator and its resources.
	if r := meshperf(t, append([]string{"inventory", "scope", "c1", "--mode", "operator"}, scope...)...); r.code != 0 {
		t.Fatalf("scope --mode operator: %d %s", r.code, r.stderr)
	}
	opDep := getDeployment(t, cs, opns, "meshperf-operator", 60*time.Second)
	health := freeAddr(t)
	opEnv := []string{"POD_NAMESPACE=" + opns} // the Deployment's downward-API env, resolved
	for _, e := range opDep.Spec.Template.Spec.Containers[0].Env {
		if e.Name != "POD_NAMESPACE" {
			t.Errorf("operator env %s not handled by this test", e.Name)
		}
	}
	opArgs := append(localArgs(t, opDep, map[string]string{"--health-addr": health}),
		// The service account's grant through impersonation; the namespace limit keeps
		// this operator off other tests' resources in the shared cluster.
		"--kubeconfig", kubeconfigAs(t, merged, opns, "meshperf-operator"), "--context", "c1", "--namespace", opns)
	opLogs := startProc(t, "operator", opEnv, opArgs...)
	waitUntil(t, 60*time.Second, func() string { return "operator not ready:\n" + opLogs.String() }, func() bool {
		resp, err := http.Get("http://" + health + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	brokerDep := getDeployment(t, cs, opns, "meshperf-broker-meshperf", 60*time.Second)
	msDep := getDeployment(t, cs, opns, "meshperf-meshsync-meshperf", 60*time.Second)
	vol := brokerDep.Spec.Template.Spec.Volumes[0].Secret
	secret, err := cs.CoreV1().Secrets(opns).Get(ctx, vol.SecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token") // the mounted secret
	if err := os.WriteFile(tokenFile, secret.Data[vol.Items[0].Key], 0o600); err != nil {
		t.Fatal(err)
	}
	if u := brokerArg(brokerDep, "--server-url"); u != "nats-leaf://"+leafAddr {
		t.Errorf("the broker dials %q, the server's leaf listener is %s", u, leafAddr)
	}
	brokerAddr, brokerMon := freeAddr(t), freeAddr(t)
	bLogs := startProc(t, "broker", nil, localArgs(t, brokerDep, map[string]string{"--token-file": tokenFile,
		"--addr": brokerAddr, "--monitor-addr": brokerMon})...)
	waitUntil(t, 30*time.Second, func() string { return "the broker's leaf is not up:\n" + bLogs.String() }, func() bool {
		resp, err := http.Get("http://" + brokerMon + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	msArgs := append(localArgs(t, msDep, map[string]string{"--token-file": tokenFile, "--nats-url": "nats://" + brokerAddr}),
		"--kubeconfig", kubeconfigAs(t, merged, opns, "meshperf-meshsync-meshperf"), "--context", "c1")
	msLogs := startProc(t, "meshsync", nil, msArgs...)

	// Created while only the in-cluster MeshSync discovers c1.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "via-leaf"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var page struct{ Items []struct{ Name string } }
	waitUntil(t, 90*time.Second, func() string {
		return "via-leaf not in the inventory; meshsync said:\n" + msLogs.String() + "\nbroker said:\n" + bLogs.String()
	}, func() bool {
		page.Items = nil
		return api(t, "GET", srv.url+"/api/v1/inventory?cluster=c1&namespace="+ns+"&name=via-leaf", adminToken, nil, &page) == 200 && len(page.Items) == 1
	})
	var h struct {
		Mode     string
		Embedded *struct{ State string }
		Operator *struct {
			Install  string
			Operator struct{ State string }
			Broker   struct{ State string }
			MeshSync struct{ State string }
		}
	}
	if code := api(t, "GET", srv.url+"/api/v1/clusters/c1/discovery", adminToken, nil, &h); code != 200 || h.Mode != "operator" || h.Embedded != nil ||
		h.Operator == nil || h.Operator.Install != "installed" || h.Operator.Broker.State == "absent" || h.Operator.MeshSync.State == "absent" {
		t.Errorf("discovery health in operator mode: %d %+v %+v", code, h, h.Operator)
	}
	if r := meshperf(t, "cluster", "get", "c1"); r.code != 0 || !strings.Contains(r.stdout, "Operator:") || !strings.Contains(r.stdout, "meshsync") {
		t.Errorf("cluster get: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// Operator -> embedded, the config maps still churning: the in-cluster processes
	// stop (their Deployments go), the server removes every object it installed and
	// discovers c1 itself again.
	for _, stop := range procStops {
		stop()
	}
	if r := meshperf(t, append([]string{"inventory", "scope", "c1", "--mode", "embedded"}, scope...)...); r.code != 0 {
		t.Fatalf("scope --mode embedded: %d %s", r.code, r.stderr)
	}
	waitUntil(t, 60*time.Second, func() string { return "the operator's objects are still there" }, func() bool {
		_, e1 := cs.AppsV1().Deployments(opns).Get(ctx, "meshperf-operator", metav1.GetOptions{})
		_, e2 := cs.RbacV1().ClusterRoles().Get(ctx, "meshperf-operator-"+opns, metav1.GetOptions{})
		_, e3 := cs.RbacV1().ClusterRoles().Get(ctx, "meshperf-meshsync-"+opns+"-meshperf", metav1.GetOptions{})
		_, e4 := cs.CoreV1().Secrets(opns).Get(ctx, "meshperf-cluster-credential", metav1.GetOptions{})
		return apierrors.IsNotFound(e1) && apierrors.IsNotFound(e2) && apierrors.IsNotFound(e3) && apierrors.IsNotFound(e4)
	})
	time.Sleep(time.Second) // churn on under embedded discovery a moment
	stopChurn()
	churn.Wait()

	want := func() []string {
		l, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range l.Items {
			names = append(names, c.Name)
		}
		sort.Strings(names)
		return names
	}()
	var got []string
	waitUntil(t, 90*time.Second, func() string { return fmt.Sprintf("inventory %v\ncluster   %v", got, want) }, func() bool {
		page.Items = nil
		if api(t, "GET", srv.url+"/api/v1/inventory?cluster=c1&namespace="+ns+"&kind=ConfigMap&limit=1000", adminToken, nil, &page) != 200 {
			return false
		}
		got = got[:0]
		for _, it := range page.Items {
			got = append(got, it.Name)
		}
		sort.Strings(got)
		return slices.Equal(got, want)
	})
	if len(want) < 5 {
		t.Errorf("only %d config maps: the churn did not run", len(want))
	}
}

func brokerArg(d *appsv1.Deployment, flag string) string {
	args := d.Spec.Template.Spec.Containers[0].Args
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// --disable-operator: switching to operator mode is refused with the reason, on the
// API and in the CLI.
func TestDisableOperatorRefusesOperatorMode(t *testing.T) {
	merged := k8stest.Require(t, 1)
	srv := startServerWith(t, freeAddr(t), t.TempDir(), "", []string{"--disable-operator"}, "MESHPERF_ADMIN_TOKEN="+adminToken)
	loginAndAddC1(t, srv, merged, "--discover-only")
	r := meshperf(t, "inventory", "scope", "c1", "--mode", "operator")
	if r.code == 0 || !strings.Contains(r.stderr, "--disable-operator") {
		t.Errorf("operator mode on a server that forbids it: %d %s %s", r.code, r.stdout, r.stderr)
	}
	var e struct{ Error struct{ Code string } }
	if code := api(t, "PUT", srv.url+"/api/v1/clusters/c1/discovery/settings", adminToken, map[string]any{"mode": "operator"}, &e); code != 409 || e.Error.Code != "operator_disabled" {
		t.Errorf("API: %d %+v", code, e)
	}
	if r := meshperf(t, "inventory", "scope", "c1", "--mode", "embedded"); r.code != 0 {
		t.Errorf("embedded mode refused too: %d %s", r.code, r.stderr)
	}
}
