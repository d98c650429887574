package perf

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// Split divides a validated config among n load generators (agents). Each client's
// rate, stage rates and connections are divided so that the shares add up to the
// whole (the remainder goes to the first shares); a client keeps its endpoints, and
// every client is named explicitly so that sources line up across shares. A client
// whose share of a paced rate is zero is left out of that share. Shares carry no
// thresholds.
func Split(cfg *smp.TestConfig, n int) ([]*smp.TestConfig, error) {
	if n < 1 {
		return nil, fmt.Errorf("cannot split a run among %d generators", n)
	}
	out := make([]*smp.TestConfig, n)
	for i := range out {
		c, err := clone(cfg)
		if err != nil {
			return nil, err
		}
		c.Clients = nil
		c.Agents = nil // a share runs on one generator
		// A share is judged by no threshold: its figures are a part of the run's, and
		// the coordinator judges the merged whole (an agent aborting on its own half
		// of the rate would stop a healthy run).
		c.Thresholds = nil
		out[i] = c
	}
	for ci := range cfg.Clients {
		src := cfg.Clients[ci]
		paced := src.RPS > 0 || len(src.Stages) > 0
		for i := range n {
			c := src // the maps and slices are shared: cloned below when changed
			c.Name = src.ClientName(ci)
			c.RPS = share(src.RPS, n, i)
			c.Connections = int32(max(1, share(int64(src.Connections), n, i)))
			if len(src.Stages) > 0 {
				c.Stages = make([]smp.Stage, len(src.Stages))
				for s, st := range src.Stages {
					c.Stages[s] = smp.Stage{Duration: st.Duration, RPS: share(st.RPS, n, i)}
				}
			}
			if paced && c.RPS == 0 && allZero(c.Stages) {
				continue // nothing for this share to send
			}
			out[i].Clients = append(out[i].Clients, c)
		}
	}
	for i, c := range out {
		if len(c.Clients) == 0 {
			return nil, fmt.Errorf("the rate is too low to give all %d generators some load (share %d would be idle): use fewer", n, i)
		}
	}
	return out, nil
}

// share is the i-th of n parts of total, the remainder going to the first parts.
func share(total int64, n, i int) int64 {
	s := total / int64(n)
	if int64(i) < total%int64(n) {
		s++
	}
	return s
}

func allZero(st []smp.Stage) bool {
	for _, s := range st {
		if s.RPS > 0 {
			return false
		}
	}
	return true
}

func clone(cfg *smp.TestConfig) (*smp.TestConfig, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var c smp.TestConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// SharesPlan is a distributed run's plan: one shard per agent and client of its share,
// named agent/client as the agents name their intervals, so target rates add up to
// the whole and every source lines up with what the agents sent.
func SharesPlan(cfg *smp.TestConfig, agents []string, start time.Time) (*Plan, error) {
	shares, err := Split(cfg, len(agents))
	if err != nil {
		return nil, err
	}
	p := NewPlan(cfg, start)
	p.Shards = nil
	for i, ag := range agents {
		for _, sh := range NewPlan(shares[i], start).Shards {
			sh.Source = ag + "/" + sh.Source
			p.Shards = append(p.Shards, sh)
		}
	}
	return p, nil
}
