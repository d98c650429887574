package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Inventory queries: MeshSync's objects per (cluster, uid), written in batches by one
// writer per cluster (server/inventory), read by the API.

// InventoryTx is one batch of a cluster's inventory, in one transaction. Upserts are
// buffered (the last of a uid wins) and written together before any delete or sweep
// and at commit, so a batch costs a few statements, not one per event.
type InventoryTx struct {
	tx      *gorm.DB
	cluster string
	pending map[string]*InventoryObject
	order   []string
	// Touched lists the uids of the objects this batch wrote (in order, once each).
	Touched []string
}

// ApplyInventory runs fn in one transaction over clusterUID's inventory.
func (s *Store) ApplyInventory(ctx context.Context, clusterUID string, fn func(*InventoryTx) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.Dialect == "postgres" {
			// Every statement here finds rows by key. Generic plans of the batch's
			// IN lists, and a table filling faster than autovacuum analyzes it, made
			// the planner scan a whole index per batch: a 50k-object snapshot took
			// 40 s instead of 3.
			for _, set := range []string{"SET LOCAL plan_cache_mode = force_custom_plan", "SET LOCAL enable_seqscan = off"} {
				if err := tx.Exec(set).Error; err != nil {
					return err
				}
			}
		}
		t := &InventoryTx{tx: tx, cluster: clusterUID, pending: map[string]*InventoryObject{}}
		if err := fn(t); err != nil {
			return err
		}
		return t.flush()
	})
}

// Stream reads where the consumer stands in the cluster's events (a zero row, not
// stored yet, the first time).
func (t *InventoryTx) Stream() (*InventoryStream, error) {
	var st InventoryStream
	err := t.tx.Where("cluster_uid = ?", t.cluster).Limit(1).Find(&st).Error
	if err != nil {
		return nil, err
	}
	st.ClusterUID = t.cluster
	return &st, nil
}

// SaveStream stores where the consumer stands.
func (t *InventoryTx) SaveStream(st *InventoryStream) error {
	st.ClusterUID = t.cluster
	st.UpdatedAt = time.Now().UTC()
	return t.tx.Save(st).Error
}

// Upsert writes an object (its ClusterUID is the batch's).
func (t *InventoryTx) Upsert(o InventoryObject) {
	o.ClusterUID = t.cluster
	if _, ok := t.pending[o.UID]; !ok {
		t.order = append(t.order, o.UID)
	}
	t.pending[o.UID] = &o
}

// Delete removes an object; it reports whether a stored row went.
func (t *InventoryTx) Delete(uid string) (bool, error) {
	if _, ok := t.pending[uid]; ok {
		delete(t.pending, uid)
	}
	if err := t.tx.Where("cluster_uid = ? AND uid = ?", t.cluster, uid).Delete(&InventoryLabel{}).Error; err != nil {
		return false, err
	}
	res := t.tx.Where("cluster_uid = ? AND uid = ?", t.cluster, uid).Delete(&InventoryObject{})
	return res.RowsAffected > 0, res.Error
}

// GroupResource names a resource without its version: objects listed under another
// version of the same resource are the same objects.
type GroupResource struct{ Group, Resource string }

// Sweep ends a snapshot: it removes the cluster's objects of resources that were not
// touched by an event of boot with a sequence above afterSeq (the start marker's), and
// returns the uids removed.
func (t *InventoryTx) Sweep(resources []GroupResource, boot string, afterSeq int64) ([]string, error) {
	if len(resources) == 0 {
		return nil, nil
	}
	if err := t.flush(); err != nil {
		return nil, err
	}
	var conds []string
	args := []any{t.cluster}
	for _, r := range resources {
		conds = append(conds, "(resource = ? AND api_group = ?)")
		args = append(args, r.Resource, r.Group)
	}
	where := "cluster_uid = ? AND (" + strings.Join(conds, " OR ") + ") AND NOT (boot = ? AND seq > ?)"
	args = append(args, boot, afterSeq)
	var uids []string
	if err := t.tx.Model(&InventoryObject{}).Where(where, args...).Pluck("uid", &uids).Error; err != nil {
		return nil, err
	}
	for start := 0; start < len(uids); start += 500 {
		chunk := uids[start:min(start+500, len(uids))]
		if err := t.tx.Where("cluster_uid = ? AND uid IN ?", t.cluster, chunk).Delete(&InventoryLabel{}).Error; err != nil {
			return nil, err
		}
		if err := t.tx.Where("cluster_uid = ? AND uid IN ?", t.cluster, chunk).Delete(&InventoryObject{}).Error; err != nil {
			return nil, err
		}
	}
	return uids, nil
}

// flush writes the buffered upserts with their labels.
func (t *InventoryTx) flush() error {
	if len(t.order) == 0 {
		return nil
	}
	var rows []*InventoryObject
	var uids []string
	for _, uid := range t.order {
		if o, ok := t.pending[uid]; ok {
			rows, uids = append(rows, o), append(uids, uid)
		}
	}
	t.pending, t.order = map[string]*InventoryObject{}, nil
	if len(rows) == 0 {
		return nil
	}
	// No lookup first: an upsert keeps first_seen, and labels are rewritten for
	// every row written (a probe per batch grew with the table on PostgreSQL before
	// its statistics caught up).
	var labels []InventoryLabel
	for _, o := range rows {
		var m map[string]string
		_ = json.Unmarshal([]byte(o.Labels), &m)
		for k, v := range m {
			labels = append(labels, InventoryLabel{ClusterUID: t.cluster, UID: o.UID, Key: k, Value: v})
		}
	}
	for start := 0; start < len(uids); start += 500 {
		chunk := uids[start:min(start+500, len(uids))]
		if err := t.tx.Where("cluster_uid = ? AND uid IN ?", t.cluster, chunk).Delete(&InventoryLabel{}).Error; err != nil {
			return err
		}
	}
	if err := t.tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "cluster_uid"}, {Name: "uid"}},
		DoUpdates: clause.AssignmentColumns(inventoryUpdateColumns),
	}).CreateInBatches(rows, 100).Error; err != nil {
		return err
	}
	if len(labels) > 0 {
		if err := t.tx.CreateInBatches(labels, 500).Error; err != nil {
			return err
		}
	}
	t.Touched = append(t.Touched, uids...)
	return nil
}

// inventoryUpdateColumns are what an upsert replaces (first_seen stays).
var inventoryUpdateColumns = []string{"api_group", "version", "resource", "kind", "namespace", "name", "labels",
	"annotations", "owners", "resource_version", "object", "truncated", "managed", "last_seen", "boot", "seq"}

// InventoryFlushed counts what flushing a cluster's inventory removed.
type InventoryFlushed struct {
	Objects int64 `json:"objects"`
	Labels  int64 `json:"labels"`
}

// FlushInventory removes everything discovered of one cluster (and where its events
// stood), touching no other cluster.
func (s *Store) FlushInventory(ctx context.Context, clusterUID string) (InventoryFlushed, error) {
	var f InventoryFlushed
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		f, err = flushInventory(tx, clusterUID)
		return err
	})
	return f, err
}

func flushInventory(tx *gorm.DB, clusterUID string) (InventoryFlushed, error) {
	var f InventoryFlushed
	res := tx.Where("cluster_uid = ?", clusterUID).Delete(&InventoryLabel{})
	if res.Error != nil {
		return f, res.Error
	}
	f.Labels = res.RowsAffected
	if res = tx.Where("cluster_uid = ?", clusterUID).Delete(&InventoryObject{}); res.Error != nil {
		return f, res.Error
	}
	f.Objects = res.RowsAffected
	return f, tx.Where("cluster_uid = ?", clusterUID).Delete(&InventoryStream{}).Error
}

// LabelRequirement is one term of a label selector: Op is in, notin, exists or
// !exists (= and != are in and notin with one value).
type LabelRequirement struct {
	Key    string
	Op     string
	Values []string
}

// InventoryFilter selects inventory objects; empty fields match everything.
type InventoryFilter struct {
	Cluster   string // cluster UID
	Kind      string
	Namespace string
	Name      string
	Labels    []LabelRequirement
	Managed   *bool
	Limit     int    // default 100
	Cursor    string // from the previous page
}

// ListInventory returns one page of objects (by cluster, kind, namespace, name; without
// the trimmed object) and the next page's cursor ("" at the end).
func (s *Store) ListInventory(ctx context.Context, f InventoryFilter) ([]InventoryObject, string, error) {
	q := s.db.WithContext(ctx).Model(&InventoryObject{}).Omit("object")
	if f.Cluster != "" {
		q = q.Where("cluster_uid = ?", f.Cluster)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if f.Namespace != "" {
		q = q.Where("namespace = ?", f.Namespace)
	}
	if f.Name != "" {
		q = q.Where("name = ?", f.Name)
	}
	if f.Managed != nil {
		q = q.Where("managed = ?", *f.Managed)
	}
	const has = "EXISTS (SELECT 1 FROM inventory_labels l WHERE l.cluster_uid = inventory_objects.cluster_uid AND l.uid = inventory_objects.uid AND l.key = ?"
	for _, r := range f.Labels {
		switch r.Op {
		case "in":
			q = q.Where(has+" AND l.value IN ?)", r.Key, r.Values)
		case "notin":
			q = q.Where("NOT "+has+" AND l.value IN ?)", r.Key, r.Values)
		case "exists":
			q = q.Where(has+")", r.Key)
		case "!exists":
			q = q.Where("NOT "+has+")", r.Key)
		default:
			return nil, "", fmt.Errorf("label operator %q is not supported", r.Op)
		}
	}
	if f.Cursor != "" {
		k, err := decodeInventoryCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("(cluster_uid, kind, namespace, name, uid) > (?, ?, ?, ?, ?)", k[0], k[1], k[2], k[3], k[4])
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	cols := []string{"cluster_uid", "uid", "api_group", "version", "resource", "kind", "namespace", "name", "labels",
		"annotations", "owners", "resource_version", "truncated", "managed", "first_seen", "last_seen", "boot", "seq"}
	var rows []InventoryObject
	if err := q.Select(cols).Order("cluster_uid, kind, namespace, name, uid").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		l := rows[len(rows)-1]
		next = encodeInventoryCursor([5]string{l.ClusterUID, l.Kind, l.Namespace, l.Name, l.UID})
	}
	return rows, next, nil
}

func encodeInventoryCursor(k [5]string) string {
	b, _ := json.Marshal(k)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeInventoryCursor(c string) ([5]string, error) {
	var k [5]string
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || json.Unmarshal(b, &k) != nil || k[0] == "" || k[4] == "" {
		return k, ErrBadCursor
	}
	return k, nil
}

// GetInventoryObject returns one object of a cluster, with its trimmed object.
func (s *Store) GetInventoryObject(ctx context.Context, clusterUID, uid string) (*InventoryObject, error) {
	var o InventoryObject
	err := s.db.WithContext(ctx).Where("cluster_uid = ? AND uid = ?", clusterUID, uid).First(&o).Error
	return &o, tr(err)
}

// InventoryObjectsOfKinds returns a cluster's objects of the kinds, with their trimmed
// objects (what fingerprints read).
func (s *Store) InventoryObjectsOfKinds(ctx context.Context, clusterUID string, kinds []string) ([]InventoryObject, error) {
	var rows []InventoryObject
	err := s.db.WithContext(ctx).Where("cluster_uid = ? AND kind IN ?", clusterUID, kinds).
		Order("kind, namespace, name").Find(&rows).Error
	return rows, err
}

// KindCount is how many objects of a kind a cluster has.
type KindCount struct {
	ClusterUID string `json:"cluster_uid"`
	Group      string `json:"group" gorm:"column:api_group"`
	Kind       string `json:"kind"`
	Count      int64  `json:"count"`
}

// InventoryCounts counts objects per kind per cluster (of one cluster when set).
func (s *Store) InventoryCounts(ctx context.Context, clusterUID string) ([]KindCount, error) {
	q := s.db.WithContext(ctx).Model(&InventoryObject{}).Select("cluster_uid, api_group, kind, COUNT(*) AS count")
	if clusterUID != "" {
		q = q.Where("cluster_uid = ?", clusterUID)
	}
	var out []KindCount
	err := q.Group("cluster_uid, api_group, kind").Order("cluster_uid, kind, api_group").Scan(&out).Error
	return out, err
}

// CountInventory counts a cluster's objects.
func (s *Store) CountInventory(ctx context.Context, clusterUID string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&InventoryObject{}).Where("cluster_uid = ?", clusterUID).Count(&n).Error
	return n, err
}

// InventoryStreamOf returns where the consumer stands in a cluster's events (nil if it
// has heard nothing of the cluster).
func (s *Store) InventoryStreamOf(ctx context.Context, clusterUID string) (*InventoryStream, error) {
	var st []InventoryStream
	if err := s.db.WithContext(ctx).Where("cluster_uid = ?", clusterUID).Limit(1).Find(&st).Error; err != nil {
		return nil, err
	}
	if len(st) == 0 {
		return nil, nil
	}
	return &st[0], nil
}

// ClusterUIDs lists the clusters of every connection (known clusters).
func (s *Store) ClusterUIDs(ctx context.Context) (map[string]bool, error) {
	var uids []string
	if err := s.db.WithContext(ctx).Model(&Connection{}).Where("state <> ?", "deleted").Pluck("cluster_uid", &uids).Error; err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(uids))
	for _, u := range uids {
		m[u] = true
	}
	return m, nil
}

// SetConnectionMeshSync sets a connection's discovery mode and scope (JSON).
func (s *Store) SetConnectionMeshSync(ctx context.Context, id, mode, scope string) error {
	res := s.db.WithContext(ctx).Model(&Connection{}).Where("id = ?", id).
		Updates(map[string]any{"mesh_sync_mode": mode, "mesh_sync_scope": scope})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
