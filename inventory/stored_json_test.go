package inventory

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

// TestDamagedJSONColumnIsAnError: a JSON column the store wrote that no
// longer decodes (the file was edited or damaged) makes the read fail
// naming the row and column, instead of reading as an empty value.
func TestDamagedJSONColumnIsAnError(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nhi.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.BeginScan(ctx, "test", "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scans(ctx); err != nil {
		t.Fatalf("intact database: %v", err)
	}
	s.Close()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE scans SET counts = '{"identities": ' `); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Scans(ctx)
	if err == nil || !strings.Contains(err.Error(), "scan 1: counts holds invalid JSON") || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged counts column: %v", err)
	}
}
