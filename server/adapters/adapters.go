// Package adapters is the server's side of the mesh adapters: the registry of adapters
// and their capabilities (registration reads the adapter's Info over gRPC itself, so
// a contract the server does not speak is refused at once, never silently), periodic
// health checks (gRPC health), and mesh operations: sent to the mesh's adapter with
// the kubeconfig of every selected cluster, their per-cluster outcome and every event
// stored as it arrives, live to subscribers.
//
// Nothing stays "running" forever: on start the server follows again every operation
// it left running, from the last event it stored; an adapter that lost an operation
// (it restarted) gets it applied again (operations are idempotent: server-side apply),
// at most MaxAttempts times, then it is failed with that cause; an adapter unreachable
// for longer than AdapterGone fails its operations with that cause.
package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/meshperf/meshperf/adapters/adapter"
	adapterv1 "github.com/meshperf/meshperf/adapters/proto/meshperf/adapter/v1"
	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// KubeconfigFunc resolves a cluster connection (name or id) to its name and a
// self-contained kubeconfig; an error when it is unknown or not usable.
type KubeconfigFunc func(ctx context.Context, ref string) (name string, kubeconfig []byte, err error)

// Options tune the service.
type Options struct {
	// HealthInterval is the period of health checks (default 15 s).
	HealthInterval time.Duration
	// AdapterGone is how long an adapter may be unreachable before its running
	// operations fail (default 2 minutes).
	AdapterGone time.Duration
	// MaxAttempts bounds how often an operation is applied (default 2).
	MaxAttempts int
	// Dial dials an adapter (default: gRPC without TLS; adapters run beside the
	// server or in its clusters' network).
	Dial   func(address string) (*grpc.ClientConn, error)
	Logger *slog.Logger
	// KeepReport stores the conformance report of a validate operation's cluster
	// (server/conformance signs and keeps it); nil keeps it only in the details.
	KeepReport func(ctx context.Context, operationID, cluster string, report []byte, actor string) error
}

// Service is the registry and the operations.
type Service struct {
	st   *store.Store
	kc   KubeconfigFunc
	opt  Options
	log  *slog.Logger
	ctx  context.Context
	mu   sync.Mutex
	conn map[string]*grpc.ClientConn // by address
	live map[string]bool             // operations followed by this process
	wake map[string]chan struct{}    // closed at each stored event
	wg   sync.WaitGroup
}

// New builds the service; operations it follows run until ctx ends. Run resumes
// those left running and checks the adapters' health.
func New(ctx context.Context, st *store.Store, kc KubeconfigFunc, opt Options) *Service {
	if opt.HealthInterval <= 0 {
		opt.HealthInterval = 15 * time.Second
	}
	if opt.AdapterGone <= 0 {
		opt.AdapterGone = 2 * time.Minute
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 2
	}
	if opt.Dial == nil {
		opt.Dial = func(a string) (*grpc.ClientConn, error) {
			return grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
		}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Service{st: st, kc: kc, opt: opt, log: opt.Logger, ctx: ctx,
		conn: map[string]*grpc.ClientConn{}, live: map[string]bool{}, wake: map[string]chan struct{}{}}
}

// Run resumes the operations left running, then checks the adapters' health until
// ctx ends; it waits for the operations it follows.
func (s *Service) Run(ctx context.Context) error {
	ops, err := s.st.MeshOperations(ctx, "running", 0)
	if err != nil {
		return fmt.Errorf("adapters: resuming operations: %w", err)
	}
	for _, op := range ops {
		s.log.Info("resuming a mesh operation left running", "operation", op.ID, "mesh", op.Mesh, "after_event", op.LastSeq)
		s.follow(op.ID)
	}
	t := time.NewTicker(s.opt.HealthInterval)
	defer t.Stop()
	for {
		s.CheckAll(ctx)
		select {
		case <-ctx.Done():
			s.wg.Wait()
			s.mu.Lock()
			for _, c := range s.conn {
				c.Close()
			}
			s.conn = map[string]*grpc.ClientConn{}
			s.mu.Unlock()
			return nil
		case <-t.C:
		}
	}
}

func (s *Service) client(address string) (adapterv1.AdapterClient, *grpc.ClientConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conn[address]; ok {
		return adapterv1.NewAdapterClient(c), c, nil
	}
	c, err := s.opt.Dial(address)
	if err != nil {
		return nil, nil, err
	}
	s.conn[address] = c
	return adapterv1.NewAdapterClient(c), c, nil
}

// InputError is bad input, with the fields at fault.
type InputError struct{ Fields smp.FieldErrors }

func (e *InputError) Error() string { return e.Fields.Error() }

var addressRE = regexp.MustCompile(`^[A-Za-z0-9.\-\[\]:]{1,250}:[0-9]{1,5}$`)

// Register reads an adapter's Info over gRPC and stores it (idempotent by address).
func (s *Service) Register(ctx context.Context, reg apitypes.AdapterRegistration) (*apitypes.Adapter, error) {
	var errs smp.FieldErrors
	if !addressRE.MatchString(reg.Address) {
		errs.Add("address", 0, "must be host:port")
	}
	if reg.Mesh == "" || len(reg.Mesh) > 64 {
		errs.Add("mesh", 0, "must be a mesh name (istio, linkerd)")
	}
	if len(errs) > 0 {
		return nil, &InputError{errs}
	}
	cl, _, err := s.client(reg.Address)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	info, err := cl.Info(cctx, &adapterv1.InfoRequest{})
	if err != nil {
		return nil, fmt.Errorf("the server cannot read the adapter's Info at %s: %w", reg.Address, err)
	}
	if info.GetContractVersion() != adapter.ContractVersion {
		errs.Add("address", 0, "the adapter at %s speaks contract %q; this server speaks %q: upgrade one of them", reg.Address, info.GetContractVersion(), adapter.ContractVersion)
	}
	if info.GetMesh() != reg.Mesh {
		errs.Add("mesh", 0, "the adapter at %s says it lifecycles %q, not %q", reg.Address, info.GetMesh(), reg.Mesh)
	}
	if len(errs) > 0 {
		return nil, &InputError{errs}
	}
	ops := make([]apitypes.AdapterOperation, 0, len(info.GetOperations()))
	for _, o := range info.GetOperations() {
		ao := apitypes.AdapterOperation{Kind: KindName(o.GetKind()), Description: o.GetDescription(), Implemented: o.GetImplemented(), Reason: o.GetReason()}
		for _, p := range o.GetParameters() {
			ao.Parameters = append(ao.Parameters, apitypes.AdapterParameter{Name: p.GetName(), Description: p.GetDescription(), Allowed: p.GetAllowed(), Default: p.GetDefault()})
		}
		ops = append(ops, ao)
	}
	vs, _ := json.Marshal(info.GetMeshVersions())
	ob, _ := json.Marshal(ops)
	now := time.Now().UTC()
	row, err := s.st.SaveAdapter(ctx, &store.Adapter{ID: uuid.NewString(), Address: reg.Address, Name: info.GetName(), Mesh: info.GetMesh(),
		AdapterVersion: info.GetAdapterVersion(), ContractVersion: info.GetContractVersion(), ChartRepository: info.GetChartRepository(),
		MeshVersions: string(vs), Operations: string(ob), Healthy: true, LastCheck: now, RegisteredAt: now})
	if err != nil {
		return nil, err
	}
	a := adapterOut(*row)
	return &a, nil
}

// Adapters lists the registry.
func (s *Service) Adapters(ctx context.Context) ([]apitypes.Adapter, error) {
	rows, err := s.st.Adapters(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]apitypes.Adapter, 0, len(rows))
	for _, r := range rows {
		out = append(out, adapterOut(r))
	}
	return out, nil
}

func adapterOut(r store.Adapter) apitypes.Adapter {
	a := apitypes.Adapter{ID: r.ID, Address: r.Address, Name: r.Name, Mesh: r.Mesh, AdapterVersion: r.AdapterVersion,
		ContractVersion: r.ContractVersion, ChartRepository: r.ChartRepository, Healthy: r.Healthy, LastError: r.LastError,
		LastCheck: r.LastCheck, RegisteredAt: r.RegisteredAt, MeshVersions: []string{}, Operations: []apitypes.AdapterOperation{}}
	_ = json.Unmarshal([]byte(r.MeshVersions), &a.MeshVersions)
	_ = json.Unmarshal([]byte(r.Operations), &a.Operations)
	if a.MeshVersions == nil {
		a.MeshVersions = []string{}
	}
	return a
}

// CheckAll checks every adapter's gRPC health now.
func (s *Service) CheckAll(ctx context.Context) {
	rows, err := s.st.Adapters(ctx)
	if err != nil {
		s.log.Warn("adapters: listing for health checks", "err", err)
		return
	}
	for _, r := range rows {
		_, cc, err := s.client(r.Address)
		healthy, msg := false, ""
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			var resp *healthpb.HealthCheckResponse
			resp, err = healthpb.NewHealthClient(cc).Check(cctx, &healthpb.HealthCheckRequest{Service: adapter.HealthService})
			cancel()
			if err == nil {
				healthy = resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
				msg = "health: " + resp.GetStatus().String()
			}
		}
		if err != nil {
			msg = err.Error()
		}
		if healthy {
			msg = ""
		}
		if err := s.st.SetAdapterHealth(ctx, r.ID, healthy, msg, time.Now().UTC()); err != nil && ctx.Err() == nil {
			s.log.Warn("adapters: recording health", "adapter", r.Address, "err", err)
		}
	}
}

// Kind names, as the API spells them.
var kinds = map[string]adapterv1.OperationKind{
	"install":             adapterv1.OperationKind_OPERATION_KIND_INSTALL,
	"uninstall":           adapterv1.OperationKind_OPERATION_KIND_UNINSTALL,
	"sample-deploy":       adapterv1.OperationKind_OPERATION_KIND_SAMPLE_DEPLOY,
	"sample-remove":       adapterv1.OperationKind_OPERATION_KIND_SAMPLE_REMOVE,
	"configure-injection": adapterv1.OperationKind_OPERATION_KIND_CONFIGURE_INJECTION,
	"configure-mtls":      adapterv1.OperationKind_OPERATION_KIND_CONFIGURE_MTLS,
	"configure-addons":    adapterv1.OperationKind_OPERATION_KIND_CONFIGURE_ADDONS,
	"validate":            adapterv1.OperationKind_OPERATION_KIND_VALIDATE,
}

// KindName is the API's name of an operation kind.
func KindName(k adapterv1.OperationKind) string {
	for n, v := range kinds {
		if v == k {
			return n
		}
	}
	return strings.ToLower(strings.TrimPrefix(k.String(), "OPERATION_KIND_"))
}

// KindNames lists the kinds the API accepts.
func KindNames() []string {
	var out []string
	for n := range kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Start validates a request, stores the operation and sends it to the mesh's adapter;
// it returns at once, the operation running.
func (s *Service) Start(ctx context.Context, req apitypes.OperationRequest, actor string) (*apitypes.Operation, error) {
	var errs smp.FieldErrors
	kind, ok := kinds[req.Kind]
	if !ok {
		errs.Add("kind", 0, "%q: want one of %s", req.Kind, strings.Join(KindNames(), ", "))
	}
	if n := len(req.Clusters); n == 0 || n > adapter.MaxClusters {
		errs.Add("clusters", 0, "need 1 to %d clusters, have %d", adapter.MaxClusters, n)
	}
	if req.ClusterTimeoutSeconds < 0 || req.ClusterTimeoutSeconds > 3600 {
		errs.Add("cluster_timeout_seconds", 0, "must be 0 to 3600")
	}
	rows, err := s.st.Adapters(ctx)
	if err != nil {
		return nil, err
	}
	var ad *store.Adapter
	for i := range rows {
		if rows[i].Mesh == req.Mesh && (ad == nil || rows[i].Healthy && !ad.Healthy) {
			ad = &rows[i]
		}
	}
	if ad == nil {
		errs.Add("mesh", 0, "no adapter for %q is registered (start one: meshperf adapter --mesh %s --server URL)", req.Mesh, req.Mesh)
	}
	if len(errs) > 0 {
		return nil, &InputError{errs}
	}
	// Check what the adapter will check, so bad input is refused here with the
	// field named, not half-stored.
	a := adapterOut(*ad)
	var desc *adapterv1.OperationDescriptor
	for _, o := range a.Operations {
		if kinds[o.Kind] == kind {
			desc = &adapterv1.OperationDescriptor{Kind: kind, Implemented: o.Implemented, Reason: o.Reason}
			for _, p := range o.Parameters {
				desc.Parameters = append(desc.Parameters, &adapterv1.ParameterDescriptor{Name: p.Name, Allowed: p.Allowed, Default: p.Default})
			}
		}
	}
	if desc == nil {
		errs.Add("kind", 0, "the %s adapter does not offer %s", req.Mesh, req.Kind)
	} else if !desc.Implemented {
		errs.Add("kind", 0, "the %s adapter does not implement %s yet: %s", req.Mesh, req.Kind, desc.Reason)
	}
	if desc != nil {
		if _, perrs := adapter.CheckParameters(req.Parameters, desc); len(perrs) > 0 {
			errs = append(errs, perrs...)
		}
	}
	if req.Version != "" && kind == adapterv1.OperationKind_OPERATION_KIND_INSTALL && !contains(a.MeshVersions, req.Version) {
		errs.Add("version", 0, "%s %s is not offered by the adapter (it offers: %s)", req.Mesh, req.Version, strings.Join(first(a.MeshVersions, 8), ", "))
	}
	names := make([]string, 0, len(req.Clusters))
	seen := map[string]bool{}
	for i, ref := range req.Clusters {
		name, _, err := s.kc(ctx, ref)
		if err != nil {
			errs.Add(fmt.Sprintf("clusters[%d]", i), 0, "%s", err.Error())
			continue
		}
		if seen[name] {
			errs.Add(fmt.Sprintf("clusters[%d]", i), 0, "%s appears twice", name)
		}
		seen[name] = true
		names = append(names, name)
	}
	// The namespace and the version are checked by the adapter's own rules.
	probe := &adapterv1.ApplyRequest{OperationId: "probe", Kind: kind, Namespace: req.Namespace, Version: req.Version,
		Clusters: []*adapterv1.Cluster{{Name: "probe", Kubeconfig: []byte{1}}}}
	if _, _, err := adapter.CheckApply(probe, []*adapterv1.OperationDescriptor{{Kind: kind}}); err != nil {
		var fe smp.FieldErrors
		if errors.As(err, &fe) {
			errs = append(errs, fe...)
		}
	}
	if len(errs) > 0 {
		return nil, &InputError{errs}
	}
	params, _ := json.Marshal(req.Parameters)
	op := &store.MeshOperation{ID: "op-" + uuid.NewString(), Mesh: req.Mesh, AdapterAddress: ad.Address, Kind: req.Kind, Version: req.Version,
		Namespace: req.Namespace, Parameters: string(params), ClusterTimeout: req.ClusterTimeoutSeconds, State: "running",
		CreatedBy: actor, CreatedAt: time.Now().UTC(), Attempts: 0}
	if err := s.st.CreateMeshOperation(ctx, op, names); err != nil {
		return nil, err
	}
	s.follow(op.ID)
	return s.Get(ctx, op.ID)
}

func contains(l []string, v string) bool {
	for _, s := range l {
		if s == v {
			return true
		}
	}
	return false
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Get returns an operation with its clusters.
func (s *Service) Get(ctx context.Context, id string) (*apitypes.Operation, error) {
	op, cs, err := s.st.GetMeshOperation(ctx, id)
	if err != nil {
		return nil, err
	}
	o := operationOut(*op, cs)
	return &o, nil
}

// List returns the latest operations, newest first.
func (s *Service) List(ctx context.Context, state string, limit int) ([]apitypes.Operation, error) {
	ops, err := s.st.MeshOperations(ctx, state, limit)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(ops))
	for _, o := range ops {
		ids = append(ids, o.ID)
	}
	cs, err := s.st.MeshOperationClusters(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]apitypes.Operation, 0, len(ops))
	for _, o := range ops {
		out = append(out, operationOut(o, cs[o.ID]))
	}
	return out, nil
}

func operationOut(op store.MeshOperation, cs []store.MeshOperationCluster) apitypes.Operation {
	o := apitypes.Operation{ID: op.ID, Mesh: op.Mesh, Adapter: op.AdapterAddress, Kind: op.Kind, Version: op.Version, Namespace: op.Namespace,
		State: op.State, Error: op.Error, CreatedBy: op.CreatedBy, CreatedAt: op.CreatedAt, FinishedAt: op.FinishedAt, LastSequence: op.LastSeq,
		Clusters: make([]apitypes.OperationCluster, 0, len(cs))}
	for _, c := range cs {
		oc := apitypes.OperationCluster{Cluster: c.Cluster, State: c.State, Error: c.Error, Cause: c.Cause, Remedy: c.Remedy, Started: c.Started, Finished: c.Finished}
		_ = json.Unmarshal([]byte(c.Details), &oc.Details)
		o.Clusters = append(o.Clusters, oc)
	}
	return o
}

// Events returns an operation's stored events after a sequence.
func (s *Service) Events(ctx context.Context, id string, after int64, limit int) ([]apitypes.OperationEvent, error) {
	if _, _, err := s.st.GetMeshOperation(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.st.MeshOperationEvents(ctx, id, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]apitypes.OperationEvent, 0, len(rows))
	for _, e := range rows {
		out = append(out, apitypes.OperationEvent{Sequence: e.Seq, Cluster: e.Cluster, ClusterSequence: e.ClusterSeq, Severity: e.Severity,
			Summary: e.Summary, Details: e.Details, Cause: e.Cause, Remedy: e.Remedy, ClusterState: e.ClusterState, Time: e.Time})
	}
	return out, nil
}

// Wait returns a channel closed at the operation's next stored event (or state
// change) in this process; callers also poll, for changes made by another replica.
func (s *Service) Wait(id string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.wake[id]
	if !ok {
		ch = make(chan struct{})
		s.wake[id] = ch
	}
	return ch
}

func (s *Service) notify(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.wake[id]; ok {
		close(ch)
		delete(s.wake, id)
	}
}

// Done reports whether a state is final.
func Done(state string) bool { return state == "succeeded" || state == "failed" }
