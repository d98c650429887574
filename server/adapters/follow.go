package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adapterv1 "github.com/meshperf/meshperf/adapters/proto/meshperf/adapter/v1"
	"github.com/meshperf/meshperf/server/store"
)

// follow drives an operation in the background until it ends (or the server stops:
// it stays running in the store and the next start resumes it).
func (s *Service) follow(id string) {
	s.mu.Lock()
	if s.live[id] {
		s.mu.Unlock()
		return
	}
	s.live[id] = true
	ctx := s.ctx
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.live, id)
			s.mu.Unlock()
		}()
		// drive ends when the operation did; an error (the store, say) is retried, so
		// the operation does not sit running until the next start.
		backoff := time.Second
		for {
			err := s.drive(ctx, id)
			if err == nil || ctx.Err() != nil {
				return
			}
			s.log.Error("adapters: following an operation; retrying", "operation", id, "err", err)
			if !sleep(ctx, &backoff) {
				return
			}
		}
	}()
}

func stateName(st adapterv1.State) string {
	switch st {
	case adapterv1.State_STATE_PENDING:
		return "pending"
	case adapterv1.State_STATE_RUNNING:
		return "running"
	case adapterv1.State_STATE_SUCCEEDED:
		return "succeeded"
	case adapterv1.State_STATE_FAILED:
		return "failed"
	}
	return ""
}

func severityName(sv adapterv1.Severity) string {
	switch sv {
	case adapterv1.Severity_SEVERITY_WARN:
		return "warn"
	case adapterv1.Severity_SEVERITY_ERROR:
		return "error"
	}
	return "info"
}

// serverEvent stores an event of the server's own (not from the adapter).
func (s *Service) serverEvent(ctx context.Context, id, cluster, severity, summary, cause, remedy string, final *store.MeshOperationCluster) error {
	err := s.st.AppendMeshOperationEvent(ctx, &store.MeshOperationEvent{OperationID: id, Cluster: cluster, Severity: severity,
		Summary: summary, Cause: cause, Remedy: remedy, Time: time.Now().UTC(), ClusterState: stateOf(final)}, 0, final)
	s.notify(id)
	return err
}

func stateOf(c *store.MeshOperationCluster) string {
	if c == nil {
		return ""
	}
	return c.State
}

func (s *Service) drive(ctx context.Context, id string) error {
	backoff := 500 * time.Millisecond
	var unreachableSince time.Time
	for {
		op, cs, err := s.st.GetMeshOperation(ctx, id)
		if err != nil {
			return err
		}
		if Done(op.State) {
			return nil
		}
		byName := map[string]*store.MeshOperationCluster{}
		for i := range cs {
			byName[cs[i].Cluster] = &cs[i]
		}
		cl, _, err := s.client(op.AdapterAddress)
		if err != nil {
			return s.fail(ctx, op, cs, "the adapter's address is unusable: "+err.Error(), "register the adapter again")
		}
		if op.Attempts == 0 {
			if done, err := s.apply(ctx, cl, op, byName); err != nil || done {
				if err != nil && isUnreachable(err) {
					if gone, ferr := s.unreachable(ctx, op, cs, &unreachableSince, err); gone || ferr != nil {
						return ferr
					}
					if !sleep(ctx, &backoff) {
						return ctx.Err()
					}
					continue
				}
				if err != nil {
					return s.fail(ctx, op, cs, "applying the operation: "+status.Convert(err).Message(), "check the adapter's logs")
				}
				return nil
			}
			continue
		}
		err = s.stream(ctx, cl, op, byName)
		switch {
		case err == nil: // the stream ended: the operation finished on the adapter
			return s.finish(ctx, cl, op)
		case ctx.Err() != nil:
			return ctx.Err()
		case status.Code(err) == codes.NotFound:
			// The adapter does not know the operation: it restarted since.
			if op.Attempts >= s.opt.MaxAttempts {
				return s.fail(ctx, op, cs, fmt.Sprintf("the adapter at %s lost the operation %d times (it restarted mid-operation)", op.AdapterAddress, op.Attempts),
					"check the adapter's logs and apply the operation again")
			}
			if err := s.serverEvent(ctx, op.ID, "", "warn", fmt.Sprintf("the adapter at %s no longer knows this operation (it restarted): applying it again (attempt %d of %d; operations are idempotent)", op.AdapterAddress, op.Attempts+1, s.opt.MaxAttempts), "", "", nil); err != nil {
				return err
			}
			if _, err := s.apply(ctx, cl, op, byName); err != nil && !isUnreachable(err) {
				return err
			}
			unreachableSince = time.Time{}
		case isUnreachable(err):
			if gone, ferr := s.unreachable(ctx, op, cs, &unreachableSince, err); gone || ferr != nil {
				return ferr
			}
			if !sleep(ctx, &backoff) {
				return ctx.Err()
			}
		default:
			return s.fail(ctx, op, cs, "the adapter's event stream failed: "+err.Error(), "check the adapter's logs")
		}
	}
}

func isUnreachable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Unknown, codes.Internal:
		return true
	}
	return false
}

func sleep(ctx context.Context, backoff *time.Duration) bool {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	*backoff = min(*backoff*2, 10*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// unreachable records that the adapter does not answer; past AdapterGone the
// operation fails with that cause (true).
func (s *Service) unreachable(ctx context.Context, op *store.MeshOperation, cs []store.MeshOperationCluster, since *time.Time, err error) (bool, error) {
	if since.IsZero() {
		*since = time.Now()
		s.log.Warn("adapters: the adapter of an operation does not answer; retrying", "operation", op.ID, "adapter", op.AdapterAddress, "err", err)
	}
	if time.Since(*since) < s.opt.AdapterGone {
		return false, nil
	}
	return true, s.fail(ctx, op, cs, fmt.Sprintf("the adapter at %s was unreachable for %s: %v", op.AdapterAddress, s.opt.AdapterGone, status.Convert(err).Message()),
		"start the adapter again (meshperf adapter --mesh "+op.Mesh+") and apply the operation again")
}

// apply sends the operation to the adapter (attempt + 1). It returns true when the
// operation ended without the adapter (no usable cluster, refused).
func (s *Service) apply(ctx context.Context, cl adapterv1.AdapterClient, op *store.MeshOperation, byName map[string]*store.MeshOperationCluster) (bool, error) {
	var params map[string]string
	_ = json.Unmarshal([]byte(op.Parameters), &params)
	req := &adapterv1.ApplyRequest{OperationId: op.ID, Kind: kinds[op.Kind], Namespace: op.Namespace, Version: op.Version,
		Parameters: params, ClusterTimeoutSeconds: uint32(max(op.ClusterTimeout, 0))}
	var names []string
	for n := range byName {
		names = append(names, n)
	}
	sortStrings(names)
	for _, n := range names {
		c := byName[n]
		if Done(c.State) {
			continue
		}
		_, kc, err := s.kc(ctx, n)
		if err != nil {
			now := time.Now().UTC()
			c.State, c.Error, c.Cause, c.Remedy, c.Finished = "failed", err.Error(), "the server cannot use this cluster's connection", "check the connection: meshperf cluster get "+n, &now
			if err := s.serverEvent(ctx, op.ID, n, "error", "failed on cluster "+n, c.Cause, c.Remedy, c); err != nil {
				return false, err
			}
			continue
		}
		req.Clusters = append(req.Clusters, &adapterv1.Cluster{Name: n, Kubeconfig: kc})
	}
	if len(req.Clusters) == 0 {
		return true, s.finalize(ctx, op.ID)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := cl.Apply(cctx, req)
	if err != nil {
		if status.Code(err) == codes.InvalidArgument || status.Code(err) == codes.FailedPrecondition {
			_, cs, _ := s.st.GetMeshOperation(ctx, op.ID)
			return true, s.fail(ctx, op, cs, "the adapter refused the operation: "+status.Convert(err).Message(), "correct the request")
		}
		return false, err
	}
	if err := s.st.UpdateMeshOperation(ctx, op.ID, map[string]any{"attempts": op.Attempts + 1, "adapter_seq": 0}); err != nil {
		return false, err
	}
	op.Attempts++
	op.AdapterSeq = 0
	return false, nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// stream stores the adapter's events from where the store stands; nil when the
// stream ended (the operation finished on the adapter).
func (s *Service) stream(ctx context.Context, cl adapterv1.AdapterClient, op *store.MeshOperation, byName map[string]*store.MeshOperationCluster) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := cl.Events(sctx, &adapterv1.EventsRequest{OperationId: op.ID, AfterSequence: uint64(op.AdapterSeq)})
	if err != nil {
		return err
	}
	for {
		e, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var final *store.MeshOperationCluster
		if c, ok := byName[e.GetCluster()]; ok {
			switch {
			case e.GetClusterState() == adapterv1.State_STATE_SUCCEEDED || e.GetClusterState() == adapterv1.State_STATE_FAILED:
				now := e.GetTime().AsTime().UTC()
				c.State, c.Finished = stateName(e.GetClusterState()), &now
				if c.State == "failed" {
					c.Error, c.Cause, c.Remedy = e.GetDetails(), e.GetCause(), e.GetRemedy()
				}
				final = c
			case c.State == "pending":
				now := e.GetTime().AsTime().UTC()
				c.State, c.Started = "running", &now
				final = c
			}
		}
		row := &store.MeshOperationEvent{OperationID: op.ID, Cluster: e.GetCluster(), ClusterSeq: int64(e.GetClusterSequence()),
			Severity: severityName(e.GetSeverity()), Summary: e.GetSummary(), Details: e.GetDetails(), Cause: e.GetCause(),
			Remedy: e.GetRemedy(), ClusterState: stateName(e.GetClusterState()), Time: e.GetTime().AsTime().UTC()}
		if err := s.st.AppendMeshOperationEvent(ctx, row, int64(e.GetSequence()), final); err != nil {
			return fmt.Errorf("storing an event: %w", err)
		}
		op.AdapterSeq = int64(e.GetSequence())
		s.notify(op.ID)
	}
}

// finish reads the adapter's final status and stores it.
func (s *Service) finish(ctx context.Context, cl adapterv1.AdapterClient, op *store.MeshOperation) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := cl.GetOperation(cctx, &adapterv1.GetOperationRequest{OperationId: op.ID})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err // drive's next turn sorts it out (NotFound: apply again)
	}
	_, cs, err := s.st.GetMeshOperation(ctx, op.ID)
	if err != nil {
		return err
	}
	byName := map[string]*adapterv1.ClusterResult{}
	for _, r := range st.GetClusters() {
		byName[r.GetCluster()] = r
	}
	for i := range cs {
		r, ok := byName[cs[i].Cluster]
		if !ok {
			continue
		}
		c := &cs[i]
		c.State, c.Error, c.Cause, c.Remedy = stateName(r.GetState()), r.GetError(), r.GetCause(), r.GetRemedy()
		if r.GetStarted() != nil {
			t := r.GetStarted().AsTime().UTC()
			c.Started = &t
		}
		if r.GetFinished() != nil {
			t := r.GetFinished().AsTime().UTC()
			c.Finished = &t
		}
		if len(r.GetDetails()) > 0 {
			b, _ := json.Marshal(r.GetDetails())
			c.Details = string(b)
		}
		if rep := r.GetDetails()["report"]; rep != "" && op.Kind == "validate" && s.opt.KeepReport != nil {
			if err := s.opt.KeepReport(ctx, op.ID, c.Cluster, []byte(rep), op.CreatedBy); err != nil {
				s.log.Warn("keeping a validate operation's conformance report", "operation", op.ID, "cluster", c.Cluster, "err", err)
			}
		}
	}
	if err := s.st.SaveMeshOperationClusters(ctx, cs); err != nil {
		return err
	}
	return s.finalize(ctx, op.ID)
}

// finalize sets the operation's final state from its clusters'.
func (s *Service) finalize(ctx context.Context, id string) error {
	_, cs, err := s.st.GetMeshOperation(ctx, id)
	if err != nil {
		return err
	}
	state, failed := "succeeded", []string{}
	for _, c := range cs {
		if c.State != "succeeded" {
			state = "failed"
			failed = append(failed, c.Cluster)
		}
	}
	msg := ""
	if len(failed) > 0 {
		msg = "failed on " + strings.Join(failed, ", ")
	}
	now := time.Now().UTC()
	err = s.st.UpdateMeshOperation(ctx, id, map[string]any{"state": state, "error": msg, "finished_at": &now})
	s.notify(id)
	return err
}

// fail ends an operation: every cluster not yet done fails with cause.
func (s *Service) fail(ctx context.Context, op *store.MeshOperation, cs []store.MeshOperationCluster, cause, remedy string) error {
	s.log.Warn("adapters: operation failed", "operation", op.ID, "cause", cause)
	now := time.Now().UTC()
	var errs []error
	for i := range cs {
		c := &cs[i]
		if Done(c.State) {
			continue
		}
		c.State, c.Error, c.Cause, c.Remedy, c.Finished = "failed", cause, cause, remedy, &now
		errs = append(errs, s.serverEvent(ctx, op.ID, c.Cluster, "error", "failed on cluster "+c.Cluster, cause, remedy, c))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	err := s.st.UpdateMeshOperation(ctx, op.ID, map[string]any{"state": "failed", "error": cause, "finished_at": &now})
	s.notify(op.ID)
	return err
}
