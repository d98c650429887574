package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/broker"
	"github.com/meshperf/meshperf/server/store"
)

// Only an admin issues agent credentials; each proves exactly its name; a bad name is
// refused naming the field; with an external broker the route says where identities
// are configured instead.
func TestAgentCredentialsAPI(t *testing.T) {
	creds, err := broker.NewCredentials(bytes.Repeat([]byte{4}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "sqlite", api.Options{IssueAgentCredential: creds.Issue})
	if code, _ := h.do("POST", "/api/v1/agents/credentials", h.editor, map[string]any{"name": "eu-1"}); code != 403 {
		t.Errorf("an editor issued a credential: %d", code)
	}
	code, body := h.do("POST", "/api/v1/agents/credentials", h.admin, map[string]any{"name": "eu-1"})
	var got struct{ Credential string }
	json.Unmarshal(body, &got)
	if code != 201 || !creds.Allows(got.Credential, "eu-1") || creds.Allows(got.Credential, "eu-2") {
		t.Errorf("issue: %d %s", code, body)
	}
	if code, body := h.do("POST", "/api/v1/agents/credentials", h.admin, map[string]any{"name": "a.*"}); code != 400 || !strings.Contains(string(body), `"field": "name"`) {
		t.Errorf("a bad name: %d %s", code, body)
	}
	ext := newHarness(t, "sqlite", api.Options{})
	if code, body := ext.do("POST", "/api/v1/agents/credentials", ext.admin, map[string]any{"name": "eu-1"}); code != 409 || !strings.Contains(string(body), "external NATS") {
		t.Errorf("with an external broker: %d %s", code, body)
	}
}

// Only an admin issues a MeshSync credential; it proves the connection's cluster ID
// and is no agent credential; a connection whose cluster ID is unknown, an unknown
// connection and an external broker are refused with what to do.
func TestMeshSyncCredentialAPI(t *testing.T) {
	creds, err := broker.NewCredentials(bytes.Repeat([]byte{4}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "sqlite", api.Options{IssueAgentCredential: creds.Issue, IssueMeshSyncCredential: creds.IssueMeshSync})
	for _, c := range []struct{ name, uid string }{{"c1", "uid-c1"}, {"fresh", ""}} {
		if _, _, err := h.st.AddConnection(context.Background(), &store.Connection{ID: uuid.NewString(), Kind: store.ConnKubernetes,
			Name: c.name, State: "connected", ClusterUID: c.uid}, nil, func(string) []byte { return []byte("x") }); err != nil {
			t.Fatal(err)
		}
	}
	const route = "/api/v1/clusters/c1/discovery/credential"
	if code, _ := h.do("POST", route, h.editor, nil); code != 403 {
		t.Errorf("an editor issued a MeshSync credential: %d", code)
	}
	code, body := h.do("POST", route, h.admin, nil)
	var got struct {
		Cluster    string
		ClusterUID string `json:"cluster_uid"`
		Credential string
	}
	json.Unmarshal(body, &got)
	if cluster, ok := creds.MeshSyncCluster(got.Credential); code != 201 || !ok || cluster != "uid-c1" || got.ClusterUID != "uid-c1" || got.Cluster != "c1" {
		t.Errorf("issue: %d %s", code, body)
	}
	if creds.Allows(got.Credential, "uid-c1") || creds.Allows(got.Credential, "c1") {
		t.Errorf("the MeshSync credential passes as an agent's")
	}
	if code, body := h.do("POST", "/api/v1/clusters/fresh/discovery/credential", h.admin, nil); code != 409 || !strings.Contains(string(body), "meshperf cluster check fresh") {
		t.Errorf("a connection without a cluster ID: %d %s", code, body)
	}
	if code, _ := h.do("POST", "/api/v1/clusters/nope/discovery/credential", h.admin, nil); code != 404 {
		t.Errorf("an unknown connection: %d", code)
	}
	ext := newHarness(t, "sqlite", api.Options{})
	if code, body := ext.do("POST", route, ext.admin, nil); code != 409 || !strings.Contains(string(body), "external NATS") {
		t.Errorf("with an external broker: %d %s", code, body)
	}
}
