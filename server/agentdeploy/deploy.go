// Package agentdeploy puts meshperf agents into a Kubernetes cluster and takes them out:
// a namespace, a service account, a secret with the broker credentials and a
// Deployment of `meshperf agent`, applied with server-side apply so that deploying
// twice changes nothing and a changed spec is a rolling update.
package agentdeploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsac "k8s.io/client-go/applyconfigurations/apps/v1"
	coreac "k8s.io/client-go/applyconfigurations/core/v1"
	metaac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/kube"
	"github.com/meshperf/meshperf/smp"
)

// Names of what a deployment creates.
const (
	DefaultNamespace = "meshperf"
	Name             = "meshperf-agent"
	FieldManager     = kube.FieldManager
	ClusterLabel     = smp.ClusterLabel
	managedBy        = kube.ManagedByLabel
	tokenPath        = "/etc/meshperf/agent"
)

// Spec is one cluster's agents.
type Spec struct {
	Cluster   string // the connection's name: labels the objects and the agents
	Namespace string
	Replicas  int32
	Image     string
	BrokerURL string
	// AgentToken is the agents' broker credential (kept in a Secret); BrokerUser is
	// kept beside it for agents of older versions.
	BrokerUser string
	AgentToken string
	// AgentNamePrefix, when set, names each replica prefix:pod-name, the names its
	// credential (AgentToken, issued for the prefix) proves; the broker user is then
	// the agent's name.
	AgentNamePrefix string
}

func (s Spec) labels() map[string]string {
	return map[string]string{
		"app.kubernetes.io/name": Name, "app.kubernetes.io/part-of": "meshperf", managedBy: FieldManager, ClusterLabel: s.Cluster,
	}
}

// Validate names what is wrong with a spec.
func (s Spec) Validate() error {
	var errs []error
	if s.Cluster == "" {
		errs = append(errs, errors.New("cluster: missing"))
	}
	if s.Replicas < 1 || s.Replicas > 1000 {
		errs = append(errs, fmt.Errorf("replicas: %d is not between 1 and 1000", s.Replicas))
	}
	if s.Image == "" {
		errs = append(errs, errors.New("image: missing"))
	}
	if s.BrokerURL == "" {
		errs = append(errs, errors.New("broker endpoint: missing"))
	}
	return errors.Join(errs...)
}

// Applied is what Apply did.
type Applied struct {
	Namespace string   `json:"namespace"`
	Objects   []string `json:"objects"`
}

// Apply creates or updates the agents' objects with server-side apply.
func Apply(ctx context.Context, cs kubernetes.Interface, s Spec) (*Applied, error) {
	if s.Namespace == "" {
		s.Namespace = DefaultNamespace
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	opts := kube.ApplyOptions()
	lbl := s.labels()
	out := &Applied{Namespace: s.Namespace}
	if _, err := cs.CoreV1().Namespaces().Apply(ctx, coreac.Namespace(s.Namespace).WithLabels(map[string]string{managedBy: FieldManager}), opts); err != nil {
		return out, fmt.Errorf("namespace %s: %w", s.Namespace, err)
	}
	out.Objects = append(out.Objects, "namespace/"+s.Namespace)
	// The agent never talks to the API server: its service account has no token mounted.
	sa := coreac.ServiceAccount(Name, s.Namespace).WithLabels(lbl).WithAutomountServiceAccountToken(false)
	if _, err := cs.CoreV1().ServiceAccounts(s.Namespace).Apply(ctx, sa, opts); err != nil {
		return out, fmt.Errorf("serviceaccount %s: %w", Name, err)
	}
	out.Objects = append(out.Objects, "serviceaccount/"+Name)
	secret := coreac.Secret(Name, s.Namespace).WithLabels(lbl).WithType(corev1.SecretTypeOpaque).
		WithStringData(map[string]string{"token": s.AgentToken, "user": s.BrokerUser})
	if _, err := cs.CoreV1().Secrets(s.Namespace).Apply(ctx, secret, opts); err != nil {
		return out, fmt.Errorf("secret %s: %w", Name, err)
	}
	out.Objects = append(out.Objects, "secret/"+Name)
	if _, err := cs.AppsV1().Deployments(s.Namespace).Apply(ctx, deployment(s, lbl), opts); err != nil {
		return out, fmt.Errorf("deployment %s: %w", Name, err)
	}
	out.Objects = append(out.Objects, "deployment/"+Name)
	return out, nil
}

func deployment(s Spec, lbl map[string]string) *appsac.DeploymentApplyConfiguration {
	// A changed credential must restart the agents: the pod template carries its hash.
	sum := sha256.Sum256([]byte(s.BrokerUser + "\x00" + s.AgentToken + "\x00" + s.BrokerURL))
	selector := map[string]string{"app.kubernetes.io/name": Name, ClusterLabel: s.Cluster}
	name := "$(POD_NAME)"
	if s.AgentNamePrefix != "" {
		name = s.AgentNamePrefix + bus.AgentCredentialPrefixSep + name
	}
	args := []string{"agent", "--nats", s.BrokerURL, "--token-file", tokenPath + "/token",
		"--name", name, "--labels", ClusterLabel + "=" + s.Cluster + ",node=$(NODE_NAME)"}
	// No --user: an agent's broker user is its own name, proven by its credential.
	container := coreac.Container().WithName("agent").WithImage(s.Image).WithArgs(args...).
		WithEnv(
			coreac.EnvVar().WithName("POD_NAME").WithValueFrom(coreac.EnvVarSource().WithFieldRef(coreac.ObjectFieldSelector().WithFieldPath("metadata.name"))),
			coreac.EnvVar().WithName("NODE_NAME").WithValueFrom(coreac.EnvVarSource().WithFieldRef(coreac.ObjectFieldSelector().WithFieldPath("spec.nodeName"))),
		).
		WithVolumeMounts(coreac.VolumeMount().WithName("credentials").WithMountPath(tokenPath).WithReadOnly(true)).
		WithResources(coreac.ResourceRequirements().WithRequests(corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")})).
		WithSecurityContext(coreac.SecurityContext().WithRunAsNonRoot(true).WithRunAsUser(65532).
			WithReadOnlyRootFilesystem(true).WithAllowPrivilegeEscalation(false).
			WithCapabilities(coreac.Capabilities().WithDrop("ALL")).
			WithSeccompProfile(coreac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault)))
	pod := coreac.PodTemplateSpec().
		WithLabels(lbl).
		WithAnnotations(map[string]string{"meshperf.io/credentials-hash": hex.EncodeToString(sum[:8])}).
		WithSpec(coreac.PodSpec().WithServiceAccountName(Name).WithAutomountServiceAccountToken(false).
			WithContainers(container).
			WithVolumes(coreac.Volume().WithName("credentials").WithSecret(coreac.SecretVolumeSource().WithSecretName(Name))))
	return appsac.Deployment(Name, s.Namespace).WithLabels(lbl).
		WithSpec(appsac.DeploymentSpec().WithReplicas(s.Replicas).
			WithSelector(metaac.LabelSelector().WithMatchLabels(selector)).
			WithTemplate(pod))
}

// Status is how far a cluster's agents are.
type Status struct {
	Replicas int32 `json:"replicas"`
	Ready    int32 `json:"ready"`
}

// Wait polls the Deployment until all its replicas are ready, ctx ends or timeout passes.
func Wait(ctx context.Context, cs kubernetes.Interface, namespace string, timeout time.Duration) (Status, error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var st Status
	for {
		d, err := cs.AppsV1().Deployments(namespace).Get(ctx, Name, metav1.GetOptions{})
		if err == nil {
			st = status(d)
			// Done when the controller saw this spec and every pod is new and ready,
			// with none of an older spec left (a rolling update or a scale-down).
			if d.Status.ObservedGeneration >= d.Generation && st.Ready == st.Replicas &&
				d.Status.UpdatedReplicas == st.Replicas && d.Status.Replicas == st.Replicas {
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return st, err
			}
			return st, fmt.Errorf("%d of %d agents ready after %v", st.Ready, st.Replicas, timeout)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func status(d *appsv1.Deployment) Status {
	st := Status{Ready: d.Status.ReadyReplicas}
	if d.Spec.Replicas != nil {
		st.Replicas = *d.Spec.Replicas
	}
	return st
}

// Remove deletes the agents' objects; the namespace goes too when meshperf created it
// and nothing else lives in it. Removing what is already gone is not an error.
func Remove(ctx context.Context, cs kubernetes.Interface, namespace string) ([]string, error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	var removed []string
	bg := metav1.DeletePropagationBackground
	del := metav1.DeleteOptions{PropagationPolicy: &bg}
	gone := func(kind string, err error) error {
		switch {
		case err == nil:
			removed = append(removed, kind)
			return nil
		case apierrors.IsNotFound(err):
			return nil
		}
		return fmt.Errorf("%s: %w", kind, err)
	}
	if err := gone("deployment/"+Name, cs.AppsV1().Deployments(namespace).Delete(ctx, Name, del)); err != nil {
		return removed, err
	}
	if err := gone("secret/"+Name, cs.CoreV1().Secrets(namespace).Delete(ctx, Name, del)); err != nil {
		return removed, err
	}
	if err := gone("serviceaccount/"+Name, cs.CoreV1().ServiceAccounts(namespace).Delete(ctx, Name, del)); err != nil {
		return removed, err
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return removed, nil
	}
	if err != nil {
		return removed, fmt.Errorf("namespace %s: %w", namespace, err)
	}
	if ns.Labels[managedBy] != FieldManager {
		return removed, nil
	}
	deps, err := cs.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return removed, fmt.Errorf("namespace %s: %w", namespace, err)
	}
	for _, d := range deps.Items {
		if d.DeletionTimestamp == nil {
			return removed, nil // someone else's workloads live there: keep it
		}
	}
	return removed, gone("namespace/"+namespace, cs.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{}))
}
