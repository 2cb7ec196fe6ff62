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
		_ = json.Unmarshal([]byte(counts), &sc.Counts)
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
	srows, err := s.r.QueryContext(ctx, `SELECT scan_id, name, kind, target, status, error, item_errors, stats, started_at, finished_at
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
		)
		if err := srows.Scan(&id, &r.Name, &r.Kind, &r.Target, &r.Status, &r.Error, &items, &stats, &st, &fin); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(items), &r.ItemErrors)
		_ = json.Unmarshal([]byte(stats), &r.Stats)
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
