package meshes

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/meshperf/meshperf/meshsync/fingerprint"
)

// Source gives a cluster's objects as fingerprints read them. The inventory (what
// MeshSync keeps in the store) is one; LiveSource, which lists the cluster, is the
// fallback.
type Source interface {
	FingerprintObjects(ctx context.Context, clusterUID string) ([]fingerprint.Object, error)
}

// ClusterConfigs finds a cluster's REST config by its UID (connections.Manager does).
type ClusterConfigs interface {
	ClusterConfig(ctx context.Context, clusterUID string) (*rest.Config, error)
}

// LiveSource lists the kinds fingerprints read straight from the cluster: workloads,
// pods and services whole; CRDs and webhook configurations as metadata only (their
// names are the signal, and a CRD's schema can weigh megabytes). Lists are paged.
type LiveSource struct {
	Clusters ClusterConfigs
	// PageSize bounds each list call (default 500).
	PageSize int64
}

var metadataKinds = []struct {
	gvr  schema.GroupVersionResource
	kind string
}{
	{schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, fingerprint.KindCRD},
	{schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}, fingerprint.KindMutatingHook},
	{schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}, fingerprint.KindValidatingHook},
}

// FingerprintObjects lists the cluster now.
func (s *LiveSource) FingerprintObjects(ctx context.Context, clusterUID string) ([]fingerprint.Object, error) {
	rc, err := s.Clusters.ClusterConfig(ctx, clusterUID)
	if err != nil {
		return nil, err
	}
	// Paged lists of a large cluster are many calls in a row: client-go's default
	// limit (5 per second) would make a 50,000-pod cluster take 20 s.
	rc = rest.CopyConfig(rc)
	rc.QPS, rc.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	md, err := metadata.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	page := s.PageSize
	if page <= 0 {
		page = 500
	}
	var out []fingerprint.Object
	apps := cs.AppsV1()
	err = pages(ctx, page, "deployments", func(o metav1.ListOptions) (string, error) {
		l, err := apps.Deployments("").List(ctx, o)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			d := &l.Items[i]
			out = append(out, workload(fingerprint.KindDeployment, "apps", d.ObjectMeta, d.Spec.Template))
		}
		return l.Continue, nil
	})
	if err == nil {
		err = pages(ctx, page, "daemonsets", func(o metav1.ListOptions) (string, error) {
			l, err := apps.DaemonSets("").List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				d := &l.Items[i]
				out = append(out, workload(fingerprint.KindDaemonSet, "apps", d.ObjectMeta, d.Spec.Template))
			}
			return l.Continue, nil
		})
	}
	if err == nil {
		err = pages(ctx, page, "statefulsets", func(o metav1.ListOptions) (string, error) {
			l, err := apps.StatefulSets("").List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				d := &l.Items[i]
				out = append(out, workload(fingerprint.KindStatefulSet, "apps", d.ObjectMeta, d.Spec.Template))
			}
			return l.Continue, nil
		})
	}
	if err == nil {
		err = pages(ctx, page, "pods", func(o metav1.ListOptions) (string, error) {
			l, err := cs.CoreV1().Pods("").List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				p := &l.Items[i]
				out = append(out, podObject(p))
			}
			return l.Continue, nil
		})
	}
	if err == nil {
		err = pages(ctx, page, "services", func(o metav1.ListOptions) (string, error) {
			l, err := cs.CoreV1().Services("").List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				out = append(out, serviceObject(&l.Items[i]))
			}
			return l.Continue, nil
		})
	}
	for _, k := range metadataKinds {
		if err != nil {
			break
		}
		err = pages(ctx, page, k.gvr.Resource, func(o metav1.ListOptions) (string, error) {
			l, err := md.Resource(k.gvr).List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				m := &l.Items[i].ObjectMeta
				out = append(out, fingerprint.Object{Group: k.gvr.Group, Version: k.gvr.Version, Kind: k.kind, Name: m.Name,
					Labels: m.Labels, Annotations: trimAnnotations(m.Annotations)})
			}
			return l.Continue, nil
		})
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pages calls list until the server says there is no more.
func pages(ctx context.Context, limit int64, what string, list func(metav1.ListOptions) (string, error)) error {
	cont := ""
	for {
		next, err := list(metav1.ListOptions{Limit: limit, Continue: cont})
		if err != nil {
			return fmt.Errorf("listing %s: %w", what, err)
		}
		if next == "" {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		cont = next
	}
}

func workload(kind, group string, meta metav1.ObjectMeta, tpl corev1.PodTemplateSpec) fingerprint.Object {
	return fingerprint.Object{Group: group, Version: "v1", Kind: kind, Namespace: meta.Namespace, Name: meta.Name,
		Labels: meta.Labels, Annotations: trimAnnotations(meta.Annotations), PodLabels: tpl.Labels,
		PodAnnotations: trimAnnotations(tpl.Annotations), Containers: containers(&tpl.Spec)}
}

func podObject(p *corev1.Pod) fingerprint.Object {
	return fingerprint.Object{Version: "v1", Kind: fingerprint.KindPod, Namespace: p.Namespace, Name: p.Name,
		Labels: p.Labels, Annotations: trimAnnotations(p.Annotations), PodLabels: p.Labels,
		PodAnnotations: trimAnnotations(p.Annotations), Containers: containers(&p.Spec)}
}

func serviceObject(s *corev1.Service) fingerprint.Object {
	spec := &fingerprint.ServiceSpec{Selector: s.Spec.Selector, Headless: s.Spec.ClusterIP == corev1.ClusterIPNone}
	for _, p := range s.Spec.Ports {
		spec.Ports = append(spec.Ports, fingerprint.ServicePort{Name: p.Name, Port: p.Port, TargetPort: p.TargetPort.String()})
	}
	return fingerprint.Object{Version: "v1", Kind: fingerprint.KindService, Namespace: s.Namespace, Name: s.Name,
		Labels: s.Labels, Service: spec}
}

func containers(spec *corev1.PodSpec) []fingerprint.Container {
	var out []fingerprint.Container
	for _, c := range spec.InitContainers {
		out = append(out, fingerprint.Container{Name: c.Name, Image: c.Image, Init: true})
	}
	for _, c := range spec.Containers {
		out = append(out, fingerprint.Container{Name: c.Name, Image: c.Image})
	}
	return out
}

// trimAnnotations drops what is large and never a signal.
func trimAnnotations(a map[string]string) map[string]string {
	if _, ok := a[corev1.LastAppliedConfigAnnotation]; !ok {
		return a
	}
	out := make(map[string]string, len(a))
	for k, v := range a {
		if k != corev1.LastAppliedConfigAnnotation {
			out[k] = v
		}
	}
	return out
}
