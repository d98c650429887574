package operator

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// hubWithLeafPort is a bare NATS hub accepting any leaf (the server's authentication
// is tested in server/broker; here only the in-cluster side is under test), and its
// leaf port.
func hubWithLeafPort(t *testing.T) (*server.Server, int) {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: server.RANDOM_PORT}}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("hub not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns, opts.LeafNode.Port // written back by nats-server before it is ready
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The probes the Deployment names exist: /healthz while the broker runs, /readyz only
// while its leaf connection is up (and again after the server comes back).
func TestBrokerServesItsProbes(t *testing.T) {
	h, leafPort := hubWithLeafPort(t)
	b, err := StartBroker(BrokerOptions{ServerURL: "nats-leaf://127.0.0.1:" + strconv.Itoa(leafPort), Token: "mpm1.uid-1.mac",
		Addr: "127.0.0.1:0", MonitorAddr: "127.0.0.1:0", Version: "v-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if code := get(t, b.MonitorURL+"/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for get(t, b.MonitorURL+"/readyz") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz never 200 with the hub up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := b.Report(); !r.Connected || r.Cluster != "uid-1" || r.Version != "v-test" {
		t.Errorf("report %+v", r)
	}
	h.Shutdown()
	deadline = time.Now().Add(10 * time.Second)
	for get(t, b.MonitorURL+"/readyz") != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("/readyz still 200 with the hub gone")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := get(t, b.MonitorURL+"/healthz"); code != 200 {
		t.Errorf("/healthz with the hub gone: %d (the broker itself is fine)", code)
	}
	for _, bad := range []BrokerOptions{
		{ServerURL: "http://x:1", Token: "mpm1.uid-1.mac", Addr: "127.0.0.1:0"},
		{ServerURL: "nats-leaf://x:1", Token: "not-a-credential", Addr: "127.0.0.1:0"},
		{ServerURL: "nats-leaf://x:1", Token: "mpm1.uid-1.mac", Addr: "nowhere"},
	} {
		if b, err := StartBroker(bad); err == nil {
			b.Close()
			t.Errorf("%+v: started", bad)
		}
	}
}
