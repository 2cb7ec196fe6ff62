package inventory

// What a scan keeps for the next one to skip work: the commits scanned
// per repository and rules digest, the refs they were reachable from, a
// source's memos. Losing any of it costs time, never results.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// ScannedCommits returns the commits of repo already scanned under the
// given rules digest.
func (w *ScanWriter) ScannedCommits(ctx context.Context, repo, digest string) (map[string]bool, error) {
	rows, err := w.s.r.QueryContext(ctx, `SELECT commit_sha FROM scanned_commits WHERE repo = ? AND rules_digest = ?`, repo, digest)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out[c] = true
	}
	return out, rows.Err()
}

// RepoRefs is what the inventory remembers of a repository's refs under
// one rules digest: their digest when its history was last recorded as
// scanned, how many commits they reached, and the scan that recorded it.
type RepoRefs struct {
	Refs    string
	Commits int64
	Scan    int64
	// HasTips is whether that scan recorded the refs' tips (scans from
	// before tips were recorded did not): only then can CarryRepo carry
	// them without being given them.
	HasTips bool
	// Since is the generation of the reachable commits: they are the
	// scanned commits last seen in scan Since or later.
	Since int64
	// Starts are the commits that history was walked from (those of
	// `rev-list --all`) and Shape the digest of what else decided which
	// commits they reach (RepoHistory). HasStarts is false for history
	// recorded before starts were: it cannot be extended.
	Starts    []string
	Shape     string
	HasStarts bool
}

// RepoHistory is what the git source read of a repository for the history
// it records as scanned: the digest of its refs, the commits `rev-list
// --all` starts from, the digest of what else shapes the commit graph
// (shallow boundary, grafts, replace refs), and the branch and tag heads.
type RepoHistory struct {
	Refs   string
	Starts []string
	Shape  string
	Tips   []Tip
}

// RepoRefs returns the refs recorded for repo under digest; ok is false
// when none are.
func (w *ScanWriter) RepoRefs(ctx context.Context, repo, digest string) (r RepoRefs, ok bool, err error) {
	var starts sql.NullString
	err = w.s.r.QueryRowContext(ctx, `SELECT refs_digest, commits, scan_id, since_scan, starts, shape,
		EXISTS (SELECT 1 FROM scan_tips t WHERE t.scan_id = repo_refs.scan_id AND t.target = ?3)
		FROM repo_refs WHERE repo = ?1 AND rules_digest = ?2`,
		repo, digest, GitTarget(repo)).Scan(&r.Refs, &r.Commits, &r.Scan, &r.Since, &starts, &r.Shape, &r.HasTips)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	// Starts that cannot be read are none: the history is listed in full.
	if starts.Valid && json.Unmarshal([]byte(starts.String), &r.Starts) == nil {
		r.HasStarts = true
	}
	return r, true, nil
}

// CarryRepo carries the git occurrences of repo forward into this scan
// when its refs are those recorded in r: the reachable commits are the
// ones r's scan marked, and nothing needs to be listed or read. The
// scan's tips of repo are tips when given, else those r's scan recorded
// (the same refs: their digest is unchanged).
func (w *ScanWriter) CarryRepo(ctx context.Context, repo, digest string, r RepoRefs, tips []Tip) error {
	return w.settledTx(ctx, func(tx *sql.Tx) error {
		if err := carryOccurrences(ctx, tx, w.id, repo, digest, r.Since); err != nil {
			return err
		}
		if tips != nil {
			return putTips(ctx, tx, w.id, GitTarget(repo), tips)
		}
		return carryTips(ctx, tx, w.id, r.Scan, GitTarget(repo))
	})
}

// carryOccurrences marks the git occurrences of repo found in the
// reachable commits under digest (those last seen in scan since or later)
// as seen in scan id.
func carryOccurrences(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, id int64, repo, digest string, since int64) error {
	// Driven from the repository's occurrences, each probing the primary
	// key of scanned_commits: 3 ms on the benchmark inventory, where
	// "commit_sha IN (the 10,396 marked commits)" took 21 ms.
	// History that is still reachable was covered by this scan: the
	// occurrences are observed (seen_scan), not carried.
	// Rows stored before targets existed get the repository's target.
	_, err := db.ExecContext(ctx, `UPDATE occurrences SET last_seen_scan = ?1, seen_scan = ?1,
		target = CASE WHEN target = '' THEN 'git:' || repo ELSE target END
		WHERE repo = ?2 AND source = 'git' AND last_seen_scan <> ?1 AND EXISTS (SELECT 1 FROM scanned_commits sc
		WHERE sc.repo = ?2 AND sc.rules_digest = ?3 AND sc.commit_sha = occurrences.commit_sha AND sc.last_seen_scan >= ?4)`,
		id, repo, digest, since)
	return err
}

// Memo returns what a source kept under (kind, key) in an earlier scan.
func (w *ScanWriter) Memo(ctx context.Context, kind, key string) ([]byte, bool, error) {
	var v []byte
	err := w.s.r.QueryRowContext(ctx, `SELECT value FROM memos WHERE kind = ? AND key = ?`, kind, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return v, err == nil, err
}

// PutMemo keeps value under (kind, key) for later scans, in place of
// what was there.
func (w *ScanWriter) PutMemo(ctx context.Context, kind, key string, value []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	_, err := w.s.w.ExecContext(ctx, `INSERT INTO memos(kind, key, value, scan_id) VALUES(?,?,?,?)
		ON CONFLICT(kind, key) DO UPDATE SET value = excluded.value, scan_id = excluded.scan_id`, kind, key, value, w.id)
	return err
}

// MarkRepoScanned records that every commit in reachable (the commits
// reachable from h.Starts) has now been scanned under digest (new ones
// were scanned by this scan), and carries the occurrences of those
// commits forward into this scan: history that is still reachable is
// still there, even when it was not read again. h.Tips are recorded as
// this scan's tips of the repository.
//
// When every commit reachable at the recorded history still is, only the
// commits added to it are marked; otherwise (history rewritten, a branch
// deleted) every reachable commit is marked anew and the rest is left
// behind.
func (w *ScanWriter) MarkRepoScanned(ctx context.Context, repo, digest string, h RepoHistory, reachable []string) error {
	return w.settledTx(ctx, func(tx *sql.Tx) error {
		since, ok, err := recordedSince(ctx, tx, repo, digest)
		if err != nil {
			return err
		}
		prev := map[string]bool{}
		if ok {
			rows, err := tx.QueryContext(ctx, `SELECT commit_sha FROM scanned_commits
				WHERE repo = ? AND rules_digest = ? AND last_seen_scan >= ?`, repo, digest, since)
			if err != nil {
				return err
			}
			for rows.Next() {
				var c string
				if err := rows.Scan(&c); err != nil {
					rows.Close()
					return err
				}
				prev[c] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		reach := make(map[string]bool, len(reachable))
		for _, c := range reachable {
			reach[c] = true
		}
		kept := ok
		for c := range prev {
			if !reach[c] {
				kept = false // rewritten: a new generation
				break
			}
		}
		if !kept {
			since = w.id
		}
		var added []string
		for _, c := range reachable {
			if !kept || !prev[c] {
				added = append(added, c)
			}
		}
		if _, err := markCommits(ctx, tx, w.id, repo, digest, since, added); err != nil {
			return err
		}
		return recordHistory(ctx, tx, w.id, repo, digest, since, int64(len(reach)), h)
	})
}

// ExtendRepoScanned records the history of repo under digest as the one
// prev recorded with the commits added (those reachable from h.Starts and
// not from prev.Starts; new ones were scanned by this scan): the caller
// has checked that every commit prev reached is still reachable. Only the
// added commits are written. It returns how many commits are reachable.
func (w *ScanWriter) ExtendRepoScanned(ctx context.Context, repo, digest string, h RepoHistory, prev RepoRefs, added []string) (int64, error) {
	var total int64
	err := w.settledTx(ctx, func(tx *sql.Tx) error {
		var scan, since int64
		err := tx.QueryRowContext(ctx, `SELECT scan_id, since_scan FROM repo_refs WHERE repo = ? AND rules_digest = ?`,
			repo, digest).Scan(&scan, &since)
		if err != nil {
			return fmt.Errorf("read the recorded history: %w", err)
		}
		if scan != prev.Scan || since != prev.Since {
			return fmt.Errorf("the recorded history of %s changed during the scan (scan %d recorded it since)", repo, scan)
		}
		n, err := markCommits(ctx, tx, w.id, repo, digest, since, added)
		if err != nil {
			return err
		}
		total = prev.Commits + n
		return recordHistory(ctx, tx, w.id, repo, digest, since, total, h)
	})
	return total, err
}

// recordedSince returns the generation of the history recorded for repo
// under digest; ok is false when none is.
func recordedSince(ctx context.Context, tx *sql.Tx, repo, digest string) (since int64, ok bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT since_scan FROM repo_refs WHERE repo = ? AND rules_digest = ?`, repo, digest).Scan(&since)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return since, err == nil, err
}

// markCommits marks commits as reachable in scan id, generation since:
// those not scanned before are recorded as scanned by it, those last seen
// before since are seen again. It returns how many were not reachable in
// the generation already.
func markCommits(ctx context.Context, tx *sql.Tx, id int64, repo, digest string, since int64, commits []string) (int64, error) {
	st, err := tx.PrepareContext(ctx, `INSERT INTO scanned_commits(repo, commit_sha, rules_digest, scan_id, last_seen_scan)
		VALUES(?1, ?2, ?3, ?4, ?4) ON CONFLICT(repo, rules_digest, commit_sha) DO UPDATE SET last_seen_scan = excluded.last_seen_scan
		WHERE scanned_commits.last_seen_scan < ?5`)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	var n int64
	for _, c := range commits {
		r, err := st.ExecContext(ctx, repo, c, digest, id, since)
		if err != nil {
			return n, err
		}
		k, err := r.RowsAffected()
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// recordHistory carries the occurrences of the reachable commits (of
// generation since) into scan id and records the repository's history as
// h, reaching commits.
func recordHistory(ctx context.Context, tx *sql.Tx, id int64, repo, digest string, since, commits int64, h RepoHistory) error {
	if err := carryOccurrences(ctx, tx, id, repo, digest, since); err != nil {
		return err
	}
	starts := sql.NullString{}
	if h.Starts != nil {
		b, err := json.Marshal(h.Starts)
		if err != nil {
			return err
		}
		starts = sql.NullString{String: string(b), Valid: true}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO repo_refs(repo, rules_digest, refs_digest, commits, scan_id, since_scan, starts, shape)
		VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(repo, rules_digest) DO UPDATE SET refs_digest = excluded.refs_digest,
		commits = excluded.commits, scan_id = excluded.scan_id, since_scan = excluded.since_scan,
		starts = excluded.starts, shape = excluded.shape`, repo, digest, h.Refs, commits, id, since, starts, h.Shape); err != nil {
		return err
	}
	return putTips(ctx, tx, id, GitTarget(repo), h.Tips)
}

// ScannedAmong returns which of commits were already scanned in repo under
// digest.
func (w *ScanWriter) ScannedAmong(ctx context.Context, repo, digest string, commits []string) (map[string]bool, error) {
	st, err := w.s.r.PrepareContext(ctx, `SELECT 1 FROM scanned_commits WHERE repo = ? AND rules_digest = ? AND commit_sha = ?`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := map[string]bool{}
	for _, c := range commits {
		var one int
		switch err := st.QueryRowContext(ctx, repo, digest, c).Scan(&one); {
		case err == nil:
			out[c] = true
		case !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
	}
	return out, nil
}
