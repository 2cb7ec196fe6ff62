package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
)

// The evidence package can be restricted to some scope targets (nhi
// evidence export --scope). An identity belongs to the target that
// recorded it; a credential to the target that recorded it and to every
// target it was seen in (an occurrence's target), so a secret leaked in
// two repositories is in the package of either. A gap or a decision
// belongs where its subject does.

// scopeSet is the set of the restriction's targets: the named parameter
// :scope, a JSON array.
const scopeSet = `(SELECT value FROM json_each(:scope))`

// credentialInScope is the condition for the credential row p (an alias
// with its dot) to belong to the scope.
func credentialInScope(p string) string {
	return `(` + p + `target IN ` + scopeSet + ` OR EXISTS (SELECT 1 FROM occurrences so WHERE so.credential_id = ` + p + `id AND so.target IN ` + scopeSet + `))`
}

// subjectInScope is the condition for the subject (p+subject_kind,
// p+subject_key) to belong to the scope.
func subjectInScope(p string) string {
	return `((` + p + `subject_kind = 'identity' AND ` + p + `subject_key IN (SELECT si.key FROM identities si WHERE si.target IN ` + scopeSet + `))
		OR (` + p + `subject_kind = 'credential' AND ` + p + `subject_key IN (SELECT sc.key FROM credentials sc WHERE ` + credentialInScope("sc.") + `)))`
}

// restrict adds cond to q (before its ORDER BY when it has one, with
// join, " AND " or " WHERE ") and the scope's parameter to args; with no
// scope, q and args are as they were.
func restrict(q string, args []any, scope []string, join, cond string) (string, []any) {
	if scope == nil {
		return q, args
	}
	b, _ := json.Marshal(scope)
	add := join + cond
	if i := strings.LastIndex(q, " ORDER BY "); i >= 0 {
		q = q[:i] + add + q[i:]
	} else {
		q += add
	}
	return q, append(args, sql.Named("scope", string(b)))
}

// KnownTargets lists every target some scan's scope names, sorted: what
// a restriction may name.
func (s *Store) KnownTargets(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT target FROM scan_targets ORDER BY target`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
