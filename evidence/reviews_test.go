package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/review"
)

// A review started, attested in part and closed inside the period is in
// the package: reviews.csv has a row per frozen item with the attestation
// in force (actor, time, reason), the overdue ones marked, and the
// revocation as the next scan saw it; reviews.jsonl has the record; both
// are signed and verify; neither holds a planted secret.
func TestReviewsInThePackage(t *testing.T) {
	h := newHistory(t)
	ctx := context.Background()
	h.clock = day0.Add(5*24*time.Hour + time.Hour)
	r, items, err := review.Start(ctx, h.store, review.StartOptions{Name: "Q1-2026", Fallback: "secops", Actor: "lead", Now: h.clock, Due: h.clock.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) < 2 {
		t.Fatalf("%d items: want some to attest and some to leave overdue", len(items))
	}
	if _, err := review.Attest(ctx, h.store, r, "1", "revoke", "replaced by OIDC", "alice@example.com", "cli", h.clock.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.CloseReview(ctx, r.ID, "lead", h.clock.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	h.scan(t, day0.Add(6*24*time.Hour))
	pkg := h.export(t, h.options())
	if v, err := Verify(bytes.NewReader(pkg), h.pub(t)); err != nil {
		t.Fatalf("verify: %v\n%+v", err, v.Checks)
	}
	es := unpack(t, pkg)
	rows := readCSV(t, fileOf(t, es, "reviews.csv"))
	if len(rows)-1 != len(items) {
		t.Fatalf("%d rows for %d items", len(rows)-1, len(items))
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	first := rows[1]
	get := func(row []string, c string) string { return row[col[c]] }
	if get(first, "review") != "Q1-2026" || get(first, "decision") != "revoke" || get(first, "actor") != "alice@example.com" || get(first, "reason") != "replaced by OIDC" ||
		get(first, "overdue") != "false" || get(first, "revocation_scan") != "5" || get(first, "revocation") == "pending" || get(first, "revocation") == "" {
		t.Fatalf("the attested item: %v", first)
	}
	for _, row := range rows[2:] {
		if get(row, "decision") != "" || get(row, "overdue") != "true" {
			t.Fatalf("an unattested item of a closed review is not overdue: %v", row)
		}
	}
	var rec struct {
		Review       struct{ Name string }
		Attestations []struct{ Actor string }
		Overdue      []struct{ Item int }
	}
	lines := strings.Split(strings.TrimSpace(string(fileOf(t, es, "reviews.jsonl"))), "\n")
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &rec) != nil || rec.Review.Name != "Q1-2026" || len(rec.Attestations) != 1 || len(rec.Overdue) != len(items)-1 {
		t.Fatalf("reviews.jsonl: %s", lines)
	}
	for _, name := range []string{"reviews.csv", "reviews.jsonl"} {
		for _, s := range h.secrets {
			if bytes.Contains(fileOf(t, es, name), []byte(s[:len(s)-4])) {
				t.Errorf("%s holds a planted secret", name)
			}
		}
	}
	m := manifestOf(t, es)
	for _, f := range m.Files {
		if strings.HasPrefix(f.Name, "reviews.") && (f.Description == "" || f.SHA256 == "") {
			t.Errorf("manifest entry %+v", f)
		}
	}
}
