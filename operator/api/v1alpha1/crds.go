package v1alpha1

import (
	"embed"
	"fmt"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

//go:embed crds/*.yaml
var crdFiles embed.FS

// CRDFiles are the manifests' file names, in apply order.
var CRDFiles = []string{"crds/brokers.yaml", "crds/meshsyncs.yaml"}

// CRDs returns meshperf's CustomResourceDefinitions, decoded from the embedded
// manifests.
func CRDs() ([]*apiextv1.CustomResourceDefinition, error) {
	var out []*apiextv1.CustomResourceDefinition
	for _, f := range CRDFiles {
		raw, err := crdFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var crd apiextv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, &crd)
	}
	return out, nil
}

// CRDManifest returns one embedded manifest as written.
func CRDManifest(file string) ([]byte, error) { return crdFiles.ReadFile(file) }
