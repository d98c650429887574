package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/server/api"
)

// fieldsOf lists the field paths of an error answer.
func fieldsOf(t *testing.T, body []byte) []string {
	var out []string
	for _, f := range errorOf(t, body).Fields {
		out = append(out, f.Path)
	}
	return out
}

func TestTooManyLabelFiltersIsA400(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{})
		q := url.Values{}
		for i := range 1100 {
			q.Add("label", fmt.Sprintf("k%d=v", i))
		}
		code, body := h.do("GET", "/api/v1/results?"+q.Encode(), h.viewer, nil)
		if code != 400 || strings.Join(fieldsOf(t, body), ",") != "label" {
			t.Fatalf("1,100 label filters: %d %s", code, body)
		}
		q = url.Values{}
		for i := range api.MaxLabelFilters {
			q.Add("label", fmt.Sprintf("k%d=v", i))
		}
		if code, body := h.do("GET", "/api/v1/results?"+q.Encode(), h.viewer, nil); code != 200 {
			t.Fatalf("%d label filters: %d %s", api.MaxLabelFilters, code, body)
		}
	})
}

func TestRefusedInputNamesTheField(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{MaxRunConnections: 100})
		h.do("POST", "/api/v1/profiles", h.editor, map[string]any{"name": "p", "config": h.config("/", 10, time.Second)})
		cases := []struct {
			method, path string
			body         any
			field        string
		}{
			{"POST", "/api/v1/runs", map[string]any{}, "config"},
			{"POST", "/api/v1/profiles", map[string]any{"name": "q"}, "config"},
			{"POST", "/api/v1/runs", `{"config": {"clients": [{"endpoint_urls": ["http://127.0.0.1:1/"], "rps": 1.5}]}}`, "config.clients[0].rps"},
			{"POST", "/api/v1/runs", "config:\n  clients: [{endpoint_urls: [\"http://127.0.0.1:1/\"]}]\n---\nconfig: {}\n", ""},
			{"POST", "/api/v1/runs", map[string]any{"config": map[string]any{"clients": []map[string]any{{"endpoint_urls": []string{"http://127.0.0.1:1/"}, "connections": 200}}}}, "config.clients"},
			{"POST", "/api/v1/profiles/p/runs", map[string]any{"overrides": map[string]any{"rps": 2000000}}, "overrides.rps"},
			{"POST", "/api/v1/profiles/p/runs", map[string]any{"overrides": map[string]any{"connections": 101}}, "overrides.connections"},
			{"POST", "/api/v1/schedules", map[string]any{"name": "s", "profile": "p", "cron": "@every 0s"}, "cron"},
			{"POST", "/api/v1/schedules", map[string]any{"name": "s", "profile": "p", "cron": "@every -1s"}, "cron"},
			{"POST", "/api/v1/schedules", map[string]any{"name": "s", "profile": "p", "cron": "0 0 30 2 *"}, "cron"},
			{"POST", "/api/v1/users", map[string]any{"name": "admin ", "role": "viewer"}, "name"},
			{"POST", "/api/v1/users", map[string]any{"name": "ROOT", "role": "viewer"}, "name"},
			{"POST", "/api/v1/users", map[string]any{"name": "a\x00b", "role": "viewer"}, "name"},
			{"POST", "/api/v1/users", map[string]any{"name": "a\nb", "role": "viewer"}, "name"},
			{"POST", "/api/v1/tokens", map[string]any{"name": strings.Repeat("n", 500_000)}, "name"},
		}
		for _, c := range cases {
			token := h.editor
			if strings.Contains(c.path, "users") {
				token = h.admin
			}
			code, body := h.do(c.method, c.path, token, c.body)
			if code != 400 {
				t.Errorf("%s %s %v: %d %s", c.method, c.path, c.body, code, body)
				continue
			}
			if got := fieldsOf(t, body); c.field != "" && (len(got) != 1 || got[0] != c.field) {
				t.Errorf("%s %s %.80v: fields %v, want [%s]", c.method, c.path, c.body, got, c.field)
			}
		}
	})
}

func TestQueueLimitIsA429(t *testing.T) {
	h := newHarness(t, "sqlite", api.Options{})
	// The two workers take two long runs; the rest wait until the editor's share of
	// the queue (100) is full.
	var code int
	var body []byte
	for range 110 {
		code, body = h.do("POST", "/api/v1/runs", h.editor, map[string]any{"config": h.config("/?latency=5s", 1, 30*time.Second)})
		if code != 202 {
			break
		}
	}
	if code != 429 || errorOf(t, body).Code != "queue_full" || !strings.Contains(errorOf(t, body).Message, "ed has 100 runs queued") {
		t.Fatalf("beyond the per-user queue limit: %d %s", code, body)
	}
	if _, mine, _ := h.st.CountQueuedRuns(context.Background(), "ed"); mine != 100 {
		t.Fatalf("%d runs queued, want 100", mine)
	}
}

func TestGRPCResolverSchemesCannotDodgeAllowedTargets(t *testing.T) {
	policy, err := api.ParseTargetPolicy([]string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "sqlite", api.Options{Targets: policy})
	for _, ep := range []string{"passthrough://127.0.0.1:1/127.0.0.2:23479?x", "dns://127.0.0.1:1/127.0.0.2:23479#x", "127.0.0.2:23479"} {
		cfg := map[string]any{"duration": "1s", "clients": []map[string]any{{"protocol": "GRPC", "endpoint_urls": []string{ep}}}}
		code, body := h.do("POST", "/api/v1/runs", h.editor, map[string]any{"config": cfg})
		if code != 400 || strings.Join(fieldsOf(t, body), ",") != "config.clients[0].endpoint_urls[0]" {
			t.Errorf("%s: %d %s", ep, code, body)
		}
	}
}

func TestAdminsRevokeTokensAndManageUsers(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{})
		code, body := h.do("POST", "/api/v1/users", h.admin, map[string]any{"name": "bot", "role": "editor"})
		var created struct {
			Token   string
			TokenID string `json:"token_id"`
		}
		json.Unmarshal(body, &created)
		if code != 201 || created.TokenID == "" {
			t.Fatalf("create user: %d %s", code, body)
		}
		// Listing: admins only, never a secret.
		if code, _ := h.do("GET", "/api/v1/tokens", h.editor, nil); code != 403 {
			t.Errorf("an editor listed tokens: %d", code)
		}
		code, body = h.do("GET", "/api/v1/tokens?user=bot", h.admin, nil)
		if code != 200 || !strings.Contains(string(body), created.TokenID) || !strings.Contains(string(body), `"user": "bot"`) {
			t.Fatalf("list tokens: %d %s", code, body)
		}
		// mpt_<hex id>_<base64url secret>: the secret itself may hold "_".
		secret := created.Token[len("mpt_")+32+1:]
		if strings.Contains(string(body), secret[:8]) || strings.Contains(string(body), "hash") {
			t.Fatalf("the token list shows a secret or a hash: %s", body)
		}
		// Another user cannot revoke it; an admin can.
		if code, _ := h.do("DELETE", "/api/v1/tokens/"+created.TokenID, h.editor, nil); code != 404 {
			t.Errorf("an editor revoked another user's token: %d", code)
		}
		if code, body := h.do("DELETE", "/api/v1/tokens/"+created.TokenID, h.admin, nil); code != 204 {
			t.Fatalf("admin revoke: %d %s", code, body)
		}
		if code, _ := h.do("GET", "/api/v1/whoami", created.Token, nil); code != 401 {
			t.Fatalf("a revoked token still works: %d", code)
		}
		// Roles change at the next request.
		if code, body := h.do("PUT", "/api/v1/users/ed/role", h.admin, map[string]any{"role": "viewer"}); code != 200 {
			t.Fatalf("set role: %d %s", code, body)
		}
		if code, _ := h.do("POST", "/api/v1/profiles", h.editor, map[string]any{"name": "x", "config": h.config("/", 1, time.Second)}); code != 403 {
			t.Errorf("a demoted editor still writes: %d", code)
		}
		if code, body := h.do("PUT", "/api/v1/users/ed/role", h.admin, map[string]any{"role": "root"}); code != 400 || fieldsOf(t, body)[0] != "role" {
			t.Errorf("bad role: %d %s", code, body)
		}
		// The last admin stays.
		if code, _ := h.do("DELETE", "/api/v1/users/root", h.admin, nil); code != 409 {
			t.Errorf("deleting the last admin: %d", code)
		}
		if code, _ := h.do("PUT", "/api/v1/users/root/role", h.admin, map[string]any{"role": "viewer"}); code != 409 {
			t.Errorf("demoting the last admin: %d", code)
		}
		// Deleting a user revokes its tokens.
		if code, body := h.do("DELETE", "/api/v1/users/vi", h.admin, nil); code != 204 {
			t.Fatalf("delete user: %d %s", code, body)
		}
		if code, _ := h.do("GET", "/api/v1/whoami", h.viewer, nil); code != 401 {
			t.Errorf("a deleted user's token still works: %d", code)
		}
		evs, _ := h.st.Events(context.Background(), 50)
		seen := map[string]bool{}
		for _, e := range evs {
			seen[e.Action] = true
		}
		for _, want := range []string{"token.delete", "user.role", "user.delete"} {
			if !seen[want] {
				t.Errorf("no %s in the audit trail", want)
			}
		}
	})
}
