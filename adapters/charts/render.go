package charts

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Rendered is a chart rendered for one release: its CRDs (the chart's crds/ folder and
// CustomResourceDefinition templates) and every other object.
type Rendered struct {
	CRDs    []*unstructured.Unstructured
	Objects []*unstructured.Unstructured
}

// Render renders ch as release name in namespace with values, as `helm template`
// would for a cluster of kubeVersion (e.g. "v1.36.3"; "" = Helm's default).
func Render(ch *chart.Chart, name, namespace string, values map[string]any, kubeVersion string) (*Rendered, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	if kubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(kubeVersion)
		if err == nil {
			caps.KubeVersion = *kv
		}
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, values); err != nil {
		return nil, fmt.Errorf("chart %s: dependencies: %w", ch.Name(), err)
	}
	vals, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{Name: name, Namespace: namespace, IsInstall: true, Revision: 1}, caps)
	if err != nil {
		return nil, fmt.Errorf("chart %s: values: %w", ch.Name(), err)
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("chart %s: rendering: %w", ch.Name(), err)
	}
	out := &Rendered{}
	for _, f := range ch.CRDObjects() {
		objs, err := decodeAll(f.File.Data)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %s: %w", ch.Name(), f.Filename, err)
		}
		out.CRDs = append(out.CRDs, objs...)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		base := path.Base(n)
		if strings.HasPrefix(base, "_") || !(strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml") || strings.HasSuffix(base, ".json")) {
			continue
		}
		objs, err := decodeAll([]byte(files[n]))
		if err != nil {
			return nil, fmt.Errorf("chart %s: %s: %w", ch.Name(), n, err)
		}
		for _, o := range objs {
			if isHook(o) {
				continue
			}
			if o.GetKind() == "CustomResourceDefinition" {
				out.CRDs = append(out.CRDs, o)
			} else {
				out.Objects = append(out.Objects, o)
			}
		}
	}
	return out, nil
}

// isHook: Helm hooks (tests, pre-install jobs) are not part of the release's objects;
// meshperf does not run them.
func isHook(o *unstructured.Unstructured) bool {
	_, ok := o.GetAnnotations()["helm.sh/hook"]
	return ok
}

func decodeAll(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("an object without apiVersion, kind or name")
		}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return nil, err
			}
			for i := range l.Items {
				out = append(out, &l.Items[i])
			}
			continue
		}
		out = append(out, u)
	}
}
