package api_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/storetest"
)

// FuzzWriteBodies: whatever body arrives, the API never answers 500 (and never
// panics): bad input is a 4xx naming what is wrong.
func FuzzWriteBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a","config":{"clients":[{"endpoint_urls":["http://127.0.0.1:1/"],"rps":5}],"duration":"1s"}}`,
		`{"config":{"clients":[{"protocol":"GRPC","load_generator":"vegeta","endpoint_urls":["x"]}]}}`,
		`{"overrides":{"duration":"-1s","rps":-5,"connections":0}}`,
		`name: b
config: {clients: [{endpoint_urls: [http://x/], stages: [{duration: 1s, rps: 9}]}]}`,
		`{"name":"x","role":"root"}`, `[]`, `null`, `"str"`, `{"config": 5}`,
		`{"config":{"cluster":"c1","clients":[{"endpoint_urls":["http://127.0.0.1:1/"]}],"duration":"1s"}}`,
		`{"clusters":["c1","c2"],"replicas":3,"namespace":"meshperf","wait_seconds":1}`, `{"state":"maintenance"}`,
		`{"name":"m","config":{"clients":[{"endpoint_urls":["http://127.0.0.1:1/"]}],"duration":"1s","metrics":{"mesh":"istio","namespace":"demo","step":"1s","queries":[{"name":"q","query":"sum(rate(x{namespace=\"$namespace\"}[$rate]))","role":"proxy_cpu"}]}}}`,
		`{"config":{"clients":[{"endpoint_urls":["http://127.0.0.1:1/"]}],"metrics":{"queries":[{"name":"","query":"sum(("}],"step":"-1s"}}}`,
	} {
		f.Add(seed)
	}
	st := storetest.Open(f, "sqlite")
	token := "mpt_fuzz-admin-token-0000"
	st.CreateUserWithToken(context.Background(), "fuzz", "admin", token)
	box, _, err := secrets.LoadOrCreate(filepath.Join(f.TempDir(), "secret.key"))
	if err != nil {
		f.Fatal(err)
	}
	// No cluster connections exist: cluster bodies are decoded and checked, and no
	// cluster is ever contacted.
	conns := connections.New(st, connections.Options{Box: box, Logger: quiet})
	// Runs are never executed here: the manager is not started, so nothing is sent.
	h := api.New(st, runs.New(st, runs.Options{Logger: quiet}), api.Options{Logger: quiet, Clusters: conns}).Handler()
	paths := []string{"POST /api/v1/profiles", "POST /api/v1/runs", "POST /api/v1/users", "POST /api/v1/tokens",
		"POST /api/v1/profiles/none/runs", "POST /api/v1/agents/deploy", "POST /api/v1/agents/undeploy", "PUT /api/v1/clusters/none/state"}
	f.Fuzz(func(t *testing.T, body string) {
		for _, mp := range paths {
			m, p, _ := strings.Cut(mp, " ")
			req := httptest.NewRequest(m, p, bytes.NewBufferString(body))
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s with %q: %d %s", mp, body, rec.Code, rec.Body.String())
			}
		}
	})
}
