package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CredentialRow is a credential as the inventory holds it in one scan.
type CredentialRow struct {
	ID          int64
	Credential  Credential
	IdentityKey string
	FirstSeen   time.Time
	FirstScan   int64
	LastScan    int64
	// SeenScan is the last scan that observed it (LastScan also counts
	// scans that carried it forward unread).
	SeenScan    int64
	Occurrences []Occurrence
}

// IdentityRow is an identity as the inventory holds it in one scan.
type IdentityRow struct {
	ID             int64
	Identity       Identity
	FirstSeen      time.Time
	FirstScan      int64
	LastScan       int64
	SeenScan       int64 // as CredentialRow.SeenScan
	CredentialIDs  []int64
	CredentialKeys []string
}

// visible is the condition for a row to belong to scan :scan: it was first
// seen at or before it and last seen at or after it. Rows written by an
// incomplete later scan that first appeared there are not visible in the
// earlier complete scan.
const visible = `first_seen_scan <= ? AND last_seen_scan >= ?`

// credentialSelect reads credential rows (with their identity's key and
// the start of the scan that first saw them) for scanCredentialRow.
const credentialSelect = `SELECT c.id, c.key, c.type, COALESCE(i.key, ''), c.created_at, c.last_rotated_at, c.expires_at,
	c.last_used_at, c.status, c.vault_status, c.fingerprint, c.redacted, c.attrs, c.owner, c.owner_source, c.first_seen_scan, c.last_seen_scan,
	(SELECT started_at FROM scans WHERE id = c.first_seen_scan), c.target, c.unit, COALESCE(c.seen_scan, 0)
	FROM credentials c LEFT JOIN identities i ON i.id = c.identity_id`

// scanCredentialRow reads one row of credentialSelect.
func scanCredentialRow(rows *sql.Rows) (CredentialRow, error) {
	var (
		r                               CredentialRow
		created, rotated, expires, used sql.NullString
		attrs, firstSeen                string
	)
	c := &r.Credential
	if err := rows.Scan(&r.ID, &c.Key, &c.Type, &r.IdentityKey, &created, &rotated, &expires, &used, &c.Status, &c.VaultStatus,
		&c.Fingerprint, &c.Redacted, &attrs, &c.Owner, &c.OwnerSource, &r.FirstScan, &r.LastScan, &firstSeen, &c.Target, &c.Unit, &r.SeenScan); err != nil {
		return r, err
	}
	c.IdentityKey = r.IdentityKey
	c.CreatedAt, c.LastRotatedAt, c.ExpiresAt, c.LastUsedAt = parseTime(created), parseTime(rotated), parseTime(expires), parseTime(used)
	if err := decodeMap("credential "+c.Key+": attrs", attrs, &c.Attrs); err != nil {
		return r, err
	}
	if t := parseTime(sql.NullString{String: firstSeen, Valid: true}); t != nil {
		r.FirstSeen = *t
	}
	return r, nil
}

// Credentials lists the credentials present in scan id with their
// occurrences, ordered by id.
func (s *Store) Credentials(ctx context.Context, scan int64) ([]CredentialRow, error) {
	rows, err := s.r.QueryContext(ctx, credentialSelect+` WHERE c.first_seen_scan <= ? AND c.last_seen_scan >= ? ORDER BY c.id`, scan, scan)
	if err != nil {
		return nil, err
	}
	var out []CredentialRow
	index := map[int64]int{}
	for rows.Next() {
		r, err := scanCredentialRow(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		index[r.ID] = len(out)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	orows, err := s.r.QueryContext(ctx, `SELECT credential_id, source, repo, path, line, commit_sha, author, email, date, ci_job, ci_step, vault_path, detail,
		target, unit FROM occurrences WHERE `+visible+` ORDER BY credential_id, date, id`, scan, scan)
	if err != nil {
		return nil, err
	}
	defer orows.Close()
	for orows.Next() {
		var (
			cid    int64
			o      Occurrence
			date   sql.NullString
			detail string
		)
		if err := orows.Scan(&cid, &o.Source, &o.Repo, &o.Path, &o.Line, &o.Commit, &o.Author, &o.Email, &date, &o.CIJob, &o.CIStep, &o.VaultPath, &detail, &o.Target, &o.Unit); err != nil {
			return nil, err
		}
		o.Date = parseTime(date)
		if err := decodeMap(fmt.Sprintf("occurrence of credential %d: detail", cid), detail, &o.Detail); err != nil {
			return nil, err
		}
		if i, ok := index[cid]; ok {
			o.CredentialKey = out[i].Credential.Key
			out[i].Occurrences = append(out[i].Occurrences, o)
		}
	}
	return out, orows.Err()
}

// Identities lists the identities present in scan id, with the ids of
// their credentials.
func (s *Store) Identities(ctx context.Context, scan int64) ([]IdentityRow, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT i.id, i.key, i.kind, i.name, i.source, i.provider, i.account, i.owner, i.owner_source,
		i.created_at, i.last_used_at, i.privileges, i.auth_mode, i.tags, i.attrs, i.first_seen_scan, i.last_seen_scan,
		(SELECT started_at FROM scans WHERE id = i.first_seen_scan), i.target, i.unit, COALESCE(i.seen_scan, 0),
		COALESCE((SELECT group_concat(c.id || char(31) || c.key, char(30)) FROM credentials c
		  WHERE c.identity_id = i.id AND c.first_seen_scan <= ? AND c.last_seen_scan >= ?), '')
		FROM identities i WHERE i.first_seen_scan <= ? AND i.last_seen_scan >= ? ORDER BY i.id`, scan, scan, scan, scan)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []IdentityRow
	for rows.Next() {
		var (
			r                             IdentityRow
			created, used                 sql.NullString
			tags, attrs, firstSeen, creds string
		)
		i := &r.Identity
		if err := rows.Scan(&r.ID, &i.Key, &i.Kind, &i.Name, &i.Source, &i.Provider, &i.Account, &i.Owner, &i.OwnerSource,
			&created, &used, &i.Privileges, &i.AuthMode, &tags, &attrs, &r.FirstScan, &r.LastScan, &firstSeen, &i.Target, &i.Unit, &r.SeenScan, &creds); err != nil {
			return nil, err
		}
		i.CreatedAt, i.LastUsedAt = parseTime(created), parseTime(used)
		if err := decodeStored("identity "+i.Key+": tags", tags, &i.Tags); err != nil {
			return nil, err
		}
		if err := decodeMap("identity "+i.Key+": attrs", attrs, &i.Attrs); err != nil {
			return nil, err
		}
		if t := parseTime(sql.NullString{String: firstSeen, Valid: true}); t != nil {
			r.FirstSeen = *t
		}
		if creds != "" {
			for _, pair := range strings.Split(creds, "\x1e") {
				id, key, _ := strings.Cut(pair, "\x1f")
				n, _ := strconv.ParseInt(id, 10, 64)
				r.CredentialIDs = append(r.CredentialIDs, n)
				r.CredentialKeys = append(r.CredentialKeys, key)
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// decodeMap decodes a stored JSON object column into *m, nil when empty
// (as it was before it was stored); invalid JSON is an error, as for
// decodeStored.
func decodeMap(what, s string, m *map[string]any) error {
	*m = nil
	if s == "" || s == "{}" {
		return nil
	}
	if err := decodeStored(what, s, m); err != nil {
		return err
	}
	if len(*m) == 0 {
		*m = nil
	}
	return nil
}

// decodeStored reads a JSON column the store itself wrote; one that does
// not decode means the database file was damaged or edited, which is an
// error naming the row and column rather than a silently empty value.
func decodeStored(what, s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("%s holds invalid JSON (%v): the inventory database is damaged; restore it from a backup or scan into a new file", what, err)
	}
	return nil
}
