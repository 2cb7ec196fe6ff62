package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrNoGap is returned by GapByID for an id not known as of the scan.
var ErrNoGap = errors.New("no such gap")

// GapByID reads one gap as of scan, its status with the decisions in force
// at now applied: one query, whatever the number of gaps.
func (s *Store) GapByID(ctx context.Context, scan, id int64, now time.Time) (Gap, error) {
	if now.IsZero() {
		now = time.Now().UTC()
	}
	g, err := scanGapRow(s.r.QueryRowContext(ctx, gapSelect+` WHERE `+gapVisibleSQL+` AND g.id = ?3`, scan, fmtTime(now), id))
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("gap %d: %w as of scan %d (nhi gaps --status all lists them)", id, ErrNoGap, scan)
	}
	return g, err
}

// SetOwners records owners resolved again outside a scan (a triage
// decision took effect): the owner of each subject of the latest scan, and
// of its gaps not resolved. What a scan judged is not rewritten: this is
// the owner column people read, which a scan recomputes anyway. It returns
// how many subjects changed.
func (s *Store) SetOwners(ctx context.Context, scan int64, owners []OwnerAssignment) (int, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	current, err := currentOwners(ctx, tx, scan)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, o := range owners {
		if cur, ok := current[o.SubjectKind+"\x00"+o.SubjectKey]; !ok || cur == o.Owner+"\x00"+o.Source {
			continue
		}
		table := "identities"
		if o.SubjectKind == SubjectCredential {
			table = "credentials"
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET owner = ?, owner_source = ? WHERE key = ?`, o.Owner, o.Source, o.SubjectKey); err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE gaps SET owner = ? WHERE subject_kind = ? AND subject_key = ? AND resolved_scan IS NULL`,
			o.Owner, o.SubjectKind, o.SubjectKey); err != nil {
			return 0, err
		}
		n++
	}
	return n, tx.Commit()
}

// currentOwners reads "owner\x00source" of every subject of scan, keyed
// "kind\x00key".
func currentOwners(ctx context.Context, tx *sql.Tx, scan int64) (map[string]string, error) {
	current := map[string]string{}
	for _, q := range []struct{ kind, query string }{
		{SubjectIdentity, `SELECT key, owner, owner_source FROM identities WHERE ` + visibleIn1},
		{SubjectCredential, `SELECT key, owner, owner_source FROM credentials WHERE ` + visibleIn1},
	} {
		rows, err := tx.QueryContext(ctx, q.query, scan)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var key, owner, source string
			if err := rows.Scan(&key, &owner, &source); err != nil {
				rows.Close()
				return nil, err
			}
			current[q.kind+"\x00"+key] = owner + "\x00" + source
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return current, nil
}

// SetOwnerControls records which controls an owner decision satisfies
// (the catalogue's owner checks), for the gap status rule.
func (s *Store) SetOwnerControls(ctx context.Context, ids []string) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES('owner_controls', ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, jsonList(ids))
	return err
}
