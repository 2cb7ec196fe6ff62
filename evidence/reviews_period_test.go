package evidence

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/review"
)

// TestReviewClosedAfterThePeriod: a review still open at the period's end
// is in the package as it stood then: the attestation made, the items past
// the due date without one overdue, and a closing after the period's end
// left out, so exporting the period again gives the same files.
func TestReviewClosedAfterThePeriod(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	day5 := day0.Add(5 * 24 * time.Hour)
	h.clock = day5.Add(time.Hour)
	r, items, err := review.Start(ctx, h.store, review.StartOptions{Name: "Q1-2026", Due: day5.Add(20 * time.Hour),
		Fallback: "security@example.com", Actor: "auditor@example.com", Now: day5.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) < 2 {
		t.Fatalf("the review holds %d items; the history should give at least 2", len(items))
	}
	if _, err := review.Attest(ctx, h.store, r, "1", "keep", "still deploys the app", "platform@example.com", "cli", day5.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	h.scan(t, day0.Add(6*24*time.Hour)) // after the due date
	opts := h.options()
	opts.Until = day0.Add(6*24*time.Hour + time.Hour)
	pkg := h.export(t, opts)
	if v, err := Verify(bytes.NewReader(pkg), h.pub(t)); err != nil {
		t.Fatalf("a package with a review does not verify: %v\n%+v", err, v.Checks)
	}
	// Closed after the period: the package of the period is unchanged.
	if _, err := h.store.CloseReview(ctx, r.ID, "auditor@example.com", day0.Add(7*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if again := h.export(t, opts); !bytes.Equal(contentOf(t, again), contentOf(t, pkg)) {
		t.Error("closing the review after the period's end changed the period's package")
	}

	var rows [][]string
	for _, e := range unpack(t, pkg) {
		if e.name == "reviews.csv" {
			if rows, err = csv.NewReader(bytes.NewReader(e.body)).ReadAll(); err != nil {
				t.Fatal(err)
			}
		}
		if e.name == "reviews.jsonl" && !strings.Contains(string(e.body), `"name":"Q1-2026"`) {
			t.Errorf("reviews.jsonl does not hold the review: %s", e.body)
		}
	}
	if len(rows) != len(items)+1 {
		t.Fatalf("reviews.csv has %d rows; want a header and one per item (%d)", len(rows), len(items))
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	for _, row := range rows[1:] {
		item, dec, over, closed := row[col["item"]], row[col["decision"]], row[col["overdue"]], row[col["closed_at"]]
		if closed != "" {
			t.Errorf("item %s: closed at %q, after the period's end", item, closed)
		}
		switch {
		case item == "1" && (dec != "keep" || row[col["actor"]] != "platform@example.com" || over != "false"):
			t.Errorf("the attested item: %v", row)
		case item != "1" && (dec != "" || over != "true"):
			t.Errorf("item %s is past the due date without an attestation, yet: decision %q, overdue %q", item, dec, over)
		}
	}
}

// contentOf is every file of a package but the signature bundle (whose
// signature is randomised) joined, to compare two exports.
func contentOf(t *testing.T, pkg []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, e := range unpack(t, pkg) {
		if e.name == BundleName {
			continue
		}
		b.WriteString(e.name + "\x00")
		b.Write(e.body)
	}
	return b.Bytes()
}
