package dir_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/dir"
)

// A re-scan reads only the files that changed; when the kept file states
// cannot be decoded it reads every file again, finds the same, and says
// so in memos_unreadable.
func TestDamagedStatesCostAReadNotAResult(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "deploy.env"), []byte("GITHUB_TOKEN="+harness.GitHubPAT()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := inventory.Open(ctx, filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scan := func() (inventory.SourceResult, int) {
		t.Helper()
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
		var n int
		if err := st.DB().QueryRow(`SELECT count(*) FROM occurrences WHERE last_seen_scan = ?`, sc.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return res[0], n
	}
	first, want := scan()
	if want == 0 || first.Stats["memos_unreadable"] != 0 {
		t.Fatalf("first scan: %d occurrences, stats %v", want, first.Stats)
	}
	if _, err := st.DB().Exec(`UPDATE memos SET value = x'1f8b00' WHERE kind LIKE 'dir-files/%'`); err != nil {
		t.Fatal(err)
	}
	damaged, got := scan()
	if got != want || damaged.Stats["memos_unreadable"] != 1 {
		t.Errorf("re-scan over damaged states: %d occurrences (want %d), stats %v", got, want, damaged.Stats)
	}
}
