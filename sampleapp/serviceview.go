package sampleapp

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// The target's own view of the service time it gave, so a generator's figures can be
// checked against it: the time from when a request was read to when its response was
// written, per path and per second of completion. A client p99 far above the server's
// is the network or the generator, never the target.
//
// Seconds are kept compacted (~1-3 KB each) for serviceViewKeep; only the second being
// filled is a live histogram.
const (
	serviceViewKeep     = 15 * time.Minute
	serviceViewMaxPaths = 16 // further paths are counted under "other"
)

// ServiceView is the answer of GET /stats/service.
type ServiceView struct {
	// Target marks the answer as meshperf's target (not another server's /stats).
	Target   string `json:"target"`
	Path     string `json:"path"`
	From     int64  `json:"from_unix"` // whole seconds covered, [from, to)
	To       int64  `json:"to_unix"`
	Requests int64  `json:"requests"`
	// ServiceTime is the HDR histogram of service times, microseconds.
	ServiceTime *smp.Histogram `json:"service_time"`
	// Process is the target process over the same seconds: its CPU and its own
	// queueing, which the service time does not include.
	Process *ProcessView `json:"process,omitempty"`
}

// serviceTimes holds, per path, one histogram per second.
type serviceTimes struct {
	mu    sync.Mutex
	paths map[string]map[int64]*smp.Histogram
	live  map[string]int64 // the live (uncompacted) second per path
}

func (st *serviceTimes) record(path string, done time.Time, took time.Duration) {
	sec := done.Unix()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.paths == nil {
		st.paths, st.live = map[string]map[int64]*smp.Histogram{}, map[string]int64{}
	}
	secs, ok := st.paths[path]
	if !ok {
		if len(st.paths) >= serviceViewMaxPaths {
			path = "other"
			secs = st.paths[path]
		}
		if secs == nil {
			secs = map[int64]*smp.Histogram{}
			st.paths[path] = secs
		}
	}
	h := secs[sec]
	if h == nil {
		if prev, ok := st.live[path]; ok && secs[prev] != nil {
			secs[prev].Compact()
		}
		h = smp.NewHistogram()
		secs[sec] = h
		st.live[path] = sec
		for s := range secs {
			if s < sec-int64(serviceViewKeep/time.Second) {
				delete(secs, s)
			}
		}
	}
	h.Record(took)
}

// view merges path's seconds in [from, to).
func (st *serviceTimes) view(path string, from, to int64) ServiceView {
	v := ServiceView{Target: "meshperf", Path: path, From: from, To: to, ServiceTime: smp.NewHistogram()}
	st.mu.Lock()
	defer st.mu.Unlock()
	for s, h := range st.paths[path] {
		if s >= from && s < to {
			v.ServiceTime.Merge(h)
		}
	}
	v.Requests = v.ServiceTime.Count()
	return v
}

// serveServiceView answers GET /stats/service?path=/p&from=<unix s>&to=<unix s>.
func (s *Server) serveServiceView(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
	path := q.Get("path")
	switch {
	case err1 != nil:
		http.Error(w, "from: want unix seconds", http.StatusBadRequest)
		return
	case err2 != nil || to < from:
		http.Error(w, "to: want unix seconds, not before from", http.StatusBadRequest)
		return
	case path == "":
		path = "/"
	}
	w.Header().Set("Content-Type", "application/json")
	v := s.service.view(path, from, to)
	v.Process = s.process.view(from, to)
	_ = json.NewEncoder(w).Encode(v)
}

// wireCounter counts the bytes read and written on the plain HTTP listener's
// connections: request lines, headers and bodies as they crossed the wire.
type wireCounter struct{ in, out atomic.Int64 }

type countingListener struct {
	net.Listener
	c *wireCounter
}

func (l countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: l.c}, nil
}

type countingConn struct {
	net.Conn
	c *wireCounter
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.c.out.Add(int64(n))
	return n, err
}

// WireBytes is what the plain HTTP listener received and sent on the wire so far.
func (s *Server) WireBytes() (received, sent int64) {
	return s.wire.in.Load(), s.wire.out.Load()
}
