package loadgen

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshperf/meshperf/smp"
)

// vegetaEngine drives HTTP load with vegeta's attacker. Concurrency is bounded by the
// client's connections (vegeta's workers), so past its capacity the attacker falls
// behind instead of spawning workers without limit; the pacer follows meshperf's
// schedule, and each result's latency is re-based on its slot's intended instant.
type vegetaEngine struct{}

func init() { Register(vegetaEngine{}) }

func (vegetaEngine) Name() string    { return "vegeta" }
func (vegetaEngine) Version() string { return moduleVersion("github.com/tsenart/vegeta/v12") }

func (vegetaEngine) Check(c *smp.Client, p string, errs *smp.FieldErrors) {
	if c.Protocol != smp.ProtocolHTTP {
		errs.Add(p+".protocol", 0, "the vegeta engine does HTTP only; use load_generator: fortio for %s", c.Protocol)
	}
	checkCertificate(c, p, errs)
}

// schedPacer paces vegeta by a meshperf Schedule. It remembers when the attack began
// (vegeta keeps that private), so a result's Seq maps back to its intended instant, and
// it sleeps itself rather than returning a wait, so it knows how late it woke by its
// own fault (timer granularity, CPU) as opposed to waiting for a busy worker.
type schedPacer struct {
	ctx   context.Context
	sched Schedule
	once  sync.Once
	began time.Time
	// ownLag[seq % len] is the generator's own lateness for hit seq, in ns.
	ownLag [1 << 16]atomic.Int64
}

func (p *schedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	called := time.Now()
	p.once.Do(func() { p.began = called.Add(-elapsed) })
	if p.sched == nil {
		return 0, false // as fast as the workers allow
	}
	off, ok := p.sched.Offset(int64(hits))
	if !ok {
		return 0, true
	}
	due := p.began.Add(off)
	if d := due.Sub(called); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
			return 0, true
		}
	}
	// Late by its own fault: from when it was free to dispatch this hit (called) or
	// the due instant, whichever is later, to now.
	p.ownLag[hits%uint64(len(p.ownLag))].Store(int64(time.Since(later(due, called))))
	return 0, false
}

func (p *schedPacer) Rate(elapsed time.Duration) float64 {
	if p.sched == nil {
		return 0
	}
	return p.sched.MeanRate(elapsed, elapsed+time.Second)
}

func (vegetaEngine) Run(ctx context.Context, s *Shard, col *Collector) error {
	c := &s.Client
	tlsConf := &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // the user asked for it
	if c.SSLCertificate != "" {
		pem, err := os.ReadFile(c.SSLCertificate)
		if err != nil {
			return fmt.Errorf("reading ssl_certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ssl_certificate %s holds no PEM certificate", c.SSLCertificate)
		}
		tlsConf.RootCAs = pool
	}
	conns := int(c.Connections)
	h2 := c.HTTPVersion == "2"
	opts := []func(*vegeta.Attacker){
		vegeta.Workers(uint64(conns)),
		vegeta.MaxWorkers(uint64(conns)),
		vegeta.Connections(conns),
		vegeta.MaxConnections(conns),
		vegeta.Timeout(c.Timeout.D()),
		vegeta.KeepAlive(true),
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.TLSConfig(tlsConf),
		vegeta.HTTP2(h2),
	}
	header := http.Header{}
	for k, v := range c.Headers {
		header.Set(k, v)
	}
	header.Set("User-Agent", UserAgent)
	if ck := cookieHeader(c.Cookies); ck != "" {
		header.Set("Cookie", ck)
	}
	if c.ContentType != "" {
		header.Set("Content-Type", c.ContentType)
	}
	targets := make([]vegeta.Target, 0, len(c.EndpointURLs))
	plain := false
	for _, u := range c.EndpointURLs {
		if pu, err := url.Parse(u); err == nil && pu.Scheme == "http" {
			plain = true
		}
		targets = append(targets, vegeta.Target{Method: c.HTTPMethod(), URL: u, Body: []byte(c.Body), Header: header})
	}
	if h2 && plain {
		opts = append(opts, vegeta.H2C(true)) // replaces the transport: must come last
	}
	pacer := &schedPacer{ctx: ctx}
	if sch := s.Schedule(); sch != nil {
		pacer.sched = sch
	}
	if d := time.Until(s.Start); d > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
	}
	atk := vegeta.NewAttacker(opts...)
	results := atk.Attack(vegeta.NewStaticTargeter(targets...), pacer, s.Total(), s.Source)
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-stopped:
		}
	}()
	rec := col.NewRecorder()
	var cancelled <-chan time.Time
	for {
		var res *vegeta.Result
		var more bool
		select {
		case res, more = <-results:
		case <-ctx.Done():
			if cancelled == nil {
				// vegeta closes results only once every request in flight has ended,
				// which against a stalled target is its timeout away: past the grace,
				// let the attack drain by itself (and record nothing).
				cancelled = time.After(cancelGrace)
			}
			select {
			case res, more = <-results:
			case <-cancelled:
				go func() {
					for range results {
					}
				}()
				return nil
			}
		}
		if !more {
			return nil
		}
		var intended time.Time
		own := time.Duration(-1)
		if pacer.sched != nil {
			if off, ok := pacer.sched.Offset(int64(res.Seq)); ok {
				intended = pacer.began.Add(off)
				own = time.Duration(pacer.ownLag[res.Seq%uint64(len(pacer.ownLag))].Load())
			}
		}
		o := Outcome{BytesSent: int64(res.BytesOut), BytesReceived: int64(res.BytesIn)}
		switch {
		case res.Code != 0:
			o.Code = int(res.Code)
			o.OK = res.Code >= 200 && res.Code < 400
		case ctx.Err() != nil:
			o.Skip = true
		default:
			o.Err = ClassifyErrorText(res.Error)
		}
		// Results arrive after the fact: the probe's last stall, if it ended within a
		// moment of the response, still tells its read delay.
		_ = rec.Record(intended, res.Timestamp, res.End(), own, 0, o)
	}
}
