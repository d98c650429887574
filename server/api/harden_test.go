package api_test

import (
	"context"
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
