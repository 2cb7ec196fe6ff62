package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Diff computes what changed from scan from to scan to (from 0: since
// before the first scan). Both must be finished scans other than failed
// ones; to must be later than from. Each section is read with one query
// on the scan columns, so its cost grows with what the inventory holds,
// never with how many scans it has.
//
// Gaps are compared by their state at each end, from their events: one
// opened and resolved again inside the window is no change; a gap that
// opened while a decision in force at to accepts it, or marks it a false
// positive, is not news either and is left out.
func (s *Store) Diff(ctx context.Context, from, to int64) (*Diff, error) {
	if from >= to {
		return nil, fmt.Errorf("diff: --from scan %d is not before --to scan %d", from, to)
	}
	d := &Diff{SchemaVersion: DiffSchemaVersion}
	var err error
	if d.To, err = s.diffScan(ctx, to); err != nil {
		return nil, err
	}
	if from > 0 {
		if d.From, err = s.diffScan(ctx, from); err != nil {
			return nil, err
		}
	}
	// Decisions are placed in the window by time: after from finished (or
	// ever, from 0) up to when to finished.
	var since time.Time
	if d.From.FinishedAt != nil {
		since = *d.From.FinishedAt
	}
	until := *d.To.FinishedAt
	for _, step := range []func(context.Context, *Diff) error{
		s.diffIdentities, s.diffCredentials, s.diffLeaks, s.diffGaps,
		func(ctx context.Context, d *Diff) error { return s.diffDecisions(ctx, d, since, until) },
		s.diffControls, s.diffSources, s.diffCoverage,
	} {
		if err := step(ctx, d); err != nil {
			return nil, fmt.Errorf("diff scans %d and %d: %w", from, to, err)
		}
	}
	counts, err := s.GapCounts(ctx, to, until)
	if err != nil {
		return nil, err
	}
	d.each(func(string) bool { return true }) // every section a list in JSON, never null
	d.Summary = d.counts()
	d.Summary.OpenBySeverity = map[string]int{}
	for sev, by := range counts {
		if n := by[GapOpen]; n > 0 {
			d.Summary.OpenBySeverity[sev] = n
		}
	}
	return d, nil
}

// DiffScans returns the two scans nhi diff compares by default: the last
// two complete scans (from 0 when there is only one).
func (s *Store) DiffScans(ctx context.Context) (from, to int64, err error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM scans WHERE status = 'complete' ORDER BY id DESC LIMIT 2`)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, 0, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	switch len(ids) {
	case 0:
		return 0, 0, ErrNoScan
	case 1:
		return 0, ids[0], nil
	}
	return ids[1], ids[0], nil
}

// CompleteBefore returns the last complete scan before scan (0 if none).
func (s *Store) CompleteBefore(ctx context.Context, scan int64) (int64, error) {
	var id sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT max(id) FROM scans WHERE status = 'complete' AND id < ?`, scan).Scan(&id)
	return id.Int64, err
}

func (s *Store) diffScan(ctx context.Context, id int64) (DiffScan, error) {
	var (
		ds       = DiffScan{ID: id}
		started  string
		finished sql.NullString
	)
	err := s.r.QueryRowContext(ctx, `SELECT status, started_at, finished_at FROM scans WHERE id = ?`, id).Scan(&ds.Status, &started, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		return ds, fmt.Errorf("no scan %d in %s (nhi scans lists them)", id, s.path)
	}
	if err != nil {
		return ds, err
	}
	if ds.Status == ScanRunning || ds.Status == ScanIncomplete || ds.Status == ScanFailed || !finished.Valid {
		return ds, fmt.Errorf("scan %d is %s: only finished scans can be compared (nhi scans lists them)", id, ds.Status)
	}
	ds.StartedAt = parseTime(sql.NullString{String: started, Valid: true})
	ds.FinishedAt = parseTime(finished)
	return ds, nil
}

// inScan is the condition for a row of alias t to belong to scan ?N.
func inScan(t string, n int) string {
	p := "?" + strconv.Itoa(n)
	return t + ".first_seen_scan <= " + p + " AND " + t + ".last_seen_scan >= " + p
}

func (s *Store) diffIdentities(ctx context.Context, d *Diff) error {
	q := `SELECT t.id, t.key, t.kind, t.name, t.source, t.owner, t.target, t.account, t.first_seen_scan, t.last_seen_scan
		FROM identities t WHERE (` + inScan("t", 2) + `) <> (` + inScan("t", 1) + `) ORDER BY t.kind, t.name, t.id`
	rows, err := s.r.QueryContext(ctx, q, d.From.ID, d.To.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			it          DiffIdentity
			first, last int64
		)
		if err := rows.Scan(&it.ID, &it.Key, &it.Kind, &it.Name, &it.Source, &it.Owner, &it.Target, &it.Account, &first, &last); err != nil {
			return err
		}
		if last >= d.To.ID {
			it.Item = fmt.Sprintf("identity:new:%d:%d", it.ID, first)
			d.NewIdentities = append(d.NewIdentities, it)
		} else {
			it.Item = fmt.Sprintf("identity:removed:%d:%d", it.ID, last)
			d.RemovedIdentities = append(d.RemovedIdentities, it)
		}
	}
	return rows.Err()
}

func (s *Store) diffCredentials(ctx context.Context, d *Diff) error {
	q := `SELECT t.id, t.key, t.type, t.fingerprint, t.redacted, t.vault_status, t.status, t.owner, COALESCE(i.key, ''),
		t.first_seen_scan, t.last_seen_scan
		FROM credentials t LEFT JOIN identities i ON i.id = t.identity_id
		WHERE (` + inScan("t", 2) + `) <> (` + inScan("t", 1) + `) ORDER BY t.type, t.key, t.id`
	rows, err := s.r.QueryContext(ctx, q, d.From.ID, d.To.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c           DiffCredential
			first, last int64
		)
		if err := rows.Scan(&c.ID, &c.Key, &c.Type, &c.Fingerprint, &c.Redacted, &c.VaultStatus, &c.Status, &c.Owner, &c.Identity, &first, &last); err != nil {
			return err
		}
		if last >= d.To.ID {
			c.Item = fmt.Sprintf("credential:new:%d:%d", c.ID, first)
			d.NewCredentials = append(d.NewCredentials, c)
		} else {
			c.Item = fmt.Sprintf("credential:removed:%d:%d", c.ID, last)
			d.RemovedCredentials = append(d.RemovedCredentials, c)
		}
	}
	return rows.Err()
}

// diffLeaks lists the occurrences first seen after from and still there
// at to of secrets written in code or CI (not references to a secret
// store, not a provider listing its own keys): a secret seen in a place
// it was not. An active cloud key
// (its provider says so) seen in code or CI is a live key leak, listed
// first.
func (s *Store) diffLeaks(ctx context.Context, d *Diff) error {
	q := `SELECT o.id, c.id, c.key, c.type, c.fingerprint, c.redacted, o.source, o.repo, o.path, o.line, o.commit_sha, o.author,
		o.date, o.ci_job, o.vault_path, c.status = 'Active' AND o.source IN ('` + SourceGit + `', '` + SourceCI + `', '` + SourceDir + `')
		FROM occurrences o JOIN credentials c ON c.id = o.credential_id
		WHERE o.first_seen_scan > ?1 AND o.first_seen_scan <= ?2 AND o.last_seen_scan >= ?2
			AND o.source IN ('` + SourceGit + `', '` + SourceCI + `', '` + SourceDir + `') AND (c.vault_status = '` + VaultHardcoded + `' OR c.status = 'Active')
		ORDER BY 16 DESC, o.date DESC, o.id`
	rows, err := s.r.QueryContext(ctx, q, d.From.ID, d.To.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			l    DiffLeak
			date sql.NullString
		)
		if err := rows.Scan(&l.OccurrenceID, &l.Credential, &l.Key, &l.Type, &l.Fingerprint, &l.Redacted, &l.Source, &l.Repo, &l.Path,
			&l.Line, &l.Commit, &l.Author, &date, &l.CIJob, &l.VaultPath, &l.LiveKey); err != nil {
			return err
		}
		l.Date = parseTime(date)
		l.Item = fmt.Sprintf("leak:%d", l.OccurrenceID)
		d.Leaks = append(d.Leaks, l)
	}
	return rows.Err()
}

// diffGaps compares each gap with an event in the window by its state at
// both ends: the last event at or before from, and at or before to.
func (s *Store) diffGaps(ctx context.Context, d *Diff) error {
	last := func(n int) string {
		return `(SELECT e.event FROM gap_events e WHERE e.gap_id = g.id AND e.scan_id <= ?` + strconv.Itoa(n) + ` ORDER BY e.scan_id DESC LIMIT 1)`
	}
	q := `SELECT g.id, g.control_id, g.severity, g.title, g.detail, g.subject_kind, g.subject_key, g.subject_name, g.owner,
		COALESCE(` + last(3) + `, ''), COALESCE(` + last(1) + `, ''),
		(SELECT max(e.scan_id) FROM gap_events e WHERE e.gap_id = g.id AND e.scan_id <= ?1), ` + gapStatusSQL + `
		FROM gaps g WHERE g.id IN (SELECT gap_id FROM gap_events WHERE scan_id > ?3 AND scan_id <= ?1)
		ORDER BY ` + gapRankSQL + `, g.control_id, g.subject_name, g.id`
	rows, err := s.r.QueryContext(ctx, q, d.To.ID, fmtTime(*d.To.FinishedAt), d.From.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			g                    DiffGap
			before, after, state string
		)
		if err := rows.Scan(&g.ID, &g.ControlID, &g.Severity, &g.Title, &g.Detail, &g.SubjectKind, &g.SubjectKey, &g.SubjectName,
			&g.Owner, &before, &after, &g.ScanID, &state); err != nil {
			return err
		}
		wasOpen, isOpen := before == "opened" || before == "reopened", after == "opened" || after == "reopened"
		switch {
		case isOpen && !wasOpen && state != GapOpen:
			// Opened under a decision in force: not news.
		case isOpen && before == "":
			g.Item = fmt.Sprintf("gap:opened:%d:%d", g.ID, g.ScanID)
			d.GapsOpened = append(d.GapsOpened, g)
		case isOpen && before == "resolved":
			g.Item = fmt.Sprintf("gap:reopened:%d:%d", g.ID, g.ScanID)
			d.GapsReopened = append(d.GapsReopened, g)
		case wasOpen && !isOpen:
			g.Item = fmt.Sprintf("gap:resolved:%d:%d", g.ID, g.ScanID)
			d.GapsResolved = append(d.GapsResolved, g)
		}
	}
	return rows.Err()
}

// diffDecisions lists the acceptances and false positives recorded in
// (since, until] and still in force at until, and the acceptances whose
// expiry fell in the window without being revoked before it.
func (s *Store) diffDecisions(ctx context.Context, d *Diff, since, until time.Time) error {
	sinceS, untilS := fmtTime(since), fmtTime(until)
	if since.IsZero() {
		sinceS = ""
	}
	q := `SELECT id, action, control_id, subject_kind, subject_key, reason, actor, at, expires_at
		FROM decisions WHERE action IN ('accept-risk', 'false-positive') AND (
			(julianday(at) > julianday(COALESCE(NULLIF(?1, ''), '0001-01-01')) AND julianday(at) <= julianday(?2)
				AND (revoked_at IS NULL OR julianday(revoked_at) > julianday(?2))
				AND (expires_at IS NULL OR julianday(expires_at) > julianday(?2)))
			OR (expires_at IS NOT NULL AND julianday(expires_at) > julianday(COALESCE(NULLIF(?1, ''), '0001-01-01'))
				AND julianday(expires_at) <= julianday(?2)
				AND (revoked_at IS NULL OR julianday(revoked_at) >= julianday(expires_at))))
		ORDER BY id`
	rows, err := s.r.QueryContext(ctx, q, sinceS, untilS)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			dd      DiffDecision
			at      string
			expires sql.NullString
		)
		if err := rows.Scan(&dd.ID, &dd.Action, &dd.ControlID, &dd.SubjectKind, &dd.SubjectKey, &dd.Reason, &dd.Actor, &at, &expires); err != nil {
			return err
		}
		if t := parseTime(sql.NullString{String: at, Valid: true}); t != nil {
			dd.At = *t
		}
		dd.ExpiresAt = parseTime(expires)
		if dd.ExpiresAt != nil && !dd.ExpiresAt.After(until) {
			dd.Item = fmt.Sprintf("decision:expired:%d", dd.ID)
			d.Expired = append(d.Expired, dd)
			continue
		}
		dd.Item = fmt.Sprintf("decision:recorded:%d", dd.ID)
		d.Accepted = append(d.Accepted, dd)
	}
	return rows.Err()
}

func (s *Store) diffControls(ctx context.Context, d *Diff) error {
	q := `SELECT t.control_id, t.severity, COALESCE(f.evaluated, 0), COALESCE(f.passing, 0), t.evaluated, t.passing
		FROM control_results t LEFT JOIN control_results f ON f.scan_id = ?1 AND f.control_id = t.control_id
		WHERE t.scan_id = ?2 AND (f.control_id IS NULL OR f.evaluated <> t.evaluated OR f.passing <> t.passing)
		ORDER BY t.control_id`
	rows, err := s.r.QueryContext(ctx, q, d.From.ID, d.To.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c DiffControl
		if err := rows.Scan(&c.ControlID, &c.Severity, &c.EvaluatedBefore, &c.PassingBefore, &c.EvaluatedAfter, &c.PassingAfter); err != nil {
			return err
		}
		if c.EvaluatedBefore == 0 && c.EvaluatedAfter == 0 {
			continue
		}
		c.Item = fmt.Sprintf("control:%s:%d:%d", c.ControlID, d.From.ID, d.To.ID)
		d.Controls = append(d.Controls, c)
	}
	return rows.Err()
}

// diffSources lists the sources that failed in to but not in from, and
// those that failed in from and ran ok in to.
func (s *Store) diffSources(ctx context.Context, d *Diff) error {
	q := `SELECT t.name, t.kind, t.status, COALESCE(f.status, ''), t.error
		FROM scan_sources t LEFT JOIN scan_sources f ON f.scan_id = ?1 AND f.name = t.name
		WHERE t.scan_id = ?2 AND ((t.status = 'failed' AND COALESCE(f.status, '') <> 'failed') OR (t.status = 'ok' AND f.status = 'failed'))
		ORDER BY t.name`
	rows, err := s.r.QueryContext(ctx, q, d.From.ID, d.To.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			src    DiffSource
			st, fs string
		)
		if err := rows.Scan(&src.Name, &src.Kind, &st, &fs, &src.Error); err != nil {
			return err
		}
		src.Change = "recovered"
		if st == SourceFailed {
			src.Change = "failed"
		} else {
			src.Error = ""
		}
		src.Item = fmt.Sprintf("source:%s:%s:%d", src.Change, src.Name, d.To.ID)
		d.Sources = append(d.Sources, src)
	}
	return rows.Err()
}

// diffCoverage compares what each scan did with each target.
func (s *Store) diffCoverage(ctx context.Context, d *Diff) error {
	before, err := s.Scope(ctx, d.From.ID)
	if err != nil {
		return err
	}
	after, err := s.Scope(ctx, d.To.ID)
	if err != nil {
		return err
	}
	was := map[string]string{}
	for _, t := range before {
		was[t.Target] = t.Status
	}
	for _, t := range after {
		b := was[t.Target]
		var change string
		switch {
		case b == "" && t.Status == TargetOK:
			change = "added"
		case b == "":
			change = "failed"
		case b == TargetOK && t.Status != TargetOK:
			change = "lost"
		case b != TargetOK && t.Status == TargetOK:
			change = "recovered"
		default:
			continue
		}
		d.Coverage = append(d.Coverage, DiffTarget{
			Item:   fmt.Sprintf("target:%s:%s:%d", change, t.Target, d.To.ID),
			Target: t.Target, Before: b, After: t.Status, Change: change, Error: t.Error,
		})
	}
	sort.Slice(d.Coverage, func(i, j int) bool { return d.Coverage[i].Target < d.Coverage[j].Target })
	return nil
}

func (d *Diff) counts() DiffCounts {
	c := DiffCounts{
		NewIdentities: len(d.NewIdentities), RemovedIdentities: len(d.RemovedIdentities),
		NewCredentials: len(d.NewCredentials), RemovedCredentials: len(d.RemovedCredentials),
		Leaks: len(d.Leaks), GapsOpened: len(d.GapsOpened), GapsResolved: len(d.GapsResolved),
		GapsReopened: len(d.GapsReopened), Accepted: len(d.Accepted), Expired: len(d.Expired),
		ControlsChanged: len(d.Controls), SourcesChanged: len(d.Sources), CoverageChanged: len(d.Coverage),
	}
	for _, l := range d.Leaks {
		if l.LiveKey {
			c.LiveKeyLeaks++
		}
	}
	return c
}
