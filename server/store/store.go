package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Errors the API turns into status codes.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
)

// Store is the database behind the server.
type Store struct {
	db      *gorm.DB
	Dialect string // "sqlite" or "postgres"
}

// Open connects to databaseURL (postgres://...) or, when it is empty, to the SQLite file
// meshperf.db under dataDir; then applies pending migrations.
func Open(ctx context.Context, databaseURL, dataDir string, upTo ...string) (*Store, error) {
	var dial gorm.Dialector
	s := &Store{}
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		dial, s.Dialect = postgres.Open(databaseURL), "postgres"
	case databaseURL == "" || strings.HasPrefix(databaseURL, "sqlite://"):
		path := strings.TrimPrefix(databaseURL, "sqlite://")
		if path == "" {
			if err := os.MkdirAll(dataDir, 0o700); err != nil {
				return nil, fmt.Errorf("data dir: %w", err)
			}
			path = filepath.Join(dataDir, "meshperf.db")
		}
		// SQLite would create the file with the process umask (often world-readable);
		// it holds token hashes and sealed credentials. Its -wal and -shm files take
		// the database file's mode.
		if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			f.Close()
		} else if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("creating the database file: %w", err)
		}
		// WAL lets readers proceed during a write; busy_timeout waits instead of failing;
		// immediate transactions take the write lock at BEGIN, so two processes
		// migrating at once serialize instead of failing on a stale snapshot.
		dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		dial, s.Dialect = sqlite.Open(dsn), "sqlite"
	default:
		return nil, fmt.Errorf("--database-url must be postgres://... or sqlite://PATH, got %q", redactURL(databaseURL))
	}
	gcfg := &gorm.Config{
		Logger:         logger.Discard,
		TranslateError: true,
		NowFunc:        func() time.Time { return time.Now().UTC() },
	}
	db, err := gorm.Open(dial, gcfg)
	// Switching a new SQLite file to WAL needs it alone and may answer SQLITE_BUSY
	// without waiting when another process opens it at the same moment; the mode then
	// sticks to the file, so a retry is enough.
	for try := 0; err != nil && s.Dialect == "sqlite" && isBusy(err) && try < 50; try++ {
		time.Sleep(100 * time.Millisecond)
		db, err = gorm.Open(dial, gcfg)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if s.Dialect == "sqlite" {
		sqlDB.SetMaxOpenConns(1) // SQLite has one writer; one connection never sees SQLITE_BUSY
	} else {
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(10)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	s.db = db.WithContext(ctx)
	target := ""
	if len(upTo) > 0 {
		target = upTo[0]
	}
	if err := s.migrate(ctx, target); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	s.db = db
	return s, nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// migrations are applied in order and recorded; never edit one that has shipped, add
// another. Each freezes the structs it migrates, so later model changes cannot alter
// what it does; TestSchemaMatchesModels checks the models and the migrations agree.
func migrations() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		{
			// The initial schema, frozen here: later model changes must come as new
			// migrations, never by editing this one.
			ID: "2026112101-initial",
			Migrate: func(tx *gorm.DB) error {
				type User struct {
					ID        string `gorm:"primaryKey;size:36"`
					Name      string `gorm:"size:128;uniqueIndex;not null"`
					Role      string `gorm:"size:16;not null"`
					CreatedAt time.Time
				}
				type APIToken struct {
					ID         string `gorm:"primaryKey;size:36"`
					UserID     string `gorm:"size:36;index;not null"`
					Name       string `gorm:"size:128"`
					Hash       string `gorm:"size:64;uniqueIndex;not null"`
					Prefix     string `gorm:"size:16"`
					CreatedAt  time.Time
					LastUsedAt *time.Time
				}
				type Profile struct {
					ID          string `gorm:"primaryKey;size:36"`
					Name        string `gorm:"size:128;uniqueIndex;not null"`
					Description string `gorm:"size:1024"`
					Version     int    `gorm:"not null"`
					Config      string `gorm:"type:text;not null"`
					CreatedBy   string `gorm:"size:128"`
					CreatedAt   time.Time
					UpdatedAt   time.Time
				}
				type ProfileVersion struct {
					ProfileID string `gorm:"primaryKey;size:36"`
					Version   int    `gorm:"primaryKey"`
					Config    string `gorm:"type:text;not null"`
					CreatedBy string `gorm:"size:128"`
					CreatedAt time.Time
				}
				type Run struct {
					ID             string  `gorm:"primaryKey;size:36"`
					ProfileID      *string `gorm:"size:36;index"`
					ProfileName    string  `gorm:"size:128"`
					ProfileVersion int
					Status         string    `gorm:"size:16;index;not null"`
					Config         string    `gorm:"type:text;not null"`
					Overrides      string    `gorm:"type:text"`
					TriggeredBy    string    `gorm:"size:128"`
					Error          string    `gorm:"type:text"`
					ResultID       *string   `gorm:"size:36"`
					CreatedAt      time.Time `gorm:"index"`
					StartedAt      *time.Time
					FinishedAt     *time.Time
					Owner          string `gorm:"size:64;index"`
				}
				type RunInterval struct {
					RunID  string `gorm:"primaryKey;size:36"`
					Source string `gorm:"primaryKey;size:128"`
					Index  int    `gorm:"primaryKey;column:second"`
					Data   []byte `gorm:"not null"`
				}
				type Result struct {
					ID             string  `gorm:"primaryKey;size:36;index:idx_results_newest,priority:2,sort:desc"`
					RunID          string  `gorm:"size:36;index"`
					ProfileID      *string `gorm:"size:36;index"`
					ProfileName    string  `gorm:"size:128"`
					ProfileVersion int
					Name           string    `gorm:"size:256"`
					Status         string    `gorm:"size:16;index"`
					StartTime      time.Time `gorm:"index:idx_results_newest,priority:1,sort:desc"`
					EndTime        time.Time
					Requests       int64
					ErrorRate      float64
					ActualRPS      float64
					TargetRPS      float64
					P50Ms          float64
					P90Ms          float64
					P99Ms          float64
					P999Ms         float64
					MaxMs          float64
					Saturated      bool
					Labels         string `gorm:"type:text"`
					Data           []byte `gorm:"not null"`
					CreatedAt      time.Time
				}
				type ResultLabel struct {
					ResultID  string    `gorm:"primaryKey;size:36;index:idx_label_newest,priority:4,sort:desc"`
					Key       string    `gorm:"primaryKey;size:128;index:idx_label_newest,priority:1"`
					Value     string    `gorm:"size:256;index:idx_label_newest,priority:2"`
					StartTime time.Time `gorm:"index:idx_label_newest,priority:3,sort:desc"`
				}
				type Event struct {
					ID     uint64    `gorm:"primaryKey;autoIncrement"`
					Time   time.Time `gorm:"index"`
					Actor  string    `gorm:"size:128"`
					Action string    `gorm:"size:64"`
					Object string    `gorm:"size:128"`
					Detail string    `gorm:"type:text"`
				}
				return tx.AutoMigrate(&User{}, &APIToken{}, &Profile{}, &ProfileVersion{}, &Run{}, &RunInterval{},
					&Result{}, &ResultLabel{}, &Event{})
			},
			Rollback: func(tx *gorm.DB) error {
				return tx.Migrator().DropTable("events", "result_labels", "results", "run_intervals", "runs",
					"profile_versions", "profiles", "api_tokens", "users")
			},
		},
		{
			// Schedules; the structs are frozen here so later model changes cannot alter
			// what this migration does.
			ID: "2026112102-schedules",
			Migrate: func(tx *gorm.DB) error {
				type Schedule struct {
					ID        string `gorm:"primaryKey;size:36"`
					Name      string `gorm:"size:128;uniqueIndex;not null"`
					ProfileID string `gorm:"size:36;index;not null"`
					Cron      string `gorm:"size:128;not null"`
					Missed    string `gorm:"size:16;not null"`
					Paused    bool
					LastFire  time.Time
					CreatedBy string `gorm:"size:128"`
					CreatedAt time.Time
					UpdatedAt time.Time
				}
				type ScheduleFiring struct {
					ScheduleID string    `gorm:"primaryKey;size:36"`
					FireTime   time.Time `gorm:"primaryKey"`
					RunID      string    `gorm:"size:36"`
					Owner      string    `gorm:"size:64"`
					Outcome    string    `gorm:"size:32"`
					CreatedAt  time.Time
				}
				type Run struct {
					ScheduleID *string `gorm:"size:36;index"`
				}
				if err := tx.AutoMigrate(&Schedule{}, &ScheduleFiring{}); err != nil {
					return err
				}
				return tx.AutoMigrate(&Run{})
			},
			Rollback: func(tx *gorm.DB) error {
				if err := tx.Migrator().DropColumn("runs", "schedule_id"); err != nil {
					return err
				}
				return tx.Migrator().DropTable("schedule_firings", "schedules")
			},
		},
		{
			ID: "2026112103-run-placement",
			Migrate: func(tx *gorm.DB) error {
				type Run struct {
					Placement string `gorm:"type:text"`
				}
				return tx.AutoMigrate(&Run{})
			},
			Rollback: func(tx *gorm.DB) error { return tx.Migrator().DropColumn("runs", "placement") },
		},
		{
			ID: "2026112104-connections",
			Migrate: func(tx *gorm.DB) error {
				type Connection struct {
					ID             string `gorm:"primaryKey;size:36"`
					Kind           string `gorm:"size:32;index;not null"`
					Name           string `gorm:"size:128;uniqueIndex;not null"`
					State          string `gorm:"size:16;index;not null"`
					ClusterUID     string `gorm:"size:64;uniqueIndex;not null"`
					Server         string `gorm:"size:512"`
					Credential     []byte `gorm:"not null"`
					Version        string `gorm:"size:64"`
					NodeCount      int
					LastCheck      *time.Time
					LastError      string `gorm:"type:text"`
					StateChangedAt time.Time
					CreatedBy      string `gorm:"size:128"`
					CreatedAt      time.Time
					UpdatedAt      time.Time
				}
				type ClusterNode struct {
					ConnectionID   string `gorm:"primaryKey;size:36"`
					Name           string `gorm:"primaryKey;size:253"`
					InstanceType   string `gorm:"size:128"`
					KubeletVersion string `gorm:"size:64"`
					Cores          int32
					MemoryMB       int64
					Ready          bool
				}
				type AgentDeployment struct {
					ConnectionID string `gorm:"primaryKey;size:36"`
					Namespace    string `gorm:"primaryKey;size:63"`
					Replicas     int32
					Ready        int32
					Image        string `gorm:"size:512"`
					BrokerURL    string `gorm:"size:512"`
					BrokerSource string `gorm:"size:32"`
					Status       string `gorm:"size:16"`
					Error        string `gorm:"type:text"`
					UpdatedBy    string `gorm:"size:128"`
					CreatedAt    time.Time
					UpdatedAt    time.Time
				}
				return tx.AutoMigrate(&Connection{}, &ClusterNode{}, &AgentDeployment{})
			},
			Rollback: func(tx *gorm.DB) error {
				return tx.Migrator().DropTable("agent_deployments", "cluster_nodes", "connections")
			},
		},
		{
			// Tokens stored their first 12 characters in clear: with a short
			// operator-chosen token, the rest fell to brute force against the unsalted
			// hash. The column goes; tokens issued from now on carry a non-secret id
			// (mpt_<id>_<secret>) and are found by it. Existing tokens keep working
			// through their hash.
			ID: "2026120101-token-prefix-gone",
			Migrate: func(tx *gorm.DB) error {
				type APIToken struct {
					ID     string `gorm:"primaryKey;size:36"`
					Prefix string `gorm:"size:16"`
				}
				if !tx.Migrator().HasColumn(&APIToken{}, "prefix") {
					return nil
				}
				if err := tx.Exec("UPDATE api_tokens SET prefix = ''").Error; err != nil {
					return err
				}
				if err := tx.Migrator().DropColumn(&APIToken{}, "prefix"); err != nil {
					return err
				}
				// SQLite drops a column by rebuilding the table, without its indexes.
				if err := tx.Exec("CREATE INDEX IF NOT EXISTS idx_api_tokens_user_id ON api_tokens (user_id)").Error; err != nil {
					return err
				}
				return tx.Exec("CREATE UNIQUE INDEX IF NOT EXISTS idx_api_tokens_hash ON api_tokens (hash)").Error
			},
			Rollback: func(tx *gorm.DB) error {
				type APIToken struct {
					Prefix string `gorm:"size:16"`
				}
				return tx.AutoMigrate(&APIToken{})
			},
		},
		inventoryMigration(),
		adaptersMigration(),
		conformanceMigration(),
	}
}

// MigrationIDs lists every migration, oldest first.
func MigrationIDs() []string {
	var ids []string
	for _, m := range migrations() {
		ids = append(ids, m.ID)
	}
	return ids
}

// OpenAt opens a database migrated only up to migration id: to test upgrades.
func OpenAt(ctx context.Context, databaseURL, dataDir, id string) (*Store, error) {
	s, err := Open(ctx, databaseURL, dataDir, id)
	return s, err
}

// migrate applies pending migrations. On PostgreSQL an advisory lock serializes
// replicas starting at once: the second waits, then finds nothing to do.
func (s *Store) migrate(ctx context.Context, upTo string) error {
	opts := *gormigrate.DefaultOptions
	opts.TableName = "schema_migrations"
	opts.UseTransaction = true
	run := func(tx *gorm.DB) error {
		g := gormigrate.New(tx, &opts, migrations())
		var err error
		if upTo != "" {
			err = g.MigrateTo(upTo)
		} else {
			err = g.Migrate()
		}
		if err != nil {
			return fmt.Errorf("migrating the database: %w", err)
		}
		return nil
	}
	if s.Dialect != "postgres" {
		return run(s.db)
	}
	h := fnv.New64a()
	h.Write([]byte("meshperf-schema-migrations"))
	key := int64(h.Sum64() >> 1)
	return s.db.Connection(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_lock(?)", key).Error; err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		defer tx.WithContext(context.WithoutCancel(ctx)).Exec("SELECT pg_advisory_unlock(?)", key)
		return run(tx)
	})
}

// AppliedMigrations lists the IDs of applied migrations.
func (s *Store) AppliedMigrations(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Table("schema_migrations").Order("id").Pluck("id", &ids).Error
	return ids, err
}

func isBusy(err error) bool {
	m := err.Error()
	return strings.Contains(m, "SQLITE_BUSY") || strings.Contains(m, "database is locked")
}

// tr maps gorm's errors to the store's.
func tr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ErrConflict
	}
	return err
}

// redactURL hides a password in a connection URL, for error messages and logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// models are the live structs the migrations must have built.
func models() []any {
	return []any{&User{}, &APIToken{}, &Profile{}, &ProfileVersion{}, &Run{}, &RunInterval{}, &Result{}, &ResultLabel{},
		&Event{}, &Schedule{}, &ScheduleFiring{}, &Connection{}, &ClusterNode{}, &AgentDeployment{},
		&InventoryObject{}, &InventoryLabel{}, &InventoryStream{},
		&Adapter{}, &MeshOperation{}, &MeshOperationCluster{}, &MeshOperationEvent{}}
}

// SchemaDrift lists what the models declare and the migrated database lacks: tables,
// columns, indexes. Empty when the migrations and the models agree.
func (s *Store) SchemaDrift(ctx context.Context) ([]string, error) {
	var drift []string
	m := s.db.WithContext(ctx).Migrator()
	for _, model := range models() {
		stmt := &gorm.Statement{DB: s.db}
		if err := stmt.Parse(model); err != nil {
			return nil, err
		}
		table := stmt.Schema.Table
		if !m.HasTable(model) {
			drift = append(drift, "table "+table)
			continue
		}
		for _, f := range stmt.Schema.Fields {
			if f.DBName != "" && !m.HasColumn(model, f.DBName) {
				drift = append(drift, "column "+table+"."+f.DBName)
			}
		}
		for _, idx := range stmt.Schema.ParseIndexes() {
			if !m.HasIndex(model, idx.Name) {
				drift = append(drift, "index "+table+"."+idx.Name)
			}
		}
	}
	return drift, nil
}

// Columns lists a table's columns (for tests of migrations).
func (s *Store) Columns(ctx context.Context, table string) ([]string, error) {
	types, err := s.db.WithContext(ctx).Migrator().ColumnTypes(table)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(types))
	for i, c := range types {
		names[i] = c.Name()
	}
	return names, nil
}
