package dir_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/dir"
)

// openStore opens an inventory in a fresh file, closed with the test.
func openStore(t *testing.T) *inventory.Store {
	t.Helper()
	st, err := inventory.Open(context.Background(), filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// scanTree runs one scan of the directory source over root into st and
// returns its result, which must be ok, and the scan.
func scanTree(t *testing.T, st *inventory.Store, root string) (inventory.SourceResult, *inventory.Scan) {
	t.Helper()
	ctx := context.Background()
	w, err := st.BeginScan(ctx, "test", "test", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scanner.Run(ctx, w, []scanner.Source{dir.New(root, dir.Options{})}, scanner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := w.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != inventory.SourceOK {
		t.Fatalf("scan: %+v", res[0])
	}
	return res[0], sc
}

// seenIn lists the occurrences scan sc saw, as "path type".
func seenIn(t *testing.T, st *inventory.Store, sc *inventory.Scan) []string {
	t.Helper()
	rows, err := st.DB().Query(`SELECT o.path, c.type FROM occurrences o JOIN credentials c ON c.id = o.credential_id WHERE o.last_seen_scan = ? ORDER BY 1, 2`, sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p, typ string
		if err := rows.Scan(&p, &typ); err != nil {
			t.Fatal(err)
		}
		out = append(out, p+" "+typ)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
