package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"
)

// PutEvaluation stores the readiness engine's conclusions for this scan:
// resolved owners, gaps (opening, refreshing or reopening them), the
// resolution of gaps no longer found, and per-control and per-criterion
// results. One transaction.
func (w *ScanWriter) PutEvaluation(ctx context.Context, ev *Evaluation) error {
	if err := w.Flush(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	tx, err := w.s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	idOwner, err := tx.PrepareContext(ctx, `UPDATE identities SET owner = ?, owner_source = ? WHERE key = ?`)
	if err != nil {
		return err
	}
	credOwner, err := tx.PrepareContext(ctx, `UPDATE credentials SET owner = ?, owner_source = ? WHERE key = ?`)
	if err != nil {
		return err
	}
	for _, o := range ev.Owners {
		st := idOwner
		if o.SubjectKind == SubjectCredential {
			st = credOwner
		}
		if _, err := st.ExecContext(ctx, o.Owner, o.Source, o.SubjectKey); err != nil {
			return err
		}
	}

	var (
		find    = `SELECT id, resolved_scan FROM gaps WHERE control_id = ? AND subject_kind = ? AND subject_key = ?`
		insert  = `INSERT INTO gaps(control_id, subject_kind, subject_key, subject_name, family, severity, title, detail, evidence, frameworks, owner, first_seen_scan, last_seen_scan) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)`
		refresh = `UPDATE gaps SET subject_name = ?, family = ?, severity = ?, title = ?, detail = ?, evidence = ?, frameworks = ?, owner = ?, last_seen_scan = ?, resolved_scan = NULL WHERE id = ?`
		event   = `INSERT OR REPLACE INTO gap_events(gap_id, scan_id, event) VALUES(?,?,?)`
	)
	seen := map[int64]bool{}
	for _, g := range ev.Gaps {
		var (
			id       int64
			resolved sql.NullInt64
		)
		err := tx.QueryRowContext(ctx, find, g.ControlID, g.SubjectKind, g.SubjectKey).Scan(&id, &resolved)
		switch {
		case err == sql.ErrNoRows:
			res, err := tx.ExecContext(ctx, insert, g.ControlID, g.SubjectKind, g.SubjectKey, g.SubjectName, g.Family, g.Severity,
				g.Title, g.Detail, jsonText(g.Evidence), jsonText(g.Frameworks), g.Owner, w.id, w.id)
			if err != nil {
				return err
			}
			id, _ = res.LastInsertId()
			if _, err := tx.ExecContext(ctx, event, id, w.id, "opened"); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if _, err := tx.ExecContext(ctx, refresh, g.SubjectName, g.Family, g.Severity, g.Title, g.Detail, jsonText(g.Evidence),
				jsonText(g.Frameworks), g.Owner, w.id, id); err != nil {
				return err
			}
			if resolved.Valid {
				if _, err := tx.ExecContext(ctx, event, id, w.id, "reopened"); err != nil {
					return err
				}
			}
		}
		seen[id] = true
	}

	// Gaps not found again: resolved, unless their subject vanished because
	// its source failed this time (then they are carried forward).
	rows, err := tx.QueryContext(ctx, `SELECT id, subject_kind, subject_key, family FROM gaps WHERE resolved_scan IS NULL AND last_seen_scan < ?`, w.id)
	if err != nil {
		return err
	}
	type pending struct {
		id    int64
		carry bool
	}
	var todo []pending
	for rows.Next() {
		var (
			id                int64
			kind, key, family string
		)
		if err := rows.Scan(&id, &kind, &key, &family); err != nil {
			rows.Close()
			return err
		}
		if seen[id] {
			continue
		}
		carry := ev.FailedFamilies[family] && !ev.Visible[kind+"\x00"+key]
		todo = append(todo, pending{id, carry})
	}
	rows.Close()
	for _, p := range todo {
		if p.carry {
			if _, err := tx.ExecContext(ctx, `UPDATE gaps SET last_seen_scan = ? WHERE id = ?`, w.id, p.id); err != nil {
				return err
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE gaps SET resolved_scan = ? WHERE id = ?`, w.id, p.id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, event, p.id, w.id, "resolved"); err != nil {
			return err
		}
	}

	for _, c := range ev.Controls {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO control_results(scan_id, control_id, severity, evaluated, passing) VALUES(?,?,?,?,?)`,
			w.id, c.ControlID, c.Severity, c.Evaluated, c.Passing); err != nil {
			return err
		}
	}
	for _, c := range ev.Criteria {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO criterion_results(scan_id, framework, criterion, evaluated, passing) VALUES(?,?,?,?,?)`,
			w.id, c.Framework, c.Criterion, c.Evaluated, c.Passing); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Gaps lists every gap known as of scan id: open in it (status "open") or
// resolved at or before it (status "resolved"), worst first.
func (s *Store) Gaps(ctx context.Context, scan int64) ([]Gap, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT g.id, g.control_id, g.subject_kind, g.subject_key, g.subject_name, g.family, g.severity,
		g.title, g.detail, g.evidence, g.frameworks, g.owner, g.first_seen_scan, g.last_seen_scan, COALESCE(g.resolved_scan, 0),
		(SELECT started_at FROM scans WHERE id = g.first_seen_scan)
		FROM gaps g
		WHERE g.first_seen_scan <= ? AND (g.last_seen_scan >= ? OR (g.resolved_scan IS NOT NULL AND g.resolved_scan <= ?))
		ORDER BY CASE g.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
		  g.control_id, g.subject_key`, scan, scan, scan)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Gap
	for rows.Next() {
		var (
			g                   Gap
			evidence, fw, first string
		)
		if err := rows.Scan(&g.ID, &g.ControlID, &g.SubjectKind, &g.SubjectKey, &g.SubjectName, &g.Family, &g.Severity, &g.Title,
			&g.Detail, &evidence, &fw, &g.Owner, &g.FirstScan, &g.LastScan, &g.Resolved, &first); err != nil {
			return nil, err
		}
		g.Evidence = decodeMap(evidence)
		_ = json.Unmarshal([]byte(fw), &g.Frameworks)
		if t, err := time.Parse(time.RFC3339Nano, first); err == nil {
			g.FirstSeen = t
		}
		g.Status = GapOpen
		if g.LastScan < scan || (g.Resolved != 0 && g.Resolved <= scan) {
			g.Status = GapResolved
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// ControlResults returns per-control results of a scan.
func (s *Store) ControlResults(ctx context.Context, scan int64) ([]ControlResult, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT control_id, severity, evaluated, passing FROM control_results WHERE scan_id = ? ORDER BY control_id`, scan)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ControlResult
	for rows.Next() {
		var c ControlResult
		if err := rows.Scan(&c.ControlID, &c.Severity, &c.Evaluated, &c.Passing); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CriterionResults returns per-criterion results of a scan.
func (s *Store) CriterionResults(ctx context.Context, scan int64) ([]CriterionResult, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT framework, criterion, evaluated, passing FROM criterion_results WHERE scan_id = ? ORDER BY framework, criterion`, scan)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CriterionResult
	for rows.Next() {
		var c CriterionResult
		if err := rows.Scan(&c.Framework, &c.Criterion, &c.Evaluated, &c.Passing); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
