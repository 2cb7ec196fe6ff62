package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// batchSize is how many writes go into one transaction.
const batchSize = 2000

// ScanWriter is the single batching writer of one scan. It is safe for
// concurrent use by several sources; writes are buffered and committed in
// batches, each batch one transaction with prepared statements.
type ScanWriter struct {
	s       *Store
	lock    *ScanLock
	id      int64
	started time.Time

	mu      sync.Mutex
	pending []op
	err     error
	done    bool
}

type op struct {
	identity   *Identity
	credential *Credential
	occurrence *Occurrence
}

// BeginScan takes the scan lock (waiting up to wait), marks scans left
// running by a killed process as incomplete, and records a new running
// scan chained to the previous one.
func (s *Store) BeginScan(ctx context.Context, toolVersion, configDigest string, wait time.Duration) (*ScanWriter, error) {
	lock, err := s.LockScan(ctx, wait)
	if err != nil {
		return nil, err
	}
	w := &ScanWriter{s: s, lock: lock, started: s.now()}
	if err := w.begin(ctx, toolVersion, configDigest); err != nil {
		lock.Unlock()
		return nil, err
	}
	return w, nil
}

func (w *ScanWriter) begin(ctx context.Context, tool, digest string) error {
	if err := w.s.checkIntegrity(ctx); err != nil {
		return err
	}
	tx, err := w.s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// We hold the lock, so any scan still "running" belongs to a dead process.
	if _, err := tx.ExecContext(ctx, `UPDATE scans SET status = 'incomplete' WHERE status = 'running'`); err != nil {
		return err
	}
	prev := genesisHash
	var (
		id                                          int64
		started, status, ptool, pdigest, counts, ph string
		finished                                    sql.NullString
	)
	err = tx.QueryRowContext(ctx, `SELECT id, started_at, finished_at, status, tool_version, config_digest, counts, prev_hash
		FROM scans ORDER BY id DESC LIMIT 1`).Scan(&id, &started, &finished, &status, &ptool, &pdigest, &counts, &ph)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	default:
		prev = hashRow(id, started, finished.String, status, ptool, pdigest, counts, ph)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO scans(started_at, status, tool_version, config_digest, prev_hash)
		VALUES(?, 'running', ?, ?, ?)`, fmtTime(w.started), tool, digest, prev)
	if err != nil {
		return err
	}
	if w.id, err = res.LastInsertId(); err != nil {
		return err
	}
	return tx.Commit()
}

// ID is the scan's id.
func (w *ScanWriter) ID() int64 { return w.id }

// Keys is the inventory's fingerprint keyring.
func (w *ScanWriter) Keys() *Keyring { return w.s.keys }

// PutIdentity records an identity seen in this scan.
func (w *ScanWriter) PutIdentity(ctx context.Context, id *Identity) error {
	return w.add(ctx, op{identity: id})
}

// PutCredential records a credential seen in this scan.
func (w *ScanWriter) PutCredential(ctx context.Context, c *Credential) error {
	return w.add(ctx, op{credential: c})
}

// PutOccurrence records where a credential was seen. The credential must
// have been put earlier in this scan (or an earlier one).
func (w *ScanWriter) PutOccurrence(ctx context.Context, o *Occurrence) error {
	return w.add(ctx, op{occurrence: o})
}

func (w *ScanWriter) add(ctx context.Context, o op) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.done {
		return errors.New("scan already finished")
	}
	w.pending = append(w.pending, o)
	if len(w.pending) >= batchSize {
		w.err = w.flushLocked(ctx)
	}
	return w.err
}

// Flush commits buffered writes.
func (w *ScanWriter) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.settleLocked(ctx)
}

// settledTx runs fn in a transaction of its own, committed when fn
// succeeds, after the buffered writes: under w.mu, so that nothing is
// buffered meanwhile.
func (w *ScanWriter) settledTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.settleLocked(ctx); err != nil {
		return err
	}
	tx, err := w.s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// settleLocked commits buffered writes unless an earlier write failed,
// and remembers a failure; w.mu is held.
func (w *ScanWriter) settleLocked(ctx context.Context) error {
	if w.err == nil {
		w.err = w.flushLocked(ctx)
	}
	return w.err
}

const (
	sqlIdentity = `INSERT INTO identities(key, kind, name, source, provider, account, owner, owner_source,
		created_at, last_used_at, privileges, auth_mode, tags, attrs, target, unit, first_seen_scan, last_seen_scan, seen_scan)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(key) DO UPDATE SET
		  kind = excluded.kind,
		  name = COALESCE(NULLIF(excluded.name, ''), identities.name),
		  source = excluded.source,
		  provider = COALESCE(NULLIF(excluded.provider, ''), identities.provider),
		  account = COALESCE(NULLIF(excluded.account, ''), identities.account),
		  owner = excluded.owner,
		  owner_source = excluded.owner_source,
		  created_at = COALESCE(excluded.created_at, identities.created_at),
		  last_used_at = COALESCE(excluded.last_used_at, identities.last_used_at),
		  privileges = excluded.privileges,
		  auth_mode = excluded.auth_mode,
		  tags = excluded.tags,
		  attrs = json_patch(identities.attrs, excluded.attrs),
		  target = excluded.target,
		  unit = excluded.unit,
		  last_seen_scan = excluded.last_seen_scan,
		  seen_scan = excluded.seen_scan`
	// A provider source (one that reports a status) is authoritative for
	// the type and the target; hard-coded beats other vault statuses
	// because a copy in code is what matters.
	sqlCredential = `INSERT INTO credentials(key, type, identity_id, created_at, last_rotated_at, expires_at,
		last_used_at, status, vault_status, fingerprint, redacted, attrs, target, unit, first_seen_scan, last_seen_scan, seen_scan)
		VALUES(?, ?, (SELECT id FROM identities WHERE key = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET
		  type = CASE WHEN excluded.status <> '' OR credentials.type = '' THEN excluded.type ELSE credentials.type END,
		  identity_id = COALESCE(excluded.identity_id, credentials.identity_id),
		  created_at = COALESCE(excluded.created_at, credentials.created_at),
		  last_rotated_at = COALESCE(excluded.last_rotated_at, credentials.last_rotated_at),
		  expires_at = COALESCE(excluded.expires_at, credentials.expires_at),
		  last_used_at = COALESCE(excluded.last_used_at, credentials.last_used_at),
		  status = COALESCE(NULLIF(excluded.status, ''), credentials.status),
		  vault_status = CASE
		    WHEN 'hardcoded' IN (excluded.vault_status, credentials.vault_status) THEN 'hardcoded'
		    WHEN 'ci-secret-store' IN (excluded.vault_status, credentials.vault_status) THEN 'ci-secret-store'
		    WHEN 'vaulted' IN (excluded.vault_status, credentials.vault_status) THEN 'vaulted'
		    ELSE 'unknown' END,
		  fingerprint = COALESCE(NULLIF(excluded.fingerprint, ''), credentials.fingerprint),
		  redacted = COALESCE(NULLIF(excluded.redacted, ''), credentials.redacted),
		  attrs = json_patch(credentials.attrs, excluded.attrs),
		  target = CASE WHEN excluded.status <> '' OR credentials.status = '' OR credentials.target = '' THEN excluded.target ELSE credentials.target END,
		  unit = CASE WHEN excluded.status <> '' OR credentials.status = '' OR credentials.target = '' THEN excluded.unit ELSE credentials.unit END,
		  last_seen_scan = excluded.last_seen_scan,
		  seen_scan = excluded.seen_scan`
	sqlOccurrence = `INSERT INTO occurrences(credential_id, okey, source, repo, path, line, commit_sha, author, email,
		date, ci_job, ci_step, vault_path, detail, target, unit, first_seen_scan, last_seen_scan, seen_scan)
		VALUES((SELECT id FROM credentials WHERE key = ?), ?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(credential_id, okey) DO UPDATE SET
		  author = excluded.author, email = excluded.email, date = excluded.date,
		  detail = excluded.detail, target = excluded.target, unit = excluded.unit,
		  last_seen_scan = excluded.last_seen_scan, seen_scan = excluded.seen_scan`
)

func jsonText(v any) string {
	if v == nil {
		return "{}"
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return "{}"
	}
	return string(b)
}

func (w *ScanWriter) flushLocked(ctx context.Context) error {
	if len(w.pending) == 0 {
		return nil
	}
	tx, err := w.s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var stIdent, stCred, stOcc *sql.Stmt
	prep := func(st **sql.Stmt, q string) (*sql.Stmt, error) {
		if *st == nil {
			s, err := tx.PrepareContext(ctx, q)
			if err != nil {
				return nil, err
			}
			*st = s
		}
		return *st, nil
	}
	for _, o := range w.pending {
		switch {
		case o.identity != nil:
			st, err := prep(&stIdent, sqlIdentity)
			if err != nil {
				return err
			}
			i := o.identity
			if i.Key == "" || i.Kind == "" {
				return fmt.Errorf("identity without key or kind: %+v", i)
			}
			if _, err := st.ExecContext(ctx, i.Key, i.Kind, i.Name, i.Source, i.Provider, i.Account, i.Owner, i.OwnerSource,
				fmtTimePtr(i.CreatedAt), fmtTimePtr(i.LastUsedAt), i.Privileges, i.AuthMode, jsonText(i.Tags), jsonText(i.Attrs),
				i.Target, i.Unit, w.id, w.id, w.id); err != nil {
				return fmt.Errorf("store identity %s: %w", i.Key, err)
			}
		case o.credential != nil:
			st, err := prep(&stCred, sqlCredential)
			if err != nil {
				return err
			}
			c := o.credential
			if c.Key == "" {
				return errors.New("credential without key")
			}
			vs := c.VaultStatus
			if vs == "" {
				vs = VaultUnknown
			}
			if _, err := st.ExecContext(ctx, c.Key, c.Type, c.IdentityKey, fmtTimePtr(c.CreatedAt), fmtTimePtr(c.LastRotatedAt),
				fmtTimePtr(c.ExpiresAt), fmtTimePtr(c.LastUsedAt), c.Status, vs, c.Fingerprint, c.Redacted, jsonText(c.Attrs),
				c.Target, c.Unit, w.id, w.id, w.id); err != nil {
				return fmt.Errorf("store credential %s: %w", c.Key, err)
			}
		case o.occurrence != nil:
			st, err := prep(&stOcc, sqlOccurrence)
			if err != nil {
				return err
			}
			oc := o.occurrence
			if _, err := st.ExecContext(ctx, oc.CredentialKey, oc.OccurrenceKey(), oc.Source, oc.Repo, oc.Path, oc.Line, oc.Commit,
				oc.Author, oc.Email, fmtTimePtr(oc.Date), oc.CIJob, oc.CIStep, oc.VaultPath, jsonText(oc.Detail),
				oc.Target, oc.Unit, w.id, w.id, w.id); err != nil {
				return fmt.Errorf("store occurrence of %s: %w", oc.CredentialKey, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.pending = w.pending[:0]
	return nil
}

// RecordSource stores the outcome of one source.
func (w *ScanWriter) RecordSource(ctx context.Context, r SourceResult) error {
	if err := w.Flush(ctx); err != nil {
		return err
	}
	items := "[]"
	if len(r.ItemErrors) > 0 {
		items = jsonText(r.ItemErrors)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	targets := "[]"
	if len(r.Targets) > 0 {
		targets = jsonText(r.Targets)
	}
	_, err := w.s.w.ExecContext(ctx, `INSERT INTO scan_sources(scan_id, name, kind, target, status, error, item_errors, stats, started_at, finished_at, targets)
		VALUES(?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(scan_id, name) DO UPDATE SET status = excluded.status, error = excluded.error,
		item_errors = excluded.item_errors, stats = excluded.stats, finished_at = excluded.finished_at, targets = excluded.targets`,
		w.id, r.Name, r.Kind, r.Target, r.Status, r.Error, items, jsonText(r.Stats), fmtTime(r.StartedAt), fmtTime(r.FinishedAt), targets)
	return err
}

// Settle flushes and carries credentials whose occurrences were seen in
// this scan (including git history not read again) forward into it, so
// that the inventory of this scan can be read before it is finished.
func (w *ScanWriter) Settle(ctx context.Context) error {
	if err := w.Flush(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// A credential is in this scan when one of its occurrences is, and
	// observed in it when one was observed (git history still reachable
	// is observed without being read again).
	_, err := w.s.w.ExecContext(ctx, `UPDATE credentials SET last_seen_scan = ?1,
		seen_scan = CASE WHEN id IN (SELECT credential_id FROM occurrences WHERE seen_scan = ?1) THEN ?1 ELSE seen_scan END
		WHERE (last_seen_scan <> ?1 AND id IN (SELECT credential_id FROM occurrences WHERE last_seen_scan = ?1))
		   OR (seen_scan <> ?1 AND id IN (SELECT credential_id FROM occurrences WHERE seen_scan = ?1))`, w.id)
	return err
}

// Finish settles, computes counts, marks the scan complete (failed when
// every source failed) and chains its hash. Only a finished scan is
// complete.
func (w *ScanWriter) Finish(ctx context.Context, extra map[string]int64) (*Scan, error) {
	if err := w.Flush(ctx); err != nil {
		return nil, err
	}
	if err := w.Settle(ctx); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.lock.Unlock()
	w.done = true
	tx, err := w.s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	counts := map[string]int64{}
	for k, v := range extra {
		counts[k] = v
	}
	for name, q := range map[string]string{
		"credentials_total": `SELECT count(*) FROM credentials WHERE last_seen_scan = ?`,
		"credentials_new":   `SELECT count(*) FROM credentials WHERE first_seen_scan = ?`,
		"identities_total":  `SELECT count(*) FROM identities WHERE last_seen_scan = ?`,
		"identities_new":    `SELECT count(*) FROM identities WHERE first_seen_scan = ?`,
		"occurrences_total": `SELECT count(*) FROM occurrences WHERE last_seen_scan = ?`,
	} {
		var n int64
		if err := tx.QueryRowContext(ctx, q, w.id).Scan(&n); err != nil {
			return nil, err
		}
		counts[name] = n
	}
	finished := w.s.now()
	var started, tool, digest, prev string
	if err := tx.QueryRowContext(ctx, `SELECT started_at, tool_version, config_digest, prev_hash FROM scans WHERE id = ?`, w.id).
		Scan(&started, &tool, &digest, &prev); err != nil {
		return nil, err
	}
	// A scan in which every source failed read nothing: it is failed, so
	// it never becomes the latest complete scan.
	status := ScanComplete
	var sources, failed int
	if err := tx.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE status <> 'ok') FROM scan_sources WHERE scan_id = ?`, w.id).
		Scan(&sources, &failed); err != nil {
		return nil, err
	}
	if sources > 0 && failed == sources {
		status = ScanFailed
	}
	ct := jsonText(counts)
	rowHash := hashRow(w.id, started, fmtTime(finished), status, tool, digest, ct, prev)
	if _, err := tx.ExecContext(ctx, `UPDATE scans SET finished_at = ?, status = ?, counts = ?, row_hash = ? WHERE id = ?`,
		fmtTime(finished), status, ct, rowHash, w.id); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return w.s.Scan(ctx, w.id)
}

// Abandon releases the lock without completing the scan; the scan stays
// marked incomplete so the earlier inventory remains the latest complete one.
func (w *ScanWriter) Abandon(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	_, err := w.s.w.ExecContext(context.WithoutCancel(ctx), `UPDATE scans SET status = 'incomplete' WHERE id = ? AND status = 'running'`, w.id)
	return errors.Join(err, w.lock.Unlock())
}
