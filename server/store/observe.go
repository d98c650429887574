package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// CountRunsByState counts stored runs by status.
func (s *Store) CountRunsByState(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	err := s.db.WithContext(ctx).Model(&Run{}).Select("status, count(*) as n").Group("status").Scan(&rows).Error
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, err
}

// ObserveStatements calls observe with every statement's operation (create, query,
// update, delete, row, raw) and duration, through gorm's callbacks: the store stays
// ignorant of who measures.
func (s *Store) ObserveStatements(observe func(op string, d time.Duration)) error {
	const startKey = "meshperf:statement_start"
	cb := s.db.Callback()
	before := func(db *gorm.DB) { db.InstanceSet(startKey, time.Now()) }
	after := func(op string) func(*gorm.DB) {
		return func(db *gorm.DB) {
			if v, ok := db.InstanceGet(startKey); ok {
				observe(op, time.Since(v.(time.Time)))
			}
		}
	}
	for _, err := range []error{
		cb.Create().Before("gorm:create").Register("meshperf:before_create", before),
		cb.Create().After("gorm:create").Register("meshperf:after_create", after("create")),
		cb.Query().Before("gorm:query").Register("meshperf:before_query", before),
		cb.Query().After("gorm:query").Register("meshperf:after_query", after("query")),
		cb.Update().Before("gorm:update").Register("meshperf:before_update", before),
		cb.Update().After("gorm:update").Register("meshperf:after_update", after("update")),
		cb.Delete().Before("gorm:delete").Register("meshperf:before_delete", before),
		cb.Delete().After("gorm:delete").Register("meshperf:after_delete", after("delete")),
		cb.Row().Before("gorm:row").Register("meshperf:before_row", before),
		cb.Row().After("gorm:row").Register("meshperf:after_row", after("row")),
		cb.Raw().Before("gorm:raw").Register("meshperf:before_raw", before),
		cb.Raw().After("gorm:raw").Register("meshperf:after_raw", after("raw")),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
