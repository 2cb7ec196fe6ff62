package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"
)

// Target statuses in a scan's scope.
const (
	// TargetOK: read in full by a source that succeeded.
	TargetOK = "ok"
	// TargetPartial: read, but some items or units failed; what was not
	// seen again is carried, not removed.
	TargetPartial = "partial"
	// TargetFailed: its source failed; everything of it is carried.
	TargetFailed = "failed"
	// TargetCarried: not in this scan; everything of it is carried.
	TargetCarried = "carried"
)

// TargetState is what one scan did with one target.
type TargetState struct {
	Target  string   `json:"target"`
	Status  string   `json:"status"`
	Sources []string `json:"sources,omitempty"`
	Error   string   `json:"error,omitempty"`
	// Units are the units of the target that failed in this scan.
	Units []string `json:"failed_units,omitempty"`
	// LastOKScan is the last scan that read the target in full (this
	// one when Status is ok), 0 if none has; LastOKAt when it started.
	LastOKScan int64      `json:"last_ok_scan,omitempty"`
	LastOKAt   *time.Time `json:"last_ok_at,omitempty"`
}

// Carried reports whether the scan kept the target's earlier state
// instead of reading it (in full).
func (t TargetState) Carried() bool { return t.Status != TargetOK }

// TargetFamily is the source kind of a target id ("git" of "git:/src/app").
func TargetFamily(target string) string {
	k, _, _ := strings.Cut(target, ":")
	return k
}

// unitSep joins a target and a unit in SQL comparisons (char(31)).
const unitSep = "\x1f"

// scopeOf combines the sources' outcomes into one state per target they
// covered: failed beats partial beats ok.
func scopeOf(results []SourceResult) map[string]*TargetState {
	rank := map[string]int{TargetOK: 0, TargetPartial: 1, TargetFailed: 2}
	out := map[string]*TargetState{}
	for _, r := range results {
		targets := r.Targets
		if len(targets) == 0 {
			targets = []string{r.Kind + ":" + r.Target}
		}
		for _, t := range targets {
			st := out[t]
			if st == nil {
				st = &TargetState{Target: t, Status: TargetOK}
				out[t] = st
			}
			st.Sources = append(st.Sources, r.Name)
			status, why := TargetOK, ""
			switch {
			case r.Status != SourceOK:
				status, why = TargetFailed, r.Error
			default:
				for _, ie := range r.ItemErrors {
					if ie.Target != "" && ie.Target != t {
						continue
					}
					status = TargetPartial
					if why == "" {
						why = ie.Item + ": " + ie.Error
					}
					if ie.Unit != "" && !contains(st.Units, ie.Unit) {
						st.Units = append(st.Units, ie.Unit)
					}
				}
			}
			if rank[status] > rank[st.Status] {
				st.Status = status
				st.Error = why
			}
		}
	}
	for _, st := range out {
		sort.Strings(st.Units)
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// PreviousComplete returns the newest complete scan before this one, 0
// if there is none.
func (w *ScanWriter) PreviousComplete(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	err := w.s.w.QueryRowContext(ctx, `SELECT max(id) FROM scans WHERE status = 'complete' AND id < ?`, w.id).Scan(&id)
	return id.Int64, err
}

// ApplyScope records what this scan covered (one row per target known to
// the inventory) and carries forward, unchanged, everything the scan did
// not read: rows of targets that were left out, whose source failed or
// that were read only in part and not seen again, and rows of units that
// failed. Only a target read in full can remove what belongs to it. Rows
// stored before targets existed (target ”) belong to their source
// family: they are carried unless a source of that family succeeded.
//
// It must run after the sources and before Settle and the evaluation.
func (w *ScanWriter) ApplyScope(ctx context.Context, results []SourceResult) ([]TargetState, error) {
	if err := w.Flush(ctx); err != nil {
		return nil, err
	}
	prev, err := w.PreviousComplete(ctx)
	if err != nil {
		return nil, err
	}
	states := scopeOf(results)
	okFamilies := map[string]bool{}
	for _, r := range results {
		if r.Status == SourceOK {
			okFamilies[r.Kind] = true
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	tx, err := w.s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	// Targets known before: in the previous scan's scope, or owning rows
	// visible in it (inventories from before scopes were recorded).
	lastOK := map[string]int64{}
	if prev > 0 {
		rows, err := tx.QueryContext(ctx, `SELECT target, COALESCE(last_ok_scan, 0), 1 FROM scan_targets WHERE scan_id = ?1
			UNION SELECT target, max(seen_scan), 0 FROM identities WHERE target <> '' AND `+visibleIn1+` GROUP BY target
			UNION SELECT target, max(seen_scan), 0 FROM occurrences WHERE target <> '' AND `+visibleIn1+` GROUP BY target
			UNION SELECT target, max(seen_scan), 0 FROM credentials WHERE target <> '' AND `+visibleIn1+` GROUP BY target`, prev)
		if err != nil {
			return nil, err
		}
		listed := map[string]bool{}
		for rows.Next() {
			var (
				t      string
				ok     int64
				scoped bool
			)
			if err := rows.Scan(&t, &ok, &scoped); err != nil {
				rows.Close()
				return nil, err
			}
			// scan_targets is authoritative: a row seen again in a scan
			// that read its target only in part does not make that scan
			// the target's last good one. A row's seen_scan is a lower
			// bound used only for targets it does not list (inventories
			// from before scopes were recorded).
			switch {
			case scoped:
				lastOK[t], listed[t] = ok, true
			case listed[t]:
			default:
				if cur, seen := lastOK[t]; !seen || ok > cur {
					lastOK[t] = ok
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	for t := range lastOK {
		if states[t] == nil {
			states[t] = &TargetState{Target: t, Status: TargetCarried}
		}
	}
	var clean []string
	fams := make([]string, 0, len(okFamilies))
	for f := range okFamilies {
		fams = append(fams, f)
	}
	for t, st := range states {
		if st.Status == TargetOK {
			clean = append(clean, t)
			st.LastOKScan = w.id
		} else {
			st.LastOKScan = lastOK[t]
		}
	}
	if prev > 0 {
		cleanJS, famJS := jsonList(clean), jsonList(fams)
		for _, q := range []string{
			`UPDATE identities SET last_seen_scan = ?2 WHERE ` + visibleIn1 + ` AND last_seen_scan < ?2 AND ` + carryCond(true),
			`UPDATE occurrences SET last_seen_scan = ?2 WHERE ` + visibleIn1 + ` AND last_seen_scan < ?2 AND ` + carryCond(true),
			`UPDATE credentials SET last_seen_scan = ?2 WHERE ` + visibleIn1 + ` AND last_seen_scan < ?2 AND ` + carryCond(false),
		} {
			if _, err := tx.ExecContext(ctx, q, prev, w.id, cleanJS, famJS); err != nil {
				return nil, err
			}
		}
	}
	// Tips stand only for targets the scan read: a source that failed
	// after recording them did not cover them, and a carried target has
	// none of its own in this scan.
	var read []string
	for t, st := range states {
		if st.Status == TargetOK || st.Status == TargetPartial {
			read = append(read, t)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM scan_tips WHERE scan_id = ? AND target NOT IN (SELECT value FROM json_each(?))`,
		w.id, jsonList(read)); err != nil {
		return nil, err
	}
	out := make([]TargetState, 0, len(states))
	for _, st := range states {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	ins, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO scan_targets(scan_id, target, status, sources, error, last_ok_scan, units)
		VALUES(?,?,?,?,?,?,?)`)
	if err != nil {
		return nil, err
	}
	for _, st := range out {
		var last any
		if st.LastOKScan > 0 {
			last = st.LastOKScan
		}
		if _, err := ins.ExecContext(ctx, w.id, st.Target, st.Status, jsonList(st.Sources), st.Error, last, jsonList(st.Units)); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

// visibleIn1 selects rows that belong to scan ?1.
const visibleIn1 = `first_seen_scan <= ?1 AND last_seen_scan >= ?1`

// carryCond is the condition for a row not seen again to be carried: its
// target was not read in full (?3: the targets that were; a failed unit
// makes its target partial, so its rows are carried by this rule too) or,
// stored before targets existed, no source of its family succeeded (?4;
// for tables with a source column).
func carryCond(hasSource bool) string {
	c := `((target <> '' AND target NOT IN (SELECT value FROM json_each(?3)))`
	if hasSource {
		c += ` OR (target = '' AND source NOT IN (SELECT value FROM json_each(?4)))`
	}
	return c + `)`
}

func jsonList(ss []string) string {
	if len(ss) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ss)
	return string(b)
}

// Scope returns what scan id covered, target by target.
func (s *Store) Scope(ctx context.Context, scan int64) ([]TargetState, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT t.target, t.status, t.sources, t.error, t.units, COALESCE(t.last_ok_scan, 0),
		(SELECT started_at FROM scans WHERE id = t.last_ok_scan)
		FROM scan_targets t WHERE t.scan_id = ? ORDER BY t.target`, scan)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TargetState
	for rows.Next() {
		var (
			st             TargetState
			sources, units string
			at             sql.NullString
		)
		if err := rows.Scan(&st.Target, &st.Status, &sources, &st.Error, &units, &st.LastOKScan, &at); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(sources), &st.Sources); err != nil {
			return nil, errors.New("scan_targets.sources of scan " + st.Target + " is not JSON: " + err.Error())
		}
		if err := json.Unmarshal([]byte(units), &st.Units); err != nil {
			return nil, errors.New("scan_targets.units of " + st.Target + " is not JSON: " + err.Error())
		}
		st.LastOKAt = parseTime(at)
		out = append(out, st)
	}
	return out, rows.Err()
}

// CarriedSubjects returns the subjects of scan id ("identity\x00key",
// "credential\x00key") that the scan did not observe afresh: an identity
// not seen again, or seen but from a unit that failed or a target whose
// source failed (what it wrote before failing is not a full reading); a
// credential with no such fresh observation of itself or of any of its
// occurrences. Their gaps are kept as they were, neither opened nor
// resolved.
func (s *Store) CarriedSubjects(ctx context.Context, scan int64) (map[string]bool, error) {
	var bad []string // target, or target+char(31)+unit, not observed afresh
	rows, err := s.r.QueryContext(ctx, `SELECT t.target, '' FROM scan_targets t WHERE t.scan_id = ?1 AND t.status = 'failed'
		UNION ALL SELECT t.target, u.value FROM scan_targets t, json_each(t.units) u WHERE t.scan_id = ?1`, scan)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var t, u string
		if err := rows.Scan(&t, &u); err != nil {
			rows.Close()
			return nil, err
		}
		if u == "" {
			bad = append(bad, t)
		} else {
			bad = append(bad, t+unitSep+u)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	fresh := func(p string) string {
		return p + `seen_scan = ?1 AND ` + p + `target NOT IN (SELECT value FROM json_each(?2))
			AND (` + p + `target || char(31) || ` + p + `unit) NOT IN (SELECT value FROM json_each(?2))`
	}
	q := `SELECT 'identity', key FROM identities WHERE ` + visibleIn1 + ` AND NOT (` + fresh("") + `)
		UNION ALL
		SELECT 'credential', c.key FROM credentials c WHERE c.first_seen_scan <= ?1 AND c.last_seen_scan >= ?1
		  AND NOT (` + fresh("c.") + `)
		  AND NOT EXISTS (SELECT 1 FROM occurrences o WHERE o.credential_id = c.id AND ` + fresh("o.") + `)`
	crow, err := s.r.QueryContext(ctx, q, scan, jsonList(bad))
	if err != nil {
		return nil, err
	}
	defer crow.Close()
	out := map[string]bool{}
	for crow.Next() {
		var kind, key string
		if err := crow.Scan(&kind, &key); err != nil {
			return nil, err
		}
		out[kind+"\x00"+key] = true
	}
	return out, crow.Err()
}

// UnresolvedGapKeys returns every gap not resolved so far, keyed
// "control\x00kind\x00key": the judgement carried subjects keep.
func (s *Store) UnresolvedGapKeys(ctx context.Context) (map[string]bool, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT control_id, subject_kind, subject_key FROM gaps WHERE resolved_scan IS NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var c, k, key string
		if err := rows.Scan(&c, &k, &key); err != nil {
			return nil, err
		}
		out[c+"\x00"+k+"\x00"+key] = true
	}
	return out, rows.Err()
}
