package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// DeliverOptions shape one run of Deliver.
type DeliverOptions struct {
	// DryRun prints each message to DryRunOut instead of posting it, and
	// records nothing.
	DryRun    bool
	DryRunOut io.Writer
	// Always posts a "no change" heartbeat when a destination has
	// nothing new.
	Always bool
	// Client posts (default: a client without redirects to other hosts;
	// the per-attempt timeout is the destination's).
	Client *http.Client
}

// Outcome is what Deliver did for one destination.
type Outcome struct {
	Destination string
	Kind        Kind
	Shown       string
	From, To    int64
	Status      string // an inventory.Delivery* status, or "dry-run"
	Items       int
	Attempts    int
	Err         error
}

// Failed reports whether the destination could not be posted to.
func (o Outcome) Failed() bool { return o.Status == inventory.DeliveryFailed }

func (o Outcome) String() string {
	what := fmt.Sprintf("%s (%s %s), change since scan %d up to scan %d", o.Destination, o.Kind, o.Shown, o.From, o.To)
	switch o.Status {
	case inventory.DeliveryDelivered:
		return fmt.Sprintf("posted %d items to %s", o.Items, what)
	case inventory.DeliveryHeartbeat:
		return fmt.Sprintf("posted a no-change heartbeat to %s", what)
	case inventory.DeliveryQuiet:
		return fmt.Sprintf("nothing new for %s", what)
	case "dry-run":
		if o.Items == 0 {
			return fmt.Sprintf("dry run: nothing new for %s", what)
		}
		return fmt.Sprintf("dry run: would post %d items to %s", o.Items, what)
	}
	return fmt.Sprintf("could not post %d items to %s after %d attempts: %v (kept for the next run)", o.Items, what, o.Attempts, o.Err)
}

// deliveryLockWait is how long a run waits for another that is posting
// from the same inventory (at worst a few destinations' retries).
const deliveryLockWait = 5 * time.Minute

// Deliver posts to each destination the change it has not received, up
// to scan to, and records the attempt: the change since the last scan the
// destination received in full (its cursor; for a new destination, the
// complete scan before to), minus the items it already has. A
// destination that fails keeps its cursor, so its items go out with the
// next successful run; one destination failing never stops the others.
// The error is for the inventory only (a destination's failure is in its
// Outcome).
func Deliver(ctx context.Context, store *inventory.Store, dests []Destination, to int64, opts DeliverOptions) ([]Outcome, error) {
	client := opts.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if !opts.DryRun {
		lock, err := store.LockDeliveries(ctx, deliveryLockWait)
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
	}
	var out []Outcome
	for _, d := range dests {
		o, err := deliverOne(ctx, store, client, d, to, opts)
		if err != nil {
			return out, err
		}
		out = append(out, o)
	}
	return out, nil
}

func deliverOne(ctx context.Context, store *inventory.Store, client *http.Client, d Destination, to int64, opts DeliverOptions) (Outcome, error) {
	rec, err := store.EnsureDestination(ctx, d.Name, string(d.Kind), d.URL, Redact(d.URL))
	if err != nil {
		return Outcome{}, err
	}
	o := Outcome{Destination: d.Name, Kind: d.Kind, Shown: rec.Shown, From: rec.Cursor, To: to}
	if o.From == 0 {
		if o.From, err = store.CompleteBefore(ctx, to); err != nil {
			return o, err
		}
	}
	var diff *inventory.Diff
	var items []string
	if o.From < to {
		full, err := store.Diff(ctx, o.From, to)
		if err != nil {
			return o, err
		}
		if items, err = store.Undelivered(ctx, rec.ID, full.Items()); err != nil {
			return o, err
		}
		want := make(map[string]bool, len(items))
		for _, it := range items {
			want[it] = true
		}
		diff = full.Only(func(it string) bool { return want[it] })
	} else {
		o.From = to
	}
	o.Items = len(items)
	heartbeat := len(items) == 0
	if heartbeat && !opts.Always {
		o.Status = inventory.DeliveryQuiet
		if opts.DryRun {
			o.Status = "dry-run"
			return o, nil
		}
		return o, store.RecordDelivery(ctx, &inventory.Delivery{Destination: rec.ID, Scan: to, From: o.From, Status: o.Status}, nil)
	}
	if diff == nil {
		// Nothing since the cursor: a heartbeat names the scans only.
		diff = &inventory.Diff{SchemaVersion: inventory.DiffSchemaVersion, From: inventory.DiffScan{ID: o.From}, To: inventory.DiffScan{ID: to}}
	}
	msg, err := Build(d, diff, heartbeat)
	if err != nil {
		return o, fmt.Errorf("%s: %w", d.Name, err)
	}
	if opts.DryRun {
		o.Status = "dry-run"
		if opts.DryRunOut != nil {
			fmt.Fprintf(opts.DryRunOut, "--- would post to %s (%s %s):\n%s\n", d.Name, d.Kind, rec.Shown, indentJSON(msg.Body))
		}
		return o, nil
	}
	res := Post(ctx, client, d, msg)
	o.Attempts = res.Attempts
	del := &inventory.Delivery{Destination: rec.ID, Scan: to, From: o.From, Items: len(items), Attempts: res.Attempts,
		HTTPStatus: res.Status, MessageID: msg.ID}
	switch {
	case res.Err != nil:
		o.Status, o.Err = inventory.DeliveryFailed, res.Err
		del.Error = res.Err.Error()
	case heartbeat:
		o.Status = inventory.DeliveryHeartbeat
	default:
		o.Status = inventory.DeliveryDelivered
	}
	del.Status = o.Status
	if err := store.RecordDelivery(ctx, del, items); err != nil {
		return o, err
	}
	return o, nil
}

// MessageID is the id of a message carrying items to a destination: the
// same items to the same destination have the same id, so a receiver
// that got a message whose answer was lost drops the retry.
func MessageID(destination string, items []string) string {
	h := sha256.New()
	h.Write([]byte(destination))
	for _, it := range items {
		h.Write([]byte{0})
		h.Write([]byte(it))
	}
	return "msg_" + hex.EncodeToString(h.Sum(nil))[:32]
}

func indentJSON(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(b)
	}
	return strings.TrimSpace(string(out))
}
