package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/meshperf/meshperf/kube"
	"github.com/meshperf/meshperf/meshsync"
	"github.com/meshperf/meshperf/operator/api/v1alpha1"
)

// Options configure the reconcilers.
type Options struct {
	// Image runs brokers and MeshSyncs whose spec names none (the operator's own).
	Image   string
	Version string
	// Probe reads a Broker's /status (default: GET on BrokerMonitorURL). Tests, whose
	// clusters run no containers, point it at a broker process started locally.
	Probe func(ctx context.Context, b *v1alpha1.Broker) (*BrokerReport, error)
	// Resync is how often a Broker's and a MeshSync's status is refreshed from the
	// broker (default 30 s).
	Resync time.Duration
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Resync == 0 {
		o.Resync = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Probe == nil {
		hc := &http.Client{Timeout: 3 * time.Second}
		o.Probe = func(ctx context.Context, b *v1alpha1.Broker) (*BrokerReport, error) {
			return ProbeBroker(ctx, hc, BrokerMonitorURL(b))
		}
	}
}

// ProbeBroker reads the broker's /status at monitorURL.
func ProbeBroker(ctx context.Context, hc *http.Client, monitorURL string) (*BrokerReport, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, monitorURL+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("broker status: %s", resp.Status)
	}
	var r BrokerReport
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r); err != nil {
		return nil, fmt.Errorf("broker status: %w", err)
	}
	return &r, nil
}

// Setup registers both reconcilers with mgr.
func Setup(mgr ctrl.Manager, opt Options) error {
	opt.defaults()
	cs, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(mgr.GetConfig())
	if err != nil {
		return err
	}
	br := &BrokerReconciler{Client: mgr.GetClient(), CS: cs, Opt: opt}
	if err := ctrl.NewControllerManagedBy(mgr).Named("broker").For(&v1alpha1.Broker{}).
		Owns(&appsv1.Deployment{}).Owns(&corev1.Service{}).Complete(br); err != nil {
		return err
	}
	mr := &MeshSyncReconciler{Client: mgr.GetClient(), CS: cs, Discovery: dc, Opt: opt}
	allMeshSyncs := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		var l v1alpha1.MeshSyncList
		if err := mgr.GetClient().List(ctx, &l); err != nil {
			return nil
		}
		out := make([]reconcile.Request, 0, len(l.Items))
		for _, m := range l.Items {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: m.Namespace, Name: m.Name}})
		}
		return out
	})
	byBroker := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var l v1alpha1.MeshSyncList
		if err := mgr.GetClient().List(ctx, &l, client.InNamespace(o.GetNamespace())); err != nil {
			return nil
		}
		var out []reconcile.Request
		for _, m := range l.Items {
			if m.Spec.Broker == o.GetName() {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: m.Namespace, Name: m.Name}})
			}
		}
		return out
	})
	return ctrl.NewControllerManagedBy(mgr).Named("meshsync").For(&v1alpha1.MeshSync{}).
		Owns(&appsv1.Deployment{}).
		Watches(&v1alpha1.Broker{}, byBroker).
		// A new CRD is a new kind to read: every MeshSync's grant is recomputed.
		Watches(&apiextv1.CustomResourceDefinition{}, allMeshSyncs, builder.OnlyMetadata).
		Complete(mr)
}

// BrokerReconciler makes a Broker's objects match its spec and reports its state.
type BrokerReconciler struct {
	Client client.Client
	CS     kubernetes.Interface
	Opt    Options
}

// Reconcile is one pass over one Broker.
func (r *BrokerReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var b v1alpha1.Broker
	if err := r.Client.Get(ctx, req.NamespacedName, &b); err != nil {
		// Gone: its objects carry owner references and go with it.
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if b.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	before := b.Status.DeepCopyStatus()
	st := &b.Status
	st.ObservedGeneration = b.Generation
	objs, err := desiredBroker(&b, r.Opt.Image)
	var se *SpecError
	if errors.As(err, &se) {
		setCond(&st.Conditions, b.Generation, v1alpha1.ConditionSpecValid, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec, se.Error())
		setCond(&st.Conditions, b.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec, se.Error())
		st.Connected = false
		return reconcile.Result{}, r.writeStatus(ctx, &b, before)
	}
	setCond(&st.Conditions, b.Generation, v1alpha1.ConditionSpecValid, metav1.ConditionTrue, v1alpha1.ReasonApplied, "")
	if err := r.apply(ctx, objs); err != nil {
		setCond(&st.Conditions, b.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonApplyFailed, err.Error())
		_ = r.writeStatus(ctx, &b, before)
		return reconcile.Result{}, err
	}
	st.Endpoint = BrokerEndpoint(&b)
	rep, perr := r.Opt.Probe(ctx, &b)
	switch {
	case perr != nil:
		st.Connected = false
		setCond(&st.Conditions, b.Generation, v1alpha1.ConditionConnected, metav1.ConditionUnknown, v1alpha1.ReasonUnknown, "the broker does not answer: "+perr.Error())
	case rep.Connected:
		st.Connected = true
		setCond(&st.Conditions, b.Generation, v1alpha1.ConditionConnected, metav1.ConditionTrue, v1alpha1.ReasonConnected, "leaf connection to the server is up")
	default:
		st.Connected = false
		setCond(&st.Conditions, b.Generation, v1alpha1.ConditionConnected, metav1.ConditionFalse, v1alpha1.ReasonDisconnected, "the broker cannot reach the server at "+b.Spec.ServerURL)
	}
	if rep != nil {
		st.Version = rep.Version
		now := metav1.Now()
		st.LastSeen = &now
	}
	if st.Connected {
		setCond(&st.Conditions, b.Generation, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonApplied, "applied; connected to the server")
	} else {
		setCond(&st.Conditions, b.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonDisconnected, "applied; not connected to the server")
	}
	return reconcile.Result{RequeueAfter: r.Opt.Resync}, r.writeStatus(ctx, &b, before)
}

func (r *BrokerReconciler) apply(ctx context.Context, o *BrokerObjects) error {
	opts := kube.ApplyOptions()
	if _, err := r.CS.CoreV1().ServiceAccounts(*o.ServiceAccount.Namespace).Apply(ctx, o.ServiceAccount, opts); err != nil {
		return fmt.Errorf("serviceaccount: %w", err)
	}
	if _, err := r.CS.CoreV1().Services(*o.Service.Namespace).Apply(ctx, o.Service, opts); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if _, err := r.CS.AppsV1().Deployments(*o.Deployment.Namespace).Apply(ctx, o.Deployment, opts); err != nil {
		return fmt.Errorf("deployment: %w", err)
	}
	return nil
}

func (r *BrokerReconciler) writeStatus(ctx context.Context, b *v1alpha1.Broker, before *v1alpha1.BrokerStatus) error {
	if statusEqual(before, &b.Status) {
		return nil
	}
	return r.Client.Status().Update(ctx, b)
}

// MeshSyncReconciler makes a MeshSync's objects match its spec and reports its state.
type MeshSyncReconciler struct {
	Client    client.Client
	CS        kubernetes.Interface
	Discovery discovery.DiscoveryInterface
	Opt       Options
}

// Reconcile is one pass over one MeshSync.
func (r *MeshSyncReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var m v1alpha1.MeshSync
	if err := r.Client.Get(ctx, req.NamespacedName, &m); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if m.DeletionTimestamp != nil {
		return reconcile.Result{}, r.finalize(ctx, &m)
	}
	if !controllerutil.ContainsFinalizer(&m, Finalizer) {
		controllerutil.AddFinalizer(&m, Finalizer)
		if err := r.Client.Update(ctx, &m); err != nil {
			return reconcile.Result{}, err
		}
	}
	before := m.Status.DeepCopyStatus()
	st := &m.Status
	st.ObservedGeneration = m.Generation
	if err := checkMeshSync(&m, r.Opt.Image); err != nil {
		setCond(&st.Conditions, m.Generation, v1alpha1.ConditionSpecValid, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec, err.Error())
		setCond(&st.Conditions, m.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec, err.Error())
		return reconcile.Result{}, r.writeStatus(ctx, &m, before)
	}
	setCond(&st.Conditions, m.Generation, v1alpha1.ConditionSpecValid, metav1.ConditionTrue, v1alpha1.ReasonApplied, "")
	var b v1alpha1.Broker
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: m.Spec.Broker}, &b); err != nil {
		if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, err
		}
		// Level-based: the Broker's creation enqueues this MeshSync again.
		setCond(&st.Conditions, m.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonWaiting, fmt.Sprintf("no Broker %q in namespace %s", m.Spec.Broker, m.Namespace))
		return reconcile.Result{}, r.writeStatus(ctx, &m, before)
	}
	scope := meshsync.Scope{IncludeKinds: m.Spec.Scope.IncludeKinds, ExcludeKinds: meshSyncExcludes(&m),
		IncludeNamespaces: m.Spec.Scope.IncludeNamespaces, ExcludeNamespaces: m.Spec.Scope.ExcludeNamespaces, FullKinds: m.Spec.Scope.FullKinds}
	resources, derr := meshsync.WatchedResources(r.Discovery, scope)
	if len(resources) == 0 && derr != nil {
		return reconcile.Result{}, fmt.Errorf("discovering the resources to grant: %w", derr)
	}
	objs, err := desiredMeshSync(&m, &b, MeshSyncRules(resources), r.Opt.Image)
	if err != nil {
		return reconcile.Result{}, err // checked above: cannot be a spec error
	}
	if err := r.apply(ctx, objs); err != nil {
		setCond(&st.Conditions, m.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonApplyFailed, err.Error())
		_ = r.writeStatus(ctx, &m, before)
		return reconcile.Result{}, err
	}
	var d appsv1.Deployment
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: MeshSyncName(&m)}, &d); err == nil {
		st.ReadyReplicas = d.Status.ReadyReplicas
	}
	st.Version = r.Opt.Version
	if rep, err := r.Opt.Probe(ctx, &b); err == nil && rep.MeshSync != nil {
		st.Objects = int64(rep.MeshSync.Objects)
		if rep.MeshSync.MeshperfVers != "" {
			st.Version = rep.MeshSync.MeshperfVers
		}
		if !rep.LastEvent.IsZero() {
			t := metav1.NewTime(rep.LastEvent)
			st.LastEvent = &t
		}
	}
	if st.ReadyReplicas > 0 {
		setCond(&st.Conditions, m.Generation, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonApplied, "applied; MeshSync is running")
	} else {
		setCond(&st.Conditions, m.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonApplied, "applied; waiting for MeshSync's pod")
	}
	if derr != nil {
		r.Opt.Logger.Warn("operator: partial discovery; granted what was found", "meshsync", req.String(), "error", derr)
		return reconcile.Result{RequeueAfter: r.Opt.Resync}, r.writeStatus(ctx, &m, before)
	}
	return reconcile.Result{RequeueAfter: r.Opt.Resync}, r.writeStatus(ctx, &m, before)
}

func (r *MeshSyncReconciler) apply(ctx context.Context, o *MeshSyncObjects) error {
	opts := kube.ApplyOptions()
	if _, err := r.CS.CoreV1().ServiceAccounts(*o.ServiceAccount.Namespace).Apply(ctx, o.ServiceAccount, opts); err != nil {
		return fmt.Errorf("serviceaccount: %w", err)
	}
	if _, err := r.CS.RbacV1().ClusterRoles().Apply(ctx, o.ClusterRole, opts); err != nil {
		return fmt.Errorf("clusterrole: %w", err)
	}
	if _, err := r.CS.RbacV1().ClusterRoleBindings().Apply(ctx, o.Binding, opts); err != nil {
		return fmt.Errorf("clusterrolebinding: %w", err)
	}
	if _, err := r.CS.AppsV1().Deployments(*o.Deployment.Namespace).Apply(ctx, o.Deployment, opts); err != nil {
		return fmt.Errorf("deployment: %w", err)
	}
	return nil
}

// finalize removes the MeshSync's cluster-scoped grant (its namespaced objects go by
// owner reference), then lets it go.
func (r *MeshSyncReconciler) finalize(ctx context.Context, m *v1alpha1.MeshSync) error {
	if !controllerutil.ContainsFinalizer(m, Finalizer) {
		return nil
	}
	name := MeshSyncClusterRoleName(m)
	if err := r.CS.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err := r.CS.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	controllerutil.RemoveFinalizer(m, Finalizer)
	return r.Client.Update(ctx, m)
}

func (r *MeshSyncReconciler) writeStatus(ctx context.Context, m *v1alpha1.MeshSync, before *v1alpha1.MeshSyncStatus) error {
	if statusEqual(before, &m.Status) {
		return nil
	}
	return r.Client.Status().Update(ctx, m)
}

func setCond(conds *[]metav1.Condition, gen int64, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen})
}

func statusEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
