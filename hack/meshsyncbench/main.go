// Command meshsyncbench measures MeshSync at scale: 50,000 objects (pods, services,
// config maps and a CRD's objects, a quarter each) in a namespace of its own in test
// cluster c1, then, for `meshperf meshsync` and for a naive discoverer (full-object
// informers over the same kinds, every object published whole), one after the other
// in the same run: the time from process start to a complete inventory in the store
// (server/inventory consuming JetStream into a real database: every object stored
// and the snapshot's end applied), the time to the snapshot published, and the peak
// RSS of the discovering process, printed as ratios. It runs once on SQLite (a file
// in a temporary folder) and once on PostgreSQL when one is reachable.
//
//	go run ./hack/meshsyncbench -meshperf bin/meshperf [-objects 50000] [-databases sqlite,postgres]
//
// Pods carry a scheduling gate, so they stay Pending and unchanged (no scheduler or
// kwok churn during the measurement); services are headless (no cluster IPs to run
// out of). Goal: MeshSync under 30 s and 300 MB.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/hack/internal/harness"
)

func main() {
	bin := flag.String("meshperf", "bin/meshperf", "meshperf binary")
	objects := flag.Int("objects", 50_000, "objects to create (a quarter of each kind)")
	kubeconfig := flag.String("kubeconfig", filepath.Join(clustersDir(), "kubeconfig"), "the test clusters' kubeconfig")
	kctx := flag.String("context", "c1", "context")
	naive := flag.Bool("naive", false, "internal: run as the naive discoverer")
	natsURL := flag.String("nats-url", "", "internal: the naive discoverer's broker")
	namespace := flag.String("namespace", "", "internal: the naive discoverer's namespace")
	group := flag.String("group", "", "internal: the naive discoverer's CRD group")
	cluster := flag.String("cluster", "", "internal: the naive discoverer's cluster ID")
	databases := flag.String("databases", "sqlite,postgres", "stores to fill, in order (postgres is left out when unreachable)")
	pgURL := flag.String("postgres", postgresURL(), "PostgreSQL server to create the benchmark's database on")
	flag.Parse()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: *kubeconfig}, &clientcmd.ConfigOverrides{CurrentContext: *kctx}).ClientConfig()
	harness.Check(err)
	cfg.QPS, cfg.Burst = 1000, 2000
	if *naive {
		harness.Check(runNaive(cfg, *natsURL, *cluster, *namespace, *group))
		return
	}
	defer harness.Cleanup()
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)

	suffix := strconv.FormatInt(time.Now().Unix(), 36)
	ns := "meshsyncbench-" + suffix
	grp := suffix + ".bench.meshperf.test"
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	harness.Check(err)
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	harness.OnExit(func() {
		fmt.Println("cleaning up: deleting namespace", ns, "and the CRD (the API server finishes in the background)")
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		_ = dyn.Resource(crdGVR).Delete(context.Background(), "items."+grp, metav1.DeleteOptions{})
	})
	harness.Check(createCRD(ctx, dyn, crdGVR, grp))
	began := time.Now()
	created := populate(ctx, cs, dyn, ns, grp, *objects)
	fmt.Printf("created %d objects in %s (namespace %s)\n", created, time.Since(began).Round(time.Second), ns)

	nc, js := startNATS()
	type round struct {
		db     string
		ms, nv result
	}
	var rounds []round
	for _, db := range strings.Split(*databases, ",") {
		sk, err := openSink(db, *pgURL, nc, js)
		if errors.Is(err, errNoPostgres) {
			fmt.Printf("%s: skipped: %v\n", db, err)
			continue
		}
		harness.Check(err)
		msCluster, nvCluster := "meshsync-"+db, "naive-"+db
		sk.connect(msCluster)
		sk.connect(nvCluster)
		ms := measure("meshsync", msCluster, sk, nc, func(url string) *exec.Cmd {
			return exec.Command(*bin, "meshsync", "--kubeconfig", *kubeconfig, "--context", *kctx, "--nats-url", url,
				"--cluster", msCluster, "--include-namespaces", ns)
		}, created)
		nv := measure("naive", nvCluster, sk, nc, func(url string) *exec.Cmd {
			self, _ := os.Executable()
			return exec.Command(self, "-naive", "-kubeconfig", *kubeconfig, "-context", *kctx, "-nats-url", url,
				"-cluster", nvCluster, "-namespace", ns, "-group", grp)
		}, created)
		sk.close()
		// The next database's consumer starts from an empty stream.
		stream, err := js.Stream(ctx, bus.MeshSyncStream)
		harness.Check(err)
		harness.Check(stream.Purge(ctx))
		rounds = append(rounds, round{db, ms, nv})
	}

	fmt.Printf("\n%-9s %-9s %8s %8s %10s %10s %10s\n", "store", "", "listed", "rows", "published", "complete", "peak RSS")
	for _, r := range rounds {
		for _, m := range []result{r.ms, r.nv} {
			fmt.Printf("%-9s %-9s %8d %8d %9.1fs %9.1fs %7.0f MB\n", r.db, m.name, m.objects, m.rows, m.published.Seconds(), m.complete.Seconds(), m.rssMB)
		}
	}
	for _, r := range rounds {
		fmt.Printf("ratios meshsync/naive on %s: time to a complete inventory %.2f, peak RSS %.2f (time to the snapshot published %.2f)\n",
			r.db, r.ms.complete.Seconds()/r.nv.complete.Seconds(), r.ms.rssMB/r.nv.rssMB, r.ms.published.Seconds()/r.nv.published.Seconds())
		verdict := "met"
		if r.ms.complete > 30*time.Second || r.ms.rssMB > 300 {
			verdict = "NOT met"
		}
		fmt.Printf("goal on %s (complete inventory < 30 s, < 300 MB for %d objects): %s\n", r.db, created, verdict)
	}
}

func postgresURL() string {
	if u := os.Getenv("MESHPERF_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

func clustersDir() string {
	if d := os.Getenv("MESHPERF_CLUSTERS_DIR"); d != "" {
		return d
	}
	return "/tmp/meshperf-clusters"
}

type result struct {
	name      string
	objects   int   // listed in the snapshot
	rows      int64 // in the store once it is complete
	published time.Duration
	complete  time.Duration
	rssMB     float64
}

// measure starts one discoverer and times, from its start, its snapshot's end marker
// arriving on the broker (published) and the inventory applying it (complete: every
// listed object stored); then reads the process's peak RSS.
func measure(name, cluster string, sk *sink, nc *nats.Conn, command func(url string) *exec.Cmd, want int) result {
	type end struct {
		count int
		boot  string
		seq   uint64
		at    time.Time
	}
	ends := make(chan end, 1)
	subject, err := bus.MeshSyncEvents(cluster)
	harness.Check(err)
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		e, err := bus.DecodeMeshSync(m.Data)
		if err == nil && e.MeshSyncEvent.Type == bus.EventSnapshotEnd {
			select {
			case ends <- end{e.MeshSyncEvent.Count, e.Boot, e.Seq, time.Now()}:
			default:
			}
		}
	})
	harness.Check(err)
	defer func() { _ = sub.Unsubscribe() }()
	cmd := command(nc.ConnectedUrl())
	cmd.Stderr = os.Stderr
	began := time.Now()
	harness.Check(cmd.Start())
	harness.OnExit(func() { harness.Stop(cmd) })
	var e end
	select {
	case e = <-ends:
	case <-time.After(10 * time.Minute):
		harness.Check(fmt.Errorf("%s: no complete snapshot within 10 minutes", name))
	}
	harness.Check(sk.appliedThrough(cluster, e.boot, e.seq, 10*time.Minute))
	r := result{name: name, objects: e.count, published: e.at.Sub(began), complete: time.Since(began)}
	if r.rssMB = peakRSS(cmd.Process.Pid); r.rssMB == 0 {
		harness.Check(fmt.Errorf("%s: the process exited before its peak RSS was read (see its errors above)", name))
	}
	harness.Stop(cmd)
	r.rows = sk.rows(cluster)
	fmt.Printf("%s on %s: %d objects listed, published in %s, stored (complete inventory, %d rows) in %s, peak RSS %.0f MB\n",
		name, sk.kind, r.objects, r.published.Round(10*time.Millisecond), r.rows, r.complete.Round(10*time.Millisecond), r.rssMB)
	if r.objects < want || r.rows < int64(want) {
		fmt.Printf("%s: WARNING: %d objects listed and %d stored, fewer than the %d created\n", name, r.objects, r.rows, want)
	}
	return r
}

// peakRSS is a process's high-water resident set (VmHWM), in MB.
func peakRSS(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	harness.Check(err)
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func startNATS() (*nats.Conn, jetstream.JetStream) {
	dir, err := os.MkdirTemp("", "meshsyncbench")
	harness.Check(err)
	harness.OnExit(func() { os.RemoveAll(dir) })
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, JetStream: true,
		StoreDir: dir, NoLog: true, NoSigs: true, MaxPayload: 1 << 20})
	harness.Check(err)
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		harness.Check(fmt.Errorf("NATS did not start"))
	}
	harness.OnExit(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	harness.Check(err)
	js, err := jetstream.New(nc)
	harness.Check(err)
	_, err = js.CreateStream(context.Background(), bus.MeshSyncStreamConfig())
	harness.Check(err)
	return nc, js
}

func createCRD(ctx context.Context, dyn dynamic.Interface, crdGVR schema.GroupVersionResource, group string) error {
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "items." + group},
		"spec": map[string]any{"group": group, "scope": "Namespaced",
			"names": map[string]any{"plural": "items", "singular": "item", "kind": "Item", "listKind": "ItemList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}},
	}}
	if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		return err
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got, err := dyn.Resource(crdGVR).Get(ctx, "items."+group, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				if m, _ := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
					time.Sleep(2 * time.Second) // let discovery catch up before the first create
					return nil
				}
			}
		}
	}
	return fmt.Errorf("CRD items.%s not established within a minute", group)
}

// populate creates n objects with parallel workers and returns how many exist.
func populate(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, ns, group string, n int) int {
	items := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "items"}
	labels := map[string]string{"app.kubernetes.io/managed-by": "meshsyncbench", "tier": "bench"}
	create := func(i int) error {
		name := fmt.Sprintf("o-%06d", i)
		meta := metav1.ObjectMeta{Name: name, Labels: labels}
		var err error
		switch i % 4 {
		case 0:
			_, err = cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: meta, Spec: corev1.PodSpec{
				SchedulingGates: []corev1.PodSchedulingGate{{Name: "meshperf.io/bench"}},
				Containers: []corev1.Container{{Name: "app", Image: "example.test/app:1.0.0",
					Env: []corev1.EnvVar{{Name: "A", Value: strings.Repeat("x", 200)}}},
					{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.24.0"}}}}, metav1.CreateOptions{})
		case 1:
			_, err = cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
				ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": name},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}, metav1.CreateOptions{})
		case 2:
			_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: meta,
				Data: map[string]string{"config.yaml": strings.Repeat("key: value\n", 40)}}, metav1.CreateOptions{})
		default:
			_, err = dyn.Resource(items).Namespace(ns).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": group + "/v1", "kind": "Item", "metadata": map[string]any{"name": name, "labels": map[string]any{"tier": "bench"}},
				"spec": map[string]any{"size": int64(i), "note": strings.Repeat("y", 200)}}}, metav1.CreateOptions{})
		}
		return err
	}
	var next, ok, failed atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for w := 0; w < 48; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				var err error
				for try := 0; try < 5; try++ {
					if err = create(i); err == nil {
						break
					}
					time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
				}
				if err != nil {
					if failed.Add(1) <= 3 {
						fmt.Fprintln(os.Stderr, "create:", err)
					}
					continue
				}
				if c := ok.Add(1); c%10_000 == 0 {
					fmt.Printf("  %d objects created (%s)\n", c, time.Since(began).Round(time.Second))
				}
			}
		}()
	}
	wg.Wait()
	return int(ok.Load())
}
