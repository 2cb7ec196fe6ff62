package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Subject is everything the inventory holds about one identity or
// credential as of a scan, for a detail view.
type Subject struct {
	Kind string
	Key  string
	// Identity is the subject (kind identity) or the identity the
	// credential belongs to; nil when there is none.
	Identity *IdentityRow
	// Credential is the subject when it is a credential.
	Credential *CredentialRow
	// Credentials are an identity's credentials, each with its
	// occurrences (so an IAM user shows where its keys leaked).
	Credentials []CredentialRow
	// Gaps are the subject's gaps (all statuses), decisions applied.
	Gaps []Gap
	// Decisions on the subject, newest first, revoked ones included.
	Decisions []Decision
	// PendingOwner is the owner decision in force when the scan's owner
	// differs from it: it takes effect at the next scan's evaluation.
	PendingOwner *Decision
}

// ErrNoSubject is returned by Subject for a key the scan does not hold.
var ErrNoSubject = errors.New("no such identity or credential in this scan")

// maxOccurrences bounds the occurrences read per credential for a detail
// view; a secret pasted in thousands of places shows the first ones.
const maxOccurrences = 500

// Subject reads one identity or credential as of scan, with its
// occurrences, gaps and decision history.
func (s *Store) Subject(ctx context.Context, scan int64, kind, key string, now time.Time) (*Subject, error) {
	if now.IsZero() {
		now = time.Now().UTC()
	}
	sub := &Subject{Kind: kind, Key: key}
	switch kind {
	case SubjectIdentity:
		id, err := s.identityByKey(ctx, scan, key)
		if err != nil {
			return nil, err
		}
		sub.Identity = id
		rows, err := s.credentialRows(ctx, scan, `c.identity_id = ?`, id.ID)
		if err != nil {
			return nil, err
		}
		sub.Credentials = rows
	case SubjectCredential:
		rows, err := s.credentialRows(ctx, scan, `c.key = ?`, key)
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			return nil, fmt.Errorf("credential %s: %w", key, ErrNoSubject)
		}
		sub.Credential = &rows[0]
		if ik := rows[0].IdentityKey; ik != "" {
			if id, err := s.identityByKey(ctx, scan, ik); err == nil {
				sub.Identity = id
			}
		}
	default:
		return nil, fmt.Errorf("unknown subject kind %q", kind)
	}

	rows, err := s.r.QueryContext(ctx, gapSelect+` WHERE `+gapVisibleSQL+` AND g.subject_kind = ?3 AND g.subject_key = ?4
		ORDER BY `+gapRankSQL+`, g.control_id`, scan, fmtTime(now), kind, key)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		g, err := scanGapRow(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		sub.Gaps = append(sub.Gaps, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if sub.Decisions, err = s.Decisions(ctx, kind, key); err != nil {
		return nil, err
	}
	current := ""
	if sub.Credential != nil {
		current = sub.Credential.Credential.Owner
	} else if sub.Identity != nil {
		current = sub.Identity.Identity.Owner
	}
	for i := range sub.Decisions { // newest first
		d := &sub.Decisions[i]
		if d.Action == ActionOwner && d.Active(now) {
			if d.Value != current {
				sub.PendingOwner = d
			}
			break
		}
	}
	return sub, nil
}

func (s *Store) identityByKey(ctx context.Context, scan int64, key string) (*IdentityRow, error) {
	var (
		r                      IdentityRow
		created, used          sql.NullString
		tags, attrs, firstSeen string
	)
	i := &r.Identity
	err := s.r.QueryRowContext(ctx, `SELECT i.id, i.key, i.kind, i.name, i.source, i.provider, i.account, i.owner, i.owner_source,
		i.created_at, i.last_used_at, i.privileges, i.auth_mode, i.tags, i.attrs, i.first_seen_scan, i.last_seen_scan,
		(SELECT started_at FROM scans WHERE id = i.first_seen_scan)
		FROM identities i WHERE i.key = ? AND i.first_seen_scan <= ? AND i.last_seen_scan >= ?`, key, scan, scan).
		Scan(&r.ID, &i.Key, &i.Kind, &i.Name, &i.Source, &i.Provider, &i.Account, &i.Owner, &i.OwnerSource,
			&created, &used, &i.Privileges, &i.AuthMode, &tags, &attrs, &r.FirstScan, &r.LastScan, &firstSeen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("identity %s: %w", key, ErrNoSubject)
	}
	if err != nil {
		return nil, err
	}
	i.CreatedAt, i.LastUsedAt = parseTime(created), parseTime(used)
	if err := decodeStored("identity "+key+": tags", tags, &i.Tags); err != nil {
		return nil, err
	}
	if err := decodeMap("identity "+key+": attrs", attrs, &i.Attrs); err != nil {
		return nil, err
	}
	if t := parseTime(sql.NullString{String: firstSeen, Valid: true}); t != nil {
		r.FirstSeen = *t
	}
	return &r, nil
}

// credentialRows reads the credentials of scan matching cond (on alias c)
// with up to maxOccurrences occurrences each.
func (s *Store) credentialRows(ctx context.Context, scan int64, cond string, arg any) ([]CredentialRow, error) {
	rows, err := s.r.QueryContext(ctx, credentialSelect+` WHERE `+cond+` AND c.first_seen_scan <= ? AND c.last_seen_scan >= ? ORDER BY c.id LIMIT 1000`, arg, scan, scan)
	if err != nil {
		return nil, err
	}
	var out []CredentialRow
	for rows.Next() {
		r, err := scanCredentialRow(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		orows, err := s.r.QueryContext(ctx, `SELECT source, repo, path, line, commit_sha, author, email, date, ci_job, ci_step, vault_path, detail
			FROM occurrences WHERE credential_id = ? AND `+visible+` ORDER BY date, id LIMIT ?`, out[i].ID, scan, scan, maxOccurrences)
		if err != nil {
			return nil, err
		}
		for orows.Next() {
			var (
				o      Occurrence
				date   sql.NullString
				detail string
			)
			if err := orows.Scan(&o.Source, &o.Repo, &o.Path, &o.Line, &o.Commit, &o.Author, &o.Email, &date, &o.CIJob, &o.CIStep, &o.VaultPath, &detail); err != nil {
				orows.Close()
				return nil, err
			}
			o.Date = parseTime(date)
			if err := decodeMap("occurrence of credential "+out[i].Credential.Key+": detail", detail, &o.Detail); err != nil {
				orows.Close()
				return nil, err
			}
			o.CredentialKey = out[i].Credential.Key
			out[i].Occurrences = append(out[i].Occurrences, o)
		}
		orows.Close()
		if err := orows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
