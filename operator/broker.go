package operator

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/meshperf/meshperf/bus"
)

// BrokerOptions configure the in-cluster broker (`meshperf broker`): a NATS server
// for the cluster's own clients that connects OUT to the meshperf server's broker as a
// leaf node, so the cluster needs no inbound port.
type BrokerOptions struct {
	// ServerURL is the server's leaf node listener (nats-leaf://host:7422, tls://...,
	// wss://...).
	ServerURL string
	// Token is the cluster's MeshSync credential (mpm1.<cluster>.<mac>): it
	// authenticates this leaf to the server and in-cluster clients to this broker.
	Token string
	// Addr is the client listener ("0.0.0.0:4222"; port 0: any).
	Addr string
	// MonitorAddr serves /healthz, /readyz and /status ("0.0.0.0:8222"; "" none).
	MonitorAddr string
	Version     string
	Logger      *slog.Logger
}

// BrokerReport is what the broker's /status says: the operator copies it into the
// Broker's and the MeshSync's status.
type BrokerReport struct {
	Cluster   string    `json:"cluster"`
	Connected bool      `json:"connected"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	// MeshSync is the last status event the cluster's MeshSync sent through this
	// broker (nil: none yet).
	MeshSync *bus.MeshSyncStatus `json:"meshsync,omitempty"`
	// LastEvent is when MeshSync last sent any event through this broker.
	LastEvent time.Time `json:"last_event,omitzero"`
}

// ClusterOfToken is the cluster a MeshSync credential names (its MAC is checked by
// the server only: this side holds no key).
func ClusterOfToken(token string) (string, error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 || parts[0] != "mpm1" || parts[2] == "" {
		return "", errors.New("the credential is not a MeshSync credential (mpm1.<cluster>.<mac>): issue one with 'meshperf cluster meshsync-credential'")
	}
	if err := bus.CheckToken("cluster", parts[1]); err != nil {
		return "", err
	}
	return parts[1], nil
}

// Broker is a running in-cluster broker.
type Broker struct {
	ns      *server.Server
	nc      *nats.Conn
	http    *http.Server
	cluster string
	opt     BrokerOptions
	started time.Time
	// URL is where in-cluster clients connect; MonitorURL serves /status.
	URL, MonitorURL string

	mu        sync.Mutex
	meshsync  *bus.MeshSyncStatus
	lastEvent time.Time
}

const internalBrokerUser = "meshperf-broker"

// StartBroker starts the in-cluster broker; it dials the server in the background and
// redials for ever.
func StartBroker(opt BrokerOptions) (*Broker, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	cluster, err := ClusterOfToken(opt.Token)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	remote, err := leafURL(opt.ServerURL, opt.Token)
	if err != nil {
		return nil, err
	}
	host, portS, err := net.SplitHostPort(opt.Addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", opt.Addr, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("--addr %q: bad port", opt.Addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	perms, err := bus.MeshSyncPermissions(cluster)
	if err != nil {
		return nil, err
	}
	internal := randomHex()
	b := &Broker{cluster: cluster, opt: opt, started: time.Now().UTC()}
	ns, err := server.NewServer(&server.Options{
		ServerName: "meshperf-broker-" + cluster,
		Host:       host, Port: port,
		NoLog: true, NoSigs: true,
		MaxPayload: 1 << 20,
		// In-cluster clients prove themselves with the cluster's credential and get
		// MeshSync's permissions, the same the server grants this leaf: nothing that
		// the server would refuse is accepted here.
		CustomClientAuthentication: &localAuth{token: strings.TrimSpace(opt.Token), internal: internal, perms: perms},
		LeafNode: server.LeafNodeOpts{
			ReconnectInterval: 2 * time.Second,
			Remotes:           []*server.RemoteLeafOpts{{URLs: []*url.URL{remote}, DenyExports: nil}},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("broker did not start on %s", opt.Addr)
	}
	b.ns = ns
	b.URL = "nats://" + ns.Addr().String()
	// The broker's own client hears MeshSync's events going by, for /status.
	b.nc, err = nats.Connect(b.URL, nats.UserInfo(internalBrokerUser, internal), nats.Name("meshperf-broker-monitor"))
	if err != nil {
		b.Close()
		return nil, err
	}
	events, _ := bus.MeshSyncEvents(cluster)
	if _, err := b.nc.Subscribe(events, b.noteEvent); err != nil {
		b.Close()
		return nil, err
	}
	if opt.MonitorAddr != "" {
		ln, err := net.Listen("tcp", opt.MonitorAddr)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("--monitor-addr %q: %w", opt.MonitorAddr, err)
		}
		b.MonitorURL = "http://" + ln.Addr().String()
		b.http = &http.Server{Handler: b.monitor(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = b.http.Serve(ln) }()
	}
	opt.Logger.Info("broker: listening", "url", b.URL, "monitor", b.MonitorURL, "server", remote.Redacted(), "cluster", cluster)
	return b, nil
}

func leafURL(raw, token string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--server-url %q: not a URL like nats-leaf://host:7422", raw)
	}
	switch u.Scheme {
	case "nats-leaf", "nats", "tls", "ws", "wss":
	default:
		return nil, fmt.Errorf("--server-url %q: scheme %q is not nats-leaf, nats, tls, ws or wss", raw, u.Scheme)
	}
	if u.User != nil {
		return nil, fmt.Errorf("--server-url: keep the credential out of the URL (give --token-file)")
	}
	u.User = url.User(strings.TrimSpace(token)) // sent as the leaf's token
	return u, nil
}

// Cluster is the cluster this broker serves.
func (b *Broker) Cluster() string { return b.cluster }

// Connected reports whether the leaf connection to the server is up.
func (b *Broker) Connected() bool { return b.ns != nil && b.ns.NumLeafNodes() > 0 }

// Report is the broker's status.
func (b *Broker) Report() BrokerReport {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := BrokerReport{Cluster: b.cluster, Connected: b.Connected(), Version: b.opt.Version, StartedAt: b.started, LastEvent: b.lastEvent}
	if b.meshsync != nil {
		s := *b.meshsync
		r.MeshSync = &s
	}
	return r
}

func (b *Broker) noteEvent(m *nats.Msg) {
	env, err := bus.DecodeMeshSync(m.Data)
	if err != nil {
		return
	}
	ev := env.MeshSyncEvent
	if ev == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastEvent = time.Now().UTC()
	if ev.Type == bus.EventStatus && ev.Status != nil {
		s := *ev.Status
		b.meshsync = &s
	}
}

func (b *Broker) monitor() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if b.ns == nil || !b.ns.Running() {
			http.Error(w, "nats server not running", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	// Ready once the leaf connection to the server is up: a Service routes nothing to
	// a broker that cannot forward.
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.Connected() {
			http.Error(w, "not connected to the server's broker", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b.Report())
	})
	return mux
}

// Close stops the broker.
func (b *Broker) Close() {
	if b.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = b.http.Shutdown(ctx)
		cancel()
	}
	if b.nc != nil {
		b.nc.Close()
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
}

// RunBroker runs the broker until ctx ends.
func RunBroker(ctx context.Context, opt BrokerOptions) error {
	b, err := StartBroker(opt)
	if err != nil {
		return err
	}
	defer b.Close()
	<-ctx.Done()
	return nil
}

// localAuth admits the broker's own monitor client and in-cluster clients holding the
// cluster's credential.
type localAuth struct {
	token, internal string
	perms           bus.Permissions
}

func (a *localAuth) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false
	}
	o := c.GetOpts()
	if o.Username == internalBrokerUser {
		if subtle.ConstantTimeCompare([]byte(o.Password), []byte(a.internal)) != 1 {
			return false
		}
		// The monitor only listens.
		c.RegisterUser(&server.User{Username: internalBrokerUser, Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Deny: []string{">"}},
		}})
		return true
	}
	if o.Token == "" || o.Username != "" || subtle.ConstantTimeCompare([]byte(o.Token), []byte(a.token)) != 1 {
		return false
	}
	c.RegisterUser(&server.User{Username: "meshsync", Permissions: &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: a.perms.Publish},
		Subscribe: &server.SubjectPermission{Allow: a.perms.Subscribe},
	}})
	return true
}

func randomHex() string {
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(buf)
}
