package operator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsac "k8s.io/client-go/applyconfigurations/apps/v1"
	coreac "k8s.io/client-go/applyconfigurations/core/v1"
	metaac "k8s.io/client-go/applyconfigurations/meta/v1"
	rbacac "k8s.io/client-go/applyconfigurations/rbac/v1"

	"github.com/meshperf/meshperf/kube"
	"github.com/meshperf/meshperf/operator/api/v1alpha1"
)

// Labels and names of what the operator creates.
const (
	ComponentLabel = "meshperf.io/component"
	InstanceLabel  = "app.kubernetes.io/instance"
	HashAnnotation = "meshperf.io/spec-hash"
	// CredentialHashAnnotation on a Broker is a hash of its credential's content, set
	// by whoever writes the Secret (the operator reads no Secret): a new value rolls
	// the broker and its MeshSyncs onto the rotated credential.
	CredentialHashAnnotation = "meshperf.io/credential-hash"
	// BrokerMonitorPort serves the broker's /healthz, /readyz and /status.
	BrokerMonitorPort = 8222
	DefaultBrokerPort = 4222
	// Finalizer removes a MeshSync's cluster-scoped RBAC (which no owner reference
	// can collect) before the MeshSync goes.
	Finalizer = "meshperf.io/cluster-rbac"

	brokerTokenDir   = "/etc/meshperf/broker"
	meshsyncTokenDir = "/etc/meshperf/meshsync"
	nonRootUID       = 65532
)

// SpecError is a spec the operator cannot act on: reported in the SpecValid condition,
// never retried until the spec changes.
type SpecError struct{ Field, Problem string }

func (e *SpecError) Error() string { return "spec." + e.Field + ": " + e.Problem }

// BrokerName is the name of a Broker's Deployment, Service and ServiceAccount.
func BrokerName(b *v1alpha1.Broker) string { return "meshperf-broker-" + b.Name }

// MeshSyncName is the name of a MeshSync's Deployment and ServiceAccount.
func MeshSyncName(m *v1alpha1.MeshSync) string { return "meshperf-meshsync-" + m.Name }

// MeshSyncClusterRoleName is the (cluster-scoped) name of a MeshSync's ClusterRole and
// ClusterRoleBinding.
func MeshSyncClusterRoleName(m *v1alpha1.MeshSync) string {
	return "meshperf-meshsync-" + m.Namespace + "-" + m.Name
}

// BrokerEndpoint is the in-cluster URL of a Broker's clients.
func BrokerEndpoint(b *v1alpha1.Broker) string {
	return fmt.Sprintf("nats://%s.%s.svc:%d", BrokerName(b), b.Namespace, brokerPort(b))
}

// BrokerMonitorURL is the in-cluster URL of a Broker's monitor (its /status).
func BrokerMonitorURL(b *v1alpha1.Broker) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", BrokerName(b), b.Namespace, BrokerMonitorPort)
}

func brokerPort(b *v1alpha1.Broker) int32 {
	if b.Spec.Port != 0 {
		return b.Spec.Port
	}
	return DefaultBrokerPort
}

func secretKey(r v1alpha1.SecretKeyRef) string {
	if r.Key != "" {
		return r.Key
	}
	return "token"
}

func labels(component, instance string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name": "meshperf-" + component, "app.kubernetes.io/part-of": "meshperf",
		kube.ManagedByLabel: kube.FieldManager, ComponentLabel: component, InstanceLabel: instance,
	}
}

func selector(component, instance string) map[string]string {
	return map[string]string{ComponentLabel: component, InstanceLabel: instance}
}

func hash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:8])
}

func owner(apiVersion, kind, name string, uid string) *metaac.OwnerReferenceApplyConfiguration {
	return metaac.OwnerReference().WithAPIVersion(apiVersion).WithKind(kind).WithName(name).
		WithUID(typesUID(uid)).WithController(true).WithBlockOwnerDeletion(true)
}

func restricted() *coreac.SecurityContextApplyConfiguration {
	return coreac.SecurityContext().WithRunAsNonRoot(true).WithRunAsUser(nonRootUID).
		WithReadOnlyRootFilesystem(true).WithAllowPrivilegeEscalation(false).
		WithCapabilities(coreac.Capabilities().WithDrop("ALL")).
		WithSeccompProfile(coreac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))
}

// checkBroker finds what the schema cannot (the API server already enforced it; a
// resource from an older schema or a hand-made client may still reach here).
func checkBroker(b *v1alpha1.Broker, defaultImage string) error {
	u, err := url.Parse(b.Spec.ServerURL)
	if err != nil || u.Host == "" {
		return &SpecError{"serverURL", fmt.Sprintf("%q is not a URL like nats-leaf://host:7422", b.Spec.ServerURL)}
	}
	switch u.Scheme {
	case "nats-leaf", "nats", "tls", "ws", "wss":
	default:
		return &SpecError{"serverURL", fmt.Sprintf("scheme %q is not nats-leaf, nats, tls, ws or wss", u.Scheme)}
	}
	if u.User != nil {
		return &SpecError{"serverURL", "carries a credential: keep it in credentialsSecret"}
	}
	if b.Spec.CredentialsSecret.Name == "" {
		return &SpecError{"credentialsSecret.name", "missing"}
	}
	if b.Spec.Image == "" && defaultImage == "" {
		return &SpecError{"image", "missing, and the operator has no default image (--image)"}
	}
	return nil
}

// BrokerObjects are the objects a Broker wants: a ServiceAccount with no API access,
// a Service (clients and monitor) and a Deployment of `meshperf broker`.
type BrokerObjects struct {
	ServiceAccount *coreac.ServiceAccountApplyConfiguration
	Service        *coreac.ServiceApplyConfiguration
	Deployment     *appsac.DeploymentApplyConfiguration
}

func desiredBroker(b *v1alpha1.Broker, defaultImage string) (*BrokerObjects, error) {
	if err := checkBroker(b, defaultImage); err != nil {
		return nil, err
	}
	name, ns := BrokerName(b), b.Namespace
	lbl := labels("broker", b.Name)
	own := owner(v1alpha1.GroupVersion.String(), "Broker", b.Name, string(b.UID))
	image := b.Spec.Image
	if image == "" {
		image = defaultImage
	}
	port := brokerPort(b)
	args := []string{"broker", "--server-url", b.Spec.ServerURL, "--token-file", brokerTokenDir + "/token",
		"--addr", "0.0.0.0:" + strconv.Itoa(int(port)), "--monitor-addr", "0.0.0.0:" + strconv.Itoa(BrokerMonitorPort)}
	probe := func(path string) *coreac.ProbeApplyConfiguration {
		return coreac.Probe().WithHTTPGet(coreac.HTTPGetAction().WithPath(path).WithPort(intstr.FromString("monitor"))).
			WithPeriodSeconds(10).WithTimeoutSeconds(2)
	}
	container := coreac.Container().WithName("broker").WithImage(image).WithArgs(args...).
		WithPorts(coreac.ContainerPort().WithName("client").WithContainerPort(port),
			coreac.ContainerPort().WithName("monitor").WithContainerPort(BrokerMonitorPort)).
		WithLivenessProbe(probe("/healthz")).WithReadinessProbe(probe("/readyz")).
		WithVolumeMounts(coreac.VolumeMount().WithName("credentials").WithMountPath(brokerTokenDir).WithReadOnly(true)).
		WithResources(coreac.ResourceRequirements().WithRequests(corev1.ResourceList{
			corev1.ResourceCPU: mustQuantity("50m"), corev1.ResourceMemory: mustQuantity("64Mi")})).
		WithSecurityContext(restricted())
	sum := hash(append(args, image, b.Spec.CredentialsSecret.Name, secretKey(b.Spec.CredentialsSecret), b.Annotations[CredentialHashAnnotation])...)
	pod := coreac.PodTemplateSpec().WithLabels(lbl).WithAnnotations(map[string]string{HashAnnotation: sum}).
		WithSpec(coreac.PodSpec().WithServiceAccountName(name).WithAutomountServiceAccountToken(false).
			WithContainers(container).
			WithVolumes(coreac.Volume().WithName("credentials").WithSecret(coreac.SecretVolumeSource().
				WithSecretName(b.Spec.CredentialsSecret.Name).
				WithItems(coreac.KeyToPath().WithKey(secretKey(b.Spec.CredentialsSecret)).WithPath("token")))))
	return &BrokerObjects{
		ServiceAccount: coreac.ServiceAccount(name, ns).WithLabels(lbl).WithOwnerReferences(own).WithAutomountServiceAccountToken(false),
		// Clients reach the broker while its leaf is down (readiness says the leaf is
		// not up; MeshSync connecting anyway keeps retrying its publishes instead of
		// crash-looping on "no servers available").
		Service: coreac.Service(name, ns).WithLabels(lbl).WithOwnerReferences(own).WithSpec(coreac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).WithSelector(selector("broker", b.Name)).WithPublishNotReadyAddresses(true).
			WithPorts(coreac.ServicePort().WithName("client").WithPort(port).WithTargetPort(intstr.FromString("client")),
				coreac.ServicePort().WithName("monitor").WithPort(BrokerMonitorPort).WithTargetPort(intstr.FromString("monitor")))),
		// One replica, replaced not surged: two leaves of one cluster would share
		// its subjects.
		Deployment: appsac.Deployment(name, ns).WithLabels(lbl).WithOwnerReferences(own).WithSpec(appsac.DeploymentSpec().
			WithReplicas(1).WithStrategy(appsac.DeploymentStrategy().WithType("Recreate")).
			WithSelector(metaac.LabelSelector().WithMatchLabels(selector("broker", b.Name))).
			WithTemplate(pod)),
	}, nil
}

// MeshSyncObjects are the objects a MeshSync wants.
type MeshSyncObjects struct {
	ServiceAccount *coreac.ServiceAccountApplyConfiguration
	ClusterRole    *rbacac.ClusterRoleApplyConfiguration
	Binding        *rbacac.ClusterRoleBindingApplyConfiguration
	Deployment     *appsac.DeploymentApplyConfiguration
	// Args are the Deployment's container arguments (the test runs them).
	Args []string
}

// neverWatched are kinds the operator's MeshSync is never given: Secrets (reading
// them at all reads their values). Nodes are added unless the spec asks for them.
var neverWatched = []string{"secrets"}

func checkMeshSync(m *v1alpha1.MeshSync, defaultImage string) error {
	s := m.Spec.Scope
	for i, k := range s.IncludeKinds {
		if slices.Contains(neverWatched, strings.ToLower(k)) || strings.EqualFold(k, "Secret") {
			return &SpecError{fmt.Sprintf("scope.includeKinds[%d]", i), fmt.Sprintf("%q: the operator's MeshSync never reads Secrets (reading them reads their values)", k)}
		}
		if !m.Spec.WatchNodes && (strings.EqualFold(k, "nodes") || strings.EqualFold(k, "Node")) {
			return &SpecError{fmt.Sprintf("scope.includeKinds[%d]", i), fmt.Sprintf("%q needs watchNodes: true", k)}
		}
	}
	for field, list := range map[string][]string{"includeKinds": s.IncludeKinds, "excludeKinds": s.ExcludeKinds,
		"includeNamespaces": s.IncludeNamespaces, "excludeNamespaces": s.ExcludeNamespaces, "fullKinds": s.FullKinds} {
		for i, n := range list {
			if strings.TrimSpace(n) == "" || strings.ContainsAny(n, "*,= \t") {
				return &SpecError{fmt.Sprintf("scope.%s[%d]", field, i), fmt.Sprintf("%q is not a kind, resource or namespace name", n)}
			}
		}
	}
	for _, n := range s.IncludeNamespaces {
		if slices.Contains(s.ExcludeNamespaces, n) {
			return &SpecError{"scope", fmt.Sprintf("namespace %q is both included and excluded", n)}
		}
	}
	if m.Spec.Image == "" && defaultImage == "" {
		return &SpecError{"image", "missing, and the operator has no default image (--image)"}
	}
	return nil
}

// MeshSyncExcludes are the kinds the Deployment excludes beyond the spec's.
func meshSyncExcludes(m *v1alpha1.MeshSync) []string {
	ex := append([]string(nil), m.Spec.Scope.ExcludeKinds...)
	ex = append(ex, neverWatched...)
	if !m.Spec.WatchNodes {
		ex = append(ex, "nodes")
	}
	return ex
}

// MeshSyncRules are the read-only rules for resources: get, list, watch of exactly
// the resources MeshSync will watch, and reading namespace kube-system (the cluster's
// ID).
func MeshSyncRules(resources []schema.GroupVersionResource) []rbacv1.PolicyRule {
	byGroup := map[string][]string{}
	for _, r := range resources {
		if r.Group == "" && (r.Resource == "secrets") {
			continue // never, whatever discovery said
		}
		if !slices.Contains(byGroup[r.Group], r.Resource) {
			byGroup[r.Group] = append(byGroup[r.Group], r.Resource)
		}
	}
	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	rules := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, ResourceNames: []string{"kube-system"}, Verbs: []string{"get"}}}
	for _, g := range groups {
		rs := byGroup[g]
		slices.Sort(rs)
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: rs, Verbs: []string{"get", "list", "watch"}})
	}
	return rules
}

func desiredMeshSync(m *v1alpha1.MeshSync, b *v1alpha1.Broker, rules []rbacv1.PolicyRule, defaultImage string) (*MeshSyncObjects, error) {
	if err := checkMeshSync(m, defaultImage); err != nil {
		return nil, err
	}
	name, ns, crName := MeshSyncName(m), m.Namespace, MeshSyncClusterRoleName(m)
	lbl := labels("meshsync", m.Name)
	own := owner(v1alpha1.GroupVersion.String(), "MeshSync", m.Name, string(m.UID))
	image := m.Spec.Image
	if image == "" {
		image = defaultImage
	}
	args := []string{"meshsync", "--nats-url", BrokerEndpoint(b), "--token-file", meshsyncTokenDir + "/token"}
	s := m.Spec.Scope
	for _, f := range []struct {
		flag string
		list []string
	}{{"--include-kinds", s.IncludeKinds}, {"--exclude-kinds", meshSyncExcludes(m)}, {"--include-namespaces", s.IncludeNamespaces},
		{"--exclude-namespaces", s.ExcludeNamespaces}, {"--full-kinds", s.FullKinds}} {
		if len(f.list) > 0 {
			args = append(args, f.flag, strings.Join(f.list, ","))
		}
	}
	crLabels := labels("meshsync", m.Name)
	crLabels["meshperf.io/namespace"] = ns
	cr := rbacac.ClusterRole(crName).WithLabels(crLabels)
	for _, r := range rules {
		pr := rbacac.PolicyRule().WithAPIGroups(r.APIGroups...).WithResources(r.Resources...).WithVerbs(r.Verbs...)
		if len(r.ResourceNames) > 0 {
			pr = pr.WithResourceNames(r.ResourceNames...)
		}
		cr = cr.WithRules(pr)
	}
	binding := rbacac.ClusterRoleBinding(crName).WithLabels(crLabels).
		WithRoleRef(rbacac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName(crName)).
		WithSubjects(rbacac.Subject().WithKind("ServiceAccount").WithName(name).WithNamespace(ns))
	container := coreac.Container().WithName("meshsync").WithImage(image).WithArgs(args...).
		WithVolumeMounts(coreac.VolumeMount().WithName("credentials").WithMountPath(meshsyncTokenDir).WithReadOnly(true)).
		WithResources(coreac.ResourceRequirements().WithRequests(corev1.ResourceList{
			corev1.ResourceCPU: mustQuantity("100m"), corev1.ResourceMemory: mustQuantity("128Mi")})).
		WithSecurityContext(restricted())
	// A changed scope, image, broker or grant rolls the Deployment.
	ruleText := fmt.Sprint(rules)
	sum := hash(append(args, image, b.Spec.CredentialsSecret.Name, secretKey(b.Spec.CredentialsSecret), b.Annotations[CredentialHashAnnotation], ruleText)...)
	pod := coreac.PodTemplateSpec().WithLabels(lbl).WithAnnotations(map[string]string{HashAnnotation: sum}).
		WithSpec(coreac.PodSpec().WithServiceAccountName(name).WithAutomountServiceAccountToken(true).
			WithContainers(container).
			WithVolumes(coreac.Volume().WithName("credentials").WithSecret(coreac.SecretVolumeSource().
				WithSecretName(b.Spec.CredentialsSecret.Name).
				WithItems(coreac.KeyToPath().WithKey(secretKey(b.Spec.CredentialsSecret)).WithPath("token")))))
	return &MeshSyncObjects{
		ServiceAccount: coreac.ServiceAccount(name, ns).WithLabels(lbl).WithOwnerReferences(own),
		ClusterRole:    cr,
		Binding:        binding,
		Deployment: appsac.Deployment(name, ns).WithLabels(lbl).WithOwnerReferences(own).WithSpec(appsac.DeploymentSpec().
			WithReplicas(1).WithStrategy(appsac.DeploymentStrategy().WithType("Recreate")).
			WithSelector(metaac.LabelSelector().WithMatchLabels(selector("meshsync", m.Name))).
			WithTemplate(pod)),
		Args: args,
	}, nil
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

func typesUID(s string) types.UID { return types.UID(s) }
