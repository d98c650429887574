package meshsync

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
)

// lastApplied is kubectl's copy of the whole applied object: as big as the object,
// and a Secret's values in clear when the Secret was applied with kubectl.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// fullItem is what the cache keeps of an object of a full kind: its metadata and the
// trimmed object, already encoded (the cache keeps bytes, not maps, and every event
// of the object reuses them).
type fullItem struct {
	metav1.PartialObjectMetadata
	Body json.RawMessage
}

// DeepCopyObject is shallow: items are never mutated once transformed.
func (f *fullItem) DeepCopyObject() runtime.Object { c := *f; return &c }

// transformFor trims what the informers of r cache: managedFields and the
// last-applied annotation always; full objects become a fullItem (Pods slimmed to
// what identifies a workload). It is idempotent: a transformed item passes through.
func transformFor(r resource) cache.TransformFunc {
	return func(obj any) (any, error) {
		switch o := obj.(type) {
		case *metav1.PartialObjectMetadata:
			trimMeta(&o.ObjectMeta)
			return o, nil
		case *unstructured.Unstructured:
			return fullFrom(o, r)
		default:
			return obj, nil
		}
	}
}

func trimMeta(m *metav1.ObjectMeta) {
	m.ManagedFields = nil
	delete(m.Annotations, lastApplied)
	if len(m.Annotations) == 0 {
		m.Annotations = nil
	}
}

func fullFrom(u *unstructured.Unstructured, r resource) (*fullItem, error) {
	f := &fullItem{}
	f.TypeMeta = metav1.TypeMeta{APIVersion: u.GetAPIVersion(), Kind: u.GetKind()}
	f.Name, f.Namespace, f.UID = u.GetName(), u.GetNamespace(), u.GetUID()
	f.ResourceVersion, f.Generation = u.GetResourceVersion(), u.GetGeneration()
	f.Labels, f.Annotations, f.OwnerReferences = u.GetLabels(), u.GetAnnotations(), u.GetOwnerReferences()
	f.CreationTimestamp, f.DeletionTimestamp = u.GetCreationTimestamp(), u.GetDeletionTimestamp()
	trimMeta(&f.ObjectMeta)

	obj := u.Object
	if md, ok := obj["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, lastApplied)
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	switch {
	case r.isSecret():
		obj = map[string]any{"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(), "metadata": obj["metadata"]}
	case r.GVR.Group == "" && r.GVR.Resource == "pods":
		obj = slimPod(obj)
	}
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	f.Body = body
	return f, nil
}

// slimPod keeps what identifies a workload and its proxies: metadata, containers'
// and init containers' names and images, the node, the phase and each container's
// readiness and running image.
func slimPod(obj map[string]any) map[string]any {
	spec, _ := obj["spec"].(map[string]any)
	status, _ := obj["status"].(map[string]any)
	pick := func(list any, keys ...string) []any {
		items, _ := list.([]any)
		out := make([]any, 0, len(items))
		for _, it := range items {
			m, _ := it.(map[string]any)
			kept := map[string]any{}
			for _, k := range keys {
				if v, ok := m[k]; ok {
					kept[k] = v
				}
			}
			out = append(out, kept)
		}
		return out
	}
	slimSpec := map[string]any{"containers": pick(spec["containers"], "name", "image")}
	if ic := pick(spec["initContainers"], "name", "image"); len(ic) > 0 {
		slimSpec["initContainers"] = ic
	}
	if n, ok := spec["nodeName"]; ok {
		slimSpec["nodeName"] = n
	}
	slimStatus := map[string]any{}
	if p, ok := status["phase"]; ok {
		slimStatus["phase"] = p
	}
	if cs := pick(status["containerStatuses"], "name", "image", "ready"); len(cs) > 0 {
		slimStatus["containerStatuses"] = cs
	}
	return map[string]any{"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": obj["metadata"],
		"spec": slimSpec, "status": slimStatus}
}

// metaOf returns an item's metadata and, for a full kind, its trimmed body.
func metaOf(obj any) (*metav1.ObjectMeta, json.RawMessage, bool) {
	switch o := obj.(type) {
	case *fullItem:
		return &o.ObjectMeta, o.Body, true
	case *metav1.PartialObjectMetadata:
		return &o.ObjectMeta, nil, true
	case cache.DeletedFinalStateUnknown:
		return metaOf(o.Obj)
	}
	return nil, nil, false
}
