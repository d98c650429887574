package connections

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/internal/promtest"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
	"github.com/meshperf/meshperf/smp"
)

// A Prometheus connection, against a real Prometheus behind a gateway that wants a
// bearer token (Prometheus itself has no authentication to configure here): added
// connected with its version, the token sealed at rest and refused when wrong, handed
// back unsealed to server-side code, disconnected by its health check when Prometheus
// goes down, and kept apart from cluster connections.
func TestPrometheusConnection(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			st := storetest.Open(t, kind)
			var checks []string
			m, logs := newManager(t, st, Options{OnCheck: func(k string, ok bool) { checks = append(checks, k+map[bool]string{true: " ok", false: " failed"}[ok]) }})
			prom := promtest.Start(t)
			const token = "prom-gateway-token-7f3a"
			up, _ := url.Parse(prom.URL)
			proxy := httputil.NewSingleHostReverseProxy(up)
			gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+token {
					http.Error(w, "unauthorized", http.StatusUnauthorized)
					return
				}
				proxy.ServeHTTP(w, r)
			}))
			defer gw.Close()
			ctx := context.Background()

			res, err := m.AddEndpoint(ctx, EndpointSpec{Kind: KindPrometheus, Name: "prom-bad", URL: gw.URL,
				Credential: EndpointCredential{BearerToken: "wrong"}}, "test")
			if err != nil || res.Outcome != Failed || !strings.Contains(res.Error, "refused") {
				t.Fatalf("a wrong token: %+v, %v", res, err)
			}
			res, err = m.AddEndpoint(ctx, EndpointSpec{Kind: KindPrometheus, Name: "prom", URL: gw.URL + "/",
				Credential: EndpointCredential{BearerToken: token}}, "test")
			if err != nil || res.Outcome != store.ConnAdded || res.Connection.State != string(Connected) || !strings.HasPrefix(res.Connection.Version, "2.") {
				t.Fatalf("adding: %+v, %v", res, err)
			}
			row, err := st.GetConnection(ctx, "prom")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(row.Credential), token) || strings.Contains(logs.String(), token) {
				t.Errorf("the token is stored or logged in clear")
			}
			ep, err := m.Endpoint(ctx, "prom", KindPrometheus)
			if err != nil || ep.URL != gw.URL || ep.Credential.BearerToken != token {
				t.Fatalf("endpoint: %+v, %v", ep, err)
			}
			if _, err := m.Endpoint(ctx, "prom", KindGrafana); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a prometheus connection opened as grafana: %v", err)
			}
			if _, err := m.Usable(ctx, "prom"); err == nil {
				t.Errorf("a prometheus connection is usable as a cluster")
			}
			if l, _ := m.List(ctx); len(l) != 0 {
				t.Errorf("cluster list shows endpoints: %+v", l)
			}
			if l, _ := m.ListKind(ctx, KindPrometheus); len(l) != 1 || l[0].Name != "prom" {
				t.Errorf("prometheus list: %+v", l)
			}
			again, _ := m.AddEndpoint(ctx, EndpointSpec{Kind: KindPrometheus, Name: "prom2", URL: gw.URL, Credential: EndpointCredential{BearerToken: token}}, "test")
			if again.Outcome != store.ConnDuplicate || again.DuplicateOf != "prom" {
				t.Errorf("the same URL under another name: %+v", again)
			}
			// A URL longer than the identity column (64 characters) is known once too.
			long := "http://prometheus-operated.monitoring.svc.cluster.local:9090/" + strings.Repeat("p", 80)
			for i, want := range []string{store.ConnAdded, store.ConnDuplicate} {
				res, err := m.AddEndpoint(ctx, EndpointSpec{Kind: KindPrometheus, Name: fmt.Sprintf("prom-long-%d", i), URL: long, DiscoverOnly: true}, "test")
				if err != nil || res.Outcome != want {
					t.Errorf("a %d-character URL, time %d: %+v, %v (want %s)", len(long), i+1, res, err, want)
				}
			}

			prom.Stop()
			v, err := m.Check(ctx, "prom")
			if err != nil || v.State != string(Disconnected) || v.LastError == "" {
				t.Fatalf("after Prometheus stopped: %+v, %v", v, err)
			}
			if _, err := m.Endpoint(ctx, "prom", KindPrometheus); !errors.As(err, new(*NotUsableError)) {
				t.Errorf("a disconnected endpoint handed out: %v", err)
			}
			if strings.Join(checks, ",") != "prometheus failed" {
				t.Errorf("checks counted: %v", checks)
			}
		})
	}
}

// Grafana cannot run on this machine (Debian ships none): its health endpoint is
// served by a stand-in that answers like Grafana's /api/health.
func TestGrafanaConnectionHealth(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	m, _ := newManager(t, st, Options{})
	healthy := true
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/org" {
			if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "pw-9c1d" {
				http.Error(w, `{"message":"invalid username or password"}`, http.StatusUnauthorized)
				return
			}
			w.Write([]byte(`{"id":1,"name":"Main Org."}`))
			return
		}
		if r.URL.Path != "/api/health" {
			http.NotFound(w, r)
			return
		}
		db := "ok"
		if !healthy {
			db = "failing"
		}
		w.Write([]byte(`{"commit":"x","database":"` + db + `","version":"11.3.0"}`))
	}))
	defer fake.Close()
	ctx := context.Background()
	if res, _ := m.AddEndpoint(ctx, EndpointSpec{Kind: KindGrafana, Name: "graf-bad", URL: fake.URL,
		Credential: EndpointCredential{Username: "admin", Password: "wrong"}}, "test"); res.Outcome != Failed || !strings.Contains(res.Error, "refused") {
		t.Errorf("a wrong grafana password: %+v", res)
	}
	res, err := m.AddEndpoint(ctx, EndpointSpec{Kind: KindGrafana, Name: "graf", URL: fake.URL,
		Credential: EndpointCredential{Username: "admin", Password: "pw-9c1d"}}, "test")
	if err != nil || res.Outcome != store.ConnAdded || res.Connection.Version != "11.3.0" {
		t.Fatalf("adding grafana: %+v, %v", res, err)
	}
	ep, err := m.Endpoint(ctx, "graf", KindGrafana)
	if err != nil || ep.Credential.Username != "admin" || ep.Credential.Password != "pw-9c1d" || ep.URL != fake.URL {
		t.Fatalf("grafana endpoint: %+v, %v", ep, err)
	}
	if u, cred, err := m.Grafana(ctx, "graf"); err != nil || u != fake.URL || cred != "admin:pw-9c1d" {
		t.Errorf("grafana for the dashboards: %q %q %v", u, cred, err)
	}
	if _, _, err := m.Grafana(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown grafana: %v", err)
	}
	healthy = false
	if v, _ := m.Check(ctx, "graf"); v.State != string(Disconnected) || !strings.Contains(v.LastError, "failing") {
		t.Errorf("unhealthy grafana: %+v", v)
	}
}

// Bad endpoint specs are refused naming each field.
func TestEndpointSpecErrors(t *testing.T) {
	spec := EndpointSpec{Kind: "kubernetes", Name: "a b", URL: "ftp://user:pw@x", Credential: EndpointCredential{BearerToken: "t", Password: "p"}}
	err := spec.Validate()
	var fe smp.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("%v", err)
	}
	got := map[string]bool{}
	for _, f := range fe {
		got[f.Path] = true
	}
	for _, want := range []string{"kind", "name", "url", "bearer_token", "username"} {
		if !got[want] {
			t.Errorf("no error for %s in %v", want, err)
		}
	}
}
