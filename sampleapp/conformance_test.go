package sampleapp

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

func startApp(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func postCall(t *testing.T, from *Server, c CallRequest) (int, CallResult, string) {
	t.Helper()
	b, _ := json.Marshal(c)
	resp, err := http.Post(from.URL()+"/call", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var res CallResult
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
	}
	return resp.StatusCode, res, string(raw)
}

func counts(t *testing.T, s *Server) Counts {
	t.Helper()
	resp, err := http.Get(s.URL() + "/counts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c Counts
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// app-a calls app-b over HTTP and gRPC: the answers say who answered and what
// arrived; both sides count per caller; DELETE resets.
func TestConformanceRole(t *testing.T) {
	a := startApp(t, Config{HTTPAddr: "127.0.0.1:0", Name: "app-a"})
	b := startApp(t, Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", ExtraHTTPAddrs: []string{"127.0.0.1:0"}, Name: "app-b"})

	code, res, raw := postCall(t, a, CallRequest{URL: b.URL() + "/echo/x?q=1", Method: "PUT", Headers: map[string]string{"X-Test": "yes"}, Body: "hi", Count: 7, Concurrency: 3})
	if code != 200 || res.Count != 7 || res.ByStatus["200"] != 7 || res.ByApp["app-b"] != 7 {
		t.Fatalf("call: %d %s", code, raw)
	}
	var echo Echo
	if err := json.Unmarshal([]byte(res.First.Body), &echo); err != nil {
		t.Fatal(err)
	}
	if echo.App != "app-b" || echo.Method != "PUT" || echo.Path != "/echo/x" || echo.Query != "q=1" || echo.Body != "hi" ||
		echo.Caller != "app-a" || echo.Source != "127.0.0.1" || len(echo.Headers["X-Test"]) != 1 {
		t.Errorf("echo %+v", echo)
	}
	if c := counts(t, b); c.Received["app-a"] != 7 || c.ReceivedBySrc["127.0.0.1"] != 7 || c.App != "app-b" {
		t.Errorf("app-b counts %+v", c)
	}
	bHost := strings.TrimPrefix(b.URL(), "http://")
	if c := counts(t, a); c.CallsSucceeded[bHost] != 7 || len(c.CallsFailed) != 0 {
		t.Errorf("app-a counts %+v", c)
	}

	// The extra listener serves the same app.
	_, res, raw = postCall(t, a, CallRequest{URL: "http://" + b.Addrs().ExtraHTTP[0] + "/echo"})
	if res.ByApp["app-b"] != 1 {
		t.Errorf("extra port: %s", raw)
	}

	// gRPC.
	_, res, raw = postCall(t, a, CallRequest{URL: "grpc://" + b.Addrs().GRPC, Headers: map[string]string{"x-grpc-test": "1"}, Body: "ping", Count: 3})
	if res.ByStatus["OK"] != 3 || res.ByApp["app-b"] != 3 || res.First.Body != "ping" {
		t.Errorf("grpc: %s", raw)
	}
	if md := ReceivedMetadata(res.First.Headers); len(md["x-grpc-test"]) != 1 || md["x-meshperf-caller"][0] != "app-a" {
		t.Errorf("grpc metadata received %v", md)
	}

	// A failed call is counted as failed.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	_, res, _ = postCall(t, a, CallRequest{URL: "http://" + dead + "/echo"})
	if res.ByStatus["error"] != 1 || res.First.Error == "" || counts(t, a).CallsFailed[dead] != 1 {
		t.Errorf("dead call %+v", res)
	}

	req, _ := http.NewRequest(http.MethodDelete, b.URL()+"/counts", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reset: %v %v", resp, err)
	}
	if c := counts(t, b); len(c.Received) != 0 {
		t.Errorf("after reset %+v", c)
	}
}

// Redirects are answers, not followed; CallVia sends calls to a sidecar that sees the
// destination as the Host.
func TestCallViaAndRedirect(t *testing.T) {
	b := startApp(t, Config{HTTPAddr: "127.0.0.1:0", Name: "app-b"})
	bURL, _ := url.Parse(b.URL())
	var hosts []string
	side := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Host)
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		httputil.NewSingleHostReverseProxy(bURL).ServeHTTP(w, r)
	})}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go side.Serve(ln)
	t.Cleanup(func() { side.Close() })
	a := startApp(t, Config{HTTPAddr: "127.0.0.1:0", Name: "app-a", CallVia: ln.Addr().String()})

	_, res, raw := postCall(t, a, CallRequest{URL: "http://app-b.ns.svc.cluster.local:9091/echo"})
	if res.ByApp["app-b"] != 1 || len(hosts) != 1 || hosts[0] != "app-b.ns.svc.cluster.local:9091" {
		t.Errorf("via sidecar: %s %v", raw, hosts)
	}
	_, res, raw = postCall(t, a, CallRequest{URL: "http://app-b:9091/old"})
	if res.ByStatus["301"] != 1 || res.First.Headers["Location"][0] != "/new" {
		t.Errorf("redirect: %s", raw)
	}
}

func TestParseCallNamesTheField(t *testing.T) {
	for in, field := range map[string]string{
		`{"url":"ftp://x/"}`:                       "url",
		`{"url":"http://x/","count":-1}`:           "count",
		`{"url":"http://x/","count":9000}`:         "count",
		`{"url":"http://x/","concurrency":51}`:     "concurrency",
		`{"url":"http://x/","timeout_ms":-5}`:      "timeout_ms",
		`{"url":"http://x/","method":"G T"}`:       "method",
		`{"url":"http://x/","headers":{"a b":""}}`: "headers",
		`{"url":"http://x/","bogus":1}`:            "bogus",
		`[`:                                        "call description",
	} {
		_, err := ParseCall(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("ParseCall(%s) = %v, want an error naming %s", in, err, field)
		}
	}
	a := startApp(t, Config{HTTPAddr: "127.0.0.1:0", Name: "app-a"})
	if code, _, raw := postCall(t, a, CallRequest{URL: "nope"}); code != 400 || !strings.Contains(raw, "url") {
		t.Errorf("bad call answered %d %s", code, raw)
	}
}

// ParseCall decodes what any caller posts to /call: it never panics, and what it
// accepts is within the documented bounds.
func FuzzParseCall(f *testing.F) {
	f.Add(`{"url":"http://app-b:9091/echo","method":"POST","headers":{"X-A":"1"},"count":3,"concurrency":2}`)
	f.Add(`{"url":"grpc://app-b:9093","body":"x"}`)
	f.Add(`{"url":"http://x/","count":-1}`)
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseCall(strings.NewReader(in))
		if err != nil {
			return
		}
		if c.Count < 1 || c.Count > 5000 || c.Concurrency < 1 || c.Concurrency > 50 || c.TimeoutMS < 1 || c.TimeoutMS > 60000 || c.Method == "" {
			t.Fatalf("accepted out of bounds: %+v", c)
		}
	})
}

// Without a name the target is the plain load target: /echo, /call and /counts echo
// the body like any path.
func TestConformanceRoleNeedsAName(t *testing.T) {
	s := startApp(t, Config{HTTPAddr: "127.0.0.1:0"})
	for _, p := range []string{"/echo", "/call", "/counts"} {
		resp, err := http.Post(s.URL()+p, "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "body" || resp.Header.Get(AppHeader) != "" {
			t.Errorf("%s without a name: %d %q", p, resp.StatusCode, b)
		}
	}
}
