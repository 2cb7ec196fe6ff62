package review

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// RowError is what is wrong with one row of a worksheet.
type RowError struct {
	Line int    `json:"line"`
	Item string `json:"item,omitempty"`
	Msg  string `json:"error"`
}

// ImportError lists every row of a worksheet that cannot be imported;
// nothing of the file was.
type ImportError struct {
	File string     `json:"file"`
	Rows []RowError `json:"rows"`
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: nothing imported, %d row(s) to fix:", e.File, len(e.Rows))
	for _, r := range e.Rows {
		fmt.Fprintf(&b, "\n  %s line %d", e.File, r.Line)
		if r.Item != "" {
			fmt.Fprintf(&b, " (item %s)", r.Item)
		}
		fmt.Fprintf(&b, ": %s", r.Msg)
	}
	return b.String()
}

// required are the worksheet columns import reads.
var required = []string{"review", "item", "subject_id", "decision", "reason"}

// ParseWorksheet reads a filled-in CSV worksheet of review r: one
// attestation per row with a decision; rows left blank are skipped
// (counted). Any bad row makes it an *ImportError naming every bad row,
// with no attestation returned.
func ParseWorksheet(in io.Reader, file string, r *inventory.Review, items []inventory.ReviewItem, actor string, now time.Time) ([]inventory.Attestation, int, error) {
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1
	ie := &ImportError{File: file}
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("the file is empty")
		}
		ie.Rows = append(ie.Rows, RowError{Line: 1, Msg: "header: " + err.Error()})
		return nil, 0, ie
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	var missing []string
	for _, c := range required {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		ie.Rows = append(ie.Rows, RowError{Line: 1, Msg: fmt.Sprintf("header lacks the column(s) %s (a worksheet written by nhi review start has them)", strings.Join(missing, ", "))})
		return nil, 0, ie
	}
	byNo := map[int]inventory.ReviewItem{}
	for _, it := range items {
		byNo[it.No] = it
	}
	seen := map[int]int{}
	var out []inventory.Attestation
	skipped := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			ie.Rows = append(ie.Rows, RowError{Line: line, Msg: "not CSV: " + err.Error()})
			if pe == nil {
				break
			}
			continue
		}
		get := func(c string) string {
			if i := col[c]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		itemS, decision, reason := get("item"), strings.ToLower(get("decision")), get("reason")
		if decision == "" && reason == "" {
			skipped++
			continue
		}
		bad := func(format string, args ...any) {
			ie.Rows = append(ie.Rows, RowError{Line: line, Item: itemS, Msg: fmt.Sprintf(format, args...)})
		}
		if rv := get("review"); rv != r.Name {
			bad("review is %q: this worksheet is not of review %s", rv, r.Name)
			continue
		}
		no, err := strconv.Atoi(itemS)
		it, ok := byNo[no]
		if err != nil || !ok {
			bad("review %s has no item %q (items are 1 to %d)", r.Name, itemS, len(items))
			continue
		}
		if sid := get("subject_id"); sid != it.SubjectKey {
			bad("item %d of review %s is %s, not %q: the row was edited or moved; use the worksheet as written", no, r.Name, it.SubjectKey, sid)
			continue
		}
		if prev, dup := seen[no]; dup {
			bad("item %d is attested on line %d already", no, prev)
			continue
		}
		seen[no] = line
		if !inventory.ValidAttestDecision(decision) {
			bad("decision %q must be one of %s", get("decision"), strings.Join(inventory.AttestDecisions(), ", "))
			continue
		}
		if reason == "" {
			bad("a %s decision needs a reason (column reason)", decision)
			continue
		}
		out = append(out, inventory.Attestation{ItemNo: no, SubjectKind: it.SubjectKind, SubjectKey: it.SubjectKey, Decision: decision, Reason: reason,
			Actor: actor, At: now, Via: "import", File: file})
	}
	if len(ie.Rows) > 0 {
		return nil, skipped, ie
	}
	return out, skipped, nil
}

// Import reads a filled-in worksheet of review r and records its
// attestations, all or none.
func Import(ctx context.Context, store *inventory.Store, r *inventory.Review, in io.Reader, file, actor string, now time.Time) (int, int, error) {
	if r.Closed() {
		return 0, 0, fmt.Errorf("review %s: %w (%s); nothing imported", r.Name, inventory.ErrReviewClosed, day(r.ClosedAt))
	}
	items, err := store.ReviewItems(ctx, r.ID)
	if err != nil {
		return 0, 0, err
	}
	as, skipped, err := ParseWorksheet(in, file, r, items, actor, now)
	if err != nil {
		return 0, skipped, err
	}
	if len(as) == 0 {
		return 0, skipped, fmt.Errorf("%s: no row has a decision (fill in the decision and reason columns)", file)
	}
	if err := store.AddAttestations(ctx, r.ID, as); err != nil {
		return 0, skipped, err
	}
	return len(as), skipped, nil
}

// Attest records one attestation of item (its number, or its subject id)
// of review r.
func Attest(ctx context.Context, store *inventory.Store, r *inventory.Review, item, decision, reason, actor, via string, now time.Time) (*inventory.Attestation, error) {
	decision = strings.ToLower(strings.TrimSpace(decision))
	if !inventory.ValidAttestDecision(decision) {
		return nil, fmt.Errorf("decision %q must be one of %s", decision, strings.Join(inventory.AttestDecisions(), ", "))
	}
	if strings.TrimSpace(reason) == "" {
		return nil, errors.New("an attestation needs a reason (--reason)")
	}
	items, err := store.ReviewItems(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	var found *inventory.ReviewItem
	for i := range items {
		if strconv.Itoa(items[i].No) == item || items[i].SubjectKey == item {
			found = &items[i]
			break
		}
	}
	if found == nil {
		return nil, fmt.Errorf("review %s has no item %q (items are 1 to %d; nhi review status %s --items lists them)", r.Name, item, len(items), r.Name)
	}
	a := inventory.Attestation{ItemNo: found.No, SubjectKind: found.SubjectKind, SubjectKey: found.SubjectKey, Decision: decision,
		Reason: strings.TrimSpace(reason), Actor: actor, At: now, Via: via}
	as := []inventory.Attestation{a}
	if err := store.AddAttestations(ctx, r.ID, as); err != nil {
		return nil, err
	}
	return &as[0], nil
}
