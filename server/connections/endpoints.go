package connections

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// Endpoint kinds: services reached over HTTP, beside Kubernetes clusters.
const (
	KindKubernetes = store.ConnKubernetes
	KindPrometheus = store.ConnPrometheus
	KindGrafana    = store.ConnGrafana
)

// EndpointKind reports whether kind is an HTTP endpoint kind.
func EndpointKind(kind string) bool { return kind == KindPrometheus || kind == KindGrafana }

// EndpointCredential authenticates to an endpoint: a bearer token or basic auth (or
// nothing). It is stored sealed and never shown.
type EndpointCredential struct {
	BearerToken string `json:"bearer_token,omitempty"`
	Username    string `json:"username,omitempty"`
	Password    string `json:"password,omitempty"`
	// Cluster, on an endpoint found in a cluster, is that cluster connection's id:
	// the endpoint is reached through its API server with its credential.
	Cluster string `json:"cluster,omitempty"`
}

// Authorize sets the request's Authorization header from the credential.
func (c EndpointCredential) Authorize(req *http.Request) {
	switch {
	case c.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+c.BearerToken)
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	}
}

// EndpointSpec is an endpoint connection to add.
type EndpointSpec struct {
	Kind, Name, URL string
	Credential      EndpointCredential
	DiscoverOnly    bool
}

// Validate names every bad field.
func (s *EndpointSpec) Validate() error {
	var errs smp.FieldErrors
	if !EndpointKind(s.Kind) {
		msg := fmt.Sprintf("%q is not an endpoint kind (prometheus or grafana)", s.Kind)
		if s.Kind == KindKubernetes {
			msg = "Kubernetes clusters are added from a kubeconfig (POST /api/v1/clusters, meshperf cluster add)"
		}
		errs.Add("kind", 0, "%s", msg)
	}
	if s.Name == "" || len(s.Name) > 128 || strings.ContainsAny(s.Name, " /\t\n") {
		errs.Add("name", 0, "1 to 128 characters, no spaces or slashes")
	}
	if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		errs.Add("url", 0, "an http(s) URL with a host and no credentials in it (give them as bearer_token or username/password)")
	}
	if s.Credential.BearerToken != "" && (s.Credential.Username != "" || s.Credential.Password != "") {
		errs.Add("bearer_token", 0, "give a bearer token or a username and password, not both")
	}
	if s.Credential.Password != "" && s.Credential.Username == "" {
		errs.Add("username", 0, "a password needs a username")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func canonicalURL(raw string) string { return strings.TrimRight(raw, "/") }

// endpointKey is an endpoint's identity in the connections' unique cluster_uid column
// (64 characters): its kind and a hash of its canonical URL, so a URL of any length
// is known once.
func endpointKey(kind, canonical string) string {
	h := sha256.Sum256([]byte(canonical))
	return kind + " " + hex.EncodeToString(h[:])[:48]
}

// AddEndpoint adds a Prometheus or Grafana connection: its health check runs first
// (unless it is only discovered), its credential is sealed to its id. The same URL
// under the same name updates the credential; under another name it is a duplicate.
func (m *Manager) AddEndpoint(ctx context.Context, spec EndpointSpec, actor string) (AddResult, error) {
	if err := spec.Validate(); err != nil {
		return AddResult{}, err
	}
	spec.URL = canonicalURL(spec.URL)
	res := AddResult{Context: spec.Name, Outcome: Failed}
	state, now := Connected, time.Now().UTC()
	row := &store.Connection{ID: uuid.NewString(), Kind: spec.Kind, Name: spec.Name, ClusterUID: endpointKey(spec.Kind, spec.URL),
		Server: spec.URL, LastCheck: &now, StateChangedAt: now, CreatedBy: actor}
	if spec.DiscoverOnly {
		state = Discovered
	} else {
		version, err := probeEndpoint(ctx, spec.Kind, spec.URL, spec.Credential, nil)
		if err != nil {
			res.Error = fmt.Sprintf("cannot reach %s: %v", spec.URL, err)
			return res, nil
		}
		row.Version = version
	}
	row.State = string(state)
	cred, err := json.Marshal(spec.Credential)
	if err != nil {
		return res, err
	}
	saved, outcome, err := m.st.AddConnection(ctx, row, nil, func(id string) []byte { return m.opt.Box.Seal(cred, []byte(id)) })
	switch {
	case errors.Is(err, store.ErrConflict):
		res.Error = fmt.Sprintf("a connection named %s already exists for something else; choose another name", spec.Name)
		return res, nil
	case err != nil:
		return res, err
	}
	res.Outcome = outcome
	if outcome == store.ConnDuplicate {
		res.DuplicateOf = saved.Name
	} else {
		m.st.AddEvent(ctx, actor, "connection."+outcome, saved.Name, spec.Kind+" "+spec.URL)
		m.log.Info(spec.Kind+" connection "+outcome, "name", saved.Name, "url", spec.URL, "version", row.Version)
	}
	res.Connection = view(saved, nil)
	return res, nil
}

// Endpoint is what server-side code needs to call an endpoint connection: its URL and
// unsealed credential. Never hand it to a client.
type Endpoint struct {
	ID, Name, Kind, URL string
	Credential          EndpointCredential
	// Transport, when set, is the only way to reach the endpoint: through the API
	// server of the cluster it was found in, authenticated as that cluster.
	Transport http.RoundTripper
}

// Endpoint opens a connected endpoint of the given kind (by id or name) for use on the
// server: a Grafana to upload boards to, a Prometheus to query.
func (m *Manager) Endpoint(ctx context.Context, ref, kind string) (*Endpoint, error) {
	c, err := m.st.GetConnection(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no %s connection %q: %w", kind, ref, err)
	}
	if err != nil {
		return nil, err
	}
	if c.Kind != kind {
		return nil, fmt.Errorf("connection %s is a %s connection, not %s: %w", c.Name, c.Kind, kind, store.ErrNotFound)
	}
	if !State(c.State).Usable() {
		return nil, &NotUsableError{Name: c.Name, State: State(c.State)}
	}
	cred, err := m.endpointCredential(c)
	if err != nil {
		return nil, err
	}
	rt, err := m.endpointTransport(ctx, cred)
	if err != nil {
		return nil, fmt.Errorf("connection %s: %w", c.Name, err)
	}
	return &Endpoint{ID: c.ID, Name: c.Name, Kind: c.Kind, URL: c.Server, Credential: cred, Transport: rt}, nil
}

func (m *Manager) endpointCredential(c *store.Connection) (EndpointCredential, error) {
	var cred EndpointCredential
	b, err := m.opt.Box.Open(c.Credential, []byte(c.ID))
	if err != nil {
		return cred, fmt.Errorf("connection %s: %w", c.Name, err)
	}
	if err := json.Unmarshal(b, &cred); err != nil {
		return cred, fmt.Errorf("connection %s: its stored credential does not decode", c.Name)
	}
	return cred, nil
}

// ListKind lists the connections of one kind ("" for all).
func (m *Manager) ListKind(ctx context.Context, kind string) ([]*View, error) {
	cs, err := m.st.ListConnections(ctx)
	if err != nil {
		return nil, err
	}
	out := []*View{}
	for i := range cs {
		if kind == "" || cs[i].Kind == kind {
			out = append(out, view(&cs[i], nil))
		}
	}
	return out, nil
}

// probeConnection checks any connection: a cluster's API server (still the same
// cluster) or an endpoint's health URL. It returns the version and, for clusters,
// the nodes.
func (m *Manager) probeConnection(ctx context.Context, c *store.Connection) (string, []store.ClusterNode, error) {
	if EndpointKind(c.Kind) {
		if c.Server == "" {
			return "", nil, errors.New(c.LastError)
		}
		cred, err := m.endpointCredential(c)
		if err != nil {
			return "", nil, err
		}
		rt, err := m.endpointTransport(ctx, cred)
		if err != nil {
			return "", nil, err
		}
		v, err := probeEndpoint(ctx, c.Kind, c.Server, cred, rt)
		return v, nil, err
	}
	info, err := m.probe(ctx, c)
	if err != nil {
		return "", nil, err
	}
	return info.Version, storeNodes(info.Nodes), nil
}

// probeTimeout bounds one endpoint health check.
const probeTimeout = 10 * time.Second

// probeEndpoint checks an endpoint's health: Prometheus's build information (its
// version; /-/ready where the API is not reachable), Grafana's /api/health and, with
// a credential, /api/org. A credential the endpoint refuses fails the check. rt, if
// set, carries the requests (an API server's service proxy).
func probeEndpoint(ctx context.Context, kind, base string, cred EndpointCredential, rt http.RoundTripper) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	client := http.DefaultClient
	if rt != nil {
		client = &http.Client{Transport: rt}
	}
	get := func(path string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		if err != nil {
			return 0, nil, err
		}
		cred.Authorize(req)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, b, err
	}
	switch kind {
	case KindPrometheus:
		code, body, err := get("/api/v1/status/buildinfo")
		if err != nil {
			return "", err
		}
		if code == http.StatusOK {
			var bi struct {
				Status string `json:"status"`
				Data   struct {
					Version string `json:"version"`
				} `json:"data"`
			}
			if json.Unmarshal(body, &bi) != nil || bi.Status != "success" {
				return "", errors.New("/api/v1/status/buildinfo did not answer like Prometheus")
			}
			return bi.Data.Version, nil
		}
		if code == http.StatusUnauthorized || code == http.StatusForbidden {
			return "", fmt.Errorf("the credential was refused (%d)", code)
		}
		if code, _, err = get("/-/ready"); err != nil {
			return "", err
		}
		if code != http.StatusOK {
			return "", fmt.Errorf("not ready (/-/ready answered %d)", code)
		}
		return "", nil
	case KindGrafana:
		code, body, err := get("/api/health")
		if err != nil {
			return "", err
		}
		if code != http.StatusOK {
			return "", fmt.Errorf("/api/health answered %d", code)
		}
		var h struct {
			Database string `json:"database"`
			Version  string `json:"version"`
		}
		if json.Unmarshal(body, &h) != nil || h.Database != "ok" {
			return "", fmt.Errorf("/api/health: database %q", h.Database)
		}
		// /api/health answers anyone: the credential is proven on /api/org, which any
		// valid user or service account token may read.
		if cred.BearerToken != "" || cred.Username != "" {
			code, _, err := get("/api/org")
			if err != nil {
				return "", err
			}
			if code != http.StatusOK {
				return "", fmt.Errorf("the credential was refused (/api/org answered %d)", code)
			}
		}
		return h.Version, nil
	}
	return "", fmt.Errorf("no health check for kind %q", kind)
}

// Grafana is a connected Grafana connection's URL and credential in the form the
// dashboards' upload takes (api.GrafanaConnections): a token, or user:password. An
// unknown name wraps store.ErrNotFound.
func (m *Manager) Grafana(ctx context.Context, name string) (url, credential string, err error) {
	ep, err := m.Endpoint(ctx, name, KindGrafana)
	if err != nil {
		return "", "", err
	}
	if ep.Transport != nil {
		return "", "", fmt.Errorf("connection %s is reached through its cluster's API server; uploading boards needs Grafana's own URL (add it as a connection)", ep.Name)
	}
	credential = ep.Credential.BearerToken
	if ep.Credential.Username != "" {
		credential = ep.Credential.Username + ":" + ep.Credential.Password
	}
	return ep.URL, credential, nil
}
