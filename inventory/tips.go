package inventory

import (
	"context"
	"database/sql"
	"sort"
)

// Tip is a branch or tag head a scan read in a git repository: the ref's
// full name (refs/heads/main, refs/tags/v1.2.0, refs/remotes/origin/dev)
// and the commit it named (a tag peeled to its commit).
type Tip struct {
	Ref    string `json:"ref"`
	Commit string `json:"commit"`
}

// SortTips orders tips by ref name, the order they are stored and shown in.
func SortTips(tips []Tip) {
	sort.Slice(tips, func(i, j int) bool { return tips[i].Ref < tips[j].Ref })
}

// GitTarget is the scope target of a git repository id.
func GitTarget(repo string) string { return SourceGit + ":" + repo }

// putTips records the tips of target in scan id, in place of any recorded
// there already.
func putTips(ctx context.Context, tx *sql.Tx, id int64, target string, tips []Tip) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM scan_tips WHERE scan_id = ? AND target = ?`, id, target); err != nil {
		return err
	}
	st, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO scan_tips(scan_id, target, ref, commit_sha) VALUES(?,?,?,?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, t := range tips {
		if _, err := st.ExecContext(ctx, id, target, t.Ref, t.Commit); err != nil {
			return err
		}
	}
	return nil
}

// carryTips copies the tips scan from recorded for target into scan id:
// the refs are unchanged since (their digest is the one from recorded).
func carryTips(ctx context.Context, tx *sql.Tx, id, from int64, target string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM scan_tips WHERE scan_id = ? AND target = ?`, id, target); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO scan_tips(scan_id, target, ref, commit_sha)
		SELECT ?1, target, ref, commit_sha FROM scan_tips WHERE scan_id = ?2 AND target = ?3`, id, from, target)
	return err
}

// ScanTips are the tips of the scans read by TipsBetween: scan id ->
// target -> tips sorted by ref.
type ScanTips map[int64]map[string][]Tip

// TipsBetween returns the tips recorded for the scans with ids in
// [from, to]: for each scan, each git repository target it covered (read
// in full or in part) with the refs it read. Targets a scan carried or
// whose source failed have none in it, nor do scans from before tips were
// recorded.
func (s *Store) TipsBetween(ctx context.Context, from, to int64) (ScanTips, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT scan_id, target, ref, commit_sha FROM scan_tips
		WHERE scan_id >= ? AND scan_id <= ? ORDER BY scan_id, target, ref`, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := ScanTips{}
	for rows.Next() {
		var (
			id     int64
			target string
			t      Tip
		)
		if err := rows.Scan(&id, &target, &t.Ref, &t.Commit); err != nil {
			return nil, err
		}
		if out[id] == nil {
			out[id] = map[string][]Tip{}
		}
		out[id][target] = append(out[id][target], t)
	}
	return out, rows.Err()
}

// foldTips copies the tips the shard's scan recorded into the scan being
// written by w (a merge): the targets the shard read are the merged
// scan's, and its scope step keeps the tips of those it covered.
func (sh *ShardInventory) foldTips(ctx context.Context, w *ScanWriter) error {
	rows, err := sh.store.r.QueryContext(ctx, `SELECT target, ref, commit_sha FROM scan_tips WHERE scan_id = ? ORDER BY target, ref`, sh.Scan.ID)
	if err != nil {
		return err
	}
	by := map[string][]Tip{}
	var targets []string
	for rows.Next() {
		var (
			target string
			t      Tip
		)
		if err := rows.Scan(&target, &t.Ref, &t.Commit); err != nil {
			rows.Close()
			return err
		}
		if by[target] == nil {
			targets = append(targets, target)
		}
		by[target] = append(by[target], t)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(targets) == 0 {
		return err
	}
	return w.settledTx(ctx, func(tx *sql.Tx) error {
		for _, target := range targets {
			if err := putTips(ctx, tx, w.id, target, by[target]); err != nil {
				return err
			}
		}
		return nil
	})
}
