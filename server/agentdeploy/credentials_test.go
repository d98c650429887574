package agentdeploy

import (
	"bytes"
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshperf/meshperf/server/broker"
)

// A cluster's agents get one credential for the names under the cluster's prefix: the
// Secret holds it, each replica is named cluster:pod, and the broker admits exactly
// those names with it.
func TestDeployedAgentsCarryTheirPrefixCredential(t *testing.T) {
	creds, err := broker.NewCredentials(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := creds.Issue("c1", true)
	if err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset()
	ctx := context.Background()
	s := Spec{Cluster: "c1", Replicas: 2, Image: "meshperf:test", BrokerURL: "nats://b:4222", AgentToken: cred, AgentNamePrefix: "c1"}
	if _, err := Apply(ctx, cs, s); err != nil {
		t.Fatal(err)
	}
	sec, err := cs.CoreV1().Secrets(DefaultNamespace).Get(ctx, Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := sec.StringData["token"] + string(sec.Data["token"]); got != cred {
		t.Errorf("the secret holds %q, want the cluster's credential", got)
	}
	d, err := cs.AppsV1().Deployments(DefaultNamespace).Get(ctx, Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
	if !strings.Contains(args, "--name c1:$(POD_NAME)") || strings.Contains(args, "--user") {
		t.Errorf("agent args %q", args)
	}
	pod := "c1:meshperf-agent-7d9f8-x2x4q" // what $(POD_NAME) becomes
	if !creds.Allows(cred, pod) || creds.Allows(cred, "c2:meshperf-agent-7d9f8-x2x4q") || creds.Allows(cred, "c1") {
		t.Errorf("the cluster's credential does not prove exactly its replicas' names")
	}
}
