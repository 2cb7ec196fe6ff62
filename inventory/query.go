package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNoScan is returned when the inventory holds no complete scan yet.
var ErrNoScan = errors.New("the inventory has no complete scan yet: run `nhi scan` first")

// Scan reads one scan row with its sources.
func (s *Store) Scan(ctx context.Context, id int64) (*Scan, error) {
	scans, err := s.readScans(ctx, "WHERE id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(scans) == 0 {
		return nil, fmt.Errorf("no scan %d in this inventory (nhi scans lists them)", id)
	}
	return &scans[0], nil
}

// Scans lists every scan, newest first.
func (s *Store) Scans(ctx context.Context) ([]Scan, error) {
	return s.readScans(ctx, "")
}

// readScans reads the scans selected by where (newest first) and their
// sources in two queries, whatever their number.
func (s *Store) readScans(ctx context.Context, where string, args ...any) ([]Scan, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, started_at, finished_at, status, tool_version, config_digest, counts, prev_hash, row_hash
		FROM scans `+where+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, err
	}
	var out []Scan
	index := map[int64]int{}
	running := false
	for rows.Next() {
		var (
			sc                Scan
			started, counts   string
			finished, rowHash sql.NullString
		)
		if err := rows.Scan(&sc.ID, &started, &finished, &sc.Status, &sc.ToolVersion, &sc.ConfigDigest, &counts, &sc.PrevHash, &rowHash); err != nil {
			rows.Close()
			return nil, err
		}
		if t := parseTime(sql.NullString{String: started, Valid: true}); t != nil {
			sc.StartedAt = *t
		}
		sc.FinishedAt = parseTime(finished)
		sc.RowHash = rowHash.String
		if err := decodeStored(fmt.Sprintf("scan %d: counts", sc.ID), counts, &sc.Counts); err != nil {
			rows.Close()
			return nil, err
		}
		running = running || sc.Status == ScanRunning
		index[sc.ID] = len(out)
		out = append(out, sc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if running && !s.scanLockHeld() {
		// Their process is gone: the next scan will record it as such.
		for i := range out {
			if out[i].Status == ScanRunning {
				out[i].Status = ScanIncomplete
			}
		}
	}
	srcWhere := ""
	if where != "" {
		srcWhere = "WHERE scan_id IN (SELECT id FROM scans " + where + ")"
	}
	if err := s.readScopes(ctx, out, index, srcWhere, args); err != nil {
		return nil, err
	}
	srows, err := s.r.QueryContext(ctx, `SELECT scan_id, name, kind, target, status, error, item_errors, stats, started_at, finished_at, targets
		FROM scan_sources `+srcWhere+` ORDER BY scan_id, name`, args...)
	if err != nil {
		return nil, err
	}
	defer srows.Close()
	for srows.Next() {
		var (
			id                    int64
			r                     SourceResult
			items, stats, st, fin string
			targets               string
		)
		if err := srows.Scan(&id, &r.Name, &r.Kind, &r.Target, &r.Status, &r.Error, &items, &stats, &st, &fin, &targets); err != nil {
			return nil, err
		}
		for _, c := range []struct {
			col string
			v   string
			dst any
		}{{"item_errors", items, &r.ItemErrors}, {"stats", stats, &r.Stats}, {"targets", targets, &r.Targets}} {
			if err := json.Unmarshal([]byte(c.v), c.dst); err != nil {
				return nil, fmt.Errorf("scan %d source %s: stored %s is not JSON (%v): the inventory is damaged", id, r.Name, c.col, err)
			}
		}
		if t := parseTime(sql.NullString{String: st, Valid: true}); t != nil {
			r.StartedAt = *t
		}
		if t := parseTime(sql.NullString{String: fin, Valid: true}); t != nil {
			r.FinishedAt = *t
		}
		if i, ok := index[id]; ok {
			out[i].Sources = append(out[i].Sources, r)
		}
	}
	return out, srows.Err()
}

// readScopes adds to each scan of out (index: scan id -> position) what it
// covered, target by target.
func (s *Store) readScopes(ctx context.Context, out []Scan, index map[int64]int, where string, args []any) error {
	rows, err := s.r.QueryContext(ctx, `SELECT t.scan_id, t.target, t.status, t.sources, t.error, t.units, COALESCE(t.last_ok_scan, 0),
		(SELECT started_at FROM scans WHERE id = t.last_ok_scan) FROM scan_targets t `+where+` ORDER BY t.scan_id, t.target`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id             int64
			st             TargetState
			sources, units string
			at             sql.NullString
		)
		if err := rows.Scan(&id, &st.Target, &st.Status, &sources, &st.Error, &units, &st.LastOKScan, &at); err != nil {
			return err
		}
		if json.Unmarshal([]byte(sources), &st.Sources) != nil || json.Unmarshal([]byte(units), &st.Units) != nil {
			return fmt.Errorf("scan %d target %s: stored sources or units are not JSON: the inventory is damaged", id, st.Target)
		}
		st.LastOKAt = parseTime(at)
		if i, ok := index[id]; ok {
			out[i].Scope = append(out[i].Scope, st)
		}
	}
	return rows.Err()
}

// LatestComplete returns the id of the newest complete scan.
func (s *Store) LatestComplete(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT max(id) FROM scans WHERE status = 'complete'`).Scan(&id); err != nil {
		return 0, err
	}
	if !id.Valid {
		return 0, ErrNoScan
	}
	return id.Int64, nil
}

// VerifyChain recomputes the scan hash chain and returns the first scan
// whose recorded prev_hash does not match its predecessor, or 0.
func (s *Store) VerifyChain(ctx context.Context) (int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, started_at, COALESCE(finished_at, ''), status, tool_version, config_digest, counts, prev_hash, COALESCE(row_hash, '')
		FROM scans ORDER BY id`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	prev := genesisHash
	for rows.Next() {
		var (
			id                                                      int64
			started, finished, status, tool, digest, counts, ph, rh string
		)
		if err := rows.Scan(&id, &started, &finished, &status, &tool, &digest, &counts, &ph, &rh); err != nil {
			return 0, err
		}
		if ph != prev {
			return id, nil
		}
		h := hashRow(id, started, finished, status, tool, digest, counts, ph)
		if rh != "" && rh != h {
			return id, nil
		}
		prev = h
	}
	return 0, rows.Err()
}
