package operatordeploy

import (
	"context"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/operator"
	"github.com/meshperf/meshperf/operator/api/v1alpha1"
)

// Status reads the operator's, the broker's and MeshSync's state from the cluster: the
// operator's Deployment and leader Lease (its last renewal is when it was last seen),
// and the Broker's and MeshSync's status as the operator wrote it.
func Status(ctx context.Context, cfg *rest.Config, namespace string) *apitypes.OperatorStatus {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	st := &apitypes.OperatorStatus{Namespace: namespace}
	c, err := crClient(cfg)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	var d appsv1.Deployment
	switch err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: OperatorName}, &d); {
	case apierrors.IsNotFound(err):
		st.Operator.State = "absent"
	case err != nil:
		st.Error = err.Error()
		return st
	default:
		st.Operator.State = "pending"
		if d.Status.ReadyReplicas > 0 {
			st.Operator.State = "ready"
		}
		if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
			st.Operator.Version = imageTag(cs[0].Image)
		}
		var lease coordv1.Lease
		if c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: operator.LeaderElectionID}, &lease) == nil && lease.Spec.RenewTime != nil {
			t := lease.Spec.RenewTime.UTC()
			st.Operator.LastSeen = &t
		}
	}
	var b v1alpha1.Broker
	switch err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ResourceName}, &b); {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		st.Broker.State = "absent"
	case err != nil:
		st.Broker.State, st.Broker.Message = "unknown", err.Error()
	default:
		st.Broker = component(b.Status.Conditions, b.Generation, b.Status.ObservedGeneration)
		st.Broker.Version, st.Broker.Endpoint = b.Status.Version, b.Status.Endpoint
		connected := b.Status.Connected
		st.Broker.Connected = &connected
		st.Broker.LastSeen = utc(b.Status.LastSeen)
	}
	var m v1alpha1.MeshSync
	switch err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ResourceName}, &m); {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		st.MeshSync.State = "absent"
	case err != nil:
		st.MeshSync.State, st.MeshSync.Message = "unknown", err.Error()
	default:
		st.MeshSync = component(m.Status.Conditions, m.Generation, m.Status.ObservedGeneration)
		st.MeshSync.Version = m.Status.Version
		objects := m.Status.Objects
		st.MeshSync.Objects = &objects
		st.MeshSync.LastEvent = utc(m.Status.LastEvent)
		st.MeshSync.LastSeen = st.MeshSync.LastEvent
	}
	return st
}

func component(conds []metav1.Condition, gen, observed int64) apitypes.OperatorComponent {
	if observed < gen {
		return apitypes.OperatorComponent{State: "pending", Message: "the operator has not acted on the latest spec"}
	}
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionSpecValid); c != nil && c.Status == metav1.ConditionFalse {
		return apitypes.OperatorComponent{State: "invalid", Message: c.Message}
	}
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	switch {
	case c == nil:
		return apitypes.OperatorComponent{State: "pending"}
	case c.Status == metav1.ConditionTrue:
		return apitypes.OperatorComponent{State: "ready", Message: c.Message}
	}
	return apitypes.OperatorComponent{State: "not_ready", Message: c.Message}
}

func utc(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func imageTag(image string) string {
	if i := strings.LastIndex(image, "@"); i >= 0 {
		return image[i+1:]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[i+1:]
	}
	return "latest"
}
