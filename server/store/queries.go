package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/smp"
)

// --- users and tokens ---

// HashToken is how a token is stored and looked up.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CountUsers is the number of users (zero on a fresh database).
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&User{}).Count(&n).Error
	return n, err
}

// CreateUserWithToken creates a user and stores the hash of its first token.
func (s *Store) CreateUserWithToken(ctx context.Context, name, role, token string) (*User, error) {
	u, _, err := s.CreateUserWithFirstToken(ctx, name, role, token)
	return u, err
}

// CreateUserWithFirstToken creates a user and its first token (named "initial"),
// returning both rows.
func (s *Store) CreateUserWithFirstToken(ctx context.Context, name, role, token string) (*User, *APIToken, error) {
	u := &User{ID: uuid.NewString(), Name: name, Role: role}
	t := tokenRow(u.ID, "initial", token)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(u).Error; err != nil {
			return tr(err)
		}
		return tx.Create(t).Error
	})
	if err != nil {
		return nil, nil, tr(err)
	}
	return u, t, nil
}

func tokenRow(userID, name, token string) *APIToken {
	id, ok := auth.TokenID(token)
	if !ok {
		id = uuid.NewString()
	}
	return &APIToken{ID: id, UserID: userID, Name: name, Hash: HashToken(token)}
}

// AddToken stores another token for a user.
func (s *Store) AddToken(ctx context.Context, userID, name, token string) (*APIToken, error) {
	t := tokenRow(userID, name, token)
	if err := s.db.WithContext(ctx).Create(t).Error; err != nil {
		return nil, tr(err)
	}
	return t, nil
}

// DeleteToken removes one of a user's tokens ("" userID: any user's, for admins).
func (s *Store) DeleteToken(ctx context.Context, userID, tokenID string) error {
	q := s.db.WithContext(ctx).Where("id = ?", tokenID)
	if userID != "" {
		q = q.Where("user_id = ?", userID)
	}
	res := q.Delete(&APIToken{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// TokenInfo is a token as lists show it: never its secret or hash.
type TokenInfo struct {
	ID         string
	Name       string
	UserID     string
	UserName   string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// ListTokens lists every token with its owner, newest first ("" userID: all users').
func (s *Store) ListTokens(ctx context.Context, userID string) ([]TokenInfo, error) {
	var out []TokenInfo
	q := s.db.WithContext(ctx).Table("api_tokens").
		Select("api_tokens.id, api_tokens.name, api_tokens.user_id, users.name AS user_name, api_tokens.created_at, api_tokens.last_used_at").
		Joins("JOIN users ON users.id = api_tokens.user_id")
	if userID != "" {
		q = q.Where("api_tokens.user_id = ?", userID)
	}
	err := q.Order("api_tokens.created_at DESC, api_tokens.id").Scan(&out).Error
	return out, err
}

// GetUser finds a user by id or name.
func (s *Store) GetUser(ctx context.Context, idOrName string) (*User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("id = ? OR name = ?", idOrName, idOrName).First(&u).Error
	return &u, tr(err)
}

// DeleteUser deletes a user and all its tokens at once.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return tr(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", id).Delete(&APIToken{}).Error; err != nil {
			return err
		}
		res := tx.Where("id = ?", id).Delete(&User{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return nil
	}))
}

// SetRole changes a user's role.
func (s *Store) SetRole(ctx context.Context, id, role string) error {
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", id).Update("role", role)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// CountAdmins counts the users with the admin role.
func (s *Store) CountAdmins(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&User{}).Where("role = ?", "admin").Count(&n).Error
	return n, err
}

// Authenticate finds the user a token belongs to. A token with an id is found by
// it and its hash compared in constant time; others (issued before ids, or chosen by
// the operator) by their hash.
func (s *Store) Authenticate(ctx context.Context, token string) (*User, error) {
	var t APIToken
	found := false
	if id, ok := auth.TokenID(token); ok {
		err := s.db.WithContext(ctx).Where("id = ?", id).First(&t).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, err
		}
		found = err == nil && subtle.ConstantTimeCompare([]byte(t.Hash), []byte(HashToken(token))) == 1
	}
	if !found {
		if err := s.db.WithContext(ctx).Where("hash = ?", HashToken(token)).First(&t).Error; err != nil {
			return nil, tr(err)
		}
	}
	var u User
	if err := s.db.WithContext(ctx).First(&u, "id = ?", t.UserID).Error; err != nil {
		return nil, tr(err)
	}
	// Last use is informative: a minute's precision saves a write per request.
	if t.LastUsedAt == nil || time.Since(*t.LastUsedAt) > time.Minute {
		now := time.Now().UTC()
		s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ?", t.ID).Update("last_used_at", now)
	}
	return &u, nil
}

// ListUsers lists users by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	var us []User
	err := s.db.WithContext(ctx).Order("name").Find(&us).Error
	return us, err
}

// --- profiles ---

// CreateProfile saves version 1 of a new profile.
func (s *Store) CreateProfile(ctx context.Context, p *Profile) error {
	p.ID, p.Version = uuid.NewString(), 1
	return tr(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(p).Error; err != nil {
			return tr(err)
		}
		return tx.Create(&ProfileVersion{ProfileID: p.ID, Version: 1, Config: p.Config, CreatedBy: p.CreatedBy}).Error
	}))
}

// GetProfile finds a profile by id or name.
func (s *Store) GetProfile(ctx context.Context, idOrName string) (*Profile, error) {
	var p Profile
	err := s.db.WithContext(ctx).Where("id = ? OR name = ?", idOrName, idOrName).First(&p).Error
	return &p, tr(err)
}

// ListProfiles lists profiles by name.
func (s *Store) ListProfiles(ctx context.Context) ([]Profile, error) {
	var ps []Profile
	err := s.db.WithContext(ctx).Order("name").Find(&ps).Error
	return ps, err
}

// UpdateProfile saves a new version of a profile. An update whose config equals the
// current one is not a new version.
func (s *Store) UpdateProfile(ctx context.Context, idOrName, config, description, actor string) (*Profile, error) {
	var out Profile
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var p Profile
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ? OR name = ?", idOrName, idOrName).First(&p).Error; err != nil {
			return tr(err)
		}
		if p.Config == config && p.Description == description {
			out = p
			return nil
		}
		if p.Config != config {
			p.Version++
			if err := tx.Create(&ProfileVersion{ProfileID: p.ID, Version: p.Version, Config: config, CreatedBy: actor}).Error; err != nil {
				return tr(err)
			}
		}
		p.Config, p.Description = config, description
		if err := tx.Save(&p).Error; err != nil {
			return err
		}
		out = p
		return nil
	})
	return &out, tr(err)
}

// ProfileVersions lists a profile's versions, newest first.
func (s *Store) ProfileVersions(ctx context.Context, profileID string) ([]ProfileVersion, error) {
	var vs []ProfileVersion
	err := s.db.WithContext(ctx).Where("profile_id = ?", profileID).Order("version desc").Find(&vs).Error
	return vs, err
}

// DeleteProfile deletes a profile and its versions. Its runs and results are kept
// (they carry the profile's name and version); the count of kept results is returned.
func (s *Store) DeleteProfile(ctx context.Context, idOrName string) (keptResults int64, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var p Profile
		if err := tx.Where("id = ? OR name = ?", idOrName, idOrName).First(&p).Error; err != nil {
			return tr(err)
		}
		if err := tx.Model(&Result{}).Where("profile_id = ?", p.ID).Count(&keptResults).Error; err != nil {
			return err
		}
		if err := tx.Where("profile_id = ?", p.ID).Delete(&ProfileVersion{}).Error; err != nil {
			return err
		}
		return tx.Delete(&p).Error
	})
	return keptResults, tr(err)
}

// --- runs ---

// CreateRun stores a new run.
func (s *Store) CreateRun(ctx context.Context, r *Run) error {
	if r.ID == "" {
		r.ID = uuid.NewString()
	}
	return tr(s.db.WithContext(ctx).Create(r).Error)
}

// GetRun finds a run.
func (s *Store) GetRun(ctx context.Context, id string) (*Run, error) {
	var r Run
	err := s.db.WithContext(ctx).First(&r, "id = ?", id).Error
	return &r, tr(err)
}

// ListRuns lists the newest runs.
func (s *Store) ListRuns(ctx context.Context, limit int) ([]Run, error) {
	var rs []Run
	err := s.db.WithContext(ctx).Order("created_at desc").Limit(limit).Find(&rs).Error
	return rs, err
}

// ClaimRun moves a queued run to running for owner; false if it was not queued.
func (s *Store) ClaimRun(ctx context.Context, id, owner string) (bool, error) {
	now := time.Now().UTC()
	res := s.db.WithContext(ctx).Model(&Run{}).Where("id = ? AND status = ?", id, RunQueued).
		Updates(map[string]any{"status": RunRunning, "started_at": now, "owner": owner})
	return res.RowsAffected == 1, res.Error
}

// RunningRuns lists runs left running by owner (or by no owner): what a restarted
// instance recovers. Queued runs are not loaded: the workers take them one by one.
func (s *Store) RunningRuns(ctx context.Context, owner string) ([]Run, error) {
	var rs []Run
	err := s.db.WithContext(ctx).Where("status = ? AND (owner = ? OR owner = '')", RunRunning, owner).
		Order("created_at").Find(&rs).Error
	return rs, err
}

// NextQueuedRun is the oldest queued run's id, or ErrNotFound.
func (s *Store) NextQueuedRun(ctx context.Context) (string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&Run{}).Where("status = ?", RunQueued).
		Order("created_at").Limit(1).Pluck("id", &ids).Error
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", ErrNotFound
	}
	return ids[0], nil
}

// CountQueuedRuns counts queued runs in all and those triggered by one name.
func (s *Store) CountQueuedRuns(ctx context.Context, triggeredBy string) (total, mine int64, err error) {
	q := s.db.WithContext(ctx).Model(&Run{}).Where("status = ?", RunQueued)
	if err = q.Count(&total).Error; err != nil {
		return 0, 0, err
	}
	err = s.db.WithContext(ctx).Model(&Run{}).Where("status = ? AND triggered_by = ?", RunQueued, triggeredBy).Count(&mine).Error
	return total, mine, err
}

// CreateRuns stores many runs at once (imports and tests of large queues).
func (s *Store) CreateRuns(ctx context.Context, rs []Run) error {
	for i := range rs {
		if rs[i].ID == "" {
			rs[i].ID = uuid.NewString()
		}
	}
	return tr(s.db.WithContext(ctx).CreateInBatches(rs, 500).Error)
}

// SetRunPlacement records where a distributed run went.
func (s *Store) SetRunPlacement(ctx context.Context, id, placement string) error {
	return s.db.WithContext(ctx).Model(&Run{}).Where("id = ?", id).Update("placement", placement).Error
}

// FinishRun records a run's final status.
func (s *Store) FinishRun(ctx context.Context, id, status, errMsg string, resultID *string) error {
	now := time.Now().UTC()
	return s.db.WithContext(ctx).Model(&Run{}).Where("id = ?", id).
		Updates(map[string]any{"status": status, "error": errMsg, "result_id": resultID, "finished_at": now}).Error
}

// UnfinishedRuns lists runs left queued or running by owner ("" = any owner).
func (s *Store) UnfinishedRuns(ctx context.Context, owner string) ([]Run, error) {
	var rs []Run
	q := s.db.WithContext(ctx).Where("status IN ?", []string{RunQueued, RunRunning})
	if owner != "" {
		q = q.Where("owner = ? OR owner = ''", owner)
	}
	err := q.Order("created_at").Find(&rs).Error
	return rs, err
}

// AddInterval stores one interval; a repeat of one already stored is ignored.
func (s *Store) AddInterval(ctx context.Context, runID string, iv *smp.Interval) error {
	data, err := pack(iv)
	if err != nil {
		return err
	}
	row := &RunInterval{RunID: runID, Source: iv.Source, Index: iv.Index, Data: data}
	return s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(row).Error
}

// Intervals returns a run's stored intervals in order.
func (s *Store) Intervals(ctx context.Context, runID string) ([]smp.Interval, error) {
	var rows []RunInterval
	if err := s.db.WithContext(ctx).Where("run_id = ?", runID).Order("second, source").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]smp.Interval, 0, len(rows))
	for _, r := range rows {
		var iv smp.Interval
		if err := unpack(r.Data, &iv); err != nil {
			return nil, fmt.Errorf("interval %s/%d of run %s: %w", r.Source, r.Index, runID, err)
		}
		out = append(out, iv)
	}
	return out, nil
}

// --- results ---

// SaveResult stores a result with its summary columns and label index.
func (s *Store) SaveResult(ctx context.Context, r *smp.Result, run *Run) (*Result, error) {
	data, err := pack(r)
	if err != nil {
		return nil, err
	}
	labels, _ := json.Marshal(r.Labels)
	l := r.Summary.Latency
	row := &Result{
		ID: r.ID, RunID: run.ID, ProfileID: run.ProfileID, ProfileName: run.ProfileName, ProfileVersion: run.ProfileVersion,
		Name: r.Name, Status: string(r.Status), StartTime: r.StartTime.UTC(), EndTime: r.EndTime.UTC(),
		Requests: r.Summary.Requests, ErrorRate: r.Summary.ErrorRate, ActualRPS: r.Summary.ActualRPS, TargetRPS: r.Summary.TargetRPS,
		P50Ms: l.P50Ms, P90Ms: l.P90Ms, P99Ms: l.P99Ms, P999Ms: l.P999Ms, MaxMs: l.MaxMs, Saturated: r.Generator.Saturated,
		Labels: string(labels), Data: data,
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(row).Error; err != nil {
			return tr(err)
		}
		for k, v := range r.Labels {
			if err := tx.Create(&ResultLabel{ResultID: row.ID, Key: k, Value: v, StartTime: row.StartTime}).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return row, tr(err)
}

// GetResult returns a result row and the full result.
func (s *Store) GetResult(ctx context.Context, id string) (*Result, *smp.Result, error) {
	var row Result
	err := s.db.WithContext(ctx).First(&row, "id = ?", id).Error
	if tr(err) == ErrNotFound {
		if full, rerr := s.resolveResultID(ctx, id); rerr == nil {
			err = s.db.WithContext(ctx).First(&row, "id = ?", full).Error
		} else {
			err = rerr
		}
	}
	if err != nil {
		return nil, nil, tr(err)
	}
	var r smp.Result
	if err := unpack(row.Data, &r); err != nil {
		return nil, nil, fmt.Errorf("result %s is unreadable: %w", id, err)
	}
	return &row, &r, nil
}

// DeleteResult deletes a result and its labels.
func (s *Store) DeleteResult(ctx context.Context, id string) error {
	return tr(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ?", id).Delete(&Result{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.Where("result_id = ?", id).Delete(&ResultLabel{}).Error
	}))
}

// ResultFilter selects results; zero fields do not filter.
type ResultFilter struct {
	Profile string            // id or name
	Labels  map[string]string // all must match
	Since   time.Time
	Until   time.Time
	Status  string
	Limit   int
	Cursor  string // from the previous page
}

// resultColumns are what a listing returns (not the full data).
const resultColumns = "results.id, results.run_id, results.profile_id, results.profile_name, results.profile_version, " +
	"results.name, results.status, results.start_time, results.end_time, results.requests, results.error_rate, " +
	"results.actual_rps, results.target_rps, results.p50_ms, results.p90_ms, results.p99_ms, results.p999_ms, " +
	"results.max_ms, results.saturated, results.labels, results.created_at"

// ListResults returns one page of results (newest first, without the full data) and
// the cursor of the next page ("" at the end).
//
// With a label filter the page is read from the label index in order (one label
// drives, the others are probed), so its cost does not grow with how many results
// carry the label; without one, from the results' own newest-first index.
func (s *Store) ListResults(ctx context.Context, f ResultFilter) ([]Result, string, error) {
	q := s.db.WithContext(ctx)
	timeCol, idCol := "results.start_time", "results.id"
	keys := make([]string, 0, len(f.Labels))
	for k := range f.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		q = q.Table("result_labels AS l0").Joins("JOIN results ON results.id = l0.result_id").
			Where("l0.key = ? AND l0.value = ?", keys[0], f.Labels[keys[0]])
		timeCol, idCol = "l0.start_time", "l0.result_id"
		// The other labels are probed row by row, in index order. PostgreSQL would turn
		// a plain EXISTS into a hash semi-join, lose the order and sort every match;
		// an OFFSET keeps it a per-row probe (SQLite probes per row anyway).
		fence := ""
		if s.Dialect == "postgres" {
			fence = " OFFSET 0"
		}
		for _, k := range keys[1:] {
			q = q.Where("EXISTS (SELECT 1 FROM result_labels rl WHERE rl.result_id = l0.result_id AND rl.key = ? AND rl.value = ?"+fence+")", k, f.Labels[k])
		}
	} else {
		q = q.Table("results")
	}
	if f.Profile != "" {
		q = q.Where("(results.profile_id = ? OR results.profile_name = ?)", f.Profile, f.Profile)
	}
	if !f.Since.IsZero() {
		q = q.Where(timeCol+" >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where(timeCol+" < ?", f.Until.UTC())
	}
	if f.Status != "" {
		q = q.Where("results.status = ?", f.Status)
	}
	if f.Cursor != "" {
		t, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("("+timeCol+" < ? OR ("+timeCol+" = ? AND "+idCol+" < ?))", t, t, id)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	var rows []Result
	if err := q.Select(resultColumns).Order(timeCol + " desc, " + idCol + " desc").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		next = encodeCursor(last.StartTime, last.ID)
	}
	return rows, next, nil
}

// ErrBadCursor is returned for a cursor this server did not make.
var ErrBadCursor = fmt.Errorf("cursor is not valid")

func encodeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(b), "|")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", ErrBadCursor
	}
	return t, id, nil
}

// --- events ---

// AddEvent appends to the audit trail; a failure here never fails the action.
func (s *Store) AddEvent(ctx context.Context, actor, action, object, detail string) {
	s.db.WithContext(ctx).Create(&Event{Time: time.Now().UTC(), Actor: actor, Action: action, Object: object, Detail: detail})
}

// Events returns the newest audit events.
func (s *Store) Events(ctx context.Context, limit int) ([]Event, error) {
	var es []Event
	err := s.db.WithContext(ctx).Order("id desc").Limit(limit).Find(&es).Error
	return es, err
}

// --- encoding ---

func pack(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func unpack(data []byte, v any) error {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	defer zr.Close()
	b, err := io.ReadAll(io.LimitReader(zr, 256<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// InsertResultRows bulk-inserts prepared result rows and their labels (imports, and
// seeding benchmarks); rows must carry their Data.
func (s *Store) InsertResultRows(ctx context.Context, rows []Result, labels []ResultLabel) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.CreateInBatches(rows, 500).Error; err != nil {
			return tr(err)
		}
		if len(labels) == 0 {
			return nil
		}
		return tx.CreateInBatches(labels, 1000).Error
	})
}

// Analyze refreshes the planner's statistics, after a bulk import: until autovacuum
// gets to it, PostgreSQL plans with guesses.
func (s *Store) Analyze(ctx context.Context) error {
	if s.Dialect == "postgres" {
		return s.db.WithContext(ctx).Exec("ANALYZE results, result_labels").Error
	}
	return s.db.WithContext(ctx).Exec("ANALYZE").Error
}

// Pack compresses a value the way the store keeps results and intervals.
func Pack(v any) ([]byte, error) { return pack(v) }

// --- schedules ---

// CreateSchedule stores a schedule (ErrConflict when the name is taken).
func (s *Store) CreateSchedule(ctx context.Context, sc *Schedule) error {
	if sc.ID == "" {
		sc.ID = uuid.NewString()
	}
	return tr(s.db.WithContext(ctx).Create(sc).Error)
}

// GetSchedule finds a schedule by id or name.
func (s *Store) GetSchedule(ctx context.Context, idOrName string) (*Schedule, error) {
	var sc Schedule
	err := s.db.WithContext(ctx).Where("id = ? OR name = ?", idOrName, idOrName).First(&sc).Error
	return &sc, tr(err)
}

// ListSchedules lists schedules by name.
func (s *Store) ListSchedules(ctx context.Context) ([]Schedule, error) {
	var out []Schedule
	err := s.db.WithContext(ctx).Order("name").Find(&out).Error
	return out, err
}

// SetSchedulePaused pauses or resumes a schedule. Resuming moves LastFire to now:
// firings that fell while paused are not "missed".
func (s *Store) SetSchedulePaused(ctx context.Context, id string, paused bool) error {
	up := map[string]any{"paused": paused}
	if !paused {
		up["last_fire"] = time.Now().UTC()
	}
	res := s.db.WithContext(ctx).Model(&Schedule{}).Where("id = ?", id).Updates(up)
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

// DeleteSchedule deletes a schedule and its firing history; its runs and results stay.
func (s *Store) DeleteSchedule(ctx context.Context, id string) error {
	return tr(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ?", id).Delete(&Schedule{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.Where("schedule_id = ?", id).Delete(&ScheduleFiring{}).Error
	}))
}

// ClaimFiring records a schedule's fire time for owner. Exactly one caller, across all
// servers sharing the database, gets true for a given (schedule, time).
func (s *Store) ClaimFiring(ctx context.Context, scheduleID string, at time.Time, owner, outcome string) (bool, error) {
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&ScheduleFiring{ScheduleID: scheduleID, FireTime: at.UTC(), Owner: owner, Outcome: outcome})
	return res.RowsAffected == 1, res.Error
}

// SetFiringRun records what a claimed firing became.
func (s *Store) SetFiringRun(ctx context.Context, scheduleID string, at time.Time, runID, outcome string) error {
	return s.db.WithContext(ctx).Model(&ScheduleFiring{}).Where("schedule_id = ? AND fire_time = ?", scheduleID, at.UTC()).
		Updates(map[string]any{"run_id": runID, "outcome": outcome}).Error
}

// AdvanceLastFire moves a schedule's LastFire forward (never back).
func (s *Store) AdvanceLastFire(ctx context.Context, id string, at time.Time) error {
	return s.db.WithContext(ctx).Model(&Schedule{}).Where("id = ? AND last_fire < ?", id, at.UTC()).
		Update("last_fire", at.UTC()).Error
}

// Firings is a schedule's history, newest first.
func (s *Store) Firings(ctx context.Context, scheduleID string, limit int) ([]ScheduleFiring, error) {
	var out []ScheduleFiring
	err := s.db.WithContext(ctx).Where("schedule_id = ?", scheduleID).Order("fire_time desc").Limit(limit).Find(&out).Error
	return out, err
}

// TrendPoint is one result's value of a metric.
type TrendPoint struct {
	Time     time.Time `json:"time"`
	Value    float64   `json:"value"`
	ResultID string    `json:"result_id"`
	Status   string    `json:"status"`
}

// summaryColumns are the result columns holding summary figures, by metric name: a
// trend of one of these reads the column; any other metric is read from each stored
// result's summary. What a metric means stays with the caller's getter (perf's metric
// registry); this only says where the database keeps a copy.
var summaryColumns = map[string]string{"p50": "p50_ms", "median": "p50_ms", "p90": "p90_ms", "p99": "p99_ms",
	"p99.9": "p999_ms", "max": "max_ms", "rps": "actual_rps", "error_rate": "error_rate", "requests": "requests"}

// rowSummary is the part of a summary a result row keeps in columns.
func rowSummary(r *Result) smp.Summary {
	return smp.Summary{Requests: r.Requests, ErrorRate: r.ErrorRate, ActualRPS: r.ActualRPS, TargetRPS: r.TargetRPS,
		Latency: smp.LatencySummary{P50Ms: r.P50Ms, P90Ms: r.P90Ms, P99Ms: r.P99Ms, P999Ms: r.P999Ms, MaxMs: r.MaxMs}}
}

// Trend returns a profile's results' values of a metric (named metric, read by get
// from a result's summary), oldest first.
func (s *Store) Trend(ctx context.Context, profileID, metric string, get func(*smp.Summary) float64, since time.Time, limit int) ([]TrendPoint, error) {
	col, inColumn := summaryColumns[metric]
	if !inColumn {
		col = "data"
	}
	var rows []Result
	q := s.db.WithContext(ctx).Model(&Result{}).Select("id, start_time, status, "+col).Where("profile_id = ?", profileID)
	if !since.IsZero() {
		q = q.Where("start_time >= ?", since.UTC())
	}
	if err := q.Order("start_time desc").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]TrendPoint, len(rows))
	for i := range rows {
		r := &rows[i]
		sum := rowSummary(r)
		if !inColumn {
			var stored struct {
				Summary smp.Summary `json:"summary"`
			}
			if err := unpack(r.Data, &stored); err != nil {
				return nil, fmt.Errorf("result %s: %w", r.ID, err)
			}
			sum = stored.Summary
		}
		out[len(rows)-1-i] = TrendPoint{Time: r.StartTime, Value: get(&sum), ResultID: r.ID, Status: r.Status}
	}
	return out, nil
}
