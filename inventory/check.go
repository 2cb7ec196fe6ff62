package inventory

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/mattn/go-sqlite3"
)

// A damaged inventory is refused before anything is written to it: a
// write on top of a malformed page spreads the damage, and the file is
// the evidence of every earlier scan. What is damaged is said, with what
// to do; the file is left as it is for a backup to be restored or for
// sqlite3's .recover.

// damaged is the error for an inventory SQLite reports as damaged.
func damaged(path, what string) error {
	return fmt.Errorf("inventory %s is damaged (%s): nhi does not write to it; restore it from a backup (or recover it with sqlite3 %s .recover), or give --db a new file",
		path, what, path)
}

// isDamage reports whether err is SQLite saying the file is not a
// database or is malformed.
func isDamage(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB) {
		return true
	}
	return err != nil && (strings.Contains(err.Error(), "file is not a database") || strings.Contains(err.Error(), "malformed"))
}

// openError is what a user sees when the inventory cannot be opened.
func openError(path string, err error) error {
	if isDamage(err) {
		return damaged(path, err.Error())
	}
	return fmt.Errorf("open inventory %s: %w", path, err)
}

// checkIntegrity runs SQLite's quick check (every page and index entry
// is well formed; O(size), 0.2 s of CPU for 240 MB) before a scan writes.
func (s *Store) checkIntegrity(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, `PRAGMA quick_check(5)`)
	if err != nil {
		if isDamage(err) {
			return damaged(s.path, err.Error())
		}
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return damaged(s.path, err.Error())
		}
		for _, l := range strings.Split(p, "\n") {
			if l != "ok" && l != "" && !strings.HasPrefix(l, "*** ") {
				problems = append(problems, l)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return damaged(s.path, err.Error())
	}
	if len(problems) > 0 {
		return damaged(s.path, strings.Join(problems, "; "))
	}
	return nil
}

// notWritable is the error for an inventory file that exists but cannot
// be opened for writing.
func notWritable(path string, err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("inventory %s cannot be written (%v): nhi writes to it even to read it (SQLite's write-ahead log); fix its permissions, or copy it (with its .key) and give --db the copy", path, err)
	}
	return fmt.Errorf("create inventory %s: %w", path, err)
}

// IsDiskFull reports whether err is SQLite (or the system) saying the
// disk holding the inventory is full.
func IsDiskFull(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrFull {
		return true
	}
	return errors.Is(err, syscall.ENOSPC) || err != nil && strings.Contains(err.Error(), "database or disk is full")
}
