package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/meshperf/meshperf/apitypes"
)

// Registrar registers an adapter with meshperf's server and keeps it registered:
// the registration is idempotent (keyed by the adapter's address), retried with
// exponential back-off while the server is away, and repeated every Refresh so a
// server that restarted on an empty registry, or lost the adapter, learns it again.
type Registrar struct {
	Server  string // http(s)://host:port of meshperf's server
	Token   string // an API token of an admin
	Address string // host:port the server dials
	Mesh    string
	// Refresh is the re-registration period once registered (default 30 s).
	Refresh time.Duration
	// MinBackoff and MaxBackoff bound the retry delay (default 500 ms, 30 s).
	MinBackoff, MaxBackoff time.Duration
	HTTP                   *http.Client
	Logger                 *slog.Logger
	// OnRegistered, when set, is called after every successful registration.
	OnRegistered func(apitypes.Adapter)
}

// Run registers until ctx ends.
func (r *Registrar) Run(ctx context.Context) {
	if r.Refresh <= 0 {
		r.Refresh = 30 * time.Second
	}
	if r.MinBackoff <= 0 {
		r.MinBackoff = 500 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 30 * time.Second
	}
	if r.HTTP == nil {
		r.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	backoff := r.MinBackoff
	registered := false
	for {
		a, err := r.Register(ctx)
		wait := r.Refresh
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.Logger.Warn("registering with the server failed; retrying", "server", r.Server, "in", backoff, "err", err)
			wait = backoff
			backoff = min(backoff*2, r.MaxBackoff)
			registered = false
		} else {
			if !registered {
				r.Logger.Info("registered with the server", "server", r.Server, "id", a.ID, "address", r.Address)
			}
			registered = true
			backoff = r.MinBackoff
			if r.OnRegistered != nil {
				r.OnRegistered(*a)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Register registers once.
func (r *Registrar) Register(ctx context.Context) (*apitypes.Adapter, error) {
	body, _ := json.Marshal(apitypes.AdapterRegistration{Address: r.Address, Mesh: r.Mesh})
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(r.Server, "/")+"/api/v1/adapters", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	hc := r.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var e struct{ Error *apitypes.Error }
		if json.Unmarshal(data, &e) == nil && e.Error != nil {
			return nil, fmt.Errorf("server answered %d: %s", resp.StatusCode, e.Error.Error())
		}
		return nil, fmt.Errorf("server answered %s", resp.Status)
	}
	var a apitypes.Adapter
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("reading the server's answer: %w", err)
	}
	return &a, nil
}
