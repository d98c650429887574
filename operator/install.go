package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/meshperf/meshperf/kube"
	"github.com/meshperf/meshperf/operator/api/v1alpha1"
)

// InstallCRDs applies meshperf's CRDs (server-side apply under kube's field manager:
// idempotent, safe when several appliers run at once) and waits until the API server
// serves them.
func InstallCRDs(ctx context.Context, cfg *rest.Config, timeout time.Duration) error {
	cs, err := apiextclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	crds, err := v1alpha1.CRDs()
	if err != nil {
		return err
	}
	opts := kube.ApplyOptions()
	for _, crd := range crds {
		crd.TypeMeta = metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"}
		crd.Labels[kube.ManagedByLabel] = kube.FieldManager
		body, err := json.Marshal(crd)
		if err != nil {
			return err
		}
		if _, err := cs.ApiextensionsV1().CustomResourceDefinitions().Patch(ctx, crd.Name, types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: opts.FieldManager, Force: &opts.Force}); err != nil {
			return fmt.Errorf("CRD %s: %w", crd.Name, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, crd := range crds {
		for {
			got, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err == nil && established(got) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not established after %v", crd.Name, timeout)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func established(crd *apiextv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextv1.Established && c.Status == apiextv1.ConditionTrue {
			return true
		}
	}
	return false
}
