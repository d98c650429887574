package connections

import (
	"context"
	"fmt"
)

// Kubeconfig returns a usable cluster connection's name and its kubeconfig (opened
// from its sealed credential), for what must hand the cluster to another process:
// the mesh adapters (server/adapters) get it with each operation.
func (m *Manager) Kubeconfig(ctx context.Context, ref string) (string, []byte, error) {
	c, err := m.Usable(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	kc, err := m.opt.Box.Open(c.Credential, []byte(c.ID))
	if err != nil {
		return "", nil, fmt.Errorf("connection %s: %w", c.Name, err)
	}
	return c.Name, kc, nil
}
