package kube

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// FieldManager is the one name meshperf applies objects under, whatever applies them
// (agent deployment today; the operator and adapters next), so server-side apply sees
// a single owner and a re-apply changes nothing that did not change.
const FieldManager = "meshperf"

// ManagedByLabel marks what meshperf created, so removal takes only its own objects.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// ApplyOptions are the server-side apply options of every meshperf write: its field
// manager, forcing ownership of the fields it sets (meshperf owns what it deploys).
func ApplyOptions() metav1.ApplyOptions {
	return metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
}
