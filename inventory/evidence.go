package inventory

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The readers of this file feed the audit evidence package (package
// evidence). Each streams its rows to a callback in a stable order, so an
// export of any size holds one row at a time and two exports of the same
// period are identical.

// LedgerRow is one row of the scan ledger exactly as stored: the fields
// the hash chain covers, as text, so that anyone can recompute it.
type LedgerRow struct {
	ID           int64  `json:"scan_id"`
	StartedAt    string `json:"started_at"`
	FinishedAt   string `json:"finished_at"`
	Status       string `json:"status"`
	ToolVersion  string `json:"tool_version"`
	ConfigDigest string `json:"config_digest"`
	Counts       string `json:"counts"`
	PrevHash     string `json:"prev_hash"`
	RowHash      string `json:"row_hash"`
}

// Hash is the row's tamper-evidence hash: SHA-256 over its fields, each
// followed by a NUL byte (id, started_at, finished_at, status,
// tool_version, config_digest, counts, prev_hash). The next scan's
// PrevHash is this value.
func (r LedgerRow) Hash() string {
	return hashRow(r.ID, r.StartedAt, r.FinishedAt, r.Status, r.ToolVersion, r.ConfigDigest, r.Counts, r.PrevHash)
}

// GenesisHash is the PrevHash of an inventory's first scan.
const GenesisHash = genesisHash

// Ledger returns the scan rows started in [since, until), oldest first.
func (s *Store) Ledger(ctx context.Context, since, until time.Time) ([]LedgerRow, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, started_at, COALESCE(finished_at, ''), status, tool_version, config_digest, counts, prev_hash, COALESCE(row_hash, '')
		FROM scans WHERE julianday(started_at) >= julianday(?) AND julianday(started_at) < julianday(?) ORDER BY id`, fmtTime(since), fmtTime(until))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LedgerRow
	for rows.Next() {
		var r LedgerRow
		if err := rows.Scan(&r.ID, &r.StartedAt, &r.FinishedAt, &r.Status, &r.ToolVersion, &r.ConfigDigest, &r.Counts, &r.PrevHash, &r.RowHash); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ScansBetween reads the scans with ids in [from, to] with their sources
// and scope, oldest first.
func (s *Store) ScansBetween(ctx context.Context, from, to int64) ([]Scan, error) {
	out, err := s.readScans(ctx, "WHERE id >= ? AND id <= ?", from, to)
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ControlResultsBetween returns the per-control results of the scans with
// ids in [from, to], by scan then control.
func (s *Store) ControlResultsBetween(ctx context.Context, from, to int64, fn func(scan int64, r ControlResult) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT scan_id, control_id, severity, evaluated, passing FROM control_results
		WHERE scan_id >= ? AND scan_id <= ? ORDER BY scan_id, control_id`, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id int64
			r  ControlResult
		)
		if err := rows.Scan(&id, &r.ControlID, &r.Severity, &r.Evaluated, &r.Passing); err != nil {
			return err
		}
		if err := fn(id, r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CriterionResultsBetween returns the per-criterion results of the scans
// with ids in [from, to], by scan, framework and criterion.
func (s *Store) CriterionResultsBetween(ctx context.Context, from, to int64, fn func(scan int64, r CriterionResult) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT scan_id, framework, criterion, evaluated, passing FROM criterion_results
		WHERE scan_id >= ? AND scan_id <= ? ORDER BY scan_id, framework, criterion`, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id int64
			r  CriterionResult
		)
		if err := rows.Scan(&id, &r.Framework, &r.Criterion, &r.Evaluated, &r.Passing); err != nil {
			return err
		}
		if err := fn(id, r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// UnresolvedByControl counts, after each scan up to to, the gaps of each
// control not resolved (open, accepted or false positive), by severity:
// out[scan][control][severity]. It is a running sum of the gap events
// (every gap alternates opened/reopened and resolved); a gap counts under
// the severity it has now. A scope (nil: all) counts only the gaps of
// its subjects.
func (s *Store) UnresolvedByControl(ctx context.Context, to int64, scope []string) (map[int64]map[string]map[string]int, error) {
	q, args := restrict(`SELECT e.scan_id, g.control_id, g.severity, sum(CASE e.event WHEN 'resolved' THEN -1 ELSE 1 END)
		FROM gap_events e JOIN gaps g ON g.id = e.gap_id WHERE e.scan_id <= ?1`, []any{to}, scope, " AND ", subjectInScope("g."))
	rows, err := s.r.QueryContext(ctx, q+` GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type cs struct{ control, severity string }
	running := map[cs]int{}
	deltas := map[int64]map[cs]int{}
	var scans []int64
	for rows.Next() {
		var (
			id    int64
			k     cs
			delta int
		)
		if err := rows.Scan(&id, &k.control, &k.severity, &delta); err != nil {
			return nil, err
		}
		if deltas[id] == nil {
			deltas[id] = map[cs]int{}
			scans = append(scans, id)
		}
		deltas[id][k] += delta
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Every scan up to to gets the counts in force after it, including
	// scans with no event.
	var ids []int64
	srows, err := s.r.QueryContext(ctx, `SELECT id FROM scans WHERE id <= ? ORDER BY id`, to)
	if err != nil {
		return nil, err
	}
	for srows.Next() {
		var id int64
		if err := srows.Scan(&id); err != nil {
			srows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	srows.Close()
	if err := srows.Err(); err != nil {
		return nil, err
	}
	out := map[int64]map[string]map[string]int{}
	for _, id := range ids {
		for k, d := range deltas[id] {
			running[k] += d
		}
		m := map[string]map[string]int{}
		for k, n := range running {
			if n == 0 {
				continue
			}
			if m[k.control] == nil {
				m[k.control] = map[string]int{}
			}
			m[k.control][k.severity] = n
		}
		out[id] = m
	}
	return out, nil
}

// CredentialSummary is a credential of a scan with how many places it was
// seen and in which sources, without the occurrences themselves.
type CredentialSummary struct {
	Row         CredentialRow
	Occurrences int
	Sources     []string
}

// EachCredential streams the credentials present in scan in the order
// the inventory first recorded them (by id: stable, and read in storage
// order, which at 100,000 rows is several times faster than by key),
// those of a scope only when one is given (nil: all).
func (s *Store) EachCredential(ctx context.Context, scan int64, scope []string, fn func(CredentialSummary) error) error {
	q := strings.Replace(credentialSelect, "COALESCE(c.seen_scan, 0)\n", `COALESCE(c.seen_scan, 0),
	(SELECT count(*) FROM occurrences o WHERE o.credential_id = c.id AND o.first_seen_scan <= ?1 AND o.last_seen_scan >= ?1),
	COALESCE((SELECT group_concat(DISTINCT o.source) FROM occurrences o WHERE o.credential_id = c.id AND o.first_seen_scan <= ?1 AND o.last_seen_scan >= ?1), '')
	`, 1)
	if q == credentialSelect {
		return fmt.Errorf("credential select changed: EachCredential cannot extend it")
	}
	q, args := restrict(q+` WHERE c.first_seen_scan <= ?1 AND c.last_seen_scan >= ?1 ORDER BY c.id`, []any{scan}, scope, " AND ", credentialInScope("c."))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			cs      CredentialSummary
			sources string
		)
		r, err := scanCredentialRowExtra(rows, &cs.Occurrences, &sources)
		if err != nil {
			return err
		}
		cs.Row = r
		if sources != "" {
			cs.Sources = strings.Split(sources, ",")
			sort.Strings(cs.Sources)
		}
		if err := fn(cs); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanCredentialRowExtra is scanCredentialRow with extra columns after
// the credential's.
func scanCredentialRowExtra(rows *sql.Rows, extra ...any) (CredentialRow, error) {
	var (
		r                               CredentialRow
		created, rotated, expires, used sql.NullString
		attrs, firstSeen                string
	)
	c := &r.Credential
	dst := []any{&r.ID, &c.Key, &c.Type, &r.IdentityKey, &created, &rotated, &expires, &used, &c.Status, &c.VaultStatus,
		&c.Fingerprint, &c.Redacted, &attrs, &c.Owner, &c.OwnerSource, &r.FirstScan, &r.LastScan, &firstSeen, &c.Target, &c.Unit, &r.SeenScan}
	if err := rows.Scan(append(dst, extra...)...); err != nil {
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

// EachIdentity streams the identities present in scan, by id (as
// EachCredential), with the keys of their credentials; those of a scope
// only when one is given (nil: all).
func (s *Store) EachIdentity(ctx context.Context, scan int64, scope []string, fn func(IdentityRow) error) error {
	q, args := restrict(`SELECT i.id, i.key, i.kind, i.name, i.source, i.provider, i.account, i.owner, i.owner_source,
		i.created_at, i.last_used_at, i.privileges, i.auth_mode, i.tags, i.first_seen_scan, i.last_seen_scan,
		(SELECT started_at FROM scans WHERE id = i.first_seen_scan), i.target, COALESCE(i.seen_scan, 0),
		COALESCE((SELECT group_concat(c.key, char(30)) FROM (SELECT key FROM credentials c
		  WHERE c.identity_id = i.id AND c.first_seen_scan <= ?1 AND c.last_seen_scan >= ?1 ORDER BY key) c), '')
		FROM identities i WHERE i.first_seen_scan <= ?1 AND i.last_seen_scan >= ?1 ORDER BY i.id`, []any{scan}, scope, " AND ", "i.target IN "+scopeSet)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r                      IdentityRow
			created, used          sql.NullString
			tags, firstSeen, creds string
		)
		i := &r.Identity
		if err := rows.Scan(&r.ID, &i.Key, &i.Kind, &i.Name, &i.Source, &i.Provider, &i.Account, &i.Owner, &i.OwnerSource,
			&created, &used, &i.Privileges, &i.AuthMode, &tags, &r.FirstScan, &r.LastScan, &firstSeen, &i.Target, &r.SeenScan, &creds); err != nil {
			return err
		}
		i.CreatedAt, i.LastUsedAt = parseTime(created), parseTime(used)
		if err := decodeStored("identity "+i.Key+": tags", tags, &i.Tags); err != nil {
			return err
		}
		if t := parseTime(sql.NullString{String: firstSeen, Valid: true}); t != nil {
			r.FirstSeen = *t
		}
		if creds != "" {
			r.CredentialKeys = strings.Split(creds, "\x1e")
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// GapRecord is a gap known during a period with its status at the end.
type GapRecord struct {
	Gap Gap
	// ResolvedAt is the start time of the scan that resolved it.
	ResolvedAt *time.Time
	// Decision is the acceptance or false-positive mark in force at the
	// end of the period (Gap.Status says which), if any.
	Decision *Decision
}

// gapStatusAtSQL is gapStatusSQL for a time in the past (?2, an evidence
// period's end): a decision counts if it was made by then and not revoked
// by then, so a later revocation or decision does not rewrite the period.
// (For the present the two agree: every decision is made, and revoked,
// before now.)
var gapStatusAtSQL = func() string {
	s := strings.ReplaceAll(gapStatusSQL, "d.revoked_at IS NULL",
		"julianday(d.at) <= julianday(?2) AND (d.revoked_at IS NULL OR julianday(d.revoked_at) > julianday(?2))")
	if s == gapStatusSQL {
		panic("inventory: gapStatusSQL no longer has the revocation condition gapStatusAtSQL rewrites")
	}
	return s
}()

// EachGapInPeriod streams the gaps known in the scans [from, to] (found
// by then and not resolved before from), ordered by id, with
// their status as of scan to and the decisions in force at now; those of
// a scope's subjects only when one is given (nil: all).
func (s *Store) EachGapInPeriod(ctx context.Context, from, to int64, now time.Time, scope []string, fn func(GapRecord) error) error {
	q, args := restrict(`SELECT g.id, g.control_id, g.subject_kind, g.subject_key, g.subject_name, g.family, g.severity,
		g.title, g.detail, g.frameworks, g.owner, g.first_seen_scan, g.last_seen_scan, COALESCE(g.resolved_scan, 0),
		(SELECT started_at FROM scans WHERE id = g.first_seen_scan), (SELECT started_at FROM scans WHERE id = g.resolved_scan), `+gapStatusAtSQL+`,
		COALESCE(d.id, 0), COALESCE(d.action, ''), COALESCE(d.actor, ''), COALESCE(d.reason, ''), COALESCE(d.at, ''), d.expires_at
		FROM gaps g LEFT JOIN decisions d ON d.id = (SELECT x.id FROM decisions x WHERE x.subject_kind = g.subject_kind AND x.subject_key = g.subject_key
		  AND x.control_id = g.control_id AND x.action <> 'owner' AND julianday(x.at) <= julianday(?2)
		  AND (x.revoked_at IS NULL OR julianday(x.revoked_at) > julianday(?2))
		  AND (x.expires_at IS NULL OR julianday(x.expires_at) > julianday(?2)) ORDER BY x.id DESC LIMIT 1)
		WHERE g.first_seen_scan <= ?1 AND (g.resolved_scan IS NULL OR g.resolved_scan >= ?3) ORDER BY g.id`, []any{to, fmtTime(now), from},
		scope, " AND ", subjectInScope("g."))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r                 GapRecord
			frameworks, first string
			resolved, dexp    sql.NullString
			d                 Decision
			dat               string
		)
		g := &r.Gap
		if err := rows.Scan(&g.ID, &g.ControlID, &g.SubjectKind, &g.SubjectKey, &g.SubjectName, &g.Family, &g.Severity, &g.Title, &g.Detail,
			&frameworks, &g.Owner, &g.FirstScan, &g.LastScan, &g.Resolved, &first, &resolved, &g.Status,
			&d.ID, &d.Action, &d.Actor, &d.Reason, &dat, &dexp); err != nil {
			return err
		}
		if d.ID != 0 && (g.Status == GapAccepted || g.Status == GapFalsePositive) {
			d.SubjectKind, d.SubjectKey, d.ControlID = g.SubjectKind, g.SubjectKey, g.ControlID
			if t := parseTime(sql.NullString{String: dat, Valid: true}); t != nil {
				d.At = *t
			}
			d.ExpiresAt = parseTime(dexp)
			r.Decision = &d
		}
		if err := decodeStored(fmt.Sprintf("gap %d: frameworks", g.ID), frameworks, &g.Frameworks); err != nil {
			return err
		}
		if t := parseTime(sql.NullString{String: first, Valid: true}); t != nil {
			g.FirstSeen = *t
		}
		r.ResolvedAt = parseTime(resolved)
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// GapEvent is one step in a gap's lifecycle: opened, resolved or reopened
// by a scan, or accepted, marked false-positive, revoked or expired by a
// triage decision (with who, when, why and until when).
type GapEvent struct {
	GapID     int64      `json:"gap_id"`
	At        time.Time  `json:"at"`
	Event     string     `json:"event"`
	ScanID    int64      `json:"scan_id,omitempty"`
	Decision  int64      `json:"decision_id,omitempty"`
	Actor     string     `json:"actor,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Gap lifecycle events that come from decisions.
const (
	EventAccepted      = "accepted"
	EventFalsePositive = "false-positive"
	EventRevoked       = "decision-revoked"
	EventExpired       = "acceptance-expired"
)

// EachGapEvent streams the lifecycle events of the gaps of
// EachGapInPeriod that happened in the scans [from, to] or, for
// decisions, in [since, until), ordered by gap, time and event (of a
// scope's gaps only when one is given; nil: all).
func (s *Store) EachGapEvent(ctx context.Context, from, to int64, since, until time.Time, scope []string, fn func(GapEvent) error) error {
	gaps, args := restrict(`SELECT id, control_id, subject_kind, subject_key FROM gaps WHERE first_seen_scan <= ?2 AND (resolved_scan IS NULL OR resolved_scan >= ?1)`,
		[]any{from, to, fmtTime(since), fmtTime(until)}, scope, " AND ", subjectInScope(""))
	dec := `FROM decisions d JOIN (` + gaps + `) g ON g.subject_kind = d.subject_kind AND g.subject_key = d.subject_key AND g.control_id = d.control_id
		WHERE d.action <> 'owner'`
	in := func(col string) string {
		return "julianday(" + col + ") >= julianday(?3) AND julianday(" + col + ") < julianday(?4)"
	}
	q := `SELECT g.id, s.started_at, e.event, e.scan_id, 0, '', '', NULL FROM gap_events e JOIN (` + gaps + `) g ON g.id = e.gap_id
		JOIN scans s ON s.id = e.scan_id WHERE e.scan_id >= ?1 AND e.scan_id <= ?2
	UNION ALL SELECT g.id, d.at, CASE d.action WHEN 'false-positive' THEN 'false-positive' ELSE 'accepted' END, 0, d.id, d.actor, d.reason, d.expires_at
		` + dec + ` AND ` + in("d.at") + `
	UNION ALL SELECT g.id, d.revoked_at, 'decision-revoked', 0, d.id, COALESCE(d.revoked_by, ''), '', NULL
		` + dec + ` AND d.revoked_at IS NOT NULL AND ` + in("d.revoked_at") + `
	UNION ALL SELECT g.id, d.expires_at, 'acceptance-expired', 0, d.id, '', '', NULL
		` + dec + ` AND d.expires_at IS NOT NULL AND (d.revoked_at IS NULL OR julianday(d.revoked_at) > julianday(d.expires_at)) AND ` + in("d.expires_at") + `
	ORDER BY 1, 2, 3, 5`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e       GapEvent
			at      string
			expires sql.NullString
		)
		if err := rows.Scan(&e.GapID, &at, &e.Event, &e.ScanID, &e.Decision, &e.Actor, &e.Reason, &expires); err != nil {
			return err
		}
		if t := parseTime(sql.NullString{String: at, Valid: true}); t != nil {
			e.At = *t
		}
		e.ExpiresAt = parseTime(expires)
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EachDecision streams the decisions recorded before until, oldest first
// (those on a scope's subjects only when one is given; nil: all).
func (s *Store) EachDecision(ctx context.Context, until time.Time, scope []string, fn func(Decision) error) error {
	q, args := restrict(`SELECT id, subject_kind, subject_key, control_id, action, value, reason, actor, at, expires_at, revoked_at, COALESCE(revoked_by, '')
		FROM decisions WHERE julianday(at) < julianday(?1) ORDER BY id`, []any{fmtTime(until)}, scope, " AND ", subjectInScope(""))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			d                Decision
			at               string
			expires, revoked sql.NullString
		)
		if err := rows.Scan(&d.ID, &d.SubjectKind, &d.SubjectKey, &d.ControlID, &d.Action, &d.Value, &d.Reason, &d.Actor, &at, &expires, &revoked, &d.RevokedBy); err != nil {
			return err
		}
		if t := parseTime(sql.NullString{String: at, Valid: true}); t != nil {
			d.At = *t
		}
		d.ExpiresAt, d.RevokedAt = parseTime(expires), parseTime(revoked)
		// A revocation after the period is not part of it.
		if d.RevokedAt != nil && !d.RevokedAt.Before(until) {
			d.RevokedAt, d.RevokedBy = nil, ""
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return rows.Err()
}
