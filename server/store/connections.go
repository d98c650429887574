package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// ErrStale means a row changed between reading and writing it (another request or
// server moved it first).
var ErrStale = errors.New("changed meanwhile")

// Outcomes of adding a connection.
const (
	ConnAdded     = "added"
	ConnUpdated   = "updated"   // same context, same cluster: new credential
	ConnDuplicate = "duplicate" // another context already connects this cluster
)

// AddConnection stores a connection with its nodes, unless its cluster is known: a
// context of the same name then gets the new credential (seal is called with the
// existing row's id), another context is a duplicate and changes nothing. A new
// connection whose name is taken by another cluster is ErrConflict.
func (s *Store) AddConnection(ctx context.Context, c *Connection, nodes []ClusterNode, seal func(id string) []byte) (*Connection, string, error) {
	outcome := ConnAdded
	var out Connection
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var existing Connection
		err := tx.Where("cluster_uid = ?", c.ClusterUID).First(&existing).Error
		switch {
		case err == nil && existing.Name != c.Name:
			outcome, out = ConnDuplicate, existing
			return nil
		case err == nil:
			outcome = ConnUpdated
			existing.Credential = seal(existing.ID)
			existing.Server, existing.Version, existing.NodeCount = c.Server, c.Version, c.NodeCount
			existing.LastCheck, existing.LastError = c.LastCheck, c.LastError
			if err := tx.Save(&existing).Error; err != nil {
				return err
			}
			out = existing
			return replaceNodes(tx, existing.ID, nodes)
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return err
		}
		c.Credential = seal(c.ID)
		if err := tx.Create(c).Error; err != nil {
			return err
		}
		out = *c
		return replaceNodes(tx, c.ID, nodes)
	})
	if err != nil {
		return nil, "", tr(err)
	}
	return &out, outcome, nil
}

func replaceNodes(tx *gorm.DB, connID string, nodes []ClusterNode) error {
	if err := tx.Where("connection_id = ?", connID).Delete(&ClusterNode{}).Error; err != nil {
		return err
	}
	if len(nodes) == 0 {
		return nil
	}
	for i := range nodes {
		nodes[i].ConnectionID = connID
	}
	return tx.CreateInBatches(nodes, 200).Error
}

// GetConnection finds a connection by id or name.
func (s *Store) GetConnection(ctx context.Context, idOrName string) (*Connection, error) {
	var c Connection
	err := s.db.WithContext(ctx).Where("id = ? OR name = ?", idOrName, idOrName).First(&c).Error
	return &c, tr(err)
}

// ListConnections lists connections by name.
func (s *Store) ListConnections(ctx context.Context) ([]Connection, error) {
	var cs []Connection
	err := s.db.WithContext(ctx).Order("name").Find(&cs).Error
	return cs, err
}

// ClusterNodes lists a connection's nodes by name.
func (s *Store) ClusterNodes(ctx context.Context, connID string) ([]ClusterNode, error) {
	var ns []ClusterNode
	err := s.db.WithContext(ctx).Where("connection_id = ?", connID).Order("name").Find(&ns).Error
	return ns, err
}

// SetConnectionState moves a connection from one state to another, only if it is still
// in from (ErrStale otherwise).
func (s *Store) SetConnectionState(ctx context.Context, id, from, to string) error {
	res := s.db.WithContext(ctx).Model(&Connection{}).Where("id = ? AND state = ?", id, from).
		Updates(map[string]any{"state": to, "state_changed_at": time.Now().UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrStale
	}
	return nil
}

// CheckOutcome is what a health check found.
type CheckOutcome struct {
	At        time.Time
	Error     string // empty: healthy
	Version   string
	Nodes     []ClusterNode
	FromState string
	ToState   string
}

// RecordCheck stores a health check: its time and error, and when healthy the version
// and nodes. The state moves only if it is still FromState (a person may have changed
// it during the check); the check itself is recorded either way.
func (s *Store) RecordCheck(ctx context.Context, id string, o CheckOutcome) error {
	return tr(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		up := map[string]any{"last_check": o.At, "last_error": o.Error}
		if o.Error == "" {
			up["version"], up["node_count"] = o.Version, len(o.Nodes)
			if err := replaceNodes(tx, id, o.Nodes); err != nil {
				return err
			}
		}
		res := tx.Model(&Connection{}).Where("id = ?", id).Updates(up)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if o.ToState != o.FromState {
			return tx.Model(&Connection{}).Where("id = ? AND state = ?", id, o.FromState).
				Updates(map[string]any{"state": o.ToState, "state_changed_at": o.At}).Error
		}
		return nil
	}))
}

// Flushed counts what removing a connection deleted.
type Flushed struct {
	Connections      int64 `json:"connections"`
	Nodes            int64 `json:"nodes"`
	AgentDeployments int64 `json:"agent_deployments"`
	// InventoryObjects are the objects MeshSync had discovered in the cluster.
	InventoryObjects int64 `json:"inventory_objects"`
}

// DeleteConnection removes a connection and everything stored about its cluster, in one
// transaction: nothing of other clusters is touched.
func (s *Store) DeleteConnection(ctx context.Context, id string) (Flushed, error) {
	var f Flushed
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("connection_id = ?", id).Delete(&AgentDeployment{})
		if res.Error != nil {
			return res.Error
		}
		f.AgentDeployments = res.RowsAffected
		if res = tx.Where("connection_id = ?", id).Delete(&ClusterNode{}); res.Error != nil {
			return res.Error
		}
		f.Nodes = res.RowsAffected
		var c Connection
		if err := tx.Select("cluster_uid").Where("id = ?", id).Limit(1).Find(&c).Error; err != nil {
			return err
		}
		if c.ClusterUID != "" {
			inv, err := flushInventory(tx, c.ClusterUID)
			if err != nil {
				return err
			}
			f.InventoryObjects = inv.Objects
		}
		if res = tx.Where("id = ?", id).Delete(&Connection{}); res.Error != nil {
			return res.Error
		}
		f.Connections = res.RowsAffected
		if f.Connections == 0 {
			return ErrNotFound
		}
		return nil
	})
	return f, tr(err)
}

// SaveAgentDeployment creates or replaces a cluster's agent deployment record.
func (s *Store) SaveAgentDeployment(ctx context.Context, d *AgentDeployment) error {
	return tr(s.db.WithContext(ctx).Save(d).Error)
}

// DeleteAgentDeployment forgets a cluster's agent deployment.
func (s *Store) DeleteAgentDeployment(ctx context.Context, connID, namespace string) error {
	return tr(s.db.WithContext(ctx).Where("connection_id = ? AND namespace = ?", connID, namespace).Delete(&AgentDeployment{}).Error)
}

// AgentDeployments lists agent deployments, of one connection when connID is set.
func (s *Store) AgentDeployments(ctx context.Context, connID string) ([]AgentDeployment, error) {
	var ds []AgentDeployment
	q := s.db.WithContext(ctx).Order("connection_id, namespace")
	if connID != "" {
		q = q.Where("connection_id = ?", connID)
	}
	return ds, q.Find(&ds).Error
}
