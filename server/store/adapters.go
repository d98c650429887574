package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Adapter is a registered mesh adapter (server/adapters): where it is, what it offers
// (as its Info said), and its health.
type Adapter struct {
	ID              string `gorm:"primaryKey;size:36"`
	Address         string `gorm:"size:255;uniqueIndex"`
	Name            string `gorm:"size:128"`
	Mesh            string `gorm:"size:64;index"`
	AdapterVersion  string `gorm:"size:64"`
	ContractVersion string `gorm:"size:16"`
	ChartRepository string `gorm:"type:text"`
	MeshVersions    string `gorm:"type:text"` // JSON list
	Operations      string `gorm:"type:text"` // JSON list of apitypes.AdapterOperation
	Healthy         bool
	LastError       string `gorm:"type:text"`
	LastCheck       time.Time
	RegisteredAt    time.Time
	UpdatedAt       time.Time
}

// MeshOperation is one mesh operation sent to an adapter for some clusters.
type MeshOperation struct {
	ID             string `gorm:"primaryKey;size:64"`
	Mesh           string `gorm:"size:64"`
	AdapterAddress string `gorm:"size:255"`
	Kind           string `gorm:"size:32"`
	Version        string `gorm:"size:64"`
	Namespace      string `gorm:"size:63"`
	Parameters     string `gorm:"type:text"` // JSON object
	ClusterTimeout int
	// State: running, succeeded, failed.
	State     string    `gorm:"size:16;index"`
	Error     string    `gorm:"type:text"`
	CreatedBy string    `gorm:"size:128"`
	CreatedAt time.Time `gorm:"index"`
	// FinishedAt is set once the state is final.
	FinishedAt *time.Time
	// LastSeq is the sequence of the last event stored; AdapterSeq how far the
	// adapter's own event stream was read (in the current attempt); Attempts how many
	// times the operation was applied (a restarted adapter loses it: it is applied again).
	LastSeq    int64
	AdapterSeq int64
	Attempts   int
}

// MeshOperationCluster is one cluster's part of an operation.
type MeshOperationCluster struct {
	OperationID string `gorm:"primaryKey;size:64"`
	Cluster     string `gorm:"primaryKey;size:253"`
	State       string `gorm:"size:16"`
	Error       string `gorm:"type:text"`
	Cause       string `gorm:"type:text"`
	Remedy      string `gorm:"type:text"`
	Details     string `gorm:"type:text"` // JSON object
	Started     *time.Time
	Finished    *time.Time
}

// MeshOperationEvent is one event of an operation, numbered by the server from 1
// without gaps, over the operation (Seq) and per cluster (ClusterSeq): the adapter's
// own numbering restarts when it restarts.
type MeshOperationEvent struct {
	OperationID  string `gorm:"primaryKey;size:64"`
	Seq          int64  `gorm:"primaryKey;autoIncrement:false"`
	Cluster      string `gorm:"size:253"`
	ClusterSeq   int64
	Severity     string `gorm:"size:8"`
	Summary      string `gorm:"type:text"`
	Details      string `gorm:"type:text"`
	Cause        string `gorm:"type:text"`
	Remedy       string `gorm:"type:text"`
	ClusterState string `gorm:"size:16"`
	Time         time.Time
}

// SaveAdapter inserts or updates an adapter by its address (registration is
// idempotent); it returns the stored row.
func (s *Store) SaveAdapter(ctx context.Context, a *Adapter) (*Adapter, error) {
	var out Adapter
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var old Adapter
		err := tx.Where("address = ?", a.Address).First(&old).Error
		switch {
		case err == nil:
			a.ID, a.RegisteredAt = old.ID, old.RegisteredAt
			if err := tx.Save(a).Error; err != nil {
				return err
			}
		case errors.Is(err, gorm.ErrRecordNotFound):
			if err := tx.Create(a).Error; err != nil {
				return err
			}
		default:
			return err
		}
		return tx.Where("id = ?", a.ID).First(&out).Error
	})
	return &out, err
}

// Adapters lists the registered adapters by mesh and address.
func (s *Store) Adapters(ctx context.Context) ([]Adapter, error) {
	var out []Adapter
	return out, s.db.WithContext(ctx).Order("mesh, address").Find(&out).Error
}

// SetAdapterHealth records a health check.
func (s *Store) SetAdapterHealth(ctx context.Context, id string, healthy bool, lastErr string, at time.Time) error {
	return s.db.WithContext(ctx).Model(&Adapter{}).Where("id = ?", id).
		Updates(map[string]any{"healthy": healthy, "last_error": lastErr, "last_check": at}).Error
}

// CreateMeshOperation stores a new operation with its clusters, all pending.
func (s *Store) CreateMeshOperation(ctx context.Context, op *MeshOperation, clusters []string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(op).Error; err != nil {
			return err
		}
		for _, c := range clusters {
			if err := tx.Create(&MeshOperationCluster{OperationID: op.ID, Cluster: c, State: "pending"}).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// GetMeshOperation returns an operation and its clusters (by name).
func (s *Store) GetMeshOperation(ctx context.Context, id string) (*MeshOperation, []MeshOperationCluster, error) {
	var op MeshOperation
	if err := s.db.WithContext(ctx).Where("id = ?", id).First(&op).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, nil, ErrNotFound
		}
		return nil, nil, err
	}
	var cs []MeshOperationCluster
	err := s.db.WithContext(ctx).Where("operation_id = ?", id).Order("cluster").Find(&cs).Error
	return &op, cs, err
}

// MeshOperations lists operations, newest first; state filters when not empty.
func (s *Store) MeshOperations(ctx context.Context, state string, limit int) ([]MeshOperation, error) {
	q := s.db.WithContext(ctx).Order("created_at DESC, id")
	if state != "" {
		q = q.Where("state = ?", state)
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	var out []MeshOperation
	return out, q.Find(&out).Error
}

// MeshOperationClusters returns the clusters of several operations, by operation.
func (s *Store) MeshOperationClusters(ctx context.Context, ids []string) (map[string][]MeshOperationCluster, error) {
	out := map[string][]MeshOperationCluster{}
	if len(ids) == 0 {
		return out, nil
	}
	var cs []MeshOperationCluster
	if err := s.db.WithContext(ctx).Where("operation_id IN ?", ids).Order("operation_id, cluster").Find(&cs).Error; err != nil {
		return nil, err
	}
	for _, c := range cs {
		out[c.OperationID] = append(out[c.OperationID], c)
	}
	return out, nil
}

// AppendMeshOperationEvent stores the next event of an operation (its Seq is set to
// the operation's last + 1), the adapter's cursor, and, when the event ends a
// cluster's part, that cluster's state: one transaction, so a restart resumes exactly
// after the last event stored.
func (s *Store) AppendMeshOperationEvent(ctx context.Context, e *MeshOperationEvent, adapterSeq int64, cluster *MeshOperationCluster) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var op MeshOperation
		if err := tx.Clauses(lockingClause(tx)...).Where("id = ?", e.OperationID).First(&op).Error; err != nil {
			return err
		}
		e.Seq = op.LastSeq + 1
		if e.Cluster != "" {
			// Numbered per cluster by the server too: an adapter that restarted numbers
			// from 1 again.
			var n int64
			if err := tx.Model(&MeshOperationEvent{}).Where("operation_id = ? AND cluster = ?", e.OperationID, e.Cluster).
				Select("COALESCE(MAX(cluster_seq), 0)").Scan(&n).Error; err != nil {
				return err
			}
			e.ClusterSeq = n + 1
		}
		if err := tx.Create(e).Error; err != nil {
			return err
		}
		upd := map[string]any{"last_seq": e.Seq}
		if adapterSeq > 0 {
			upd["adapter_seq"] = adapterSeq
		}
		if err := tx.Model(&MeshOperation{}).Where("id = ?", op.ID).Updates(upd).Error; err != nil {
			return err
		}
		if cluster != nil {
			return tx.Save(cluster).Error
		}
		return nil
	})
}

func lockingClause(tx *gorm.DB) []clause.Expression {
	if tx.Dialector.Name() == "postgres" {
		return []clause.Expression{clause.Locking{Strength: "UPDATE"}}
	}
	return nil
}

// UpdateMeshOperation writes an operation's columns (state, error, attempts ...).
func (s *Store) UpdateMeshOperation(ctx context.Context, id string, fields map[string]any) error {
	return s.db.WithContext(ctx).Model(&MeshOperation{}).Where("id = ?", id).Updates(fields).Error
}

// SaveMeshOperationClusters writes clusters' parts.
func (s *Store) SaveMeshOperationClusters(ctx context.Context, cs []MeshOperationCluster) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for i := range cs {
			if err := tx.Save(&cs[i]).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// MeshOperationEvents lists an operation's events after a sequence, in order.
func (s *Store) MeshOperationEvents(ctx context.Context, id string, after int64, limit int) ([]MeshOperationEvent, error) {
	var out []MeshOperationEvent
	q := s.db.WithContext(ctx).Where("operation_id = ? AND seq > ?", id, after).Order("seq")
	if limit > 0 {
		q = q.Limit(limit)
	}
	return out, q.Find(&out).Error
}
