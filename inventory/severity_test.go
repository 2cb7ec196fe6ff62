package inventory

import "testing"

func TestSeverityOrder(t *testing.T) {
	all := Severities()
	for i, s := range all {
		if SeverityRank(s) != i || !ValidSeverity(s) {
			t.Errorf("%s: rank %d, want %d", s, SeverityRank(s), i)
		}
		for j, m := range all {
			if got := AtLeast(s, m); got != (i <= j) {
				t.Errorf("AtLeast(%s, %s) = %v", s, m, got)
			}
		}
		if !AtLeast(s, "bogus") || AtLeast("bogus", s) {
			t.Errorf("%s against an unknown severity", s)
		}
	}
	if ValidSeverity("") || ValidSeverity("Critical") || SeverityRank("bogus") != len(all) {
		t.Error("only the five lower-case names are severities")
	}
	want := `CASE g.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 WHEN 'info' THEN 4 ELSE 5 END`
	if gapRankSQL != want {
		t.Errorf("gapRankSQL = %s", gapRankSQL)
	}
}
