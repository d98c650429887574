package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/runs"
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
	} {
		f.Add(seed)
	}
	st := storetest.Open(f, "sqlite")
	token := "mpt_fuzz-admin-token-0000"
	st.CreateUserWithToken(context.Background(), "fuzz", "admin", token)
	// Runs are never executed here: the manager is not started, so nothing is sent.
	h := api.New(st, runs.New(st, runs.Options{Logger: quiet}), api.Options{Logger: quiet}).Handler()
	paths := []string{"/api/v1/profiles", "/api/v1/runs", "/api/v1/users", "/api/v1/tokens", "/api/v1/profiles/none/runs"}
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range paths {
			req := httptest.NewRequest(http.MethodPost, p, bytes.NewBufferString(body))
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("POST %s with %q: %d %s", p, body, rec.Code, rec.Body.String())
			}
		}
	})
}
