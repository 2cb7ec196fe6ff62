package inventory

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver (cgo)
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DefaultPath is the database file used when neither --db nor NHI_DB is set.
const DefaultPath = "nhi.db"

// Store is an open inventory database. One write connection (SQLite has a
// single writer anyway), a separate read pool.
type Store struct {
	path string
	w    *sql.DB
	r    *sql.DB
	keys *Keyring
	// clock stamps scan rows (start and finish); nil is the wall clock.
	clock func() time.Time
}

// SetClock makes scans of this store record the times now returns
// instead of the wall clock: for tests and replays that build a dated
// history whose hash chain is still the one the scans wrote.
func (s *Store) SetClock(now func() time.Time) { s.clock = now }

func (s *Store) now() time.Time {
	if s.clock != nil {
		return s.clock().UTC()
	}
	return time.Now().UTC()
}

// ErrNoInventory is returned by OpenExisting when there is no database.
var ErrNoInventory = errors.New("no inventory")

// OpenExisting opens the inventory at path like Open, but never creates
// one: commands that only read say so instead of leaving an empty
// database (and a new fingerprint key) behind a mistyped --db.
func OpenExisting(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		path = DefaultPath
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s; run nhi scan first (or give --db the inventory file)", ErrNoInventory, path)
		}
		return nil, fmt.Errorf("open inventory %s: %w", path, err)
	}
	return Open(ctx, path)
}

// Open opens (creating if needed, mode 0600) the inventory at path and
// applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		path = DefaultPath
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := createPrivate(abs); err != nil {
		return nil, err
	}
	// Pragmas go in the DSN so every pooled connection gets them;
	// busy_timeout is applied before journal_mode by the driver.
	q := url.Values{}
	q.Set("_busy_timeout", "15000")
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	dsn := "file:" + abs + "?" + q.Encode()
	w, err := sql.Open("sqlite3", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite3", dsn)
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	s := &Store{path: abs, w: w, r: r}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, openError(path, err)
	}
	// A new key only for an inventory without scans: a fresh key on an old
	// inventory would silently stop fingerprints matching earlier scans.
	var scans int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM scans`).Scan(&scans); err != nil {
		s.Close()
		return nil, openError(path, err)
	}
	keys, err := LoadOrCreateKeyring(abs+".key", scans == 0)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.keys = keys
	s.recordKeyCheck(ctx)
	return s, nil
}

func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return notWritable(path, err)
	}
	return f.Close()
}

// Path is the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Keys is the inventory's fingerprint keyring.
func (s *Store) Keys() *Keyring { return s.keys }

// DB is the read pool, for packages that render the inventory.
func (s *Store) DB() *sql.DB { return s.r }

// Close closes the database.
func (s *Store) Close() error {
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	return errors.Join(errs...)
}

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		n, _, ok := strings.Cut(e.Name(), "_")
		if !ok {
			continue
		}
		v, err := strconv.Atoi(n)
		if err != nil {
			return nil, fmt.Errorf("migration %s: bad number", e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// SchemaVersion is the number of the newest migration embedded in this binary.
func SchemaVersion() int {
	ms, _ := migrations()
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var cur int
	if err := s.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
		return err
	}
	if latest := SchemaVersion(); cur > latest {
		return fmt.Errorf("database schema version %d is newer than this nhi (%d): upgrade nhi", cur, latest)
	}
	vacuum := false
	if cur >= SchemaVersion() {
		return nil
	}
	if cur > 0 {
		if err := s.checkIntegrity(ctx); err != nil {
			return err
		}
	}
	// Migrations run on one connection with foreign keys off, as SQLite's
	// procedure for rebuilding a table requires (a pragma that cannot
	// change inside a transaction), and check them before each commit.
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON")
	for _, m := range ms {
		if m.version <= cur {
			continue
		}
		if err := applyMigration(ctx, conn, m, &vacuum); err != nil {
			return err
		}
	}
	if vacuum {
		// Rewritten values must leave the file and the WAL too.
		for _, q := range []string{"VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s after rewriting stored URLs: %w", q, err)
			}
		}
	}
	return nil
}

// applyMigration runs one migration (its SQL, then its Go step) in one
// transaction on conn and records the new schema version.
func applyMigration(ctx context.Context, conn *sql.Conn, m migration, vacuum *bool) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if step := goMigrations[m.version]; step != nil {
		ch, err := step(ctx, tx)
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		*vacuum = *vacuum || ch
	}
	var table, parent string
	var rowid sql.NullInt64
	var fk int
	switch err := tx.QueryRowContext(ctx, "PRAGMA foreign_key_check").Scan(&table, &rowid, &parent, &fk); {
	case err == nil:
		return fmt.Errorf("migration %s: a row of %s refers to a missing %s row", m.name, table, parent)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES('schema_version', ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, strconv.Itoa(m.version)); err != nil {
		return err
	}
	return tx.Commit()
}

// goMigrations are steps in Go run in the transaction of the migration of
// the same number, after its SQL; they report whether the file should be
// vacuumed afterwards (values that must not survive in free pages).
var goMigrations = map[int]func(context.Context, *sql.Tx) (bool, error){
	5: redactStoredURLs,
}

// Version returns the schema version recorded in the database.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func fmtTimePtr(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return fmtTime(*t)
}

func parseTime(s sql.NullString) *time.Time {
	if !s.Valid || s.String == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.String)
	if err != nil {
		return nil
	}
	return &t
}

// hashRow is the tamper-evidence hash of a scan row.
func hashRow(id int64, started, finished, status, tool, digest, counts, prev string) string {
	h := sha256.New()
	for _, f := range []string{strconv.FormatInt(id, 10), started, finished, status, tool, digest, counts, prev} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

const genesisHash = "0000000000000000000000000000000000000000000000000000000000000000"
