package meshes

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestTrimmedSourceAndFallback(t *testing.T) {
	rows := []TrimmedObject{
		{Group: "apps", Version: "v1", Kind: "Deployment", Object: []byte(`{"metadata":{"name":"istiod","namespace":"mesh","labels":{"app":"istiod"}},
			"spec":{"template":{"metadata":{"labels":{"app":"istiod"}},"spec":{"containers":[{"name":"discovery","image":"docker.io/istio/pilot:1.24.2"}]}}}}`)},
		{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Object: []byte(`{"metadata":{"name":"virtualservices.networking.istio.io"}}`)},
	}
	var asked []string
	inventory := TrimmedSource(func(_ context.Context, uid string, kinds []string) ([]TrimmedObject, error) {
		asked = kinds
		if uid != "u1" {
			return nil, errors.New("cluster u2 is not in the inventory yet")
		}
		return rows, nil
	})
	objs, err := inventory.FingerprintObjects(context.Background(), "u1")
	if err != nil || len(objs) != 2 || objs[0].Containers[0].Image != "docker.io/istio/pilot:1.24.2" || len(asked) != len(Kinds) {
		t.Fatalf("%+v %v (asked for %v)", objs, err, asked)
	}

	bad := TrimmedSource(func(context.Context, string, []string) ([]TrimmedObject, error) {
		return []TrimmedObject{rows[0], {Version: "v1", Kind: "Pod", Object: []byte(`{"metadata":{"name":"p"},"spec":{"containers":{}}}`)}}, nil
	})
	if _, err := bad.FingerprintObjects(context.Background(), "u1"); err == nil || !strings.Contains(err.Error(), "stored object 1") || !strings.Contains(err.Error(), "spec.containers") {
		t.Errorf("a stored object that does not decode: %v", err)
	}

	live := TrimmedSource(func(context.Context, string, []string) ([]TrimmedObject, error) { return rows[:1], nil })
	fb := Fallback{Primary: inventory, Secondary: live}
	if objs, err := fb.FingerprintObjects(context.Background(), "u1"); err != nil || len(objs) != 2 {
		t.Errorf("the primary answers: %d objects, %v", len(objs), err)
	}
	if objs, err := fb.FingerprintObjects(context.Background(), "u2"); err != nil || len(objs) != 1 {
		t.Errorf("the secondary answers when the primary cannot: %d objects, %v", len(objs), err)
	}
	down := TrimmedSource(func(context.Context, string, []string) ([]TrimmedObject, error) {
		return nil, errors.New("cluster unreachable")
	})
	if _, err := (Fallback{Primary: inventory, Secondary: down}).FingerprintObjects(context.Background(), "u2"); err == nil ||
		!strings.Contains(err.Error(), "not in the inventory") || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("both failing: %v", err)
	}
}
