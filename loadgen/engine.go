// Package loadgen drives load: one Engine interface, several engines (fortio and vegeta
// as libraries), and the shared machinery that makes their numbers comparable — the
// rate schedule, per-worker recorders and per-second intervals with HDR histograms.
//
// It knows nothing of servers, brokers or databases: intervals leave through a Sink.
package loadgen

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// Engine generates the load of one shard.
type Engine interface {
	Name() string
	// Version of the library behind the engine, for the result's environment.
	Version() string
	// Check reports, at validation time, what of a client the engine cannot do; problems
	// are named by the client's path (clients[0].protocol).
	Check(c *smp.Client, path string, errs *smp.FieldErrors)
	// Run drives the shard's load until its schedule ends or ctx is cancelled, recording
	// every request into col. It returns an error only when it could not run at all.
	Run(ctx context.Context, s *Shard, col *Collector) error
}

// Shard is the part of a run one engine instance performs: one client (or, in a
// distributed run, its share of one client).
type Shard struct {
	// Source names the shard's intervals (client name, or agent/client).
	Source string
	Client smp.Client
	// Start is the wall-clock instant the schedule starts; zero means now.
	Start time.Time
	// Warmup is excluded from the summary; the schedule runs Warmup+Duration.
	Warmup   time.Duration
	Duration time.Duration
}

// Total is the shard's whole length.
func (s *Shard) Total() time.Duration { return s.Warmup + s.Duration }

// Paced reports whether requests follow a schedule (any rate) rather than "as fast as
// possible".
func (s *Shard) Paced() bool { return s.Client.RPS > 0 || len(s.Client.Stages) > 0 }

// Schedule is the shard's rate profile: warm-up at the starting rate, then the stages,
// then the last rate held to the end. Nil when the load is not paced.
func (s *Shard) Schedule() *RateProfile {
	if !s.Paced() {
		return nil
	}
	c := &s.Client
	start := float64(c.RPS)
	var ramps []Ramp
	if s.Warmup > 0 {
		ramps = append(ramps, Ramp{Length: s.Warmup, To: start})
	}
	last := start
	var staged time.Duration
	for _, st := range c.Stages {
		ramps = append(ramps, Ramp{Length: st.Duration.D(), To: float64(st.RPS)})
		last = float64(st.RPS)
		staged += st.Duration.D()
	}
	if rest := s.Duration - staged; rest > 0 {
		ramps = append(ramps, Ramp{Length: rest, To: last})
	}
	return NewRateProfile(start, ramps)
}

// Outcome is what one request produced.
type Outcome struct {
	// Code is the response status: HTTP status, gRPC status code, 0 for a TCP echo.
	Code int
	// Err is the error class when no response came (then Code is ignored).
	Err ErrClass
	// OK: the response counts as a success.
	OK            bool
	BytesSent     int64
	BytesReceived int64
	// Skip: the request was abandoned because the run was cancelled; not recorded.
	Skip bool
}

// ErrClass indexes smp.ErrorClasses; 0 means no error.
type ErrClass uint8

// Error classes.
const (
	NoErr ErrClass = iota
	ErrConnect
	ErrTimeout
	ErrReset
	ErrTLS
	ErrProtocol
	ErrSocket
	ErrOther
	numErrClasses
)

func (e ErrClass) String() string {
	if e == NoErr || e >= numErrClasses {
		return ""
	}
	return smp.ErrorClasses[e-1]
}

// ClassifyError puts a transport error into a class by what the Go runtime says.
func ClassifyError(err error) ErrClass {
	if err == nil {
		return NoErr
	}
	return ClassifyErrorText(err.Error())
}

// ClassifyErrorText classifies an error message (vegeta reports errors as strings).
func ClassifyErrorText(msg string) ErrClass {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "timeout"), strings.Contains(m, "deadline exceeded"):
		return ErrTimeout
	case strings.Contains(m, "tls:"), strings.Contains(m, "x509"), strings.Contains(m, "certificate"):
		return ErrTLS
	case strings.Contains(m, "connection refused"), strings.Contains(m, "no such host"),
		strings.Contains(m, "network is unreachable"), strings.Contains(m, "no route to host"),
		strings.Contains(m, "dial "):
		return ErrConnect
	case strings.Contains(m, "connection reset"), strings.Contains(m, "broken pipe"),
		strings.Contains(m, "eof"), strings.Contains(m, "closed"):
		return ErrReset
	case strings.Contains(m, "malformed"), strings.Contains(m, "protocol"), strings.Contains(m, "http2"),
		strings.Contains(m, "mismatch"), strings.Contains(m, "unexpected"):
		return ErrProtocol
	}
	return ErrOther
}

var engines = map[string]Engine{}

// Register makes an engine available by name; engines register themselves in init.
func Register(e Engine) { engines[e.Name()] = e }

// Lookup returns the named engine.
func Lookup(name string) (Engine, bool) {
	e, ok := engines[strings.ToLower(name)]
	return e, ok
}

// Names lists the registered engines.
func Names() []string {
	out := make([]string, 0, len(engines))
	for n := range engines {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Check validates a whole config against the engines: each client's engine must exist
// and support what the client asks for. It adds to errs and does not stop at the first.
func Check(cfg *smp.TestConfig, errs *smp.FieldErrors) {
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		p := fmt.Sprintf("clients[%d]", i)
		e, ok := Lookup(c.LoadGenerator)
		if !ok {
			errs.Add(p+".load_generator", 0, "unknown load generator %q (one of %s)", c.LoadGenerator, strings.Join(Names(), ", "))
			continue
		}
		e.Check(c, p, errs)
	}
}

// Run runs one shard on its engine and streams its intervals to sink. The returned
// error is nil when the load ran (even if every request failed).
func Run(ctx context.Context, s *Shard, sink Sink) error {
	e, ok := Lookup(s.Client.LoadGenerator)
	if !ok {
		return fmt.Errorf("unknown load generator %q", s.Client.LoadGenerator)
	}
	if s.Start.IsZero() {
		s.Start = time.Now()
	}
	col := NewCollector(s, sink)
	col.Begin(ctx)
	err := e.Run(ctx, s, col)
	col.Finish()
	return err
}
