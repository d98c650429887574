// Package operatordeploy installs meshperf's operator into a cluster for a connection in
// operator mode and takes it out again: the CRDs, the operator's namespace, service
// account, least-privilege RBAC and Deployment, the Secret with the cluster's
// credential, and one Broker (dialing out to the server's leaf listener) and one
// MeshSync resource. Everything is server-side applied under kube's field manager
// with meshperf's managed-by label; removal takes only objects carrying that label.
package operatordeploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsac "k8s.io/client-go/applyconfigurations/apps/v1"
	coreac "k8s.io/client-go/applyconfigurations/core/v1"
	metaac "k8s.io/client-go/applyconfigurations/meta/v1"
	rbacac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshperf/meshperf/kube"
	"github.com/meshperf/meshperf/meshsync"
	"github.com/meshperf/meshperf/operator"
	"github.com/meshperf/meshperf/operator/api/v1alpha1"
)

// Names of what an install creates.
const (
	DefaultNamespace = "meshperf-system"
	OperatorName     = "meshperf-operator"
	// ResourceName names the Broker and the MeshSync resource.
	ResourceName = "meshperf"
	SecretName   = "meshperf-cluster-credential"
	managedBy    = kube.ManagedByLabel
	healthPort   = 8081
)

// Spec is one cluster's operator.
type Spec struct {
	Namespace string
	Image     string
	// LeafURL is the server's leaf listener as the cluster reaches it.
	LeafURL string
	// Credential is the cluster's MeshSync credential (kept in a Secret).
	Credential string
	Scope      meshsync.Scope
	WatchNodes bool
}

// Validate names what is wrong with a spec.
func (s Spec) Validate() error {
	var errs []error
	if s.Image == "" {
		errs = append(errs, errors.New("image: missing (--operator-image)"))
	}
	if u, err := url.Parse(s.LeafURL); s.LeafURL == "" || err != nil || u.Host == "" {
		errs = append(errs, fmt.Errorf("leaf URL %q: the server has no leaf node listener the cluster can reach (--nats-leaf-addr, --operator-broker-url)", s.LeafURL))
	}
	if _, err := operator.ClusterOfToken(s.Credential); err != nil {
		errs = append(errs, fmt.Errorf("credential: %w", err))
	}
	if err := s.Scope.Check(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func lbl(component string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": OperatorName, "app.kubernetes.io/part-of": "meshperf",
		managedBy: kube.FieldManager, operator.ComponentLabel: component}
}

// OperatorRules are the operator's cluster-wide grant: its resources and their
// status, the objects it makes, reading CRDs (discovery of new kinds), and RBAC with
// escalate/bind (it grants MeshSync reads it does not hold itself; it reads no
// Secret).
func operatorRules() []*rbacac.PolicyRuleApplyConfiguration {
	all := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	return []*rbacac.PolicyRuleApplyConfiguration{
		rbacac.PolicyRule().WithAPIGroups(v1alpha1.Group).WithResources("brokers", "meshsyncs").WithVerbs("get", "list", "watch", "update", "patch"),
		rbacac.PolicyRule().WithAPIGroups(v1alpha1.Group).WithResources("brokers/status", "meshsyncs/status").WithVerbs("get", "update", "patch"),
		rbacac.PolicyRule().WithAPIGroups(v1alpha1.Group).WithResources("meshsyncs/finalizers", "brokers/finalizers").WithVerbs("update"),
		rbacac.PolicyRule().WithAPIGroups("apps").WithResources("deployments").WithVerbs(all...),
		rbacac.PolicyRule().WithAPIGroups("").WithResources("services", "serviceaccounts").WithVerbs(all...),
		rbacac.PolicyRule().WithAPIGroups("rbac.authorization.k8s.io").WithResources("clusterroles", "clusterrolebindings").WithVerbs(append(all, "escalate", "bind")...),
		rbacac.PolicyRule().WithAPIGroups("apiextensions.k8s.io").WithResources("customresourcedefinitions").WithVerbs("get", "list", "watch"),
	}
}

// Applied is what Apply did.
type Applied struct {
	Namespace string   `json:"namespace"`
	Objects   []string `json:"objects"`
}

// Apply installs or updates the operator and its resources.
func Apply(ctx context.Context, cfg *rest.Config, s Spec) (*Applied, error) {
	if s.Namespace == "" {
		s.Namespace = DefaultNamespace
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	out := &Applied{Namespace: s.Namespace}
	if err := operator.InstallCRDs(ctx, cfg, 30*time.Second); err != nil {
		return out, err
	}
	out.Objects = append(out.Objects, "crd/brokers.meshperf.io", "crd/meshsyncs.meshperf.io")
	opts := kube.ApplyOptions()
	ns, l := s.Namespace, lbl("operator")
	step := func(what string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		out.Objects = append(out.Objects, what)
		return nil
	}
	if err := step("namespace/"+ns, apply(cs.CoreV1().Namespaces().Apply(ctx, coreac.Namespace(ns).WithLabels(map[string]string{managedBy: kube.FieldManager}), opts))); err != nil {
		return out, err
	}
	if err := step("serviceaccount/"+OperatorName, apply(cs.CoreV1().ServiceAccounts(ns).Apply(ctx, coreac.ServiceAccount(OperatorName, ns).WithLabels(l), opts))); err != nil {
		return out, err
	}
	crName := OperatorName + "-" + ns
	if err := step("clusterrole/"+crName, apply(cs.RbacV1().ClusterRoles().Apply(ctx, rbacac.ClusterRole(crName).WithLabels(l).WithRules(operatorRules()...), opts))); err != nil {
		return out, err
	}
	sa := rbacac.Subject().WithKind("ServiceAccount").WithName(OperatorName).WithNamespace(ns)
	if err := step("clusterrolebinding/"+crName, apply(cs.RbacV1().ClusterRoleBindings().Apply(ctx, rbacac.ClusterRoleBinding(crName).WithLabels(l).
		WithRoleRef(rbacac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName(crName)).WithSubjects(sa), opts))); err != nil {
		return out, err
	}
	// Leader election's Lease and its events, in its own namespace only.
	role := rbacac.Role(OperatorName, ns).WithLabels(l).WithRules(
		rbacac.PolicyRule().WithAPIGroups("coordination.k8s.io").WithResources("leases").WithVerbs("get", "list", "watch", "create", "update", "patch", "delete"),
		rbacac.PolicyRule().WithAPIGroups("", "events.k8s.io").WithResources("events").WithVerbs("create", "patch"))
	if err := step("role/"+OperatorName, apply(cs.RbacV1().Roles(ns).Apply(ctx, role, opts))); err != nil {
		return out, err
	}
	if err := step("rolebinding/"+OperatorName, apply(cs.RbacV1().RoleBindings(ns).Apply(ctx, rbacac.RoleBinding(OperatorName, ns).WithLabels(l).
		WithRoleRef(rbacac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("Role").WithName(OperatorName)).WithSubjects(sa), opts))); err != nil {
		return out, err
	}
	secret := coreac.Secret(SecretName, ns).WithLabels(lbl("credential")).WithType(corev1.SecretTypeOpaque).
		WithStringData(map[string]string{"token": s.Credential})
	if err := step("secret/"+SecretName, apply(cs.CoreV1().Secrets(ns).Apply(ctx, secret, opts))); err != nil {
		return out, err
	}
	if err := step("deployment/"+OperatorName, apply(cs.AppsV1().Deployments(ns).Apply(ctx, operatorDeployment(s), opts))); err != nil {
		return out, err
	}
	c, err := crClient(cfg)
	if err != nil {
		return out, err
	}
	b := &v1alpha1.Broker{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Broker"},
		ObjectMeta: metav1.ObjectMeta{Name: ResourceName, Namespace: ns, Labels: lbl("broker"),
			Annotations: map[string]string{operator.CredentialHashAnnotation: credentialHash(s.Credential)}},
		Spec: v1alpha1.BrokerSpec{ServerURL: s.LeafURL, CredentialsSecret: v1alpha1.SecretKeyRef{Name: SecretName, Key: "token"}}}
	if err := step("broker/"+ResourceName, c.Patch(ctx, b, client.Apply, client.FieldOwner(kube.FieldManager), client.ForceOwnership)); err != nil {
		return out, err
	}
	m := &v1alpha1.MeshSync{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "MeshSync"},
		ObjectMeta: metav1.ObjectMeta{Name: ResourceName, Namespace: ns, Labels: lbl("meshsync")},
		Spec: v1alpha1.MeshSyncSpec{Broker: ResourceName, WatchNodes: s.WatchNodes, Scope: v1alpha1.MeshSyncScope{
			IncludeKinds: s.Scope.IncludeKinds, ExcludeKinds: s.Scope.ExcludeKinds, IncludeNamespaces: s.Scope.IncludeNamespaces,
			ExcludeNamespaces: s.Scope.ExcludeNamespaces, FullKinds: s.Scope.FullKinds}}}
	if err := step("meshsync/"+ResourceName, c.Patch(ctx, m, client.Apply, client.FieldOwner(kube.FieldManager), client.ForceOwnership)); err != nil {
		return out, err
	}
	return out, nil
}

func apply[T any](_ T, err error) error { return err }

// credentialHash tells the operator the credential changed without telling it the
// credential.
func credentialHash(cred string) string {
	sum := sha256.Sum256([]byte("meshperf credential\x00" + cred))
	return hex.EncodeToString(sum[:8])
}

func crClient(cfg *rest.Config) (client.Client, error) {
	scheme, err := operator.Scheme()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

func operatorDeployment(s Spec) *appsac.DeploymentApplyConfiguration {
	l := lbl("operator")
	sel := map[string]string{operator.ComponentLabel: "operator", "app.kubernetes.io/name": OperatorName}
	probe := func(path string) *coreac.ProbeApplyConfiguration {
		return coreac.Probe().WithHTTPGet(coreac.HTTPGetAction().WithPath(path).WithPort(intstr.FromString("health"))).
			WithPeriodSeconds(10).WithTimeoutSeconds(2)
	}
	args := []string{"operator", "--image", s.Image, "--leader-elect", "--health-addr", fmt.Sprintf(":%d", healthPort)}
	c := coreac.Container().WithName("operator").WithImage(s.Image).WithArgs(args...).
		WithEnv(coreac.EnvVar().WithName("POD_NAMESPACE").WithValueFrom(coreac.EnvVarSource().WithFieldRef(coreac.ObjectFieldSelector().WithFieldPath("metadata.namespace")))).
		WithPorts(coreac.ContainerPort().WithName("health").WithContainerPort(healthPort)).
		WithLivenessProbe(probe("/healthz")).WithReadinessProbe(probe("/readyz")).
		WithResources(coreac.ResourceRequirements().WithRequests(corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")})).
		WithSecurityContext(coreac.SecurityContext().WithRunAsNonRoot(true).WithRunAsUser(65532).
			WithReadOnlyRootFilesystem(true).WithAllowPrivilegeEscalation(false).
			WithCapabilities(coreac.Capabilities().WithDrop("ALL")).
			WithSeccompProfile(coreac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault)))
	return appsac.Deployment(OperatorName, s.Namespace).WithLabels(l).WithSpec(appsac.DeploymentSpec().
		WithReplicas(1).WithSelector(metaac.LabelSelector().WithMatchLabels(sel)).
		WithTemplate(coreac.PodTemplateSpec().WithLabels(l).WithSpec(coreac.PodSpec().
			WithServiceAccountName(OperatorName).WithContainers(c))))
}

// Remove takes the operator and its resources out of the cluster: only objects with
// meshperf's managed-by label. It does not wait for the operator to run MeshSync's
// finalizer (the operator goes first, so nothing re-creates what is removed): it
// removes MeshSync's cluster-wide grant itself. The CRDs stay (removing them would
// delete every Broker and MeshSync in the cluster, anyone's). Removing what is gone
// is not an error.
func Remove(ctx context.Context, cfg *rest.Config, namespace string) ([]string, error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var removed []string
	bg := metav1.DeletePropagationBackground
	del := metav1.DeleteOptions{PropagationPolicy: &bg}
	gone := func(what string, err error) error {
		switch {
		case err == nil:
			removed = append(removed, what)
			return nil
		case apierrors.IsNotFound(err):
			return nil
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	ours := metav1.ListOptions{LabelSelector: managedBy + "=" + kube.FieldManager}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := gone("deployment/"+OperatorName, deleteIfOurs(ctx, cs.AppsV1().Deployments(namespace), OperatorName, del)); err != nil {
		return removed, err
	}
	c, err := crClient(cfg)
	if err != nil {
		return removed, err
	}
	var mss v1alpha1.MeshSyncList
	if err := c.List(ctx, &mss, client.InNamespace(namespace), client.MatchingLabels{managedBy: kube.FieldManager}); err != nil && !isNoKind(err) {
		return removed, fmt.Errorf("meshsyncs: %w", err)
	}
	for i := range mss.Items {
		m := &mss.Items[i]
		name := operator.MeshSyncClusterRoleName(m)
		if err := gone("clusterrolebinding/"+name, cs.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{})); err != nil {
			return removed, err
		}
		if err := gone("clusterrole/"+name, cs.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{})); err != nil {
			return removed, err
		}
		if err := gone("meshsync/"+m.Name, c.Delete(ctx, m, &client.DeleteOptions{PropagationPolicy: &bg})); err != nil {
			return removed, err
		}
		// Its grant is gone already: let it go without the operator.
		if err := stripFinalizer(ctx, c, m); err != nil {
			return removed, err
		}
	}
	var bs v1alpha1.BrokerList
	if err := c.List(ctx, &bs, client.InNamespace(namespace), client.MatchingLabels{managedBy: kube.FieldManager}); err != nil && !isNoKind(err) {
		return removed, fmt.Errorf("brokers: %w", err)
	}
	for i := range bs.Items {
		if err := gone("broker/"+bs.Items[i].Name, c.Delete(ctx, &bs.Items[i], &client.DeleteOptions{PropagationPolicy: &bg})); err != nil {
			return removed, err
		}
	}
	// What the operator made for them goes with its owners (garbage collector); the
	// rest, by label.
	for _, d := range listNames(cs.AppsV1().Deployments(namespace).List(ctx, ours)) {
		if err := gone("deployment/"+d, cs.AppsV1().Deployments(namespace).Delete(ctx, d, del)); err != nil {
			return removed, err
		}
	}
	for _, s := range []struct {
		what string
		del  func() error
	}{
		{"secret/" + SecretName, func() error { return deleteIfOurs(ctx, cs.CoreV1().Secrets(namespace), SecretName, del) }},
		{"rolebinding/" + OperatorName, func() error { return deleteIfOurs(ctx, cs.RbacV1().RoleBindings(namespace), OperatorName, del) }},
		{"role/" + OperatorName, func() error { return deleteIfOurs(ctx, cs.RbacV1().Roles(namespace), OperatorName, del) }},
		{"clusterrolebinding/" + OperatorName + "-" + namespace, func() error {
			return deleteIfOurs(ctx, cs.RbacV1().ClusterRoleBindings(), OperatorName+"-"+namespace, del)
		}},
		{"clusterrole/" + OperatorName + "-" + namespace, func() error {
			return deleteIfOurs(ctx, cs.RbacV1().ClusterRoles(), OperatorName+"-"+namespace, del)
		}},
		{"serviceaccount/" + OperatorName, func() error { return deleteIfOurs(ctx, cs.CoreV1().ServiceAccounts(namespace), OperatorName, del) }},
	} {
		if err := gone(s.what, s.del()); err != nil {
			return removed, err
		}
	}
	if ns.Labels[managedBy] != kube.FieldManager {
		return removed, nil
	}
	others, err := othersIn(ctx, cs, namespace)
	if err != nil {
		return removed, err
	}
	if others != "" {
		return removed, nil // someone else's objects live there: keep it
	}
	return removed, gone("namespace/"+namespace, cs.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{}))
}

type getDeleter[T metav1.Object] interface {
	Get(ctx context.Context, name string, o metav1.GetOptions) (T, error)
	Delete(ctx context.Context, name string, o metav1.DeleteOptions) error
}

// deleteIfOurs deletes name only if it carries meshperf's managed-by label.
func deleteIfOurs[T metav1.Object](ctx context.Context, c getDeleter[T], name string, del metav1.DeleteOptions) error {
	o, err := c.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if o.GetLabels()[managedBy] != kube.FieldManager {
		return apierrors.NewNotFound(appsv1.Resource("object"), name) // not ours: left alone
	}
	uid := o.GetUID()
	del.Preconditions = &metav1.Preconditions{UID: &uid}
	return c.Delete(ctx, name, del)
}

func listNames(l *appsv1.DeploymentList, err error) []string {
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range l.Items {
		out = append(out, d.Name)
	}
	return out
}

func stripFinalizer(ctx context.Context, c client.Client, m *v1alpha1.MeshSync) error {
	for attempt := 0; attempt < 5; attempt++ {
		var cur v1alpha1.MeshSync
		if err := c.Get(ctx, client.ObjectKeyFromObject(m), &cur); apierrors.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		if len(cur.Finalizers) == 0 {
			return nil
		}
		kept := cur.Finalizers[:0]
		for _, f := range cur.Finalizers {
			if f != operator.Finalizer {
				kept = append(kept, f)
			}
		}
		cur.Finalizers = kept
		err := c.Update(ctx, &cur)
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return errors.New("meshsync finalizer: conflicts on every try")
}

func isNoKind(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "no matches for kind") || apierrors.IsNotFound(err))
}

// othersIn names an object in namespace that meshperf did not make (workloads,
// config maps, secrets, services), or "".
func othersIn(ctx context.Context, cs kubernetes.Interface, namespace string) (string, error) {
	notOurs := func(l map[string]string) bool { return l[managedBy] != kube.FieldManager }
	deps, err := cs.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, d := range deps.Items {
		if d.DeletionTimestamp == nil && notOurs(d.Labels) {
			return "deployment/" + d.Name, nil
		}
	}
	sts, err := cs.AppsV1().StatefulSets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, s := range sts.Items {
		return "statefulset/" + s.Name, nil
	}
	cms, err := cs.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, c := range cms.Items {
		if c.Name != "kube-root-ca.crt" && notOurs(c.Labels) {
			return "configmap/" + c.Name, nil
		}
	}
	secrets, err := cs.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, s := range secrets.Items {
		if s.Type != corev1.SecretTypeServiceAccountToken && notOurs(s.Labels) {
			return "secret/" + s.Name, nil
		}
	}
	svcs, err := cs.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, s := range svcs.Items {
		if notOurs(s.Labels) {
			return "service/" + s.Name, nil
		}
	}
	return "", nil
}
