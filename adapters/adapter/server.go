package adapter

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	adapterv1 "github.com/meshperf/meshperf/adapters/proto/meshperf/adapter/v1"
	"github.com/meshperf/meshperf/kube"
)

// ContractVersion is the version of the gRPC contract this library speaks.
const ContractVersion = "v1"

// HealthService is the service name the adapter's gRPC health reports on.
const HealthService = "meshperf.adapter.v1.Adapter"

// Options tune a Server.
type Options struct {
	// Version is the adapter's own version.
	Version string
	// ClusterTimeout is the default per-cluster deadline (default 5 minutes).
	ClusterTimeout time.Duration
	// KeepFinished bounds the finished operations kept for GetOperation and Events
	// (default 256); running ones are always kept.
	KeepFinished int
	Logger       *slog.Logger
}

// Server serves one Mesh over the v1 contract.
type Server struct {
	adapterv1.UnimplementedAdapterServer
	mesh Mesh
	opt  Options
	log  *slog.Logger

	ctx    context.Context // the adapter's lifetime: operations run under it
	mu     sync.Mutex
	ops    map[string]*operation
	order  []string // operation ids, oldest first
	wg     sync.WaitGroup
	health *health.Server
}

// NewServer builds a Server whose operations run until ctx ends.
func NewServer(ctx context.Context, mesh Mesh, opt Options) *Server {
	if opt.ClusterTimeout <= 0 {
		opt.ClusterTimeout = 5 * time.Minute
	}
	if opt.KeepFinished <= 0 {
		opt.KeepFinished = 256
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Server{mesh: mesh, opt: opt, log: opt.Logger, ctx: ctx, ops: map[string]*operation{}, health: health.NewServer()}
}

// GRPC builds the gRPC server: the Adapter service, gRPC health and reflection.
func (s *Server) GRPC(opts ...grpc.ServerOption) *grpc.Server {
	g := grpc.NewServer(opts...)
	adapterv1.RegisterAdapterServer(g, s)
	healthpb.RegisterHealthServer(g, s.health)
	s.health.SetServingStatus(HealthService, healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	reflection.Register(g)
	return g
}

// Serve serves on lis until ctx ends, then stops gracefully and waits for the
// operations' goroutines.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	g := s.GRPC()
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		s.health.Shutdown()
		stopped := make(chan struct{})
		go func() { g.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			g.Stop()
		}
	}()
	err := g.Serve(lis)
	<-done
	s.wg.Wait()
	return err
}

// Wait waits for every operation's goroutines.
func (s *Server) Wait() { s.wg.Wait() }

// Info answers who the adapter is.
func (s *Server) Info(ctx context.Context, _ *adapterv1.InfoRequest) (*adapterv1.InfoResponse, error) {
	vs, err := s.mesh.Versions(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "reading the %s versions from %s: %v", s.mesh.Name(), s.mesh.Source(), err)
	}
	return &adapterv1.InfoResponse{
		Name: "meshperf-" + s.mesh.Name() + "-adapter", AdapterVersion: s.opt.Version, Mesh: s.mesh.Name(),
		MeshVersions: vs, Operations: s.mesh.Operations(), ContractVersion: ContractVersion,
		ChartRepository: s.mesh.Source(),
	}, nil
}

// Apply starts an operation (or returns the status of the one with that id).
func (s *Server) Apply(_ context.Context, req *adapterv1.ApplyRequest) (*adapterv1.OperationStatus, error) {
	if s.ctx.Err() != nil {
		return nil, status.Error(codes.Unavailable, "the adapter is stopping")
	}
	s.mu.Lock()
	if op, ok := s.ops[req.GetOperationId()]; ok {
		s.mu.Unlock()
		return op.status(), nil
	}
	s.mu.Unlock()
	o, desc, err := CheckApply(req, s.mesh.Operations())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	timeout := s.opt.ClusterTimeout
	if t := req.GetClusterTimeoutSeconds(); t > 0 {
		timeout = time.Duration(t) * time.Second
	}
	op := newOperation(o, req.GetClusters())
	s.mu.Lock()
	if prev, ok := s.ops[o.ID]; ok { // a concurrent Apply of the same id won
		s.mu.Unlock()
		return prev.status(), nil
	}
	s.ops[o.ID] = op
	s.order = append(s.order, o.ID)
	s.evictLocked()
	s.mu.Unlock()

	op.emit("", adapterv1.Severity_SEVERITY_INFO, "operation "+o.Kind.String()+" started on "+plural(len(req.GetClusters()), "cluster"), "", "", "", 0)
	var wg sync.WaitGroup
	for _, c := range req.GetClusters() {
		wg.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer wg.Done()
			s.runCluster(op, desc, c, timeout)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		wg.Wait()
		op.finish()
	}()
	return op.status(), nil
}

func (s *Server) runCluster(op *operation, desc *adapterv1.OperationDescriptor, c *adapterv1.Cluster, timeout time.Duration) {
	name := c.GetName()
	op.start(name)
	emit := func(sev adapterv1.Severity, summary, details string) {
		op.emit(name, sev, summary, details, "", "", 0)
	}
	fail := func(err error) {
		summary, cause, remedy := explain(err, name)
		var details map[string]string
		if f := (*Failure)(nil); errors.As(err, &f) {
			details = f.Details
		}
		op.end(name, details, summary, cause, remedy)
	}
	if !desc.GetImplemented() {
		fail(Fail(nil, desc.GetKind().String()+" is not implemented by this adapter", desc.GetReason(), "use an adapter version that implements it"))
		return
	}
	rc, err := kube.RESTConfig(c.GetKubeconfig())
	if err != nil {
		fail(Fail(err, "reading the cluster's kubeconfig", "the kubeconfig sent for cluster "+name+" is not usable", "re-add the cluster's connection with a valid kubeconfig"))
		return
	}
	rc.Timeout = 30 * time.Second
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	emit(adapterv1.Severity_SEVERITY_INFO, "working on cluster "+name, "")
	details, err := s.mesh.Do(ctx, op.o, Target{Name: name, Kubeconfig: c.GetKubeconfig(), Config: rc, Emit: emit})
	if err != nil {
		fail(err)
		return
	}
	op.end(name, details, "", "", "")
}

// GetOperation returns an operation's status.
func (s *Server) GetOperation(_ context.Context, req *adapterv1.GetOperationRequest) (*adapterv1.OperationStatus, error) {
	s.mu.Lock()
	op, ok := s.ops[req.GetOperationId()]
	s.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "operation %q is unknown to this adapter (never applied here, or the adapter restarted since)", req.GetOperationId())
	}
	if s.ctx.Err() != nil {
		return nil, status.Error(codes.Unavailable, "the adapter is stopping")
	}
	return op.status(), nil
}

// Events streams an operation's events from a sequence on, live, until it finished.
func (s *Server) Events(req *adapterv1.EventsRequest, stream grpc.ServerStreamingServer[adapterv1.Event]) error {
	s.mu.Lock()
	op, ok := s.ops[req.GetOperationId()]
	s.mu.Unlock()
	if !ok {
		return status.Errorf(codes.NotFound, "operation %q is unknown to this adapter (never applied here, or the adapter restarted since)", req.GetOperationId())
	}
	after := req.GetAfterSequence()
	for {
		evs, changed, done := op.since(after)
		if s.ctx.Err() != nil {
			// Stopping: what the operation reports now is its cancellation, not its
			// outcome; a subscriber retries elsewhere or later (and re-applies).
			return status.Error(codes.Unavailable, "the adapter is stopping")
		}
		for _, e := range evs {
			if err := stream.Send(e); err != nil {
				return err
			}
			after = e.GetSequence()
		}
		if done && len(evs) == 0 {
			return nil
		}
		if len(evs) > 0 {
			continue
		}
		select {
		case <-changed:
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

func (s *Server) evictLocked() {
	finished := 0
	for _, id := range s.order {
		if s.ops[id].finished() {
			finished++
		}
	}
	keep := s.order[:0]
	for _, id := range s.order {
		if finished > s.opt.KeepFinished && s.ops[id].finished() {
			delete(s.ops, id)
			finished--
			continue
		}
		keep = append(keep, id)
	}
	s.order = keep
}

// operation is one operation's state and its events.
type operation struct {
	o        Operation
	mu       sync.Mutex
	events   []*adapterv1.Event
	clusterN map[string]uint64
	results  map[string]*adapterv1.ClusterResult
	names    []string
	changed  chan struct{} // closed and replaced at every change
	done     bool
}

func newOperation(o Operation, clusters []*adapterv1.Cluster) *operation {
	op := &operation{o: o, clusterN: map[string]uint64{}, results: map[string]*adapterv1.ClusterResult{}, changed: make(chan struct{})}
	for _, c := range clusters {
		op.names = append(op.names, c.GetName())
		op.results[c.GetName()] = &adapterv1.ClusterResult{Cluster: c.GetName(), State: adapterv1.State_STATE_PENDING}
	}
	sort.Strings(op.names)
	return op
}

func (op *operation) notifyLocked() {
	close(op.changed)
	op.changed = make(chan struct{})
}

func (op *operation) emitLocked(cluster string, sev adapterv1.Severity, summary, details, cause, remedy string, final adapterv1.State) {
	e := &adapterv1.Event{OperationId: op.o.ID, Sequence: uint64(len(op.events)) + 1, Cluster: cluster, Severity: sev,
		Summary: summary, Details: details, Cause: cause, Remedy: remedy, Time: timestamppb.Now(), ClusterState: final}
	if cluster != "" {
		op.clusterN[cluster]++
		e.ClusterSequence = op.clusterN[cluster]
	}
	op.events = append(op.events, e)
	op.notifyLocked()
}

func (op *operation) emit(cluster string, sev adapterv1.Severity, summary, details, cause, remedy string, final adapterv1.State) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.emitLocked(cluster, sev, summary, details, cause, remedy, final)
}

func (op *operation) start(cluster string) {
	op.mu.Lock()
	defer op.mu.Unlock()
	r := op.results[cluster]
	r.State, r.Started = adapterv1.State_STATE_RUNNING, timestamppb.Now()
	op.notifyLocked()
}

// end records a cluster's result and its final event in one step, so the event
// stream and the status never disagree.
func (op *operation) end(cluster string, details map[string]string, errMsg, cause, remedy string) {
	op.mu.Lock()
	defer op.mu.Unlock()
	r := op.results[cluster]
	r.Finished, r.Details = timestamppb.Now(), details
	if errMsg != "" {
		r.State, r.Error, r.Cause, r.Remedy = adapterv1.State_STATE_FAILED, errMsg, cause, remedy
		op.emitLocked(cluster, adapterv1.Severity_SEVERITY_ERROR, "failed on cluster "+cluster, errMsg, cause, remedy, r.State)
		return
	}
	r.State = adapterv1.State_STATE_SUCCEEDED
	op.emitLocked(cluster, adapterv1.Severity_SEVERITY_INFO, "succeeded on cluster "+cluster, "", "", "", r.State)
}

func (op *operation) finish() {
	op.mu.Lock()
	defer op.mu.Unlock()
	failed := 0
	for _, r := range op.results {
		if r.State != adapterv1.State_STATE_SUCCEEDED {
			failed++
		}
	}
	sev, summary := adapterv1.Severity_SEVERITY_INFO, "operation succeeded on every cluster"
	if failed > 0 {
		sev, summary = adapterv1.Severity_SEVERITY_ERROR, "operation failed on "+plural(failed, "cluster")+" of "+plural(len(op.results), "")
	}
	op.emitLocked("", sev, summary, "", "", "", 0)
	op.done = true
	op.notifyLocked()
}

func (op *operation) finished() bool {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.done
}

func (op *operation) since(after uint64) ([]*adapterv1.Event, <-chan struct{}, bool) {
	op.mu.Lock()
	defer op.mu.Unlock()
	var out []*adapterv1.Event
	if after < uint64(len(op.events)) {
		out = append(out, op.events[after:]...)
	}
	return out, op.changed, op.done
}

func (op *operation) status() *adapterv1.OperationStatus {
	op.mu.Lock()
	defer op.mu.Unlock()
	st := &adapterv1.OperationStatus{OperationId: op.o.ID, Kind: op.o.Kind, LastSequence: uint64(len(op.events)),
		Version: op.o.Version, Namespace: op.o.Namespace, State: adapterv1.State_STATE_RUNNING}
	failed := false
	for _, n := range op.names {
		r := op.results[n]
		st.Clusters = append(st.Clusters, cloneResult(r))
		if r.State == adapterv1.State_STATE_FAILED {
			failed = true
		}
	}
	if op.done {
		st.State = adapterv1.State_STATE_SUCCEEDED
		if failed {
			st.State = adapterv1.State_STATE_FAILED
		}
	}
	return st
}

func cloneResult(r *adapterv1.ClusterResult) *adapterv1.ClusterResult {
	c := &adapterv1.ClusterResult{Cluster: r.Cluster, State: r.State, Error: r.Error, Cause: r.Cause, Remedy: r.Remedy,
		Started: r.Started, Finished: r.Finished}
	if r.Details != nil {
		c.Details = map[string]string{}
		for k, v := range r.Details {
			c.Details[k] = v
		}
	}
	return c
}

func plural(n int, what string) string {
	s := strconv.Itoa(n)
	if what == "" {
		return s
	}
	if n == 1 {
		return s + " " + what
	}
	return s + " " + what + "s"
}
