package inventory

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Delivery statuses.
const (
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	DeliveryQuiet     = "quiet"
	DeliveryHeartbeat = "heartbeat"
)

// Destination is a place nhi posts diffs to, as the inventory knows it:
// never its URL, which is a secret, only its keyed fingerprint and scheme
// and host.
type Destination struct {
	ID             int64  `json:"id"`
	Name           string `json:"name"`
	Kind           string `json:"kind"`
	URLFingerprint string `json:"-"`
	Shown          string `json:"shown"`
	// Cursor is the last scan whose change the destination received in
	// full (0: none yet).
	Cursor int64 `json:"cursor_scan,omitempty"`
}

// Delivery is one attempt to post to a destination.
type Delivery struct {
	ID          int64     `json:"id"`
	Destination int64     `json:"destination_id"`
	Name        string    `json:"destination"`
	Kind        string    `json:"kind"`
	Shown       string    `json:"shown"`
	Scan        int64     `json:"scan_id"`
	From        int64     `json:"from_scan"`
	At          time.Time `json:"at"`
	Status      string    `json:"status"`
	Items       int       `json:"items"`
	Attempts    int       `json:"attempts"`
	HTTPStatus  int       `json:"http_status,omitempty"`
	MessageID   string    `json:"message_id,omitempty"`
	Error       string    `json:"error,omitempty"`
}

// EnsureDestination returns the destination with this URL, recording it
// (or its new name and kind) as needed. url is fingerprinted, not stored.
func (s *Store) EnsureDestination(ctx context.Context, name, kind, url, shown string) (*Destination, error) {
	d := &Destination{Name: name, Kind: kind, URLFingerprint: s.keys.Fingerprint(url), Shown: shown}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO destinations(name, kind, url_fingerprint, shown) VALUES (?, ?, ?, ?)
		ON CONFLICT(url_fingerprint) DO UPDATE SET name = excluded.name, kind = excluded.kind, shown = excluded.shown`,
		d.Name, d.Kind, d.URLFingerprint, d.Shown); err != nil {
		return nil, fmt.Errorf("record destination %s: %w", name, err)
	}
	var cursor sql.NullInt64
	if err := s.w.QueryRowContext(ctx, `SELECT id, cursor_scan FROM destinations WHERE url_fingerprint = ?`, d.URLFingerprint).
		Scan(&d.ID, &cursor); err != nil {
		return nil, err
	}
	d.Cursor = cursor.Int64
	return d, nil
}

// Undelivered returns the items of ids the destination has not received,
// in their order.
func (s *Store) Undelivered(ctx context.Context, dest int64, ids []string) ([]string, error) {
	have := map[string]bool{}
	const batch = 500
	for i := 0; i < len(ids); i += batch {
		part := ids[i:min(i+batch, len(ids))]
		args := make([]any, 0, len(part)+1)
		args = append(args, dest)
		for _, id := range part {
			args = append(args, id)
		}
		rows, err := s.r.QueryContext(ctx, `SELECT item FROM delivered_items WHERE destination_id = ? AND item IN (?`+
			strings.Repeat(",?", len(part)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var it string
			if err := rows.Scan(&it); err != nil {
				rows.Close()
				return nil, err
			}
			have[it] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, id := range ids {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// RecordDelivery records an attempt, in one transaction with its effect:
// on delivered (or heartbeat, or quiet) the items are marked received and
// the destination's cursor moves to d.Scan; a failed attempt moves
// nothing, so its items go out with the next run.
func (s *Store) RecordDelivery(ctx context.Context, d *Delivery, items []string) error {
	if d.At.IsZero() {
		d.At = time.Now().UTC()
	}
	switch d.Status {
	case DeliveryDelivered, DeliveryFailed, DeliveryQuiet, DeliveryHeartbeat:
	default:
		return fmt.Errorf("unknown delivery status %q", d.Status)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO deliveries(destination_id, scan_id, from_scan, at, status, items, attempts, http_status, message_id, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.Destination, d.Scan, d.From, fmtTime(d.At), d.Status, d.Items, d.Attempts,
		d.HTTPStatus, d.MessageID, d.Error)
	if err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	if d.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	if d.Status != DeliveryFailed {
		stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO delivered_items(destination_id, item, delivery_id) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, it := range items {
			if _, err := stmt.ExecContext(ctx, d.Destination, it, d.ID); err != nil {
				return fmt.Errorf("record delivered item: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE destinations SET cursor_scan = max(COALESCE(cursor_scan, 0), ?) WHERE id = ?`,
			d.Scan, d.Destination); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Deliveries lists the attempts to post the change up to scan (all
// scans when scan is 0), oldest first.
func (s *Store) Deliveries(ctx context.Context, scan int64) ([]Delivery, error) {
	q := `SELECT d.id, d.destination_id, t.name, t.kind, t.shown, d.scan_id, d.from_scan, d.at, d.status, d.items, d.attempts,
		d.http_status, d.message_id, d.error FROM deliveries d JOIN destinations t ON t.id = d.destination_id`
	var args []any
	if scan > 0 {
		q += ` WHERE d.scan_id = ?`
		args = append(args, scan)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY d.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var (
			d  Delivery
			at string
		)
		if err := rows.Scan(&d.ID, &d.Destination, &d.Name, &d.Kind, &d.Shown, &d.Scan, &d.From, &at, &d.Status, &d.Items,
			&d.Attempts, &d.HTTPStatus, &d.MessageID, &d.Error); err != nil {
			return nil, err
		}
		if t := parseTime(sql.NullString{String: at, Valid: true}); t != nil {
			d.At = *t
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
