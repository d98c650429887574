package meshes

import (
	"context"
	"errors"
	"io"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/internal/promtest"
	"github.com/meshperf/meshperf/promquery"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/storetest"
	"github.com/meshperf/meshperf/smp"
)

// A Prometheus laid out on c1 as its chart installs it (Deployment and Service) and a
// Grafana no Service reaches: identifying the cluster offers the Prometheus as a
// discovered prometheus connection reached through c1's API server service proxy, and
// the Grafana as discovered, needing a URL; identifying again adds nothing. Accepted
// by an admin, the Prometheus is checked through the proxy with c1's credential: a
// real Prometheus (kwok runs no container, so its pod is given an address on this
// machine that leads to one) answers, and queries reach it the same way.
func TestFoundPrometheusOfferedAsDiscovered(t *testing.T) {
	merged := k8stest.Require(t, 1)
	ctx := context.Background()
	ns := k8stest.Namespace("mp-found-prom")
	c1 := openCluster(t, merged, "c1")
	c1.namespace(ns)
	c1.deployment(ns, "prometheus-server", 1, map[string]string{"app.kubernetes.io/name": "prometheus"},
		container{"prometheus-server", "quay.io/prometheus/prometheus:v3.1.0"})
	c1.service(ns, "prometheus-server", map[string]string{"fp-app": "prometheus-server"}, 80, 9090)
	c1.deployment(ns, "grafana", 1, map[string]string{"app.kubernetes.io/name": "grafana"}, container{"grafana", "docker.io/grafana/grafana:11.4.0"})

	st := storetest.Open(t, "sqlite")
	box, _, err := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	conns := connections.New(st, connections.Options{Box: box})
	res, err := conns.Add(ctx, k8stest.Contexts(t, merged, []string{"c1"}, nil), nil, false, "ops")
	if err != nil || len(res) != 1 || res[0].Connection == nil {
		t.Fatalf("adding c1: %+v %v", res, err)
	}
	cluster := res[0].Connection
	svc := New(conns, &LiveSource{Clusters: conns, PageSize: 200}, slog.New(slog.NewTextHandler(io.Discard, nil)))

	mine := func(kind string) []*connections.View {
		t.Helper()
		vs, err := conns.ListKind(ctx, kind)
		if err != nil {
			t.Fatal(err)
		}
		var out []*connections.View
		for _, v := range vs {
			if strings.Contains(v.Name, ns) {
				out = append(out, v)
			}
		}
		return out
	}
	for round := range 2 {
		if cm, err := svc.Cluster(ctx, "c1"); err != nil || cm.Error != "" {
			t.Fatalf("identifying c1: %+v %v", cm, err)
		}
		proms, grafanas := mine(connections.KindPrometheus), mine(connections.KindGrafana)
		if len(proms) != 1 || len(grafanas) != 1 {
			t.Fatalf("round %d: %d prometheus and %d grafana connections of %s, want one each", round, len(proms), len(grafanas), ns)
		}
		p, g := proms[0], grafanas[0]
		wantURL := cluster.Server + "/api/v1/namespaces/" + ns + "/services/prometheus-server:80/proxy"
		if p.State != string(connections.Discovered) || p.Server != wantURL || p.Version != "3.1.0" || p.CreatedBy != connections.FoundBy || p.Name != "c1-"+ns+"-prometheus-server" {
			t.Errorf("round %d: prometheus %+v, want discovered at %s", round, p, wantURL)
		}
		if g.State != string(connections.Discovered) || g.Server != "" || !strings.HasPrefix(g.LastError, connections.NeedsURL) {
			t.Errorf("round %d: grafana %+v, want discovered, needing a URL", round, g)
		}
	}
	prom := mine(connections.KindPrometheus)[0]

	// A Grafana that needs a URL cannot be accepted: its check says why.
	grafana := mine(connections.KindGrafana)[0]
	var unreachable *connections.UnreachableError
	if _, err := conns.SetState(ctx, grafana.ID, connections.Connected, "admin"); !errors.As(err, &unreachable) || !strings.Contains(err.Error(), connections.NeedsURL) {
		t.Errorf("accepting a Grafana without a URL: %v", err)
	}

	// kwok runs no container: the Prometheus pod is given this machine's address (the
	// API server proxies to no loopback address, and only to an address its target
	// pod holds), where a relay leads to a real Prometheus on the Service's target
	// port. The endpoints controller then points the Service at it as at any pod.
	real := promtest.Start(t)
	host := hostAddress(t)
	relayTo(t, net.JoinHostPort(host, "9090"), strings.TrimPrefix(real.URL, "http://"))
	var pod *corev1.Pod
	for deadline := time.Now().Add(90 * time.Second); pod == nil; time.Sleep(200 * time.Millisecond) {
		l, err := c1.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "fp-app=prometheus-server"})
		if err == nil && len(l.Items) == 1 && l.Items[0].Status.Phase == corev1.PodRunning && l.Items[0].Status.PodIP != "" {
			pod = &l.Items[0]
		}
		if pod == nil && time.Now().After(deadline) {
			t.Fatalf("the Prometheus pod is not running after 90 s: %v", err)
		}
	}
	pod.Status.PodIP, pod.Status.PodIPs = host, []corev1.PodIP{{IP: host}}
	if _, err := c1.cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The Service's endpoints name the pod at that address as the endpoints controller
	// would (written here: on a loaded cluster the controller can lag by minutes). The
	// API server proxies only to an address its target pod holds.
	eps := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "prometheus-server", Namespace: ns}, //nolint:staticcheck // the service proxy reads Endpoints
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: host, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID}}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: 9090, Protocol: corev1.ProtocolTCP}}}}}
	// The endpoints controller may write the same object meanwhile: retry on its
	// conflicts (and on its create winning the race).
	err = retry.OnError(retry.DefaultRetry, func(err error) bool {
		return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)
	}, func() error {
		cur, err := c1.cs.CoreV1().Endpoints(ns).Get(ctx, eps.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = c1.cs.CoreV1().Endpoints(ns).Create(ctx, eps, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		cur.Subsets = eps.Subsets
		_, err = c1.cs.CoreV1().Endpoints(ns).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	var accepted *connections.View
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		accepted, err = conns.SetState(ctx, prom.ID, connections.Connected, "admin")
		// A check while the endpoints change can pass on /-/ready without the version.
		if err == nil && accepted.State == string(connections.Connected) && accepted.Version != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("accepting the found Prometheus: %+v %v", accepted, err)
		}
	}
	t.Logf("accepted through %s: version %s", accepted.Server, accepted.Version)
	endpoint, err := conns.Endpoint(ctx, prom.Name, connections.KindPrometheus)
	if err != nil || endpoint.Transport == nil {
		t.Fatalf("opening the accepted Prometheus: %+v %v", endpoint, err)
	}
	end := time.Now()
	got := promquery.Collect(ctx, promquery.Source{Name: endpoint.Name, URL: endpoint.URL, Transport: endpoint.Transport},
		&smp.MetricsConfig{Queries: []smp.MetricQuery{{Name: "one", Query: "vector(1)"}}}, "", end.Add(-time.Minute), end)
	if q := got.Queries[0]; q.Status != smp.MetricsOK {
		t.Errorf("a query through the proxy: %+v", q)
	}
	// Without the cluster's credential the same URL is refused: the proxy is not open.
	if u, _ := url.Parse(endpoint.URL); u != nil {
		plain := promquery.Collect(ctx, promquery.Source{Name: "plain", URL: endpoint.URL},
			&smp.MetricsConfig{Queries: []smp.MetricQuery{{Name: "one", Query: "vector(1)"}}}, "", end.Add(-time.Minute), end)
		if plain.Queries[0].Status == smp.MetricsOK {
			t.Error("the API server proxy answered without the cluster's credential")
		}
	}
	// Identifying again leaves the accepted connection alone.
	if _, err := svc.Cluster(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if ps := mine(connections.KindPrometheus); len(ps) != 1 || ps[0].State != string(connections.Connected) {
		t.Errorf("after another identification: %+v", ps)
	}
}

// hostAddress is this machine's first non-loopback IPv4 address.
func hostAddress(t *testing.T) string {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Fatal("this machine has no non-loopback IPv4 address for the API server to proxy to")
	return ""
}

// relayTo listens on listen and relays every connection to addr.
func relayTo(t *testing.T, listen, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("the relay cannot listen on %s: %v", listen, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer out.Close()
				go func() { _, _ = io.Copy(out, in) }()
				_, _ = io.Copy(in, out)
			}()
		}
	}()
}
