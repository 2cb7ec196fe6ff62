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

// A binary file's content is not searched, but a rule on the file's name
// still applies, as in gitleaks dir: a PKCS#12 bundle (binary, so its
// contents are never read as text) is a finding by its name, on the first
// scan and on a re-scan that does not read it again; a secret inside
// binary content is not.
func TestBinaryFilesMeetTheRulesOnTheirNames(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"certs/client.p12": "\x30\x82\x0a\x00\x02\x01\x03\x00binary",
		"assets/blob.bin":  "\x00\x01binary " + harness.GitHubPAT() + "\n",
	}
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	st, err := inventory.Open(ctx, filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for round := range 2 {
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
		if round == 0 && res[0].Stats["files_binary"] != 2 {
			t.Errorf("both files are binary: %v", res[0].Stats)
		}
		rows, err := st.DB().Query(`SELECT o.path, c.type FROM occurrences o JOIN credentials c ON c.id = o.credential_id WHERE o.last_seen_scan = ?`, sc.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var p, typ string
			if err := rows.Scan(&p, &typ); err != nil {
				t.Fatal(err)
			}
			got = append(got, p+" "+typ)
		}
		rows.Close()
		if len(got) != 1 || got[0] != "certs/client.p12 pkcs12-file" {
			t.Errorf("round %d: occurrences %v, want the PKCS#12 file by its name alone", round, got)
		}
	}
}
