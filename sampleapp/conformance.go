package sampleapp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/meshperf/meshperf/grpcecho"
)

// The conformance role: the same target is the app a conformance suite deploys as
// app-a, app-b, app-c (Meshery's SMI suite used one binary the same way), switched on
// by giving it a Name (--name). It answers
// GET /echo with what it received, makes a described outbound call on POST /call, and
// counts per caller what it received and what its own calls got (GET /counts; DELETE
// /counts resets).

// Header names of the conformance role.
const (
	// CallerHeader names the calling app; outbound calls set it to the app's name.
	CallerHeader = "X-Meshperf-Caller"
	// AppHeader names the app that answered (HTTP header; gRPC header metadata in
	// lower case).
	AppHeader = "X-Meshperf-App"
	// headersMD carries, on gRPC answers, the request metadata the app received (JSON).
	headersMD = "x-meshperf-received"
)

// CallRequest describes an outbound call (POST /call).
type CallRequest struct {
	// URL of the call: http://host:port/path?query, or grpc://host:port for the
	// echo service meshperf.echo.v1.Echo.
	URL     string            `json:"url"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// Count repeats the call (default 1, at most 5000), Concurrency at a time
	// (default 1, at most 50).
	Count       int `json:"count,omitempty"`
	Concurrency int `json:"concurrency,omitempty"`
	// TimeoutMS bounds each call (default 5000).
	TimeoutMS int `json:"timeout_ms,omitempty"`
}

// CallResult is what the calls got: the first answer in full, and counts of all.
type CallResult struct {
	Count int `json:"count"`
	// ByStatus counts answers by HTTP status ("200") or gRPC code ("OK"); failed
	// calls (no answer) count under "error".
	ByStatus map[string]int `json:"by_status"`
	// ByApp counts answers by the app that answered (AppHeader), "" when none said.
	ByApp map[string]int `json:"by_app"`
	First Answer         `json:"first"`
}

// Answer is one call's answer.
type Answer struct {
	Status  string              `json:"status"`
	App     string              `json:"app,omitempty"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    string              `json:"body,omitempty"`
	Error   string              `json:"error,omitempty"`
}

// Echo is the body of GET /echo (and of any method on /echo/...): what the app got.
type Echo struct {
	App     string              `json:"app"`
	Method  string              `json:"method"`
	Host    string              `json:"host"`
	Path    string              `json:"path"`
	Query   string              `json:"query,omitempty"`
	Headers map[string][]string `json:"headers"`
	Caller  string              `json:"caller,omitempty"`
	Source  string              `json:"source"`
	Body    string              `json:"body,omitempty"`
}

// Counts is the body of GET /counts.
type Counts struct {
	App string `json:"app"`
	// Received counts requests received by caller (CallerHeader, "" when absent)
	// and by source address (the peer IP).
	Received       map[string]int64 `json:"received"`
	ReceivedBySrc  map[string]int64 `json:"received_by_source"`
	CallsSucceeded map[string]int64 `json:"calls_succeeded"` // by destination host
	CallsFailed    map[string]int64 `json:"calls_failed"`
}

type confCounts struct {
	mu sync.Mutex
	c  Counts
}

func (cc *confCounts) reset(app string) {
	cc.mu.Lock()
	cc.c = Counts{App: app, Received: map[string]int64{}, ReceivedBySrc: map[string]int64{},
		CallsSucceeded: map[string]int64{}, CallsFailed: map[string]int64{}}
	cc.mu.Unlock()
}

func (cc *confCounts) received(caller, src string) {
	cc.mu.Lock()
	cc.c.Received[caller]++
	cc.c.ReceivedBySrc[src]++
	cc.mu.Unlock()
}

func (cc *confCounts) called(host string, ok bool) {
	cc.mu.Lock()
	if ok {
		cc.c.CallsSucceeded[host]++
	} else {
		cc.c.CallsFailed[host]++
	}
	cc.mu.Unlock()
}

func (cc *confCounts) snapshot() Counts {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cp := func(m map[string]int64) map[string]int64 {
		out := make(map[string]int64, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return Counts{App: cc.c.App, Received: cp(cc.c.Received), ReceivedBySrc: cp(cc.c.ReceivedBySrc),
		CallsSucceeded: cp(cc.c.CallsSucceeded), CallsFailed: cp(cc.c.CallsFailed)}
}

func sourceIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// serveConformance answers the conformance role's paths; false when the path is not
// one, or the target is not in the role (no Name: every path echoes, as it always did).
func (s *Server) serveConformance(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Name == "" {
		return false
	}
	switch {
	case r.URL.Path == "/echo" || strings.HasPrefix(r.URL.Path, "/echo/"):
		s.serveEcho(w, r)
	case r.URL.Path == "/call":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "POST /call with a JSON call description", http.StatusMethodNotAllowed)
			return true
		}
		s.serveCall(w, r)
	case r.URL.Path == "/counts":
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, s.conf.snapshot())
		case http.MethodDelete:
			s.conf.reset(s.cfg.Name)
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, DELETE")
			http.Error(w, "GET or DELETE /counts", http.StatusMethodNotAllowed)
		}
	default:
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serveEcho(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	src := sourceIP(r.RemoteAddr)
	callerName := r.Header.Get(CallerHeader)
	s.conf.received(callerName, src)
	s.stats.addProto(caller(r), r.URL.Path, "200", r.Proto)
	w.Header().Set(AppHeader, s.cfg.Name)
	writeJSON(w, http.StatusOK, Echo{App: s.cfg.Name, Method: r.Method, Host: r.Host, Path: r.URL.Path,
		Query: r.URL.RawQuery, Headers: r.Header, Caller: callerName, Source: src, Body: string(body)})
}

// ParseCall decodes and checks a call description; errors name the field.
func ParseCall(r io.Reader) (CallRequest, error) {
	var c CallRequest
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("call description: %w", err)
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "grpc") {
		return c, fmt.Errorf("url: want http://host:port/path or grpc://host:port, got %q", c.URL)
	}
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	if strings.ContainsAny(c.Method, " \t\r\n") {
		return c, fmt.Errorf("method: %q is not an HTTP method", c.Method)
	}
	if c.Count == 0 {
		c.Count = 1
	}
	if c.Count < 0 || c.Count > 5000 {
		return c, fmt.Errorf("count: %d is not in 1..5000", c.Count)
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.Concurrency < 0 || c.Concurrency > 50 {
		return c, fmt.Errorf("concurrency: %d is not in 1..50", c.Concurrency)
	}
	if c.TimeoutMS == 0 {
		c.TimeoutMS = 5000
	}
	if c.TimeoutMS < 0 || c.TimeoutMS > 60000 {
		return c, fmt.Errorf("timeout_ms: %d is not in 1..60000", c.TimeoutMS)
	}
	for k := range c.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			return c, fmt.Errorf("headers: %q is not a header name", k)
		}
	}
	return c, nil
}

func (s *Server) serveCall(w http.ResponseWriter, r *http.Request) {
	c, err := ParseCall(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, s.Call(r.Context(), c))
}

// dial connects outbound calls: to the destination, or to CallVia when set (a
// sidecar standing in for a mesh's traffic interception).
func (s *Server) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if s.cfg.CallVia != "" {
		addr = s.cfg.CallVia
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (s *Server) httpClient() *http.Client {
	s.clientOnce.Do(func() {
		var p http.Protocols
		p.SetHTTP1(true)
		s.client = &http.Client{
			Transport: &http.Transport{DialContext: s.dial, MaxIdleConnsPerHost: 64, Protocols: &p},
			// A redirect is an answer to observe, not to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
	return s.client
}

// Call makes the described calls and sums up what they got.
func (s *Server) Call(ctx context.Context, c CallRequest) CallResult {
	res := CallResult{Count: c.Count, ByStatus: map[string]int{}, ByApp: map[string]int{}}
	u, _ := url.Parse(c.URL)
	var conn *grpc.ClientConn
	if u.Scheme == "grpc" {
		var err error
		conn, err = grpc.NewClient("passthrough:///"+u.Host, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return s.dial(ctx, "tcp", addr) }))
		if err != nil {
			res.ByStatus["error"] = c.Count
			res.First = Answer{Status: "error", Error: err.Error()}
			return res
		}
		defer conn.Close()
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range c.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var a Answer
				if conn != nil {
					a = s.callGRPC(ctx, conn, c)
				} else {
					a = s.callHTTP(ctx, c)
				}
				s.conf.called(u.Host, a.Error == "")
				mu.Lock()
				res.ByStatus[a.Status]++
				res.ByApp[a.App]++
				if i == 0 {
					res.First = a
				}
				mu.Unlock()
			}
		}()
	}
	for i := range c.Count {
		if ctx.Err() != nil {
			res.ByStatus["error"] += c.Count - i
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return res
}

func (s *Server) callHTTP(ctx context.Context, c CallRequest) Answer {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.TimeoutMS)*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, strings.NewReader(c.Body))
	if err != nil {
		return Answer{Status: "error", Error: err.Error()}
	}
	req.Header.Set(CallerHeader, s.cfg.Name)
	for k, v := range c.Headers {
		req.Header.Set(k, v)
		if strings.EqualFold(k, "Host") {
			req.Host = v
		}
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		return Answer{Status: "error", Error: err.Error()}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return Answer{Status: statusText(resp.StatusCode), App: resp.Header.Get(AppHeader), Headers: resp.Header, Body: string(body)}
}

func (s *Server) callGRPC(ctx context.Context, conn *grpc.ClientConn, c CallRequest) Answer {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.TimeoutMS)*time.Millisecond)
	defer cancel()
	md := metadata.Pairs(strings.ToLower(CallerHeader), s.cfg.Name)
	for k, v := range c.Headers {
		md.Set(strings.ToLower(k), v)
	}
	ctx = metadata.NewOutgoingContext(ctx, md)
	var header metadata.MD
	out, err := grpcecho.Call(ctx, conn, []byte(c.Body), grpc.Header(&header))
	a := Answer{Status: status.Code(err).String(), Headers: map[string][]string(header)}
	if v := header.Get(strings.ToLower(AppHeader)); len(v) > 0 {
		a.App = v[0]
	}
	if err != nil {
		a.Error = err.Error()
		return a
	}
	a.Body = string(out.GetValue())
	return a
}

// grpcConformance counts a gRPC request and tells the caller who answered and what
// metadata arrived.
func (s *Server) grpcConformance(ctx context.Context, who string) {
	md, _ := metadata.FromIncomingContext(ctx)
	callerName := ""
	if v := md.Get(strings.ToLower(CallerHeader)); len(v) > 0 {
		callerName = v[0]
	}
	s.conf.received(callerName, who)
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	recv := make(map[string][]string, len(md))
	for _, k := range keys {
		recv[k] = md[k]
	}
	b, _ := json.Marshal(recv)
	_ = grpc.SetHeader(ctx, metadata.Pairs(strings.ToLower(AppHeader), s.cfg.Name, headersMD, string(b)))
}

// ReceivedMetadata decodes the request metadata a gRPC answer says the app received.
func ReceivedMetadata(h map[string][]string) map[string][]string {
	v := h[headersMD]
	if len(v) == 0 {
		return nil
	}
	var out map[string][]string
	_ = json.Unmarshal([]byte(v[0]), &out)
	return out
}
