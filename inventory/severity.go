package inventory

import (
	"fmt"
	"strings"
)

// Severities of a control and its gaps (Gap.Severity, ControlResult.Severity).
const (
	SeverityCritical = "critical"
	SeverityHigh     = "high"
	SeverityMedium   = "medium"
	SeverityLow      = "low"
	SeverityInfo     = "info"
)

// Severities are every severity, worst first: the one ordering every
// list, filter, sort and threshold follows.
func Severities() []string {
	return []string{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInfo}
}

// SeverityRank orders severities: 0 is critical, the worst; a higher rank
// is less severe, and one that names no severity sorts after info.
func SeverityRank(s string) int {
	all := Severities()
	for i, v := range all {
		if v == s {
			return i
		}
	}
	return len(all)
}

// ValidSeverity reports whether s names a severity.
func ValidSeverity(s string) bool { return SeverityRank(s) < len(Severities()) }

// AtLeast reports whether s is min or worse ("high" is at least
// "medium"). Every severity is at least one that names none.
func AtLeast(s, min string) bool { return SeverityRank(s) <= SeverityRank(min) }

// severityRankSQL is SeverityRank of the SQL expression col.
func severityRankSQL(col string) string {
	var b strings.Builder
	b.WriteString("CASE " + col)
	all := Severities()
	for i, s := range all {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", s, i)
	}
	fmt.Fprintf(&b, " ELSE %d END", len(all))
	return b.String()
}
