package v1alpha1_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshperf/meshperf/operator/api/v1alpha1"
)

// jsonFields are the JSON names of a struct's fields (inline embedded ones skipped).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("json"), ",")
		if tag[0] == "" || tag[0] == "-" {
			continue
		}
		out[tag[0]] = f.Type
	}
	return out
}

// agree checks that schema s describes Go type typ field for field (same names, and
// the same for nested structs), at path.
func agree(t *testing.T, path string, s apiextv1.JSONSchemaProps, typ reflect.Type) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch {
	case typ == reflect.TypeOf(metav1.Time{}):
		if s.Type != "string" || s.Format != "date-time" {
			t.Errorf("%s: a time in Go, %s/%s in the CRD", path, s.Type, s.Format)
		}
		return
	case typ.Kind() == reflect.Struct:
		if s.Type != "object" {
			t.Errorf("%s: a struct in Go, %q in the CRD", path, s.Type)
			return
		}
		fields := jsonFields(typ)
		for name, ft := range fields {
			ps, ok := s.Properties[name]
			if !ok {
				t.Errorf("%s.%s: in the Go type, not in the CRD", path, name)
				continue
			}
			agree(t, path+"."+name, ps, ft)
		}
		for name := range s.Properties {
			if _, ok := fields[name]; !ok {
				t.Errorf("%s.%s: in the CRD, not in the Go type", path, name)
			}
		}
		for _, r := range s.Required {
			f, ok := typ.FieldByNameFunc(func(n string) bool {
				sf, _ := typ.FieldByName(n)
				return strings.Split(sf.Tag.Get("json"), ",")[0] == r
			})
			if !ok || strings.Contains(f.Tag.Get("json"), "omitempty") {
				t.Errorf("%s: %s is required in the CRD but omitempty (or absent) in Go", path, r)
			}
		}
	case typ.Kind() == reflect.Slice:
		if s.Type != "array" || s.Items == nil || s.Items.Schema == nil {
			t.Errorf("%s: a slice in Go, %q in the CRD", path, s.Type)
			return
		}
		agree(t, path+"[]", *s.Items.Schema, typ.Elem())
	case typ.Kind() == reflect.String:
		if s.Type != "string" {
			t.Errorf("%s: a string in Go, %q in the CRD", path, s.Type)
		}
	case typ.Kind() == reflect.Bool:
		if s.Type != "boolean" {
			t.Errorf("%s: a bool in Go, %q in the CRD", path, s.Type)
		}
	case typ.Kind() == reflect.Int32 || typ.Kind() == reflect.Int64:
		want := "int" + strings.TrimPrefix(typ.Kind().String(), "int")
		if s.Type != "integer" || s.Format != want {
			t.Errorf("%s: %s in Go, %s/%s in the CRD", path, typ.Kind(), s.Type, s.Format)
		}
	default:
		t.Errorf("%s: Go kind %s not handled by this test", path, typ.Kind())
	}
}

// The hand-written CRD manifests describe exactly the Go types (field names, types,
// nesting, required fields), and carry what users expect: the status subresource,
// printer columns, one served storage version.
func TestCRDsAgreeWithTheGoTypes(t *testing.T) {
	crds, err := v1alpha1.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]reflect.Type{"Broker": reflect.TypeOf(v1alpha1.Broker{}), "MeshSync": reflect.TypeOf(v1alpha1.MeshSync{})}
	if len(crds) != len(types) {
		t.Fatalf("%d CRDs", len(crds))
	}
	for _, crd := range crds {
		typ, ok := types[crd.Spec.Names.Kind]
		if !ok || crd.Spec.Group != v1alpha1.Group || crd.Name != crd.Spec.Names.Plural+"."+v1alpha1.Group {
			t.Fatalf("unexpected CRD %s (%s)", crd.Name, crd.Spec.Names.Kind)
		}
		if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != v1alpha1.Version || !crd.Spec.Versions[0].Storage || !crd.Spec.Versions[0].Served {
			t.Fatalf("%s: versions %+v", crd.Name, crd.Spec.Versions)
		}
		v := crd.Spec.Versions[0]
		if v.Subresources == nil || v.Subresources.Status == nil {
			t.Errorf("%s: no status subresource", crd.Name)
		}
		if len(v.AdditionalPrinterColumns) < 3 {
			t.Errorf("%s: %d printer columns", crd.Name, len(v.AdditionalPrinterColumns))
		}
		root := v.Schema.OpenAPIV3Schema
		for _, part := range []string{"spec", "status"} {
			f, _ := typ.FieldByName(strings.ToUpper(part[:1]) + part[1:])
			agree(t, crd.Spec.Names.Kind+"."+part, root.Properties[part], f.Type)
		}
		conds := root.Properties["status"].Properties["conditions"]
		if !slices.Equal(conds.XListMapKeys, []string{"type"}) {
			t.Errorf("%s: conditions are not a map keyed by type", crd.Name)
		}
	}
}

// Deep copies share no memory with their originals.
func TestDeepCopyIsDeep(t *testing.T) {
	now := metav1.NewTime(time.Now())
	m := &v1alpha1.MeshSync{ObjectMeta: metav1.ObjectMeta{Name: "m", Labels: map[string]string{"a": "b"}},
		Spec:   v1alpha1.MeshSyncSpec{Broker: "b", Scope: v1alpha1.MeshSyncScope{IncludeKinds: []string{"Pod"}, ExcludeNamespaces: []string{"x"}}},
		Status: v1alpha1.MeshSyncStatus{LastEvent: &now, Conditions: []metav1.Condition{{Type: "Ready"}}}}
	c := m.DeepCopy()
	if !reflect.DeepEqual(m, c) {
		t.Fatal("copy differs")
	}
	c.Labels["a"] = "changed"
	c.Spec.Scope.IncludeKinds[0] = "changed"
	c.Spec.Scope.ExcludeNamespaces[0] = "changed"
	c.Status.Conditions[0].Type = "changed"
	c.Status.LastEvent.Time = time.Time{}
	if m.Labels["a"] != "b" || m.Spec.Scope.IncludeKinds[0] != "Pod" || m.Spec.Scope.ExcludeNamespaces[0] != "x" ||
		m.Status.Conditions[0].Type != "Ready" || m.Status.LastEvent.IsZero() {
		t.Errorf("the copy shares memory: %+v", m)
	}
	b := &v1alpha1.Broker{Status: v1alpha1.BrokerStatus{LastSeen: &now, Conditions: []metav1.Condition{{Type: "Ready"}}}}
	bc := b.DeepCopy()
	bc.Status.Conditions[0].Type = "x"
	bc.Status.LastSeen.Time = time.Time{}
	if b.Status.Conditions[0].Type != "Ready" || b.Status.LastSeen.IsZero() {
		t.Error("the Broker copy shares memory")
	}
	l := &v1alpha1.MeshSyncList{Items: []v1alpha1.MeshSync{*m}}
	lc := l.DeepCopy()
	lc.Items[0].Spec.Scope.IncludeKinds[0] = "y"
	if l.Items[0].Spec.Scope.IncludeKinds[0] != "Pod" {
		t.Error("the list copy shares memory")
	}
}
