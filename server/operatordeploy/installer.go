package operatordeploy

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/client-go/rest"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/meshsync"
	"github.com/meshperf/meshperf/server/store"
)

// Installer installs and removes the operator of a connection; the embedded MeshSync
// supervisor calls it as connections switch mode.
type Installer struct {
	// RESTConfig opens a connection's credential.
	RESTConfig func(*store.Connection) (*rest.Config, error)
	// Issue returns the MeshSync credential of a cluster (its kube-system UID).
	Issue func(cluster string) (string, error)
	// Image is the meshperf image the operator and its components run.
	Image string
	// LeafURL is the server's leaf node listener as clusters reach it.
	LeafURL   string
	Namespace string
}

func (i *Installer) spec(c *store.Connection) (Spec, error) {
	var scope meshsync.Scope
	if c.MeshSyncScope != "" {
		if err := json.Unmarshal([]byte(c.MeshSyncScope), &scope); err != nil {
			return Spec{}, fmt.Errorf("scope: %w", err)
		}
	}
	cred, err := i.Issue(c.ClusterUID)
	if err != nil {
		return Spec{}, err
	}
	return Spec{Namespace: i.Namespace, Image: i.Image, LeafURL: i.LeafURL, Credential: cred, Scope: scope}, nil
}

// Key changes when an installed operator must be applied again.
func (i *Installer) Key(c *store.Connection) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s", c.ClusterUID, c.MeshSyncScope, i.Image, i.LeafURL, i.Namespace)
}

// Install applies the operator and its resources for c.
func (i *Installer) Install(ctx context.Context, c *store.Connection) error {
	s, err := i.spec(c)
	if err != nil {
		return err
	}
	cfg, err := i.RESTConfig(c)
	if err != nil {
		return err
	}
	_, err = Apply(ctx, cfg, s)
	return err
}

// Remove takes the operator out of c's cluster.
func (i *Installer) Remove(ctx context.Context, c *store.Connection) error {
	cfg, err := i.RESTConfig(c)
	if err != nil {
		return err
	}
	_, err = Remove(ctx, cfg, i.Namespace)
	return err
}

// Status reads the components' state from c's cluster.
func (i *Installer) Status(ctx context.Context, c *store.Connection) *apitypes.OperatorStatus {
	cfg, err := i.RESTConfig(c)
	if err != nil {
		ns := i.Namespace
		if ns == "" {
			ns = DefaultNamespace
		}
		return &apitypes.OperatorStatus{Namespace: ns, Error: err.Error()}
	}
	return Status(ctx, cfg, i.Namespace)
}
