package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/meshsync/fingerprint"
	"github.com/meshperf/meshperf/server/store"
)

// Health is one cluster's discovery as the inventory sees it.
type Health = apitypes.DiscoveryHealth

// Health reports a cluster's discovery.
func (i *Inventory) Health(ctx context.Context, cluster string) (*Health, error) {
	h := &Health{ClusterUID: cluster, State: "silent"}
	n, err := i.st.CountInventory(ctx, cluster)
	if err != nil {
		return nil, err
	}
	h.Objects = n
	st, err := i.st.InventoryStreamOf(ctx, cluster)
	if err != nil {
		return nil, err
	}
	if st != nil {
		h.LastEventAt, h.LastSnapshotAt, h.SnapshotOpen, h.Gaps = st.LastEventAt, st.LastSnapshotAt, st.SnapshotID != "", st.Gaps
		if st.LastEventAt != nil {
			h.SinceLastEventSeconds = time.Since(*st.LastEventAt).Seconds()
			if st.LastAppliedAt != nil {
				h.LagSeconds = max(0, st.LastAppliedAt.Sub(*st.LastEventAt).Seconds())
			}
		}
		var s bus.MeshSyncStatus
		if st.Status != "" && json.Unmarshal([]byte(st.Status), &s) == nil {
			h.State, h.Mode, h.WatchesOpen, h.Resources, h.LastError = s.State, s.Mode, s.WatchesOpen, s.Resources, s.LastError
			if !s.LastErrorAt.IsZero() {
				t := s.LastErrorAt
				h.LastErrorAt = &t
			}
		} else if st.LastEventAt != nil {
			h.State = "reporting"
		}
	}
	return h, nil
}

// SyntheticCheck is a round trip through discovery.
type SyntheticCheck = apitypes.SyntheticCheck

// Check writes a marker ConfigMap (managed by meshperf) into namespace of the cluster,
// waits for it in the inventory, deletes it and waits for it to go, each for at most
// timeout.
func (i *Inventory) Check(ctx context.Context, cluster string, cs kubernetes.Interface, namespace string, timeout time.Duration) *SyntheticCheck {
	name := "meshperf-discovery-check-" + bus.NewBoot()[:10]
	c := &SyntheticCheck{Namespace: namespace, Name: name}
	sub := i.Subscribe(cluster)
	defer sub.Close()
	start := time.Now()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace,
		Labels: map[string]string{ManagedByLabel: ManagedByValue, "meshperf.io/purpose": "discovery-check"}},
		Data: map[string]string{"written": start.UTC().Format(time.RFC3339Nano)}}
	made, err := cs.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		c.Error = "writing the marker ConfigMap: " + err.Error()
		return c
	}
	removed := false
	defer func() {
		if !removed {
			_ = cs.CoreV1().ConfigMaps(namespace).Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{})
		}
	}()
	uid := string(made.UID)
	if err := waitChange(ctx, sub, timeout, func(ch Change) bool { return ch.UID == uid && ch.Type != bus.EventDeleted }); err != nil {
		c.Error = "the marker did not arrive in the inventory: " + err.Error()
		return c
	}
	c.ArriveMs = ms(time.Since(start))
	delStart := time.Now()
	if err := cs.CoreV1().ConfigMaps(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		c.Error = "removing the marker: " + err.Error()
		return c
	}
	removed = true
	if err := waitChange(ctx, sub, timeout, func(ch Change) bool {
		return (ch.UID == uid && ch.Type == bus.EventDeleted) || ch.Type == ChangeFlushed
	}); err != nil {
		c.Error = "the marker's removal did not reach the inventory: " + err.Error()
		return c
	}
	c.RemoveMs, c.RoundTripMs, c.OK = ms(time.Since(delStart)), ms(time.Since(start)), true
	return c
}

func waitChange(ctx context.Context, sub *Subscription, timeout time.Duration, match func(Change) bool) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case ch := <-sub.C:
			if match(ch) {
				return nil
			}
		case <-t.C:
			return fmt.Errorf("not within %s", timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// FingerprintKinds are the kinds fingerprints read.
var FingerprintKinds = []string{"Deployment", "DaemonSet", "StatefulSet", "Pod", "Namespace", "CustomResourceDefinition",
	"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "Service"}

// ErrNotDiscovered says a cluster's inventory has no completed snapshot yet, so it
// cannot answer for what runs there (an empty answer would claim "no mesh").
var ErrNotDiscovered = errors.New("the cluster's discovery has not completed a snapshot yet")

// FingerprintObjects returns a cluster's objects that fingerprints read, slim; an
// error wrapping ErrNotDiscovered before the cluster's first complete snapshot.
func (i *Inventory) FingerprintObjects(ctx context.Context, cluster string) ([]fingerprint.Object, error) {
	st, err := i.st.InventoryStreamOf(ctx, cluster)
	if err != nil {
		return nil, err
	}
	if st == nil || st.LastSnapshotAt == nil {
		return nil, fmt.Errorf("cluster %s: %w", cluster, ErrNotDiscovered)
	}
	rows, err := i.st.InventoryObjectsOfKinds(ctx, cluster, FingerprintKinds)
	if err != nil {
		return nil, err
	}
	out := make([]fingerprint.Object, 0, len(rows))
	for _, r := range rows {
		// Kinds discovered as metadata only (CRDs, webhook configurations: their
		// names are the signal) and objects fingerprint cannot read keep their
		// identity and labels from the row.
		slim := fingerprint.Object{Group: r.Group, Version: r.Version, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
		_ = json.Unmarshal([]byte(r.Labels), &slim.Labels)
		_ = json.Unmarshal([]byte(r.Annotations), &slim.Annotations)
		if r.Object != nil {
			o, err := fingerprint.FromTrimmed(r.Group, r.Version, r.Kind, []byte(*r.Object))
			if err == nil && o.Name != "" {
				// The row's labels are the object's own (a trimmed object may carry
				// them only there).
				if len(o.Labels) == 0 {
					o.Labels = slim.Labels
				}
				if len(o.Annotations) == 0 {
					o.Annotations = slim.Annotations
				}
				slim = o
			} else if err != nil {
				i.log.Debug("an object fingerprints cannot read; kept by its metadata", "cluster", cluster, "kind", r.Kind, "name", r.Name, "err", err)
			}
		}
		out = append(out, slim)
	}
	return out, nil
}

// Object is an inventory row as the API shows it.
type Object = apitypes.InventoryObject

// View turns a row into its API shape.
func View(r *store.InventoryObject) Object {
	o := Object{ClusterUID: r.ClusterUID, UID: r.UID, Group: r.Group, Version: r.Version, Resource: r.Resource, Kind: r.Kind,
		Namespace: r.Namespace, Name: r.Name, ResourceVersion: r.ResourceVersion, Managed: r.Managed, Truncated: r.Truncated,
		FirstSeen: r.FirstSeen, LastSeen: r.LastSeen}
	_ = json.Unmarshal([]byte(r.Labels), &o.Labels)
	_ = json.Unmarshal([]byte(r.Annotations), &o.Annotations)
	var owners []bus.OwnerRef
	_ = json.Unmarshal([]byte(r.Owners), &owners)
	for _, ow := range owners {
		o.Owners = append(o.Owners, apitypes.OwnerRef(ow))
	}
	if r.Object != nil {
		o.Object = json.RawMessage(*r.Object)
	}
	return o
}
