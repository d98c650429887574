package store

import (
	"context"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// ConformanceRun is one conformance run (or an uploaded report): where it ran, what
// mesh it found, its state and the signed report.
type ConformanceRun struct {
	ID          string `gorm:"primaryKey;size:36"`
	ClusterUID  string `gorm:"size:64;index"`
	ClusterName string `gorm:"size:253"`
	Mesh        string `gorm:"size:64;index:idx_conformance_matrix,priority:1"`
	MeshVersion string `gorm:"size:64;index:idx_conformance_matrix,priority:2"`
	Profiles    string `gorm:"size:256"` // comma-separated
	Status      string `gorm:"size:16;index"`
	Error       string `gorm:"type:text"`
	Conformant  bool
	// Report is the signed report, JSON ("" while running).
	Report    string `gorm:"type:text"`
	KeyID     string `gorm:"size:32"`
	CreatedBy string `gorm:"size:128"`
	CreatedAt time.Time
	// FinishedAt is set once the report (or the error) is in.
	FinishedAt *time.Time
}

// States of a conformance run.
const (
	ConformanceRunning  = "running"
	ConformanceDone     = "done"
	ConformanceFailed   = "failed"
	ConformanceUploaded = "uploaded"
)

// ConformanceKey is the server's signing key, its private half sealed by the
// server's secrets box.
type ConformanceKey struct {
	ID        string `gorm:"primaryKey;size:36"`
	PublicKey string `gorm:"size:128;not null"`
	Sealed    []byte `gorm:"not null"`
	CreatedAt time.Time
}

// conformanceMigration adds conformance runs and the server's signing key. The
// structs are frozen here.
func conformanceMigration() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "2026120104-conformance",
		Migrate: func(tx *gorm.DB) error {
			type ConformanceRun struct {
				ID          string `gorm:"primaryKey;size:36"`
				ClusterUID  string `gorm:"size:64;index"`
				ClusterName string `gorm:"size:253"`
				Mesh        string `gorm:"size:64;index:idx_conformance_matrix,priority:1"`
				MeshVersion string `gorm:"size:64;index:idx_conformance_matrix,priority:2"`
				Profiles    string `gorm:"size:256"`
				Status      string `gorm:"size:16;index"`
				Error       string `gorm:"type:text"`
				Conformant  bool
				Report      string `gorm:"type:text"`
				KeyID       string `gorm:"size:32"`
				CreatedBy   string `gorm:"size:128"`
				CreatedAt   time.Time
				FinishedAt  *time.Time
			}
			type ConformanceKey struct {
				ID        string `gorm:"primaryKey;size:36"`
				PublicKey string `gorm:"size:128;not null"`
				Sealed    []byte `gorm:"not null"`
				CreatedAt time.Time
			}
			return tx.AutoMigrate(&ConformanceRun{}, &ConformanceKey{})
		},
		Rollback: func(tx *gorm.DB) error {
			return tx.Migrator().DropTable("conformance_runs", "conformance_keys")
		},
	}
}

// CreateConformanceRun stores a new run.
func (s *Store) CreateConformanceRun(ctx context.Context, r *ConformanceRun) error {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now().UTC()
	}
	return s.db.WithContext(ctx).Create(r).Error
}

// FinishConformanceRun records a run's outcome: its report, or its error.
func (s *Store) FinishConformanceRun(ctx context.Context, id, status, report, keyID, errText string, conformant bool) error {
	now := time.Now().UTC()
	res := s.db.WithContext(ctx).Model(&ConformanceRun{}).Where("id = ?", id).Updates(map[string]any{
		"status": status, "report": report, "key_id": keyID, "error": errText, "conformant": conformant, "finished_at": now})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// GetConformanceRun finds a run by id.
func (s *Store) GetConformanceRun(ctx context.Context, id string) (*ConformanceRun, error) {
	var r ConformanceRun
	err := s.db.WithContext(ctx).First(&r, "id = ?", id).Error
	return &r, tr(err)
}

// ListConformanceRuns lists the newest runs, without their reports.
func (s *Store) ListConformanceRuns(ctx context.Context, limit int) ([]ConformanceRun, error) {
	var rs []ConformanceRun
	err := s.db.WithContext(ctx).Omit("report").Order("created_at desc").Limit(limit).Find(&rs).Error
	return rs, err
}

// FinishedConformanceRuns returns every finished run with its report, oldest first
// (the matrix keeps the newest per mesh, version and profile).
func (s *Store) FinishedConformanceRuns(ctx context.Context) ([]ConformanceRun, error) {
	var rs []ConformanceRun
	err := s.db.WithContext(ctx).Where("status IN ?", []string{ConformanceDone, ConformanceUploaded}).Order("created_at asc").Find(&rs).Error
	return rs, err
}

// FailInterruptedConformanceRuns marks runs left running by a stopped server failed.
func (s *Store) FailInterruptedConformanceRuns(ctx context.Context) error {
	now := time.Now().UTC()
	return s.db.WithContext(ctx).Model(&ConformanceRun{}).Where("status = ?", ConformanceRunning).
		Updates(map[string]any{"status": ConformanceFailed, "error": "the server stopped during the run", "finished_at": now}).Error
}

// ConformanceKey returns the server's signing key, ErrNotFound before the first.
func (s *Store) ConformanceKey(ctx context.Context) (*ConformanceKey, error) {
	var k ConformanceKey
	err := s.db.WithContext(ctx).Order("created_at asc").First(&k).Error
	return &k, tr(err)
}

// PutConformanceKey stores the signing key unless one exists; it returns the one
// kept (replicas starting at once agree on the first).
func (s *Store) PutConformanceKey(ctx context.Context, k *ConformanceKey) (*ConformanceKey, error) {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now().UTC()
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&ConformanceKey{}).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		return tx.Create(k).Error
	})
	if err != nil {
		return nil, err
	}
	return s.ConformanceKey(ctx)
}
