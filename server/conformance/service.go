// Package conformance is the server's side of conformance: runs on connected
// clusters (the mesh and its version from the cluster's fingerprints), reports
// signed with the server's ed25519 key (sealed at rest by server/secrets), uploaded
// reports verified before they are kept, and the compatibility matrix
// mesh x version x profile over stored reports.
package conformance

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/meshperf/meshperf/apitypes"

	suite "github.com/meshperf/meshperf/conformance"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/meshes"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/store"
)

// keyBinding binds the sealed key to its purpose.
var keyBinding = []byte("meshperf conformance signing key")

// Service runs, keeps and compares conformance reports.
type Service struct {
	st     *store.Store
	conns  *connections.Manager
	meshes *meshes.Service
	key    ed25519.PrivateKey // nil when it cannot be unsealed (keyErr says why)
	pub    ed25519.PublicKey
	keyErr error
	log    *slog.Logger
	// Tune, when set, adjusts every run's options (tests reach the apps of the
	// stand-in test mesh with it).
	Tune func(*suite.Options)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New loads the server's signing key (made and sealed on first use) and marks runs
// a previous server left running as failed.
func New(ctx context.Context, st *store.Store, conns *connections.Manager, ms *meshes.Service, box *secrets.Box, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.Default()
	}
	k, err := st.ConformanceKey(ctx)
	if errors.Is(err, store.ErrNotFound) {
		priv, gerr := suite.GenerateKey()
		if gerr != nil {
			return nil, gerr
		}
		k, err = st.PutConformanceKey(ctx, &store.ConformanceKey{ID: uuid.NewString(),
			PublicKey: base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), Sealed: box.Seal(priv.Seed(), keyBinding)})
	}
	if err != nil {
		return nil, fmt.Errorf("conformance signing key: %w", err)
	}
	pub, err := base64.StdEncoding.DecodeString(k.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("conformance signing key: the stored public key is damaged")
	}
	if err := st.FailInterruptedConformanceRuns(ctx); err != nil {
		return nil, err
	}
	s := &Service{st: st, conns: conns, meshes: ms, pub: pub, log: log}
	// A server started with another secret key still serves its stored reports and
	// the matrix; only signing (runs, reports kept from adapters) is refused, saying why.
	if seed, err := box.Open(k.Sealed, keyBinding); err != nil || len(seed) != ed25519.SeedSize {
		s.keyErr = fmt.Errorf("conformance signing key: cannot unseal it with this server's secret key (start the server with the secret key that sealed it): %v", err)
		log.Error("conformance reports cannot be signed", "err", s.keyErr)
	} else {
		s.key = ed25519.NewKeyFromSeed(seed)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// PublicKey is the key the server's reports verify with.
func (s *Service) PublicKey() ed25519.PublicKey { return s.pub }

// Close cancels the runs in progress (their namespaces are deleted) and waits.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// RunRequest asks for a run.
type RunRequest = apitypes.ConformanceRunRequest

// InputError is bad input; its message names the field.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Start checks the request, records the run and runs it in the background.
func (s *Service) Start(ctx context.Context, req RunRequest, actor string) (*store.ConformanceRun, error) {
	if s.key == nil {
		return nil, s.keyErr
	}
	if req.Cluster == "" {
		return nil, &InputError{"cluster: required"}
	}
	profiles, err := suite.ParseProfiles(strings.Join(req.Profiles, ","))
	if err != nil {
		return nil, &InputError{"profiles: " + err.Error()}
	}
	opts := suite.Options{Profiles: profiles, AllFeatures: req.AllFeatures, SkipTests: req.SkipTests}
	for _, f := range req.ExtendedFeatures {
		opts.ExtendedFeatures = append(opts.ExtendedFeatures, suite.Feature(f))
	}
	if req.StepTimeout != "" {
		d, err := parseDuration(req.StepTimeout)
		if err != nil {
			return nil, &InputError{"step_timeout: " + err.Error()}
		}
		opts.StepTimeout = d
	}
	conn, err := s.conns.Usable(ctx, req.Cluster)
	if err != nil {
		return nil, err
	}
	cfg, err := s.conns.RESTConfig(conn)
	if err != nil {
		return nil, err
	}
	opts.Config = cfg
	opts.Mesh = suite.Mesh{Name: req.Mesh, Version: req.MeshVersion, Cluster: conn.Name}
	if s.meshes != nil {
		if cm, err := s.meshes.Cluster(ctx, conn.ID); err == nil {
			for _, m := range cm.Meshes {
				if req.Mesh == "" || m.Type == req.Mesh {
					opts.Mesh.Name, opts.Mesh.Version = m.Type, m.Version
					break
				}
			}
		}
	}
	if s.Tune != nil {
		s.Tune(&opts)
	}
	run := &store.ConformanceRun{ID: uuid.NewString(), ClusterUID: conn.ClusterUID, ClusterName: conn.Name, Mesh: opts.Mesh.Name,
		MeshVersion: opts.Mesh.Version, Profiles: strings.Join(profiles, ","), Status: store.ConformanceRunning, CreatedBy: actor}
	if err := s.st.CreateConformanceRun(ctx, run); err != nil {
		return nil, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.finish(run.ID, opts)
	}()
	return run, nil
}

func (s *Service) finish(id string, opts suite.Options) {
	rep, err := suite.Run(s.ctx, opts)
	// The outcome is recorded even when the server is stopping.
	ctx := context.WithoutCancel(s.ctx)
	if rep == nil {
		_ = s.st.FinishConformanceRun(ctx, id, store.ConformanceFailed, "", "", err.Error(), false)
		return
	}
	status, errText := store.ConformanceDone, ""
	if err != nil {
		status, errText = store.ConformanceFailed, "interrupted: "+err.Error()
	}
	if serr := rep.Sign(s.key); serr != nil {
		_ = s.st.FinishConformanceRun(ctx, id, store.ConformanceFailed, "", "", serr.Error(), false)
		return
	}
	var b strings.Builder
	_ = rep.Write(&b, suite.FormatJSON)
	if err := s.st.FinishConformanceRun(ctx, id, status, b.String(), rep.Signature.KeyID, errText, rep.Conformant()); err != nil {
		s.log.Error("recording a conformance run", "id", id, "err", err)
	}
}

// Upload verifies a signed report (YAML or JSON) and keeps it. With trusted keys,
// the signer must be one of them.
func (s *Service) Upload(ctx context.Context, data []byte, actor string, trusted ...ed25519.PublicKey) (*store.ConformanceRun, error) {
	rep, err := suite.Verify(data, trusted...)
	if err != nil {
		return nil, &InputError{"report: " + err.Error()}
	}
	var b strings.Builder
	_ = rep.Write(&b, suite.FormatJSON)
	var names []string
	for _, p := range rep.Profiles {
		names = append(names, p.Name)
	}
	run := &store.ConformanceRun{ID: uuid.NewString(), ClusterName: rep.Mesh.Cluster, Mesh: rep.Mesh.Name, MeshVersion: rep.Mesh.Version,
		Profiles: strings.Join(names, ","), Status: store.ConformanceUploaded, Conformant: rep.Conformant(), Report: b.String(),
		KeyID: rep.Signature.KeyID, CreatedBy: actor}
	if err := s.st.CreateConformanceRun(ctx, run); err != nil {
		return nil, err
	}
	fin := run.CreatedAt
	run.FinishedAt = &fin
	return run, s.st.FinishConformanceRun(ctx, run.ID, run.Status, run.Report, run.KeyID, "", run.Conformant)
}

// Keep stores the report an adapter's validate operation produced on a connected
// cluster, signed with the server's key: the server vouches that the report is what
// its registered adapter sent. It is idempotent per operation and cluster (a resumed
// operation is kept once).
func (s *Service) Keep(ctx context.Context, operationID, cluster string, data []byte, actor string) (*store.ConformanceRun, error) {
	if s.key == nil {
		return nil, s.keyErr
	}
	id := uuid.NewSHA1(keepSpace, []byte(operationID+"/"+cluster)).String()
	if r, err := s.st.GetConformanceRun(ctx, id); err == nil {
		return r, nil
	}
	rep, err := suite.Decode(data)
	if err != nil {
		return nil, &InputError{"report: " + err.Error()}
	}
	rep.Mesh.Cluster = cluster
	rep.Signature = nil
	if err := rep.Sign(s.key); err != nil {
		return nil, err
	}
	var b strings.Builder
	_ = rep.Write(&b, suite.FormatJSON)
	var names []string
	for _, p := range rep.Profiles {
		names = append(names, p.Name)
	}
	run := &store.ConformanceRun{ID: id, ClusterName: cluster, Mesh: rep.Mesh.Name, MeshVersion: rep.Mesh.Version,
		Profiles: strings.Join(names, ","), Status: store.ConformanceRunning, CreatedBy: actor}
	if conn, err := s.conns.Usable(ctx, cluster); err == nil {
		run.ClusterUID = conn.ClusterUID
	}
	if err := s.st.CreateConformanceRun(ctx, run); err != nil {
		return nil, err
	}
	if err := s.st.FinishConformanceRun(ctx, id, store.ConformanceDone, b.String(), rep.Signature.KeyID, "", rep.Conformant()); err != nil {
		return nil, err
	}
	return s.st.GetConformanceRun(ctx, id)
}

// keepSpace names the runs kept from adapters' validate operations.
var keepSpace = uuid.MustParse("6f1d3c1e-5a0b-4c53-9b8e-2f4d7a1c0e11")

// Report decodes a stored run's report (it was verified or signed here).
func Report(r *store.ConformanceRun) (*suite.Report, error) {
	if r.Report == "" {
		return nil, fmt.Errorf("conformance run %s has no report (%s)", r.ID, r.Status)
	}
	return suite.Decode([]byte(r.Report))
}

// Cell is one mesh x version x profile of the matrix: the newest report's result.
type Cell = apitypes.ConformanceCell

// Matrix is the newest result per mesh, version and profile over stored reports.
func (s *Service) Matrix(ctx context.Context) ([]Cell, error) {
	runs, err := s.st.FinishedConformanceRuns(ctx)
	if err != nil {
		return nil, err
	}
	cells := map[[3]string]Cell{}
	for i := range runs {
		rep, err := Report(&runs[i])
		if err != nil {
			continue
		}
		for _, p := range rep.Profiles {
			c := Cell{Mesh: rep.Mesh.Name, Version: rep.Mesh.Version, Profile: p.Name, Core: p.Core.Result,
				Passed: p.Core.Statistics.Passed, Failed: p.Core.Statistics.Failed, Skipped: p.Core.Statistics.Skipped,
				RunID: runs[i].ID, Date: rep.Date, KeyID: runs[i].KeyID}
			if p.Extended != nil {
				c.Extended = p.Extended.Result
				c.Passed += p.Extended.Statistics.Passed
				c.Failed += p.Extended.Statistics.Failed
				c.Skipped += p.Extended.Statistics.Skipped
			}
			cells[[3]string{c.Mesh, c.Version, c.Profile}] = c // newer runs come later
		}
	}
	out := make([]Cell, 0, len(cells))
	for _, c := range cells {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Mesh != b.Mesh {
			return a.Mesh < b.Mesh
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Profile < b.Profile
	})
	return out, nil
}
