package api_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/broker"
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
