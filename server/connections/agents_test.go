package connections

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/server/agentdeploy"
	"github.com/meshperf/meshperf/server/storetest"
)

// Agents go to c1 and c2 at once while c3's API server is down: c1 and c2 each report
// three Running agents, c3 fails alone. Deploying again changes nothing; a broker
// Service in the cluster gives the endpoint when none is configured; undeploy removes
// the objects and the records.
func TestDeployAgentsToRealClusters(t *testing.T) {
	merged := k8stest.Require(t, 3)
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	token := "agent-token-0123456789abcdef"
	m, logs := newManager(t, st, Options{Agents: AgentDefaults{BrokerUser: "meshperf-agent", AgentToken: token, Image: "ghcr.io/meshperf/meshperf:test"}})
	if res, err := m.Add(ctx, k8stest.Contexts(t, merged, []string{"c1", "c2", "c3"}, nil), nil, false, "ops"); err != nil || len(res) != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	ns := k8stest.Namespace("mp-agents")
	c1, c2 := k8stest.Clientset(t, merged, "c1"), k8stest.Clientset(t, merged, "c2")
	t.Cleanup(func() {
		_ = c1.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		_ = c2.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	k8stest.StopAPIServer(t, 3)

	req := DeployRequest{Clusters: []string{"c1", "c2", "c3"}, Replicas: 3, Namespace: ns,
		BrokerEndpoint: "nats://198.18.0.10:4222", Wait: 60 * time.Second}
	reports := m.DeployAgents(ctx, req, "ops")
	t.Logf("first deploy: c1 %.1fs c2 %.1fs", reports[0].Seconds, reports[1].Seconds)
	for i, name := range []string{"c1", "c2"} {
		r := reports[i]
		if !r.OK || r.Cluster != name || r.Ready != 3 || r.Replicas != 3 || r.Endpoint.Source != agentdeploy.FromOverride {
			t.Fatalf("%s: %+v", name, r)
		}
	}
	if r := reports[2]; r.OK || r.Cluster != "c3" || !strings.Contains(r.Error, "127.0.0.1:17443") {
		t.Fatalf("c3 (API server down) should fail alone: %+v", r)
	}

	for _, name := range []string{"c1", "c2"} {
		client := k8stest.Clientset(t, merged, name)
		d, err := client.AppsV1().Deployments(ns).Get(ctx, agentdeploy.Name, metav1.GetOptions{})
		if err != nil || d.Labels[agentdeploy.ClusterLabel] != name || d.Status.ReadyReplicas != 3 {
			t.Fatalf("%s deployment: %v %+v", name, err, d.Status)
		}
		pods, _ := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: agentdeploy.ClusterLabel + "=" + name})
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running != 3 {
			t.Fatalf("%s: %d agent pods Running, want 3", name, running)
		}
		args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
		if !strings.Contains(args, "--nats nats://198.18.0.10:4222") || !strings.Contains(args, "meshperf.io/cluster="+name) || strings.Contains(args, token) {
			t.Fatalf("%s agent args: %s", name, args)
		}
		sec, err := client.CoreV1().Secrets(ns).Get(ctx, agentdeploy.Name, metav1.GetOptions{})
		if err != nil || string(sec.Data["token"]) != token {
			t.Fatalf("%s secret: %v", name, err)
		}
		sa, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, agentdeploy.Name, metav1.GetOptions{})
		if err != nil || sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Fatalf("%s: the agents' service account mounts a token: %v", name, err)
		}
	}
	if strings.Contains(logs.String(), token) {
		t.Fatal("the agent token reached the logs")
	}
	recs, _ := st.AgentDeployments(ctx, "")
	if len(recs) != 2 || recs[0].Status != "ready" || recs[0].Ready != 3 {
		t.Fatalf("records: %+v", recs)
	}

	// Idempotent: the same request again leaves the Deployment's generation alone.
	d1, _ := c1.AppsV1().Deployments(ns).Get(ctx, agentdeploy.Name, metav1.GetOptions{})
	if r := m.DeployAgents(ctx, DeployRequest{Clusters: []string{"c1"}, Replicas: 3, Namespace: ns, BrokerEndpoint: req.BrokerEndpoint, Wait: 30 * time.Second}, "ops"); !r[0].OK {
		t.Fatalf("again: %+v", r[0])
	}
	d1b, _ := c1.AppsV1().Deployments(ns).Get(ctx, agentdeploy.Name, metav1.GetOptions{})
	if d1b.Generation != d1.Generation {
		t.Fatalf("re-deploying the same spec changed the deployment: generation %d -> %d", d1.Generation, d1b.Generation)
	}

	// Scaling down waits until the extra agents are gone.
	if r := m.DeployAgents(ctx, DeployRequest{Clusters: []string{"c1"}, Replicas: 1, Namespace: ns, BrokerEndpoint: req.BrokerEndpoint, Wait: 60 * time.Second}, "ops"); !r[0].OK || r[0].Ready != 1 {
		t.Fatalf("scale down: %+v", r[0])
	}
	if d, _ := c1.AppsV1().Deployments(ns).Get(ctx, agentdeploy.Name, metav1.GetOptions{}); d.Status.Replicas != 1 {
		t.Fatalf("after the scale-down wait: %d replicas", d.Status.Replicas)
	}

	// No endpoint configured: a NodePort broker Service in c2 gives it, on the API host.
	_, err := c2.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: BrokerServiceName},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "broker"},
			Ports: []corev1.ServicePort{{Name: "client", Port: 4222}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := c2.CoreV1().Services(ns).Get(ctx, BrokerServiceName, metav1.GetOptions{})
	r := m.DeployAgents(ctx, DeployRequest{Clusters: []string{"c2"}, Replicas: 1, Namespace: ns, Wait: 30 * time.Second}, "ops")[0]
	want := "nats://127.0.0.1:" + strconv.Itoa(int(svc.Spec.Ports[0].NodePort))
	if !r.OK || r.Endpoint.Source != agentdeploy.FromNodePort || r.Endpoint.URL != want || r.Ready != 1 {
		t.Fatalf("endpoint from the service: %+v (want %s)", r, want)
	}

	// Undeploy both: objects and records go.
	for _, r := range m.UndeployAgents(ctx, []string{"c1", "c2"}, ns, "ops") {
		if !r.OK || len(r.Objects) < 3 {
			t.Fatalf("undeploy: %+v", r)
		}
	}
	for _, cs := range []string{"c1", "c2"} {
		_, err := k8stest.Clientset(t, merged, cs).AppsV1().Deployments(ns).Get(ctx, agentdeploy.Name, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("%s: deployment still there after undeploy: %v", cs, err)
		}
	}
	if recs, _ := st.AgentDeployments(ctx, ""); len(recs) != 0 {
		t.Fatalf("records kept after undeploy: %+v", recs)
	}
}
