package inventory

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// SourceShard is the kind of the source a sharded scan records (named
// "shard:K/N"): which share of the sources it took. Merge reads it.
const SourceShard = "shard"

// keyCheckMessage is fingerprinted under an inventory's key and kept in
// meta.key_check: two inventories with equal checks share the key, and
// the check (an HMAC of a public message) tells nothing of the key.
const keyCheckMessage = "nhi fingerprint key check v1"

// recordKeyCheck keeps the key check of s's key in its meta table, so a
// merge can tell which key a shard used without the key itself.
func (s *Store) recordKeyCheck(ctx context.Context) {
	// Best effort: an inventory without it cannot be merged, and says so.
	s.w.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES('key_check', ?) ON CONFLICT(key) DO NOTHING`,
		s.keys.Fingerprint(keyCheckMessage))
}

// ShardInventory is a shard's database opened read-only for a merge.
type ShardInventory struct {
	Path string
	// Scan is the shard's newest scan (complete or not), nil when it has
	// none; Shard its shard source (nil when the scan was not sharded).
	Scan  *Scan
	Shard *SourceResult
	// K and N are the shard's share, 0 when not sharded.
	K, N     int
	store    *Store
	keyCheck string
}

// OpenShard opens the inventory at path read-only, as a shard to merge.
// It must have been written by an nhi of the same schema.
func OpenShard(ctx context.Context, path string) (*ShardInventory, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", "15000")
	db, err := sql.Open("sqlite3", "file:"+abs+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	sh := &ShardInventory{Path: path, store: &Store{path: abs, r: db, w: db}}
	if err := sh.load(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	return sh, nil
}

func (sh *ShardInventory) load(ctx context.Context) error {
	var v int
	if err := sh.store.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("not an nhi inventory: %w", err)
	}
	if v != SchemaVersion() {
		return fmt.Errorf("written by an nhi with inventory schema %d, this one has %d: scan and merge with the same nhi version", v, SchemaVersion())
	}
	err := sh.store.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'key_check'`).Scan(&sh.keyCheck)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var id sql.NullInt64
	if err := sh.store.r.QueryRowContext(ctx, `SELECT max(id) FROM scans`).Scan(&id); err != nil {
		return err
	}
	if !id.Valid {
		return nil
	}
	if sh.Scan, err = sh.store.Scan(ctx, id.Int64); err != nil {
		return err
	}
	for i, r := range sh.Scan.Sources {
		if r.Kind == SourceShard {
			sh.Shard = &sh.Scan.Sources[i]
			sh.K, sh.N = int(r.Stats["shard"]), int(r.Stats["shards"])
		}
	}
	return nil
}

// Close closes the shard's database.
func (sh *ShardInventory) Close() error { return sh.store.r.Close() }

// SameKey reports whether the shard's fingerprints were made with keys:
// by its recorded key check, else by its own key file when it is there.
func (sh *ShardInventory) SameKey(keys *Keyring) (bool, error) {
	want := keys.Fingerprint(keyCheckMessage)
	if sh.keyCheck != "" {
		return hmac.Equal([]byte(sh.keyCheck), []byte(want)), nil
	}
	k, err := LoadOrCreateKeyring(sh.store.path+".key", false)
	if err != nil {
		return false, fmt.Errorf("shard %s records no key check and its key file cannot be read (%v): cannot tell which fingerprint key it used", sh.Path, err)
	}
	return hmac.Equal(k.key, keys.key), nil
}

// KeyFile is where the shard's own key file would be.
func (sh *ShardInventory) KeyFile() string { return sh.store.path + ".key" }

// AdoptKey writes the key of the shard's key file as the fingerprint key
// of a new inventory at dbPath (dbPath.key, 0600), when that inventory
// has no key yet: a central inventory takes the shards' key.
func AdoptKey(dbPath, keyFile string) (bool, error) {
	dst := dbPath + ".key"
	if _, err := os.Stat(dst); err == nil {
		return false, nil
	}
	if fi, err := os.Stat(dbPath); err == nil && fi.Size() > 0 {
		return false, nil
	}
	k, err := LoadOrCreateKeyring(keyFile, false)
	if err != nil {
		return false, err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%x\n", k.key)
	return err == nil, err
}

// Fold copies into the scan being written by w what the shard's scan
// observed (rows it read itself, not those it carried), in three passes
// so that every identity is in before the credentials naming it, and
// every credential before its occurrences: pass 0 identities, 1
// credentials, 2 occurrences. Sources are not recorded: the caller
// records the shard's source results once every pass is done.
func (sh *ShardInventory) Fold(ctx context.Context, w *ScanWriter, pass int) (int, error) {
	if sh.Scan == nil {
		return 0, nil
	}
	switch pass {
	case 0:
		return sh.foldIdentities(ctx, w)
	case 1:
		return sh.foldCredentials(ctx, w)
	default:
		n, err := sh.foldOccurrences(ctx, w)
		if err != nil {
			return n, err
		}
		return n, sh.foldTips(ctx, w)
	}
}

func (sh *ShardInventory) foldIdentities(ctx context.Context, w *ScanWriter) (int, error) {
	rows, err := sh.store.r.QueryContext(ctx, `SELECT key, kind, name, source, provider, account, owner, owner_source,
		created_at, last_used_at, privileges, auth_mode, tags, attrs, target, unit FROM identities WHERE seen_scan = ? ORDER BY key`, sh.Scan.ID)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			i             Identity
			created, used sql.NullString
			tags, attrs   string
		)
		if err := rows.Scan(&i.Key, &i.Kind, &i.Name, &i.Source, &i.Provider, &i.Account, &i.Owner, &i.OwnerSource,
			&created, &used, &i.Privileges, &i.AuthMode, &tags, &attrs, &i.Target, &i.Unit); err != nil {
			return n, err
		}
		i.CreatedAt, i.LastUsedAt = parseTime(created), parseTime(used)
		if err := decodeStored("identities.tags of "+i.Key, tags, &i.Tags); err != nil {
			return n, err
		}
		if err := decodeStored("identities.attrs of "+i.Key, attrs, &i.Attrs); err != nil {
			return n, err
		}
		if err := w.PutIdentity(ctx, &i); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

func (sh *ShardInventory) foldCredentials(ctx context.Context, w *ScanWriter) (int, error) {
	rows, err := sh.store.r.QueryContext(ctx, `SELECT c.key, c.type, COALESCE(i.key, ''), c.created_at, c.last_rotated_at,
		c.expires_at, c.last_used_at, c.status, c.vault_status, c.fingerprint, c.redacted, c.attrs, c.target, c.unit
		FROM credentials c LEFT JOIN identities i ON i.id = c.identity_id WHERE c.seen_scan = ? ORDER BY c.key`, sh.Scan.ID)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			c                               Credential
			created, rotated, expires, used sql.NullString
			attrs                           string
		)
		if err := rows.Scan(&c.Key, &c.Type, &c.IdentityKey, &created, &rotated, &expires, &used, &c.Status, &c.VaultStatus,
			&c.Fingerprint, &c.Redacted, &attrs, &c.Target, &c.Unit); err != nil {
			return n, err
		}
		c.CreatedAt, c.LastRotatedAt, c.ExpiresAt, c.LastUsedAt = parseTime(created), parseTime(rotated), parseTime(expires), parseTime(used)
		if err := decodeStored("credentials.attrs of "+c.Key, attrs, &c.Attrs); err != nil {
			return n, err
		}
		if err := w.PutCredential(ctx, &c); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

func (sh *ShardInventory) foldOccurrences(ctx context.Context, w *ScanWriter) (int, error) {
	rows, err := sh.store.r.QueryContext(ctx, `SELECT c.key, o.source, o.repo, o.path, o.line, o.commit_sha, o.author, o.email,
		o.date, o.ci_job, o.ci_step, o.vault_path, o.detail, o.target, o.unit
		FROM occurrences o JOIN credentials c ON c.id = o.credential_id WHERE o.seen_scan = ? ORDER BY o.id`, sh.Scan.ID)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			o      Occurrence
			date   sql.NullString
			detail string
		)
		if err := rows.Scan(&o.CredentialKey, &o.Source, &o.Repo, &o.Path, &o.Line, &o.Commit, &o.Author, &o.Email,
			&date, &o.CIJob, &o.CIStep, &o.VaultPath, &detail, &o.Target, &o.Unit); err != nil {
			return n, err
		}
		o.Date = parseTime(date)
		if err := decodeStored("occurrences.detail", detail, &o.Detail); err != nil {
			return n, err
		}
		if err := w.PutOccurrence(ctx, &o); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// Age is how long ago the shard's scan started.
func (sh *ShardInventory) Age(now time.Time) time.Duration {
	if sh.Scan == nil {
		return 0
	}
	return now.Sub(sh.Scan.StartedAt)
}
