package aws

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// motoEnv starts moto_server and points the SDK's standard environment at
// it (AWS_ENDPOINT_URL, dummy keys, region), isolated from any local AWS
// configuration. Tests using it cannot run in parallel (t.Setenv).
func motoEnv(t *testing.T) *harness.MotoServer {
	t.Helper()
	m := harness.Moto(t)
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return m
}

// adminClient is an IAM client built from the same environment.
func adminClient(t *testing.T) *iam.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return iam.NewFromConfig(cfg)
}

// scanResult is what one scan wrote to a real inventory file.
type scanResult struct {
	store   *inventory.Store
	results []inventory.SourceResult
	rows    *tap
}

// tap is the store's scan writer, recording every row the runner hands it
// with the target and unit it was stamped with, as the store will see them.
type tap struct {
	*inventory.ScanWriter
	mu    sync.Mutex
	ids   []inventory.Identity
	creds []inventory.Credential
	occs  []inventory.Occurrence
}

func (t *tap) PutIdentity(ctx context.Context, id *inventory.Identity) error {
	t.mu.Lock()
	t.ids = append(t.ids, *id)
	t.mu.Unlock()
	return t.ScanWriter.PutIdentity(ctx, id)
}

func (t *tap) PutCredential(ctx context.Context, c *inventory.Credential) error {
	t.mu.Lock()
	t.creds = append(t.creds, *c)
	t.mu.Unlock()
	return t.ScanWriter.PutCredential(ctx, c)
}

func (t *tap) PutOccurrence(ctx context.Context, o *inventory.Occurrence) error {
	t.mu.Lock()
	t.occs = append(t.occs, *o)
	t.mu.Unlock()
	return t.ScanWriter.PutOccurrence(ctx, o)
}

// count is how many rows of any kind were written.
func (t *tap) count() int { return len(t.ids) + len(t.creds) + len(t.occs) }

// checkScope fails t unless every row is stamped with target and carries
// its principal's ARN as unit: the identity's key, the credential's
// identity, the occurrence's arn.
func (t *tap) checkScope(tt *testing.T, target string) {
	tt.Helper()
	if len(t.ids) == 0 {
		tt.Fatal("no identities written")
	}
	for _, id := range t.ids {
		if id.Target != target || id.Unit != id.Key {
			tt.Errorf("identity %s: target %q unit %q, want %q and its ARN", id.Key, id.Target, id.Unit, target)
		}
	}
	for _, c := range t.creds {
		if c.Target != target || c.Unit != c.IdentityKey || c.Unit == "" {
			tt.Errorf("credential %s: target %q unit %q, want %q and %s", c.Key, c.Target, c.Unit, target, c.IdentityKey)
		}
	}
	for _, o := range t.occs {
		if o.Target != target || o.Unit != o.Detail["arn"] || o.Unit == "" {
			tt.Errorf("occurrence of %s: target %q unit %q, want %q and %v", o.CredentialKey, o.Target, o.Unit, target, o.Detail["arn"])
		}
	}
}

func runScan(t *testing.T, dbPath string, sources ...scanner.Source) scanResult {
	t.Helper()
	return runScanOpts(t, dbPath, scanner.Options{Concurrency: 2}, sources...)
}

func runScanOpts(t *testing.T, dbPath string, opts scanner.Options, sources ...scanner.Source) scanResult {
	t.Helper()
	ctx := context.Background()
	st, err := inventory.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sw, err := st.BeginScan(ctx, "test", "digest", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := &tap{ScanWriter: sw}
	res, err := scanner.Run(ctx, w, sources, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return scanResult{store: st, results: res, rows: w}
}

type identityRow struct {
	Key, Kind, Name, Provider, Account, Owner, OwnerSource, Privileges string
	CreatedAt, LastUsedAt                                              string
	Tags                                                               map[string]string
	Attrs                                                              map[string]any
}

type credentialRow struct {
	Key, Type, IdentityKey, CreatedAt, LastRotatedAt, LastUsedAt, Status, VaultStatus, Fingerprint, Redacted string
	Attrs                                                                                                    map[string]any
	Occurrences                                                                                              []occurrenceRow
}

type occurrenceRow struct {
	Source, Repo, Path, Commit string
	Line                       int
	Detail                     map[string]any
}

func str(n sql.NullString) string { return n.String }

func identities(t *testing.T, st *inventory.Store) map[string]identityRow {
	t.Helper()
	rows, err := st.DB().Query(`SELECT key, kind, name, provider, account, owner, owner_source, privileges,
		created_at, last_used_at, tags, attrs FROM identities`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]identityRow{}
	for rows.Next() {
		var r identityRow
		var created, used sql.NullString
		var tags, attrs string
		if err := rows.Scan(&r.Key, &r.Kind, &r.Name, &r.Provider, &r.Account, &r.Owner, &r.OwnerSource, &r.Privileges,
			&created, &used, &tags, &attrs); err != nil {
			t.Fatal(err)
		}
		r.CreatedAt, r.LastUsedAt = str(created), str(used)
		if err := json.Unmarshal([]byte(tags), &r.Tags); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(attrs), &r.Attrs); err != nil {
			t.Fatal(err)
		}
		out[r.Key] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func credentialRows(t *testing.T, st *inventory.Store) map[string]credentialRow {
	t.Helper()
	rows, err := st.DB().Query(`SELECT c.key, c.type, COALESCE(i.key, ''), c.created_at, c.last_rotated_at, c.last_used_at,
		c.status, c.vault_status, c.fingerprint, c.redacted, c.attrs
		FROM credentials c LEFT JOIN identities i ON i.id = c.identity_id`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]credentialRow{}
	for rows.Next() {
		var r credentialRow
		var created, rotated, used sql.NullString
		var attrs string
		if err := rows.Scan(&r.Key, &r.Type, &r.IdentityKey, &created, &rotated, &used, &r.Status, &r.VaultStatus,
			&r.Fingerprint, &r.Redacted, &attrs); err != nil {
			t.Fatal(err)
		}
		r.CreatedAt, r.LastRotatedAt, r.LastUsedAt = str(created), str(rotated), str(used)
		if err := json.Unmarshal([]byte(attrs), &r.Attrs); err != nil {
			t.Fatal(err)
		}
		out[r.Key] = r
	}
	rows.Close()
	orows, err := st.DB().Query(`SELECT c.key, o.source, o.repo, o.path, o.commit_sha, o.line, o.detail
		FROM occurrences o JOIN credentials c ON c.id = o.credential_id ORDER BY o.source, o.path`)
	if err != nil {
		t.Fatal(err)
	}
	defer orows.Close()
	for orows.Next() {
		var key, detail string
		var o occurrenceRow
		if err := orows.Scan(&key, &o.Source, &o.Repo, &o.Path, &o.Commit, &o.Line, &detail); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(detail), &o.Detail); err != nil {
			t.Fatal(err)
		}
		c := out[key]
		c.Occurrences = append(c.Occurrences, o)
		out[key] = c
	}
	return out
}

func strs(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
