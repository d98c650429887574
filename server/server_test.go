package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// serveAPI serves the real API with limits l on loopback; it returns the address.
func serveAPI(t *testing.T, l HTTPLimits) (string, *store.Store, string) {
	st := storetest.Open(t, "sqlite")
	token := "mpt_http-limits-test-token"
	if _, err := st.CreateUserWithToken(context.Background(), "ed", "editor", token); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mgr := runs.New(st, runs.Options{Logger: quiet})
	if err := mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(api.New(st, mgr, api.Options{Logger: quiet}).Handler(), l)
	go srv.Serve(limitListener(ln, l))
	t.Cleanup(func() { srv.Close(); cancel(); mgr.Wait() })
	return ln.Addr().String(), st, token
}

// closedWithin reports whether the server closes conn within d: reading ends in EOF,
// or in a reset when the server closed with our bytes unread; only the read deadline
// passing means it kept the connection open.
func closedWithin(conn net.Conn, d time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func TestSlowBodiesAndIdleConnectionsAreClosed(t *testing.T) {
	addr, _, token := serveAPI(t, HTTPLimits{ReadTimeout: time.Second, IdleTimeout: time.Second, WriteTimeout: time.Second})
	// A body trickled a byte at a time.
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "POST /api/v1/profiles HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+token+"\r\nContent-Length: 1000\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				if _, err := slow.Write([]byte("{")); err != nil {
					return
				}
			}
		}
	}()
	if !closedWithin(slow, 5*time.Second) {
		t.Error("a trickling body kept its connection open 5s past a 1s read timeout")
	}
	// An idle keep-alive connection after one request.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	if !closedWithin(idle, 5*time.Second) {
		t.Error("an idle keep-alive connection stayed open 5s past a 1s idle timeout")
	}
}

func TestConnectionCap(t *testing.T) {
	addr, _, _ := serveAPI(t, HTTPLimits{MaxConns: 2, IdleTimeout: time.Minute})
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// Let the server accept both before the third arrives.
	for _, c := range held {
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			t.Fatal(err)
		}
	}
	third, err := net.Dial("tcp", addr) // the kernel accepts; the server does not serve it
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	io.WriteString(third, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := http.ReadResponse(bufio.NewReader(third), nil); err == nil {
		t.Fatal("a third connection was served while two were open with a cap of 2")
	}
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := http.ReadResponse(bufio.NewReader(third), nil); err != nil {
		t.Fatalf("the third connection was not served once one closed: %v", err)
	}
}

// An event stream outlives the write timeout: it lifts the deadline for itself.
func TestEventStreamsOutliveTheWriteTimeout(t *testing.T) {
	addr, _, token := serveAPI(t, HTTPLimits{ReadTimeout: time.Second, WriteTimeout: time.Second})
	tgt, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	body := `{"config": {"duration": "3s", "clients": [{"endpoint_urls": ["` + tgt.URL() + `/"], "rps": 10, "connections": 1}]}}`
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/runs", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("run: %v %v", err, resp)
	}
	loc := resp.Header.Get("Location")
	resp.Body.Close()
	req, _ = http.NewRequest("GET", "http://"+addr+loc+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	all, err := io.ReadAll(resp.Body)
	if err != nil || !strings.Contains(string(all), "event: end") {
		t.Fatalf("the stream of a 3s run broke under a 1s write timeout: %v\n%s", err, all)
	}
}
