package inventory

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Gap sort orders for GapQuery.SortBy.
const (
	SortSeverity = "severity"
	SortAge      = "age"
	SortControl  = "control"
	SortOwner    = "owner"
)

// StatusAll selects gaps of every status in GapQuery.Status.
const StatusAll = "all"

// GapQuery selects, orders and pages gaps of one scan. Zero values mean
// no filter; Status "" means open (as `nhi gaps` does).
type GapQuery struct {
	Severity string // this severity or worse
	Control  string // control id, exact (case-insensitive)
	Source   string // family: git, ci, aws, vault
	Owner    string // substring of the owner, case-insensitive
	Status   string // open (default), accepted, false-positive, resolved, all
	Search   string // substring of subject, control, title, detail or owner
	SortBy   string // severity (default), age, control, owner
	Desc     bool   // reverse the order
	Offset   int
	Limit    int       // 0: 100
	Now      time.Time // decisions in force at; zero: time.Now()
	// Total, when > 0, is the count of matching gaps the caller already
	// has (scrolling with unchanged filters): it is not counted again.
	Total int
}

// gapRankSQL is SeverityRank of a gap's severity, worst (0) first.
var gapRankSQL = severityRankSQL("g.severity")

// gapStatusSQL is the status of gap g as of scan ?1 with the decisions in
// force at ?2 applied: the same rule as Gaps followed by ApplyDecisions
// (the newest decision in force wins).
//
// An owner decision in force satisfies the owner controls of its subject
// at once (meta owner_controls, written by the readiness service): the
// next scan resolves the gap, and until then it does not count as open.
const gapStatusSQL = `CASE WHEN g.last_seen_scan < ?1 OR (g.resolved_scan IS NOT NULL AND g.resolved_scan <= ?1) THEN 'resolved'
	WHEN g.control_id IN (SELECT j.value FROM meta m, json_each(m.value) j WHERE m.key = 'owner_controls')
		AND EXISTS (SELECT 1 FROM decisions d WHERE d.subject_kind = g.subject_kind AND d.subject_key = g.subject_key
		AND d.action = 'owner' AND d.revoked_at IS NULL AND (d.expires_at IS NULL OR julianday(d.expires_at) > julianday(?2))) THEN 'resolved'
	ELSE COALESCE((SELECT CASE d.action WHEN 'false-positive' THEN 'false-positive' ELSE 'accepted' END FROM decisions d
		WHERE d.subject_kind = g.subject_kind AND d.subject_key = g.subject_key AND d.control_id = g.control_id
		AND d.action <> 'owner' AND d.revoked_at IS NULL AND (d.expires_at IS NULL OR julianday(d.expires_at) > julianday(?2))
		ORDER BY d.id DESC LIMIT 1), 'open') END`

// gapSelect reads gap rows, status included (?1 scan, ?2 now), for
// scanGapRow; the caller adds WHERE and ORDER BY.
const gapSelect = `SELECT g.id, g.control_id, g.subject_kind, g.subject_key, g.subject_name, g.family, g.severity,
	g.title, g.detail, g.evidence, g.frameworks, g.owner, g.first_seen_scan, g.last_seen_scan, COALESCE(g.resolved_scan, 0),
	(SELECT started_at FROM scans WHERE id = g.first_seen_scan), ` + gapStatusSQL + `,
	COALESCE(g.judged_scan, g.last_seen_scan), COALESCE(g.judged_scan, g.last_seen_scan) < ?1 AND g.last_seen_scan >= ?1
	FROM gaps g`

// gapVisibleSQL selects the gaps known as of scan ?1 (see Gaps).
const gapVisibleSQL = `g.first_seen_scan <= ?1 AND (g.last_seen_scan >= ?1 OR (g.resolved_scan IS NOT NULL AND g.resolved_scan <= ?1))`

// GapPage returns one page of the gaps of scan, filtered and ordered by q,
// with triage decisions applied, and the number of gaps matching q. Only
// the page is read into memory.
func (s *Store) GapPage(ctx context.Context, scan int64, q GapQuery) ([]Gap, int, error) {
	now := q.Now
	if now.IsZero() {
		now = time.Now().UTC()
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args := []any{scan, fmtTime(now)}
	where := []string{gapVisibleSQL}
	if q.Severity != "" {
		where = append(where, fmt.Sprintf("%s <= %d", gapRankSQL, SeverityRank(strings.ToLower(q.Severity))))
	}
	if q.Control != "" {
		args = append(args, q.Control)
		where = append(where, fmt.Sprintf("g.control_id = ?%d COLLATE NOCASE", len(args)))
	}
	if q.Source != "" {
		args = append(args, q.Source)
		where = append(where, fmt.Sprintf("g.family = ?%d", len(args)))
	}
	if q.Owner != "" {
		args = append(args, likePattern(q.Owner))
		where = append(where, fmt.Sprintf(`g.owner LIKE ?%d ESCAPE '\'`, len(args)))
	}
	if q.Search != "" {
		args = append(args, likePattern(q.Search))
		n := len(args)
		where = append(where, fmt.Sprintf(`(g.subject_name LIKE ?%[1]d ESCAPE '\' OR g.subject_key LIKE ?%[1]d ESCAPE '\' OR g.control_id LIKE ?%[1]d ESCAPE '\'
			OR g.title LIKE ?%[1]d ESCAPE '\' OR g.detail LIKE ?%[1]d ESCAPE '\' OR g.owner LIKE ?%[1]d ESCAPE '\')`, n))
	}
	status := q.Status
	if status == "" {
		status = GapOpen
	}
	if status != StatusAll {
		args = append(args, status)
		where = append(where, fmt.Sprintf("(%s) = ?%d", gapStatusSQL, len(args)))
	}
	cond := strings.Join(where, " AND ")

	total := q.Total
	if total <= 0 {
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM gaps g WHERE `+cond, args...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("count gaps: %w", err)
		}
	}

	// Order terms (expression, descending); q.Desc flips the first.
	type term struct {
		expr string
		desc bool
	}
	var terms []term
	switch q.SortBy {
	case "", SortSeverity:
		terms = []term{{gapRankSQL, false}, {"g.first_seen_scan", false}, {"g.control_id", false}, {"g.id", false}}
	case SortAge: // oldest first
		terms = []term{{"g.first_seen_scan", false}, {gapRankSQL, false}, {"g.id", false}}
	case SortControl:
		terms = []term{{"g.control_id", false}, {gapRankSQL, false}, {"g.id", false}}
	case SortOwner: // unowned first: they are the work
		terms = []term{{"g.owner", false}, {gapRankSQL, false}, {"g.id", false}}
	default:
		return nil, 0, fmt.Errorf("unknown gap order %q: use severity, age, control or owner", q.SortBy)
	}
	terms[0].desc = q.Desc
	// A page past the middle is read from the other end: SQLite then keeps
	// only the rows it needs instead of sorting the whole table.
	offset, reverse := q.Offset, false
	if offset > total/2 && offset < total {
		reverse = true
		offset = total - q.Offset - limit
		if offset < 0 {
			limit += offset
			offset = 0
		}
	}
	var order []string
	for _, t := range terms {
		d := "ASC"
		if t.desc != reverse {
			d = "DESC"
		}
		order = append(order, t.expr+" "+d)
	}
	args = append(args, limit, offset)
	rows, err := s.r.QueryContext(ctx, gapSelect+fmt.Sprintf(` WHERE %s ORDER BY %s LIMIT ?%d OFFSET ?%d`, cond, strings.Join(order, ", "), len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("read gaps: %w", err)
	}
	defer rows.Close()
	out := make([]Gap, 0, max(limit, 0))
	for rows.Next() {
		g, err := scanGapRow(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, g)
	}
	if reverse {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, total, rows.Err()
}

type rowScanner interface{ Scan(dest ...any) error }

func scanGapRow(rows rowScanner) (Gap, error) {
	var (
		g                   Gap
		evidence, fw, first string
	)
	if err := rows.Scan(&g.ID, &g.ControlID, &g.SubjectKind, &g.SubjectKey, &g.SubjectName, &g.Family, &g.Severity, &g.Title,
		&g.Detail, &evidence, &fw, &g.Owner, &g.FirstScan, &g.LastScan, &g.Resolved, &first, &g.Status, &g.JudgedScan, &g.Carried); err != nil {
		return g, err
	}
	if err := decodeMap(fmt.Sprintf("gap %d: evidence", g.ID), evidence, &g.Evidence); err != nil {
		return g, err
	}
	if err := decodeStored(fmt.Sprintf("gap %d: frameworks", g.ID), fw, &g.Frameworks); err != nil {
		return g, err
	}
	if t, err := time.Parse(time.RFC3339Nano, first); err == nil {
		g.FirstSeen = t
	}
	return g, nil
}

func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// GapFacets are the values the gaps of a scan take, for filter choices.
type GapFacets struct {
	Controls []string // control ids with at least one gap
	Sources  []string // families
}

// Facets lists the controls with gaps in scan (from its per-control
// results) and the source kinds it ran, without reading the gaps.
func (s *Store) Facets(ctx context.Context, scan int64) (*GapFacets, error) {
	f := &GapFacets{}
	for _, q := range []struct {
		sql string
		dst *[]string
	}{
		{`SELECT control_id FROM control_results WHERE scan_id = ? AND passing < evaluated ORDER BY 1`, &f.Controls},
		{`SELECT DISTINCT kind FROM scan_sources WHERE scan_id = ? ORDER BY 1`, &f.Sources},
	} {
		rows, err := s.r.QueryContext(ctx, q.sql, scan)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return nil, err
			}
			if v != "" {
				*q.dst = append(*q.dst, v)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// TrendPoint is the number of gaps open (before triage) after one scan.
type TrendPoint struct {
	ScanID int64     `json:"scan_id"`
	At     time.Time `json:"at"`
	Open   int       `json:"open"`
}

// Overview is the readiness summary of one scan.
type Overview struct {
	Scan     *Scan
	Controls []ControlResult
	Criteria []CriterionResult
	// Trend is the open gaps after each of the last complete scans, oldest
	// first.
	Trend []TrendPoint
	// Identities and Credentials are the subjects present in the scan.
	Identities, Credentials int
}

// Overview reads the readiness summary of scan: per-control and
// per-criterion results, subject counts and the open-gap trend over the
// last trendScans complete scans. It does not read the gaps themselves
// (GapCounts does), so it stays fast on any inventory.
func (s *Store) Overview(ctx context.Context, scan int64, trendScans int) (*Overview, error) {
	sc, err := s.Scan(ctx, scan)
	if err != nil {
		return nil, err
	}
	ov := &Overview{Scan: sc, Identities: int(sc.Counts["identities_total"]), Credentials: int(sc.Counts["credentials_total"])}
	if ov.Controls, err = s.ControlResults(ctx, scan); err != nil {
		return nil, err
	}
	if ov.Criteria, err = s.CriterionResults(ctx, scan); err != nil {
		return nil, err
	}
	if ov.Trend, err = s.trend(ctx, scan, trendScans); err != nil {
		return nil, err
	}
	return ov, nil
}

// GapCounts counts the gaps known as of scan per severity and status, with
// the decisions in force at now applied: counts["high"]["open"].
func (s *Store) GapCounts(ctx context.Context, scan int64, now time.Time) (map[string]map[string]int, error) {
	if now.IsZero() {
		now = time.Now().UTC()
	}
	out := map[string]map[string]int{}
	rows, err := s.r.QueryContext(ctx, `SELECT g.severity, st, count(*) FROM (SELECT g.severity, `+gapStatusSQL+` AS st
		FROM gaps g WHERE `+gapVisibleSQL+`) g GROUP BY 1, 2`, scan, fmtTime(now))
	if err != nil {
		return nil, fmt.Errorf("count gaps: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			sev, st string
			n       int
		)
		if err := rows.Scan(&sev, &st, &n); err != nil {
			return nil, err
		}
		if out[sev] == nil {
			out[sev] = map[string]int{}
		}
		out[sev][st] = n
	}
	return out, rows.Err()
}

// trend counts open gaps after each complete scan up to scan from the gap
// events: every gap alternates opened/reopened and resolved, so the
// running sum of +1/-1 is the number open.
func (s *Store) trend(ctx context.Context, scan int64, n int) ([]TrendPoint, error) {
	if n <= 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT s.id, s.started_at, s.status, COALESCE(e.delta, 0) FROM scans s
		LEFT JOIN (SELECT scan_id, sum(CASE event WHEN 'resolved' THEN -1 ELSE 1 END) AS delta FROM gap_events GROUP BY scan_id) e ON e.scan_id = s.id
		WHERE s.id <= ? ORDER BY s.id`, scan)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out  []TrendPoint
		open int
	)
	for rows.Next() {
		var (
			p              TrendPoint
			started, state string
			delta          int
		)
		if err := rows.Scan(&p.ScanID, &started, &state, &delta); err != nil {
			return nil, err
		}
		open += delta
		if state != ScanComplete {
			continue
		}
		if t := parseTime(sql.NullString{String: started, Valid: true}); t != nil {
			p.At = *t
		}
		p.Open = open
		out = append(out, p)
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, rows.Err()
}
