package meshes

import (
	"context"
	"errors"
	"fmt"

	"github.com/meshperf/meshperf/meshsync/fingerprint"
)

// Kinds are the kinds fingerprints read (group/Kind; "" is the core group): a store
// of objects need give no others.
var Kinds = []string{"apps/Deployment", "apps/DaemonSet", "apps/StatefulSet", "/Pod", "/Service",
	"apiextensions.k8s.io/CustomResourceDefinition", "admissionregistration.k8s.io/MutatingWebhookConfiguration",
	"admissionregistration.k8s.io/ValidatingWebhookConfiguration"}

// TrimmedObject is one object as MeshSync ships and the inventory stores it.
type TrimmedObject struct {
	Group, Version, Kind string
	// Object is the trimmed object's JSON.
	Object []byte
}

// TrimmedSource adapts a store of trimmed objects (the inventory) to a Source: it
// returns a cluster's objects of Kinds.
type TrimmedSource func(ctx context.Context, clusterUID string, kinds []string) ([]TrimmedObject, error)

// FingerprintObjects reads the stored objects. One that does not decode fails the
// read, naming it: a verdict on part of a cluster would be a wrong verdict.
func (f TrimmedSource) FingerprintObjects(ctx context.Context, clusterUID string) ([]fingerprint.Object, error) {
	rows, err := f(ctx, clusterUID, Kinds)
	if err != nil {
		return nil, err
	}
	out := make([]fingerprint.Object, 0, len(rows))
	for i, r := range rows {
		o, err := fingerprint.FromTrimmed(r.Group, r.Version, r.Kind, r.Object)
		if err != nil {
			return nil, fmt.Errorf("stored object %d of cluster %s: %w", i, clusterUID, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// Fallback reads Primary (the inventory) and, when it fails, Secondary (LiveSource).
type Fallback struct {
	Primary, Secondary Source
}

// FingerprintObjects tries one source, then the other; both errors when both fail.
func (f Fallback) FingerprintObjects(ctx context.Context, clusterUID string) ([]fingerprint.Object, error) {
	objs, err := f.Primary.FingerprintObjects(ctx, clusterUID)
	if err == nil {
		return objs, nil
	}
	objs, err2 := f.Secondary.FingerprintObjects(ctx, clusterUID)
	if err2 != nil {
		return nil, errors.Join(err, err2)
	}
	return objs, nil
}
