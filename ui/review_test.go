package ui

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/review"
)

// The review screen: 3 opens it on the open review with progress per
// owner; enter attests the selected item with a decision and a reason
// (a "q" typed into the reason is text, not quit), recorded as the TUI's
// actor exactly as nhi review attest records it.
func TestReviewScreenAttests(t *testing.T) {
	store, _ := buildInventory(t)
	ctx := context.Background()
	r, items, err := review.Start(ctx, store, review.StartOptions{Name: "Q1-2027", Fallback: "secops", Actor: "lead", Now: fixedNow, Due: fixedNow.AddDate(0, 0, 30)})
	if err != nil {
		t.Fatal(err)
	}
	m := newTestModel(t, store, 80, 24)
	press(t, m, "3")
	v := m.View()
	checkFrame(t, "review", v, 80, 24)
	if m.view != viewReview || !strings.Contains(v, "Access review Q1-2027") || !strings.Contains(v, "0/"+itoa(len(items))+" attested") || !strings.Contains(v, "secops") {
		t.Fatalf("review screen:\n%s", v)
	}
	golden(t, "review_80x24", stable(v))
	press(t, m, "down", "enter")
	if m.review.form == nil || m.review.form.item.No != 2 {
		t.Fatal("enter did not open the attestation form on item 2")
	}
	press(t, m, "delete", "enter")
	if m.review.form == nil || m.review.form.err == "" {
		t.Fatal("a decision that is not one was taken")
	}
	press(t, m, "ctrl+u", "revoke", "enter", "enter")
	if m.review.form == nil || m.review.form.err != "enter the reason" {
		t.Fatal("an attestation without a reason was taken")
	}
	if press(t, m, "q", "uit using it", "enter") {
		t.Fatal("q in the reason quit the TUI")
	}
	if m.review.form != nil {
		t.Fatalf("form still open: %s", m.review.form.err)
	}
	as, err := store.Attestations(ctx, r.ID)
	if err != nil || len(as) != 1 {
		t.Fatalf("attestations %+v %v", as, err)
	}
	if a := as[0]; a.ItemNo != 2 || a.Decision != inventory.AttestRevoke || a.Reason != "quit using it" || a.Actor != "alice" || a.Via != "tui" {
		t.Fatalf("attestation %+v", a)
	}
	if v := m.View(); !strings.Contains(v, "1/"+itoa(len(items))+" attested") || !strings.Contains(v, "revoke") {
		t.Fatalf("after attesting:\n%s", v)
	}
	// A closed review takes no attestation.
	if _, err := store.CloseReview(ctx, r.ID, "lead", fixedNow); err != nil {
		t.Fatal(err)
	}
	press(t, m, "R", "enter")
	if m.review.form != nil || !strings.Contains(m.status, "closed") {
		t.Fatalf("closed review: form %v, status %q", m.review.form != nil, m.status)
	}
	press(t, m, "esc")
	if m.view != viewOverview {
		t.Fatal("esc did not leave the review screen")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
