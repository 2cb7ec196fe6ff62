package ci_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// genValues makes fresh secret-shaped values for every __GEN_X__ marker
// of the fixtures.
func genValues(t *testing.T) map[string]string {
	t.Helper()
	// A password: a prefix naming its fixture, then letters and digits.
	pw := func(prefix string, n int) string { return prefix + harness.RandomString(alnum, n) }
	return map[string]string{
		"__GEN_GITHUB_PAT__":            harness.GitHubPAT(),
		"__GEN_DB_PASSWORD__":           pw("Pg", 22),
		"__GEN_AKID__":                  harness.AWSAccessKeyID(),
		"__GEN_AWS_SECRET__":            harness.AWSSecretAccessKey(),
		"__GEN_DOCKER_PASSWORD__":       pw("Dk", 20),
		"__GEN_URL_PASSWORD__":          pw("Ur", 18),
		"__GEN_GL_DB_PASSWORD__":        pw("Gl", 20),
		"__GEN_CIRCLE_DB_PASSWORD__":    pw("Cc", 20),
		"__GEN_BB_DB_PASSWORD__":        pw("Bb", 20),
		"__GEN_JENKINS_DB_PASSWORD__":   pw("Jk", 20),
		"__GEN_FEATURE_ONLY_PASSWORD__": pw("Ft", 20),
	}
}

// writeFiles writes files (path relative to dir: content) under dir.

// render copies the fixture tree src to dst, replacing the markers.
func render(t *testing.T, src, dst string, vals map[string]string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := string(b)
		for k, v := range vals {
			s = strings.ReplaceAll(s, k, v)
		}
		return os.WriteFile(out, []byte(s), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// scanInto runs sources into a fresh SQLite inventory and returns it
// with the scan's source results.
func scanInto(t *testing.T, sources ...scanner.Source) (*inventory.Store, []inventory.SourceResult) {
	t.Helper()
	st, res, _ := scanRecorded(t, sources...)
	return st, res
}

// scanRecorded is scanInto that also returns the rows as the sources
// wrote them (with their Target and Unit).
func scanRecorded(t *testing.T, sources ...scanner.Source) (*inventory.Store, []inventory.SourceResult, *recorder) {
	t.Helper()
	ctx := context.Background()
	st, err := inventory.Open(ctx, filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w, err := st.BeginScan(ctx, "test", "test", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{Writer: w}
	res, err := scanner.Run(ctx, rec, sources, scanner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return st, res, rec
}

// recorder writes rows to the inventory and keeps a copy of each as it
// was written.
type recorder struct {
	scanner.Writer
	mu    sync.Mutex
	ids   []inventory.Identity
	creds []inventory.Credential
	occs  []inventory.Occurrence
}

func (r *recorder) PutIdentity(ctx context.Context, id *inventory.Identity) error {
	r.mu.Lock()
	r.ids = append(r.ids, *id)
	r.mu.Unlock()
	return r.Writer.PutIdentity(ctx, id)
}

func (r *recorder) PutCredential(ctx context.Context, c *inventory.Credential) error {
	r.mu.Lock()
	r.creds = append(r.creds, *c)
	r.mu.Unlock()
	return r.Writer.PutCredential(ctx, c)
}

func (r *recorder) PutOccurrence(ctx context.Context, o *inventory.Occurrence) error {
	r.mu.Lock()
	r.occs = append(r.occs, *o)
	r.mu.Unlock()
	return r.Writer.PutOccurrence(ctx, o)
}

type dbIdentity struct {
	key, name, provider, authMode string
	attrs                         map[string]any
}

func identities(t *testing.T, db *sql.DB) map[string]dbIdentity {
	t.Helper()
	rows, err := db.Query(`SELECT key, name, provider, auth_mode, attrs FROM identities WHERE kind = 'ci:workflow'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]dbIdentity{}
	for rows.Next() {
		var i dbIdentity
		var attrs string
		if err := rows.Scan(&i.key, &i.name, &i.provider, &i.authMode, &attrs); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(attrs), &i.attrs); err != nil {
			t.Fatal(err)
		}
		out[i.key] = i
	}
	return out
}

type dbOcc struct {
	credKey, credType, vaultStatus, fingerprint, identityKey string
	path, job, step, vaultPath                               string
	line                                                     int
	detail                                                   map[string]any
}

func occurrences(t *testing.T, db *sql.DB) []dbOcc {
	t.Helper()
	rows, err := db.Query(`SELECT c.key, c.type, c.vault_status, c.fingerprint, COALESCE(i.key, ''),
		o.path, o.ci_job, o.ci_step, o.vault_path, o.line, o.detail
		FROM occurrences o JOIN credentials c ON c.id = o.credential_id LEFT JOIN identities i ON i.id = c.identity_id
		ORDER BY o.path, o.line, c.key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []dbOcc
	for rows.Next() {
		var o dbOcc
		var detail string
		if err := rows.Scan(&o.credKey, &o.credType, &o.vaultStatus, &o.fingerprint, &o.identityKey, &o.path, &o.job, &o.step,
			&o.vaultPath, &o.line, &detail); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(detail), &o.detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// assertNoValues checks that no generated value is anywhere in the
// database files (main file, WAL) nor in the source results.
func assertNoValues(t *testing.T, st *inventory.Store, res []inventory.SourceResult, vals map[string]string) {
	t.Helper()
	var files [][]byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(st.Path() + suffix); err == nil {
			files = append(files, b)
		}
	}
	rb, _ := json.Marshal(res)
	files = append(files, rb)
	for k, v := range vals {
		if inventory.IsAWSAccessKeyID(v) {
			continue // an access key id is an identifier, kept in clear by design
		}
		for _, b := range files {
			if strings.Contains(string(b), v) {
				t.Errorf("generated value %s found in the inventory or results", k)
			}
		}
	}
}

// refPaths maps the name each credential key ends in (a reference's
// variable) to the path of its occurrence.
func refPaths(t *testing.T, st *inventory.Store) map[string]string {
	t.Helper()
	names := map[string]string{}
	for _, o := range occurrences(t, st.DB()) {
		names[o.credKey[strings.LastIndex(o.credKey, ":")+1:]] = o.path
	}
	return names
}
