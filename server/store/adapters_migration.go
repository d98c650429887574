package store

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// adaptersMigration adds the mesh adapters' registry and their operations: each
// operation's per-cluster outcome and its events. The structs are frozen here.
func adaptersMigration() *gormigrate.Migration {
	type Adapter struct {
		ID              string `gorm:"primaryKey;size:36"`
		Address         string `gorm:"size:255;uniqueIndex"`
		Name            string `gorm:"size:128"`
		Mesh            string `gorm:"size:64;index"`
		AdapterVersion  string `gorm:"size:64"`
		ContractVersion string `gorm:"size:16"`
		ChartRepository string `gorm:"type:text"`
		MeshVersions    string `gorm:"type:text"`
		Operations      string `gorm:"type:text"`
		Healthy         bool
		LastError       string `gorm:"type:text"`
		LastCheck       time.Time
		RegisteredAt    time.Time
		UpdatedAt       time.Time
	}
	type MeshOperation struct {
		ID             string `gorm:"primaryKey;size:64"`
		Mesh           string `gorm:"size:64"`
		AdapterAddress string `gorm:"size:255"`
		Kind           string `gorm:"size:32"`
		Version        string `gorm:"size:64"`
		Namespace      string `gorm:"size:63"`
		Parameters     string `gorm:"type:text"`
		ClusterTimeout int
		State          string    `gorm:"size:16;index"`
		Error          string    `gorm:"type:text"`
		CreatedBy      string    `gorm:"size:128"`
		CreatedAt      time.Time `gorm:"index"`
		FinishedAt     *time.Time
		LastSeq        int64
		AdapterSeq     int64
		Attempts       int
	}
	type MeshOperationCluster struct {
		OperationID string `gorm:"primaryKey;size:64"`
		Cluster     string `gorm:"primaryKey;size:253"`
		State       string `gorm:"size:16"`
		Error       string `gorm:"type:text"`
		Cause       string `gorm:"type:text"`
		Remedy      string `gorm:"type:text"`
		Details     string `gorm:"type:text"`
		Started     *time.Time
		Finished    *time.Time
	}
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
	return &gormigrate.Migration{
		ID: "2026120103-adapters",
		Migrate: func(tx *gorm.DB) error {
			return tx.AutoMigrate(&Adapter{}, &MeshOperation{}, &MeshOperationCluster{}, &MeshOperationEvent{})
		},
		Rollback: func(tx *gorm.DB) error {
			return tx.Migrator().DropTable(&MeshOperationEvent{}, &MeshOperationCluster{}, &MeshOperation{}, &Adapter{})
		},
	}
}
