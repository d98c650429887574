package store

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// inventoryMigration adds MeshSync's inventory: objects per (cluster, uid), their
// labels for selectors, where the consumer stands in each cluster's events, and each
// connection's discovery mode and scope. The structs are frozen here.
func inventoryMigration() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "2026120102-inventory",
		Migrate: func(tx *gorm.DB) error {
			type InventoryObject struct {
				ClusterUID      string  `gorm:"primaryKey;size:64;index:idx_inventory_kind,priority:1;index:idx_inventory_name,priority:1;index:idx_inventory_resource,priority:1"`
				UID             string  `gorm:"primaryKey;size:64"`
				Group           string  `gorm:"column:api_group;size:253;index:idx_inventory_resource,priority:3"`
				Version         string  `gorm:"size:64"`
				Resource        string  `gorm:"size:253;index:idx_inventory_resource,priority:2"`
				Kind            string  `gorm:"size:128;index:idx_inventory_kind,priority:2"`
				Namespace       string  `gorm:"size:253;index:idx_inventory_kind,priority:3;index:idx_inventory_name,priority:3"`
				Name            string  `gorm:"size:253;index:idx_inventory_kind,priority:4;index:idx_inventory_name,priority:2"`
				Labels          string  `gorm:"type:text"`
				Annotations     string  `gorm:"type:text"`
				Owners          string  `gorm:"type:text"`
				ResourceVersion string  `gorm:"size:64"`
				Object          *string `gorm:"type:text"`
				Truncated       bool
				Managed         bool `gorm:"index"`
				FirstSeen       time.Time
				LastSeen        time.Time
				Boot            string `gorm:"size:64"`
				Seq             int64
			}
			type InventoryLabel struct {
				ClusterUID string `gorm:"primaryKey;size:64;index:idx_inventory_label,priority:1"`
				UID        string `gorm:"primaryKey;size:64"`
				Key        string `gorm:"primaryKey;size:317;index:idx_inventory_label,priority:2"`
				Value      string `gorm:"size:63;index:idx_inventory_label,priority:3"`
			}
			type InventoryStream struct {
				ClusterUID     string `gorm:"primaryKey;size:64"`
				Boot           string `gorm:"size:64"`
				Seq            int64
				SnapshotID     string `gorm:"size:128"`
				SnapshotBoot   string `gorm:"size:64"`
				SnapshotSeq    int64
				LastSnapshotAt *time.Time
				LastEventAt    *time.Time
				LastAppliedAt  *time.Time
				Status         string `gorm:"type:text"`
				Gaps           int64
				UpdatedAt      time.Time
			}
			type Connection struct {
				MeshSyncMode  string `gorm:"size:16"`
				MeshSyncScope string `gorm:"type:text"`
			}
			if err := tx.AutoMigrate(&InventoryObject{}, &InventoryLabel{}, &InventoryStream{}, &Connection{}); err != nil {
				return err
			}
			if tx.Dialector.Name() == "postgres" {
				// The trimmed object is queried as JSON on PostgreSQL.
				return tx.Exec("ALTER TABLE inventory_objects ALTER COLUMN object TYPE jsonb USING object::jsonb").Error
			}
			return nil
		},
		Rollback: func(tx *gorm.DB) error {
			type Connection struct {
				MeshSyncMode  string
				MeshSyncScope string
			}
			for _, col := range []string{"mesh_sync_mode", "mesh_sync_scope"} {
				if tx.Migrator().HasColumn(&Connection{}, col) {
					if err := tx.Migrator().DropColumn(&Connection{}, col); err != nil {
						return err
					}
				}
			}
			return tx.Migrator().DropTable("inventory_streams", "inventory_labels", "inventory_objects")
		},
	}
}
