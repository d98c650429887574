package sampleapp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshperf/meshperf/grpcecho"
	"github.com/meshperf/meshperf/internal/selfmetrics"
)

// Config says where the target listens and what it injects. An empty address turns
// that listener off; port 0 picks a free port (see Server.Addrs).
type Config struct {
	HTTPAddr  string // HTTP/1.1 and h2c
	HTTPSAddr string // TLS with a self-signed certificate, HTTP/1.1 and h2
	GRPCAddr  string
	TCPAddr   string // raw TCP echo
	// ExtraHTTPAddrs are more plain HTTP listeners serving the same handler (a
	// conformance app with several ports, e.g. for port restrictions).
	ExtraHTTPAddrs []string
	// Name is the app's name in the conformance role (app-a, app-b, ...): answers
	// say it, outbound calls are made as it.
	Name string
	// CallVia, when set, is where outbound calls of POST /call connect instead of
	// their destination (the Host still names it): a sidecar standing in for a mesh's
	// traffic interception. Real meshes intercept transparently; leave it empty.
	CallVia string
	Injection
}

// Addrs are the bound addresses.
type Addrs struct {
	HTTP, HTTPS, GRPC, TCP string
	ExtraHTTP              []string
}

// Server is a running target.
type Server struct {
	cfg   Config
	start time.Time
	stats stats
	addrs Addrs
	// service is the target's own service-time view (GET /stats/service).
	service serviceTimes
	process *processSeconds
	wire    wireCounter
	// metrics are served at /metrics from the target's own registry.
	metrics        *selfmetrics.Target
	metricsHandler http.Handler

	httpSrv, httpsSrv *http.Server
	extraSrvs         []*http.Server
	// conf counts what the conformance role received and what its calls got.
	conf       confCounts
	client     *http.Client
	clientOnce sync.Once
	grpcSrv    *grpc.Server
	tcpLn      net.Listener
	wg         sync.WaitGroup
	closeOnce  sync.Once
	tcpConns   sync.Map
	// CertPEM is the self-signed certificate of the HTTPS listener.
	CertPEM []byte
}

// Start opens every configured listener and serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.ErrorCode == 0 {
		cfg.ErrorCode = http.StatusServiceUnavailable
	}
	s := &Server{cfg: cfg, start: time.Now(), process: startProcessSeconds()}
	s.stats.init()
	s.conf.reset(cfg.Name)
	reg := selfmetrics.NewRegistry()
	s.metrics, s.metricsHandler = selfmetrics.NewTarget(reg), selfmetrics.Handler(reg)
	fail := func(err error) (*Server, error) { s.Close(); return nil, err }
	if cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return fail(err)
		}
		s.addrs.HTTP = ln.Addr().String()
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		s.httpSrv = &http.Server{Handler: s, Protocols: &p, ReadHeaderTimeout: 10 * time.Second}
		counted := countingListener{Listener: ln, c: &s.wire}
		s.serve(func() error { return s.httpSrv.Serve(counted) })
	}
	for _, addr := range cfg.ExtraHTTPAddrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(err)
		}
		s.addrs.ExtraHTTP = append(s.addrs.ExtraHTTP, ln.Addr().String())
		srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
		s.extraSrvs = append(s.extraSrvs, srv)
		s.serve(func() error { return srv.Serve(ln) })
	}
	if cfg.HTTPSAddr != "" {
		cert, pemBytes, err := selfSigned()
		if err != nil {
			return fail(err)
		}
		s.CertPEM = pemBytes
		ln, err := net.Listen("tcp", cfg.HTTPSAddr)
		if err != nil {
			return fail(err)
		}
		s.addrs.HTTPS = ln.Addr().String()
		s.httpsSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}}
		s.serve(func() error { return s.httpsSrv.ServeTLS(ln, "", "") })
	}
	if cfg.GRPCAddr != "" {
		ln, err := net.Listen("tcp", cfg.GRPCAddr)
		if err != nil {
			return fail(err)
		}
		s.addrs.GRPC = ln.Addr().String()
		s.grpcSrv = grpc.NewServer(grpc.UnaryInterceptor(s.grpcInject))
		hs := health.NewServer()
		hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		hs.SetServingStatus(grpcecho.ServiceName, healthpb.HealthCheckResponse_SERVING)
		healthpb.RegisterHealthServer(s.grpcSrv, hs)
		grpcecho.Register(s.grpcSrv, echoServer{})
		s.serve(func() error { return s.grpcSrv.Serve(ln) })
	}
	if cfg.TCPAddr != "" {
		ln, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			return fail(err)
		}
		s.addrs.TCP = ln.Addr().String()
		s.tcpLn = ln
		s.serve(func() error { return s.serveTCP(ln) })
	}
	return s, nil
}

// Addrs returns the bound addresses.
func (s *Server) Addrs() Addrs { return s.addrs }

// URL is the base URL of the plain HTTP listener.
func (s *Server) URL() string { return "http://" + s.addrs.HTTP }

func (s *Server) serve(f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) &&
			!errors.Is(err, grpc.ErrServerStopped) {
			slog.Error("target listener stopped", "err", err)
		}
	}()
}

// Close stops every listener and waits for them.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if s.httpSrv != nil {
			_ = s.httpSrv.Shutdown(ctx)
		}
		if s.httpsSrv != nil {
			_ = s.httpsSrv.Shutdown(ctx)
		}
		for _, srv := range s.extraSrvs {
			_ = srv.Shutdown(ctx)
		}
		if s.grpcSrv != nil {
			s.grpcSrv.Stop()
		}
		if s.tcpLn != nil {
			_ = s.tcpLn.Close()
			s.tcpConns.Range(func(k, _ any) bool { _ = k.(net.Conn).Close(); return true })
		}
		s.wg.Wait()
		if s.client != nil {
			s.client.CloseIdleConnections()
		}
		s.process.close()
	})
}

// holdResponse applies the injected delay, then holds the response through a stall.
func (s *Server) holdResponse(ctx context.Context, in Injection) {
	if d := in.Latency.Sample(); d > 0 {
		sleepCtx(ctx, d)
	}
	now := time.Now()
	if until := in.Stall.Until(s.start, now); until.After(now) {
		sleepCtx(ctx, until.Sub(now))
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

var filler = bytes.Repeat([]byte("meshperf "), 1<<16/9+1)

// ServeHTTP echoes the request body (or ResponseBytes of filler) after the injected
// delay. Query parameters latency, status, error_rate and size override the injection
// for one request. /healthz and /stats are never delayed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		// The process id lets a harness check that the target answering is the one it
		// started, not another process holding the port.
		w.Header().Set("X-Meshperf-Pid", strconv.Itoa(os.Getpid()))
		_, _ = io.WriteString(w, "ok\n")
		return
	case "/stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Stats())
		return
	case "/stats/service":
		s.serveServiceView(w, r)
		return
	case "/metrics":
		s.metricsHandler.ServeHTTP(w, r)
		return
	}
	if s.serveConformance(w, r) {
		return
	}
	if s.cfg.Name != "" {
		w.Header().Set(AppHeader, s.cfg.Name)
	}
	began := time.Now()
	in := s.cfg.Injection
	if r.URL.RawQuery != "" {
		var err error
		if in, err = in.overrides(r.URL.Query().Get); err != nil {
			s.stats.add(caller(r), r.URL.Path, "400")
			s.metrics.Observe(r.URL.Path, "400", time.Since(began))
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	var body []byte
	if r.ContentLength != 0 {
		body, _ = io.ReadAll(io.LimitReader(r.Body, 64<<20))
	}
	s.holdResponse(r.Context(), in)
	code := http.StatusOK
	if in.fails() {
		code = in.ErrorCode
	}
	if len(body) == 0 && in.ResponseBytes > 0 {
		body = fill(in.ResponseBytes)
	}
	s.stats.addProto(caller(r), r.URL.Path, statusText(code), r.Proto)
	// Counted before the response leaves, like /stats: a client that has its answer
	// finds it counted.
	s.metrics.Observe(r.URL.Path, statusText(code), time.Since(began))
	if ct := r.Header.Get("Content-Type"); ct != "" && len(body) > 0 {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
	done := time.Now()
	s.service.record(r.URL.Path, done, done.Sub(began))
}

func fill(n int) []byte {
	if n <= len(filler) {
		return filler[:n]
	}
	return bytes.Repeat([]byte("m"), n)
}

func caller(r *http.Request) string {
	if c := r.Header.Get("X-Meshperf-Caller"); c != "" {
		return c
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) grpcInject(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	in := s.cfg.Injection
	who := "unknown"
	if p, ok := peer.FromContext(ctx); ok {
		who, _, _ = strings.Cut(p.Addr.String(), ":")
	}
	began := time.Now()
	s.grpcConformance(ctx, who)
	s.holdResponse(ctx, in)
	if in.fails() {
		s.stats.add(who, info.FullMethod, codes.Unavailable.String())
		s.metrics.Observe(info.FullMethod, codes.Unavailable.String(), time.Since(began))
		return nil, status.Error(codes.Unavailable, "injected error")
	}
	resp, err := handler(ctx, req)
	s.stats.add(who, info.FullMethod, status.Code(err).String())
	s.metrics.Observe(info.FullMethod, status.Code(err).String(), time.Since(began))
	return resp, err
}

type echoServer struct{}

func (echoServer) Echo(_ context.Context, in *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error) {
	return wrapperspb.Bytes(in.GetValue()), nil
}

// serveTCP echoes every byte back, holding replies through stalls.
func (s *Server) serveTCP(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		s.tcpConns.Store(c, struct{}{})
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.tcpConns.Delete(c)
			defer c.Close()
			who, _, _ := strings.Cut(c.RemoteAddr().String(), ":")
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					s.holdResponse(context.Background(), Injection{Stall: s.cfg.Stall, Latency: s.cfg.Latency})
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
					s.stats.addTCP(who, int64(n))
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

func statusText(code int) string {
	const digits = "0123456789"
	return string([]byte{digits[code/100%10], digits[code/10%10], digits[code%10]})
}

// selfSigned makes a throwaway certificate for 127.0.0.1, ::1 and localhost.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "meshperf target"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pemBlock("CERTIFICATE", der)
	cert, err := tls.X509KeyPair(certPEM, pemBlock("EC PRIVATE KEY", keyDER))
	return cert, certPEM, err
}
