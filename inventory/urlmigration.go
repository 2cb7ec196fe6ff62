package inventory

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// urlInText finds URLs inside stored text (keys, names, JSON, details).
var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>\\\x00-\x1f]+`)

// RedactURLs applies RedactURL to every URL inside text.
func RedactURLs(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	return urlInText.ReplaceAllStringFunc(text, RedactURL)
}

// markRedactedURLs is RedactURLs, but a URL that carried a credential keeps
// a visible "redacted@" user, so a stored value that would otherwise
// collide with the clean spelling of the same URL stays distinct.
func markRedactedURLs(text string) string {
	return urlInText.ReplaceAllStringFunc(text, func(raw string) string {
		r := RedactURL(raw)
		if r == raw {
			return raw
		}
		u, err := url.Parse(r)
		if err != nil {
			return r
		}
		u.User = url.User("redacted")
		return u.String()
	})
}

// redactStoredURLs rewrites every text value of the inventory that holds a
// URL with a credential (a token given in a --git URL before nhi stripped
// them: repository names, keys, gap details, scan sources). Values are
// rewritten in place; where the clean value would collide with an existing
// row's unique key, the URL keeps a "redacted@" user instead. It reports
// whether anything changed (the caller then vacuums, so the old values
// leave the file too).
func redactStoredURLs(ctx context.Context, tx *sql.Tx) (bool, error) {
	tables, err := textColumns(ctx, tx)
	if err != nil {
		return false, err
	}
	changed := false
	for _, tc := range tables {
		for _, col := range tc.cols {
			// As blobs: text functions stop at a NUL, and occurrence keys
			// hold NULs between their fields.
			q := fmt.Sprintf(`SELECT DISTINCT CAST(%[1]q AS BLOB) FROM %[2]q WHERE instr(CAST(%[1]q AS BLOB), CAST('://' AS BLOB)) > 0`, col, tc.table)
			rows, err := tx.QueryContext(ctx, q)
			if err != nil {
				return false, fmt.Errorf("read %s.%s: %w", tc.table, col, err)
			}
			var olds []string
			for rows.Next() {
				var v []byte
				if err := rows.Scan(&v); err != nil {
					rows.Close()
					return false, err
				}
				if RedactURLs(string(v)) != string(v) {
					olds = append(olds, string(v))
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return false, err
			}
			bind := func(v string) any { return v }
			if tc.blob[col] {
				bind = func(v string) any { return []byte(v) }
			}
			for _, old := range olds {
				changed = true
				upd := fmt.Sprintf(`UPDATE OR IGNORE %q SET %[2]q = ? WHERE %[2]q = ?`, tc.table, col)
				if _, err := tx.ExecContext(ctx, upd, bind(RedactURLs(old)), bind(old)); err != nil {
					return false, fmt.Errorf("rewrite %s.%s: %w", tc.table, col, err)
				}
				// Rows left (their clean value collided): the marked spelling.
				upd = fmt.Sprintf(`UPDATE %q SET %[2]q = ? WHERE %[2]q = ?`, tc.table, col)
				if _, err := tx.ExecContext(ctx, upd, bind(markRedactedURLs(old)), bind(old)); err != nil {
					return false, fmt.Errorf("rewrite %s.%s: %w", tc.table, col, err)
				}
			}
		}
	}
	return changed, nil
}

type tableColumns struct {
	table string
	cols  []string
	blob  map[string]bool // columns declared BLOB: bound as []byte
}

// textColumns lists the text columns of every table of the inventory.
func textColumns(ctx context.Context, tx *sql.Tx) ([]tableColumns, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []tableColumns
	for _, n := range names {
		crows, err := tx.QueryContext(ctx, `SELECT name, type FROM pragma_table_info(?)`, n)
		if err != nil {
			return nil, err
		}
		tc := tableColumns{table: n, blob: map[string]bool{}}
		for crows.Next() {
			var c, typ string
			if err := crows.Scan(&c, &typ); err != nil {
				crows.Close()
				return nil, err
			}
			if t := strings.ToUpper(typ); t == "TEXT" || t == "BLOB" {
				tc.cols = append(tc.cols, c)
				tc.blob[c] = t == "BLOB"
			}
		}
		crows.Close()
		if len(tc.cols) > 0 {
			out = append(out, tc)
		}
	}
	return out, nil
}
