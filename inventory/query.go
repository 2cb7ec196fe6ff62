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
	var (
		sc                Scan
		started, counts   string
		finished, rowHash sql.NullString
	)
	err := s.r.QueryRowContext(ctx, `SELECT id, started_at, finished_at, status, tool_version, config_digest, counts, prev_hash, row_hash
		FROM scans WHERE id = ?`, id).Scan(&sc.ID, &started, &finished, &sc.Status, &sc.ToolVersion, &sc.ConfigDigest, &counts, &sc.PrevHash, &rowHash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("no scan %d in this inventory", id)
	}
	if err != nil {
		return nil, err
	}
	if t := parseTime(sql.NullString{String: started, Valid: true}); t != nil {
		sc.StartedAt = *t
	}
	sc.FinishedAt = parseTime(finished)
	if sc.Status == ScanRunning && !s.scanLockHeld() {
		// Its process is gone: the next scan will record it as such.
		sc.Status = ScanIncomplete
	}
	sc.RowHash = rowHash.String
	_ = json.Unmarshal([]byte(counts), &sc.Counts)
	rows, err := s.r.QueryContext(ctx, `SELECT name, kind, target, status, error, item_errors, stats, started_at, finished_at
		FROM scan_sources WHERE scan_id = ? ORDER BY name`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r                     SourceResult
			items, stats, st, fin string
		)
		if err := rows.Scan(&r.Name, &r.Kind, &r.Target, &r.Status, &r.Error, &items, &stats, &st, &fin); err != nil {
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
		sc.Sources = append(sc.Sources, r)
	}
	return &sc, rows.Err()
}

// Scans lists every scan, newest first.
func (s *Store) Scans(ctx context.Context) ([]Scan, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM scans ORDER BY id DESC`)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := make([]Scan, 0, len(ids))
	for _, id := range ids {
		sc, err := s.Scan(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *sc)
	}
	return out, nil
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
