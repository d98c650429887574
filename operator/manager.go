package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/meshperf/meshperf/kube"
	"github.com/meshperf/meshperf/operator/api/v1alpha1"
)

// ManagerOptions configure `meshperf operator`'s manager.
type ManagerOptions struct {
	// HealthAddr serves /healthz and /readyz (":8081"; "0": none).
	HealthAddr string
	// MetricsAddr serves /metrics ("0": none).
	MetricsAddr string
	// LeaderElection makes one of several replicas act; the Lease lives in
	// LeaderElectionNamespace (default: the pod's namespace).
	LeaderElection          bool
	LeaderElectionNamespace string
	// Namespace limits the operator to one namespace's resources ("" all).
	Namespace string
	Logger    logr.Logger
}

// LeaderElectionID names the operator's Lease.
const LeaderElectionID = "meshperf-operator.meshperf.io"

// Scheme knows the built-in kinds and meshperf's.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// NewManager builds the operator's manager with both reconcilers: its caches hold
// only meshperf's own Deployments and Services (by the managed-by label), not every
// one in the cluster.
func NewManager(cfg *rest.Config, mo ManagerOptions, opt Options) (ctrl.Manager, error) {
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	ours := k8slabels.SelectorFromSet(k8slabels.Set{kube.ManagedByLabel: kube.FieldManager})
	co := cache.Options{ByObject: map[client.Object]cache.ByObject{
		&appsv1.Deployment{}: {Label: ours},
		&corev1.Service{}:    {Label: ours},
	}}
	if mo.Namespace != "" {
		co.DefaultNamespaces = map[string]cache.Config{mo.Namespace: {}}
	}
	if mo.MetricsAddr == "" {
		mo.MetricsAddr = "0"
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Logger:                  mo.Logger,
		Cache:                   co,
		Metrics:                 metricsserver.Options{BindAddress: mo.MetricsAddr},
		HealthProbeBindAddress:  mo.HealthAddr,
		LeaderElection:          mo.LeaderElection,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: mo.LeaderElectionNamespace,
		// A replica giving up leadership exits at once, so the next takes over
		// without waiting out the lease.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, fmt.Errorf("operator manager: %w", err)
	}
	if err := Setup(mgr, opt); err != nil {
		return nil, err
	}
	// Live while the process serves; ready once the caches have synced (a replica
	// that is not the leader is ready too: it is standing by).
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	var synced atomic.Bool
	if err := mgr.Add(runnableFunc(func(ctx context.Context) error {
		if mgr.GetCache().WaitForCacheSync(ctx) {
			synced.Store(true)
		}
		<-ctx.Done()
		return nil
	})); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("caches", func(*http.Request) error {
		if !synced.Load() {
			return errors.New("caches not synced yet")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return mgr, nil
}

type runnableFunc func(context.Context) error

func (f runnableFunc) Start(ctx context.Context) error { return f(ctx) }

// NeedLeaderElection: the cache-sync check runs on every replica.
func (f runnableFunc) NeedLeaderElection() bool { return false }
