package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

// 50 clients at once listing, creating profiles and running them: no errors, no lost
// writes (every profile, run and result is there afterwards).
func TestFiftyConcurrentClients(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{})
		const clients = 50
		var wg sync.WaitGroup
		errs := make(chan string, clients*10)
		runIDs := make(chan string, clients)
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("p%02d", i)
				if code, body := h.do("POST", "/api/v1/profiles", h.editor, map[string]any{"name": name, "config": h.config("/c/"+name, 20, 200*time.Millisecond)}); code != 201 {
					errs <- fmt.Sprintf("create %s: %d %s", name, code, body)
					return
				}
				if code, body := h.do("GET", "/api/v1/profiles", h.viewer, nil); code != 200 {
					errs <- fmt.Sprintf("list: %d %s", code, body)
				}
				code, body := h.do("POST", "/api/v1/profiles/"+name+"/runs", h.editor, nil)
				if code != 202 {
					errs <- fmt.Sprintf("run %s: %d %s", name, code, body)
					return
				}
				var r struct{ ID string }
				json.Unmarshal(body, &r)
				runIDs <- r.ID
				if code, body := h.do("GET", "/api/v1/results?limit=5", h.viewer, nil); code != 200 {
					errs <- fmt.Sprintf("results: %d %s", code, body)
				}
			}()
		}
		wg.Wait()
		close(errs)
		close(runIDs)
		for e := range errs {
			t.Error(e)
		}
		ids := map[string]bool{}
		for id := range runIDs {
			ids[id] = true
		}
		if len(ids) != clients {
			t.Fatalf("%d distinct runs, want %d", len(ids), clients)
		}
		ps, _ := h.st.ListProfiles(context.Background())
		if len(ps) != clients {
			t.Errorf("%d profiles stored, want %d", len(ps), clients)
		}
		// The runs queue (two at a time) and all finish.
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			un, _ := h.st.UnfinishedRuns(context.Background(), "")
			if len(un) == 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		rows, _, err := h.st.ListResults(context.Background(), store.ResultFilter{Limit: 1000})
		if err != nil || len(rows) != clients {
			t.Fatalf("%d results, want %d (%v)", len(rows), clients, err)
		}
		for _, r := range rows {
			if r.Status != "completed" {
				t.Errorf("result %s: %s", r.ID, r.Status)
			}
		}
	})
}

// proxy forwards TCP to PostgreSQL and can be cut and restored, to take the database
// away from a running server without touching the shared PostgreSQL.
type proxy struct {
	addr, upstream string
	mu             sync.Mutex
	ln             net.Listener
	conns          []net.Conn
}

func (p *proxy) start(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// With the database gone the API answers 503 with a clear message (never a hang or a
// 500), and recovers by itself when the database is back.
func TestDatabaseOutageIs503AndRecovers(t *testing.T) {
	dbURL, dir := storetest.URL(t, "postgres")
	p := &proxy{addr: "127.0.0.1:0", upstream: "127.0.0.1:5432"}
	p.start(t)
	viaProxy := strings.Replace(dbURL, "127.0.0.1:5432", p.addr, 1)
	st, err := store.Open(context.Background(), viaProxy, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mgr := runs.New(st, runs.Options{Owner: "outage", Logger: quiet})
	mgr.Start(ctx)
	h := &harness{t: t, st: st}
	srvURL := serve(t, api.New(st, mgr, api.Options{Logger: quiet}))
	h.url = srvURL
	h.editor = "mpt_outage-editor-token"
	st.CreateUserWithToken(context.Background(), "ed", "editor", h.editor)
	if code, _ := h.do("GET", "/api/v1/profiles", h.editor, nil); code != 200 {
		t.Fatalf("before: %d", code)
	}
	p.cut()
	for _, path := range []string{"/api/v1/profiles", "/api/v1/results", "/readyz"} {
		start := time.Now()
		code, body := h.do("GET", path, h.editor, nil)
		if code != 503 || !strings.Contains(string(body), "unavailable") {
			t.Errorf("%s during the outage: %d %s", path, code, body)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("%s took %v to fail", path, el)
		}
	}
	p.start(t) // same address: the database is back
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _ := h.do("GET", "/api/v1/profiles", h.editor, nil)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery: still %d", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
