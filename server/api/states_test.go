package api_test

import (
	"testing"

	"github.com/meshperf/meshperf/client"
	"github.com/meshperf/meshperf/server/connections"
)

// The CLI checks a state before asking the server: its list must be the server's.
func TestClientKnowsEveryConnectionState(t *testing.T) {
	states := connections.States()
	if len(states) != len(client.ClusterStates) {
		t.Fatalf("server has %d states, client %d: %v vs %v", len(states), len(client.ClusterStates), states, client.ClusterStates)
	}
	for i, s := range states {
		if string(s) != client.ClusterStates[i] {
			t.Errorf("state %d: server %q, client %q", i, s, client.ClusterStates[i])
		}
		if err := client.CheckClusterState(string(s)); err != nil {
			t.Errorf("client refuses %q: %v", s, err)
		}
	}
	if client.CheckClusterState("paused") == nil {
		t.Error("client accepted an unknown state")
	}
}
