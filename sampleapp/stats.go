package sampleapp

import (
	"encoding/pem"
	"sync"
)

// Stats is what the target received, served at /stats.
type Stats struct {
	Total    int64            `json:"total"`
	ByCaller map[string]int64 `json:"by_caller"`
	ByPath   map[string]int64 `json:"by_path"`
	ByStatus map[string]int64 `json:"by_status"`
	// ByProto counts HTTP requests by protocol version (HTTP/1.1, HTTP/2.0).
	ByProto  map[string]int64 `json:"by_proto"`
	TCPBytes int64            `json:"tcp_bytes"`
}

type stats struct {
	mu sync.Mutex
	s  Stats
}

func (st *stats) init() {
	st.s = Stats{ByCaller: map[string]int64{}, ByPath: map[string]int64{}, ByStatus: map[string]int64{}, ByProto: map[string]int64{}}
}

func (st *stats) add(caller, path, status string) { st.addProto(caller, path, status, "") }

func (st *stats) addProto(caller, path, status, proto string) {
	st.mu.Lock()
	if proto != "" {
		st.s.ByProto[proto]++
	}
	st.s.Total++
	st.s.ByCaller[caller]++
	st.s.ByPath[path]++
	st.s.ByStatus[status]++
	st.mu.Unlock()
}

func (st *stats) addTCP(caller string, n int64) {
	st.mu.Lock()
	st.s.ByCaller[caller]++
	st.s.TCPBytes += n
	st.mu.Unlock()
}

// Stats returns a copy of what was received so far.
func (s *Server) Stats() Stats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	cp := func(m map[string]int64) map[string]int64 {
		out := make(map[string]int64, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return Stats{Total: s.stats.s.Total, ByCaller: cp(s.stats.s.ByCaller), ByPath: cp(s.stats.s.ByPath),
		ByStatus: cp(s.stats.s.ByStatus), ByProto: cp(s.stats.s.ByProto), TCPBytes: s.stats.s.TCPBytes}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
