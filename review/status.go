package review

import (
	"context"
	"sort"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// Reviewer states in a Status.
const (
	StateDone       = "done"
	StateOverdue    = "overdue"
	StateInProgress = "in progress"
)

// ReviewerStatus is one reviewer's progress on a review.
type ReviewerStatus struct {
	Reviewer string `json:"reviewer"`
	State    string `json:"state"`
	Items    int    `json:"items"`
	Attested int    `json:"attested"`
	Keep     int    `json:"keep"`
	Revoke   int    `json:"revoke"`
	Modify   int    `json:"modify"`
	Pending  int    `json:"pending"`
	Overdue  int    `json:"overdue"`
	// Unowned counts the items that came to this reviewer because nobody
	// owns them: each is a finding of its own.
	Unowned int `json:"unowned"`
	// OverdueItems are the item numbers not attested by the deadline.
	OverdueItems []int `json:"overdue_items"`
}

// Revocation is a revoke decision and what scans saw of it.
type Revocation struct {
	Item        int        `json:"item"`
	SubjectKind string     `json:"subject_kind"`
	SubjectKey  string     `json:"subject_id"`
	Name        string     `json:"name"`
	Actor       string     `json:"actor"`
	AttestedAt  time.Time  `json:"attested_at"`
	Status      string     `json:"status"` // "pending" until a scan checked it
	CheckedAt   *time.Time `json:"checked_at,omitempty"`
	CheckedScan int64      `json:"checked_scan,omitempty"`
	Detail      string     `json:"detail,omitempty"`
}

// Status is where a review stands.
type Status struct {
	Review      inventory.Review              `json:"review"`
	State       string                        `json:"state"` // open, closed
	Items       int                           `json:"items"`
	Attested    int                           `json:"attested"`
	Overdue     int                           `json:"overdue"`
	Unowned     int                           `json:"unowned"`
	Reviewers   []ReviewerStatus              `json:"reviewers"`
	Revocations []Revocation                  `json:"revocations"`
	Latest      map[int]inventory.Attestation `json:"-"`
	ItemList    []inventory.ReviewItem        `json:"-"`
}

// Read returns the status of review r at now: an item is overdue when the
// review closed without its attestation, or is open past its due date.
func Read(ctx context.Context, store *inventory.Store, r *inventory.Review, now time.Time) (*Status, error) {
	items, err := store.ReviewItems(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	as, err := store.Attestations(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	checks, err := store.RevocationChecks(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	st := &Status{Review: *r, State: "open", Items: len(items), Latest: map[int]inventory.Attestation{}, ItemList: items, Reviewers: []ReviewerStatus{}, Revocations: []Revocation{}}
	if r.Closed() {
		st.State = "closed"
	}
	for _, a := range as { // oldest first: the last one wins
		st.Latest[a.ItemNo] = a
	}
	byReviewer := map[string]*ReviewerStatus{}
	for _, it := range items {
		rs := byReviewer[it.Reviewer]
		if rs == nil {
			rs = &ReviewerStatus{Reviewer: it.Reviewer, OverdueItems: []int{}}
			byReviewer[it.Reviewer] = rs
		}
		rs.Items++
		if it.Unowned {
			rs.Unowned++
			st.Unowned++
		}
		a, ok := st.Latest[it.No]
		switch {
		case ok:
			rs.Attested++
			st.Attested++
			switch a.Decision {
			case inventory.AttestKeep:
				rs.Keep++
			case inventory.AttestRevoke:
				rs.Revoke++
				st.Revocations = append(st.Revocations, revocationOf(it, a, checks))
			case inventory.AttestModify:
				rs.Modify++
			}
		case it.OverdueAt != nil || (!r.Closed() && now.After(r.DueAt)):
			rs.Overdue++
			st.Overdue++
			rs.OverdueItems = append(rs.OverdueItems, it.No)
		default:
			rs.Pending++
		}
	}
	for _, rs := range byReviewer {
		switch {
		case rs.Overdue > 0:
			rs.State = StateOverdue
		case rs.Pending == 0:
			rs.State = StateDone
		default:
			rs.State = StateInProgress
		}
		st.Reviewers = append(st.Reviewers, *rs)
	}
	sort.Slice(st.Reviewers, func(i, j int) bool { return st.Reviewers[i].Reviewer < st.Reviewers[j].Reviewer })
	return st, nil
}

func revocationOf(it inventory.ReviewItem, a inventory.Attestation, checks []inventory.RevocationCheck) Revocation {
	rv := Revocation{Item: it.No, SubjectKind: it.SubjectKind, SubjectKey: it.SubjectKey, Name: it.Name, Actor: a.Actor, AttestedAt: a.At, Status: "pending"}
	for _, c := range checks { // oldest first
		if c.AttestationID == a.ID {
			at := c.At
			rv.Status, rv.CheckedAt, rv.CheckedScan, rv.Detail = c.Status, &at, c.ScanID, c.Detail
		}
	}
	return rv
}
