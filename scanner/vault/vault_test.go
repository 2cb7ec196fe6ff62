package vault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/git"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
	"github.com/nhi-inventory/nhi/scanner/vault"
)

// client returns an API client for srv authenticated with token.
func client(t *testing.T, addr, token string) *vaultapi.Client {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = addr
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

func write(t *testing.T, c *vaultapi.Client, path string, data map[string]any) map[string]any {
	t.Helper()
	s, err := c.Logical().Write(path, data)
	if err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if s == nil {
		return nil
	}
	if s.Auth != nil {
		return map[string]any{"client_token": s.Auth.ClientToken, "accessor": s.Auth.Accessor}
	}
	return s.Data
}

func read(t *testing.T, c *vaultapi.Client, path string) map[string]any {
	t.Helper()
	s, err := c.Logical().Read(path)
	if err != nil || s == nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return s.Data
}

// seeded is what seed put into the server: the values that must never be
// stored, and facts the scan must report.
type seeded struct {
	secrets    []string          // every secret value and token written
	dbVersions []string          // secret/app/db values by version (1..3)
	leaked     string            // secret/leaked value, also committed to git
	secretIDs  map[string]string // accessor -> role
	periodic   string            // accessor of the periodic token
	breakGlass string            // accessor of the orphan root token without expiry
	scanToken  string
	rootToken  string
}

// seed fills a fresh dev server through the API, as a real team would.
func seed(t *testing.T, srv *harness.VaultServer) *seeded {
	t.Helper()
	root := client(t, srv.Addr, srv.RootToken)
	s := &seeded{secretIDs: map[string]string{}, rootToken: srv.RootToken}
	secret := func(path string, data map[string]any) {
		t.Helper()
		for _, v := range data {
			s.secrets = append(s.secrets, v.(string))
		}
		write(t, root, path, map[string]any{"data": data})
	}

	// KV v2 at secret/ (the dev server's default mount).
	for i := range 3 {
		if i == 2 {
			// OpenBao keeps KV times to the second: let the last rotation
			// be visibly later than the creation.
			time.Sleep(1100 * time.Millisecond)
		}
		v := harness.Password(24)
		s.dbVersions = append(s.dbVersions, v)
		secret("secret/data/app/db", map[string]any{"password": v})
	}
	write(t, root, "secret/metadata/app/db", map[string]any{"custom_metadata": map[string]any{"owner": "team-payments", "ticket": "SEC-1"}})
	secret("secret/data/app/api", map[string]any{"client_id": harness.Hex(16), "client_secret": harness.Base64(24)})
	secret("secret/data/app/api", map[string]any{"client_id": harness.Hex(16), "client_secret": harness.Base64(24)})
	secret("secret/data/app/old", map[string]any{"key": harness.Password(20)})
	secret("secret/data/app/old", map[string]any{"key": harness.Password(20)})
	if _, err := root.Logical().Delete("secret/data/app/old"); err != nil { // soft-delete the current version
		t.Fatal(err)
	}
	secret("secret/data/app/gone", map[string]any{"key": harness.Password(20)})
	secret("secret/data/app/gone", map[string]any{"key": harness.Password(20)})
	write(t, root, "secret/destroy/app/gone", map[string]any{"versions": []int{1}})
	secret("secret/data/team/nested/deep", map[string]any{"token": harness.SlackBotToken()})
	write(t, root, "secret/metadata/team/nested/deep", map[string]any{"custom_metadata": map[string]any{"team": "platform"}})
	secret("secret/data/denied/hidden", map[string]any{"token": harness.StripeLiveKey()})
	secret("secret/data/denied/more/hidden2", map[string]any{"token": harness.StripeLiveKey()})
	s.leaked = harness.GitHubPAT()
	secret("secret/data/leaked", map[string]any{"github_token": s.leaked})

	// A second KV v2 mount, an excluded one, and a KV v1 mount.
	write(t, root, "sys/mounts/apps", map[string]any{"type": "kv", "options": map[string]any{"version": "2"}})
	secret("apps/data/billing/stripe", map[string]any{"api_key": harness.StripeLiveKey()})
	write(t, root, "sys/mounts/excluded", map[string]any{"type": "kv", "options": map[string]any{"version": "2"}})
	secret("excluded/data/x", map[string]any{"v": harness.Password(16)})
	write(t, root, "sys/mounts/kv1", map[string]any{"type": "kv", "options": map[string]any{"version": "1"}})
	v1 := harness.Password(22)
	s.secrets = append(s.secrets, v1)
	write(t, root, "kv1/legacy/one", map[string]any{"password": v1})

	// AppRoles: with and without secret-id TTL, with generated secret-ids.
	write(t, root, "sys/auth/approle", map[string]any{"type": "approle"})
	write(t, root, "auth/approle/role/ci-deployer", map[string]any{
		"token_ttl": 1200, "token_max_ttl": 3600, "secret_id_ttl": 3600, "secret_id_num_uses": 10,
		"token_bound_cidrs": []string{"10.0.0.0/8"}, "secret_id_bound_cidrs": []string{"127.0.0.0/8"},
		"token_policies": []string{"deploy"},
	})
	write(t, root, "auth/approle/role/legacy-batch", map[string]any{
		"token_period": 3600, "token_policies": []string{"batch", "reports"},
	})
	for role, n := range map[string]int{"ci-deployer": 2, "legacy-batch": 1} {
		for range n {
			d := write(t, root, "auth/approle/role/"+role+"/secret-id", nil)
			s.secrets = append(s.secrets, d["secret_id"].(string))
			s.secretIDs[d["secret_id_accessor"].(string)] = role
		}
		s.secrets = append(s.secrets, read(t, root, "auth/approle/role/"+role+"/role-id")["role_id"].(string))
	}

	// Tokens: a periodic one and an orphan root token that never expires.
	d := write(t, root, "auth/token/create", map[string]any{"policies": []string{"app"}, "period": "1h", "display_name": "periodic-svc"})
	s.secrets, s.periodic = append(s.secrets, d["client_token"].(string)), d["accessor"].(string)
	d = write(t, root, "auth/token/create-orphan", map[string]any{"policies": []string{"root"}, "display_name": "break-glass"})
	s.secrets, s.breakGlass = append(s.secrets, d["client_token"].(string)), d["accessor"].(string)

	// Other auth methods: roles listed where the API lists them.
	for _, m := range []string{"kubernetes", "jwt", "userpass", "cert"} {
		write(t, root, "sys/auth/"+m, map[string]any{"type": m})
	}
	write(t, root, "auth/kubernetes/role/app-sa", map[string]any{
		"bound_service_account_names": []string{"app"}, "bound_service_account_namespaces": []string{"prod"}, "token_policies": []string{"app"},
	})
	write(t, root, "auth/jwt/role/gha", map[string]any{
		"role_type": "jwt", "user_claim": "sub", "bound_audiences": []string{"https://github.com/org"},
		"bound_claims": map[string]any{"repository": "org/app"}, "token_policies": []string{"deploy"},
	})

	// The scanning token: the documented policy, plus one that denies a subtree.
	write(t, root, "sys/policies/acl/nhi-scan", map[string]any{"policy": vault.ScanPolicy})
	write(t, root, "sys/policies/acl/nhi-test-deny", map[string]any{"policy": `
path "secret/metadata/denied*" { capabilities = ["deny"] }
path "secret/data/denied*" { capabilities = ["deny"] }`})
	d = write(t, root, "auth/token/create", map[string]any{"policies": []string{"nhi-scan", "nhi-test-deny"}, "ttl": "1h", "display_name": "nhi-scan"})
	s.scanToken = d["client_token"].(string)
	s.secrets = append(s.secrets, s.scanToken, srv.RootToken)
	return s
}

// tap is the store's scan writer, recording every row with the target
// and unit the runner stamped on it, as the store sees them.
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

type result struct {
	store   *inventory.Store
	scan    *inventory.Scan
	rows    *tap
	results []inventory.SourceResult
	creds   map[string]inventory.CredentialRow
	ids     map[string]inventory.IdentityRow
	dbPath  string
}

// scanInto scans sources into a new SQLite inventory, the way nhi scan does.
func scanInto(t *testing.T, sources ...scanner.Source) *result {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nhi.db")
	store, err := inventory.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sw, err := store.BeginScan(ctx, "test", "test", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := &tap{ScanWriter: sw}
	res, err := scanner.Run(ctx, w, sources, scanner.Options{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	sc, err := w.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &result{store: store, scan: sc, rows: w, results: res, dbPath: path,
		creds: map[string]inventory.CredentialRow{}, ids: map[string]inventory.IdentityRow{}}
	creds, err := store.Credentials(ctx, sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range creds {
		r.creds[c.Credential.Key] = c
	}
	ids, err := store.Identities(ctx, sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ids {
		r.ids[i.Identity.Key] = i
	}
	return r
}

func hostOf(t *testing.T, addr string) string {
	t.Helper()
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// jsonEq compares after a JSON round trip, as attrs come back from the store.
func jsonEq(t *testing.T, what string, got, want any) {
	t.Helper()
	norm := func(v any) []byte {
		b, _ := json.Marshal(v)
		var x any
		_ = json.Unmarshal(b, &x)
		b, _ = json.Marshal(x)
		return b
	}
	g, w := norm(got), norm(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}

func TestScanVault(t *testing.T) {
	srv := harness.Vault(t)
	s := seed(t, srv)
	host := hostOf(t, srv.Addr)
	root := client(t, srv.Addr, srv.RootToken)

	repo := harness.NewGitRepo(t)
	repo.Commit(harness.Author{Name: "Dev", Email: "dev@example.com"}, "add deploy env",
		map[string]string{"deploy.env": "GITHUB_TOKEN=" + s.leaked + "\n"})

	start := time.Now()
	r := scanInto(t,
		vault.New(vault.Options{Address: srv.Addr, Token: s.scanToken, Fingerprint: true, ExcludeMounts: []string{"excluded/"}}),
		git.New(repo.Dir, &gitrepo.Repos{CacheDir: t.TempDir()}, git.Options{}),
	)
	t.Logf("scan took %v", time.Since(start))
	keys := r.store.Keys()

	// Outcome: the source succeeded and the denied subtree is the only gap.
	vr := r.results[0]
	if vr.Status != inventory.SourceOK {
		t.Fatalf("vault source %s: %s", vr.Status, vr.Error)
	}
	if r.results[1].Status != inventory.SourceOK {
		t.Fatalf("git source %s: %s", r.results[1].Status, r.results[1].Error)
	}
	// A LIST that fails maps to no unit: the server is read in part.
	wantItems := []inventory.ItemError{{Item: "vault LIST secret/metadata/denied/", Error: "permission denied (403)", Target: "vault:" + srv.Addr}}
	jsonEq(t, "item errors", vr.ItemErrors, wantItems)
	if vr.Name != "vault:"+srv.Addr || vr.Kind != inventory.SourceVault || vr.Target != srv.Addr || !slices.Equal(vr.Targets, []string{"vault:" + srv.Addr}) {
		t.Errorf("source name/kind/target = %q %q %q %v", vr.Name, vr.Kind, vr.Target, vr.Targets)
	}
	checkUnits(t, r.rows, "vault:"+srv.Addr)
	t.Logf("stats: %v", vr.Stats)

	// KV v2: every path outside the denied subtree and the excluded mount.
	var kvPaths []string
	for k, c := range r.creds {
		if c.Credential.Type == vault.TypeKVSecret {
			kvPaths = append(kvPaths, strings.TrimPrefix(k, "vault-kv:"+host+":"))
		}
	}
	sort.Strings(kvPaths)
	jsonEq(t, "kv paths", kvPaths, []string{"apps/billing/stripe", "kv1/legacy/one", "secret/app/api", "secret/app/db",
		"secret/app/gone", "secret/app/old", "secret/leaked", "secret/team/nested/deep"})

	kv := func(p string) inventory.Credential {
		t.Helper()
		c, ok := r.creds["vault-kv:"+host+":"+p]
		if !ok {
			t.Fatalf("no credential for %s", p)
		}
		if c.Credential.VaultStatus != inventory.VaultVaulted {
			t.Errorf("%s vault_status %q", p, c.Credential.VaultStatus)
		}
		if len(c.Occurrences) != 1 || c.Occurrences[0].Source != inventory.SourceVault || c.Occurrences[0].VaultPath != p {
			t.Errorf("%s occurrences = %+v", p, c.Occurrences)
		}
		return c.Credential
	}
	db := kv("secret/app/db")
	md := read(t, root, "secret/metadata/app/db")
	created, _ := time.Parse(time.RFC3339Nano, md["created_time"].(string))
	updated, _ := time.Parse(time.RFC3339Nano, md["updated_time"].(string))
	if db.CreatedAt == nil || !db.CreatedAt.Equal(created) || db.LastRotatedAt == nil || !db.LastRotatedAt.Equal(updated) {
		t.Errorf("app/db created %v rotated %v, want %v %v", db.CreatedAt, db.LastRotatedAt, created, updated)
	}
	if !updated.After(created) {
		t.Errorf("metadata updated_time %v not after created_time %v: rotation not visible", updated, created)
	}
	if db.Type != "vault-kv-secret" || db.Status != "active" {
		t.Errorf("app/db type %q status %q", db.Type, db.Status)
	}
	for k, want := range map[string]any{"versions": 3, "current_version": 3, "deleted": false, "destroyed": false,
		"mount": "secret/", "path": "app/db", "kv_version": 2, "owner": "team-payments",
		"custom_metadata": map[string]string{"owner": "team-payments", "ticket": "SEC-1"}} {
		jsonEq(t, "app/db attr "+k, db.Attrs[k], want)
	}
	var wantFPs []map[string]any
	for i, v := range s.dbVersions {
		wantFPs = append(wantFPs, map[string]any{"key": "password", "version": i + 1, "fingerprint": keys.Fingerprint(v)})
	}
	jsonEq(t, "app/db value_fingerprints", db.Attrs["value_fingerprints"], wantFPs)
	if db.Fingerprint != keys.Fingerprint(s.dbVersions[2]) {
		t.Errorf("app/db fingerprint %q, want the current version's", db.Fingerprint)
	}

	api := kv("secret/app/api")
	if api.Fingerprint != "" {
		t.Errorf("two-field secret got a credential fingerprint %q", api.Fingerprint)
	}
	if fps, _ := api.Attrs["value_fingerprints"].([]any); len(fps) != 4 {
		t.Errorf("app/api value_fingerprints = %v, want 2 fields x 2 versions", api.Attrs["value_fingerprints"])
	}

	old := kv("secret/app/old")
	if old.Status != "deleted" {
		t.Errorf("app/old status %q, want deleted", old.Status)
	}
	jsonEq(t, "app/old deleted", old.Attrs["deleted"], true)
	jsonEq(t, "app/old deleted_versions", old.Attrs["deleted_versions"], []int{2})
	if fps, _ := old.Attrs["value_fingerprints"].([]any); len(fps) != 1 || old.Fingerprint != "" {
		t.Errorf("app/old fingerprints %v / %q: want only live version 1 and no current fingerprint", fps, old.Fingerprint)
	}

	gone := kv("secret/app/gone")
	jsonEq(t, "app/gone destroyed_versions", gone.Attrs["destroyed_versions"], []int{1})
	jsonEq(t, "app/gone status", gone.Status, "active")
	if fps, _ := gone.Attrs["value_fingerprints"].([]any); len(fps) != 1 || fps[0].(map[string]any)["version"] != 2.0 {
		t.Errorf("app/gone fingerprints %v: want version 2 only", fps)
	}
	jsonEq(t, "team/nested/deep owner", kv("secret/team/nested/deep").Attrs["owner"], "platform")
	kv("apps/billing/stripe")

	v1 := kv("kv1/legacy/one")
	jsonEq(t, "kv1 attrs", v1.Attrs, map[string]any{"kv_version": 1, "mount": "kv1/", "path": "legacy/one"})
	if v1.CreatedAt != nil || v1.LastRotatedAt != nil || v1.Fingerprint != "" {
		t.Errorf("kv1 secret has dates or fingerprint: %+v", v1)
	}

	// The vaulted value's fingerprint equals the one the git source gives
	// the same value committed to a repository.
	lk := kv("secret/leaked")
	if lk.Fingerprint != keys.Fingerprint(s.leaked) {
		t.Errorf("secret/leaked fingerprint %q, want Keys().Fingerprint(value)", lk.Fingerprint)
	}
	gitCred, ok := r.creds["fp:"+lk.Fingerprint]
	if !ok {
		var got []string
		for k := range r.creds {
			got = append(got, k)
		}
		t.Fatalf("git source has no credential with the vaulted value's fingerprint; credentials: %v", got)
	}
	if gitCred.Credential.Fingerprint != lk.Fingerprint || len(gitCred.Occurrences) == 0 || gitCred.Occurrences[0].Source != inventory.SourceGit {
		t.Errorf("git credential %+v", gitCred)
	}

	// AppRoles and their secret-ids.
	ci := r.ids["vault:approle:"+host+":approle/ci-deployer"]
	if ci.Identity.Kind != inventory.KindVaultAppRole || ci.Identity.Name != "ci-deployer" || ci.Identity.Provider != "vault" {
		t.Fatalf("ci-deployer identity %+v", ci.Identity)
	}
	for k, want := range map[string]any{"token_ttl": 1200, "token_max_ttl": 3600, "secret_id_ttl": 3600, "secret_id_num_uses": 10,
		"token_bound_cidrs": []string{"10.0.0.0/8"}, "secret_id_bound_cidrs": []string{"127.0.0.0/8"},
		"token_policies": []string{"deploy"}, "token_period": 0, "secret_id_count": 2} {
		jsonEq(t, "ci-deployer "+k, ci.Identity.Attrs[k], want)
	}
	lb := r.ids["vault:approle:"+host+":approle/legacy-batch"]
	for k, want := range map[string]any{"secret_id_ttl": 0, "token_period": 3600, "token_policies": []string{"batch", "reports"}, "secret_id_count": 1} {
		jsonEq(t, "legacy-batch "+k, lb.Identity.Attrs[k], want)
	}
	for acc, role := range s.secretIDs {
		c, ok := r.creds["vault-secret-id:"+host+":"+acc]
		if !ok {
			t.Errorf("no credential for secret-id accessor of %s", role)
			continue
		}
		cr := c.Credential
		if cr.Type != "vault-secret-id" || cr.IdentityKey != "vault:approle:"+host+":approle/"+role || cr.VaultStatus != inventory.VaultVaulted || cr.CreatedAt == nil {
			t.Errorf("secret-id of %s: %+v", role, cr)
			continue
		}
		switch role {
		case "ci-deployer":
			if cr.ExpiresAt == nil || cr.ExpiresAt.Sub(*cr.CreatedAt).Round(time.Second) != time.Hour {
				t.Errorf("ci-deployer secret-id expires %v (created %v), want +1h", cr.ExpiresAt, cr.CreatedAt)
			}
			jsonEq(t, "secret-id num_uses", cr.Attrs["num_uses"], 10)
		case "legacy-batch":
			if cr.ExpiresAt != nil {
				t.Errorf("legacy-batch secret-id expires %v, want never", cr.ExpiresAt)
			}
			jsonEq(t, "secret-id no_expiry", cr.Attrs["no_expiry"], true)
		}
	}

	// Tokens by accessor.
	tok := func(acc string) (inventory.Identity, inventory.Credential) {
		t.Helper()
		id, ok := r.ids["vault:token:"+host+":"+acc]
		if !ok {
			t.Fatalf("no identity for token accessor %s", acc)
		}
		c, ok := r.creds["vault-token:"+host+":"+acc]
		if !ok || c.Credential.Type != "vault-token" || c.Credential.IdentityKey != id.Identity.Key {
			t.Fatalf("token credential %+v", c)
		}
		if id.Identity.Kind != inventory.KindVaultToken || id.Identity.CreatedAt == nil || time.Since(*id.Identity.CreatedAt) > time.Hour {
			t.Errorf("token identity %+v", id.Identity)
		}
		return id.Identity, c.Credential
	}
	pid, pc := tok(s.periodic)
	if pid.Name != "token-periodic-svc" {
		t.Errorf("periodic token name %q", pid.Name)
	}
	for k, want := range map[string]any{"period": 3600, "renewable": true, "orphan": false, "no_expiry": false, "root": false,
		"policies": []string{"app", "default"}} {
		jsonEq(t, "periodic "+k, pid.Attrs[k], want)
	}
	if ttl, _ := pid.Attrs["ttl"].(float64); ttl <= 0 || ttl > 3600 {
		t.Errorf("periodic ttl %v", pid.Attrs["ttl"])
	}
	if pc.ExpiresAt == nil || time.Until(*pc.ExpiresAt) > time.Hour || time.Until(*pc.ExpiresAt) < 50*time.Minute {
		t.Errorf("periodic token expires %v, want about an hour from now", pc.ExpiresAt)
	}
	bid, bc := tok(s.breakGlass)
	for k, want := range map[string]any{"ttl": 0, "renewable": false, "orphan": true, "no_expiry": true, "root": true,
		"policies": []string{"root"}, "expire_time": nil} {
		jsonEq(t, "break-glass "+k, bid.Attrs[k], want)
	}
	if bid.Name != "token-break-glass" || bc.ExpiresAt != nil {
		t.Errorf("break-glass token %q expires %v", bid.Name, bc.ExpiresAt)
	}
	roots := 0
	for _, id := range r.ids {
		if id.Identity.Kind == inventory.KindVaultToken && id.Identity.Attrs["root"] == true {
			roots++
		}
	}
	if roots != 2 { // the dev server's root token and break-glass
		t.Errorf("%d root tokens, want 2", roots)
	}

	// Other auth methods.
	k8s := r.ids["vault:auth-role:"+host+":kubernetes/app-sa"].Identity
	if k8s.Kind != inventory.KindVaultAuthRole || k8s.Name != "app-sa" {
		t.Errorf("kubernetes role %+v", k8s)
	}
	jsonEq(t, "k8s type", k8s.Attrs["type"], "kubernetes")
	jsonEq(t, "k8s bound names", k8s.Attrs["bound_service_account_names"], []string{"app"})
	gha := r.ids["vault:auth-role:"+host+":jwt/gha"].Identity
	jsonEq(t, "jwt bound_claims", gha.Attrs["bound_claims"], map[string]string{"repository": "org/app"})
	jsonEq(t, "jwt policies", gha.Attrs["token_policies"], []string{"deploy"})
	up := r.ids["vault:auth-role:"+host+":userpass/"].Identity
	jsonEq(t, "userpass mount", up.Attrs, map[string]any{"type": "userpass", "mount": "auth/userpass/", "roles_listed": false})
	cert := r.ids["vault:auth-role:"+host+":cert/"].Identity
	jsonEq(t, "cert mount type", cert.Attrs["type"], "cert")

	assertNoSecrets(t, r, s.secrets)
}

// checkUnits fails t unless every Vault row is stamped with target and
// carries the Vault path it comes from as its unit: a KV secret's mount
// and path, an auth role's path (its secret-ids too), a token's accessor.
func checkUnits(t *testing.T, rows *tap, target string) {
	t.Helper()
	if len(rows.ids) == 0 || len(rows.creds) == 0 {
		t.Fatal("no rows written")
	}
	unitOf := map[string]string{} // identity key -> unit
	for _, id := range rows.ids {
		if id.Source != inventory.SourceVault {
			continue
		}
		var want string
		switch id.Kind {
		case inventory.KindVaultAppRole:
			want = str(id.Attrs["mount"]) + "role/" + id.Name
		case inventory.KindVaultToken:
			want = "auth/token/accessors/" + str(id.Attrs["accessor"])
		case inventory.KindVaultAuthRole:
			mount := str(id.Attrs["mount"])
			if _, isMount := id.Attrs["roles_listed"]; isMount {
				want = strings.TrimSuffix(mount, "/")
			} else if str(id.Attrs["type"]) == "cert" {
				want = mount + "certs/" + id.Name
			} else {
				want = mount + "role/" + id.Name
			}
		}
		if id.Target != target || id.Unit != want || want == "" {
			t.Errorf("identity %s: target %q unit %q, want %q and %q", id.Key, id.Target, id.Unit, target, want)
		}
		unitOf[id.Key] = id.Unit
	}
	kvUnits := map[string]string{}
	for _, c := range rows.creds {
		if !strings.HasPrefix(c.Type, "vault-") {
			continue
		}
		want := unitOf[c.IdentityKey]
		if c.Type == vault.TypeKVSecret {
			want = str(c.Attrs["mount"]) + str(c.Attrs["path"])
			kvUnits[c.Key] = want
		}
		if c.Target != target || c.Unit != want || want == "" {
			t.Errorf("credential %s: target %q unit %q, want %q and %q", c.Key, c.Target, c.Unit, target, want)
		}
	}
	for _, o := range rows.occs {
		if o.Source != inventory.SourceVault {
			continue
		}
		if o.Target != target || o.Unit != kvUnits[o.CredentialKey] || o.Unit == "" {
			t.Errorf("occurrence %s: target %q unit %q, want %q and %q", o.VaultPath, o.Target, o.Unit, target, kvUnits[o.CredentialKey])
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// assertNoSecrets greps the database files for every secret value.
func assertNoSecrets(t *testing.T, r *result, secrets []string) {
	t.Helper()
	check := func(stage string) {
		var all []byte
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(r.dbPath + suffix)
			if err == nil {
				all = append(all, b...)
			}
		}
		if len(all) == 0 {
			t.Fatalf("%s: no database bytes read", stage)
		}
		for _, v := range secrets {
			if bytes.Contains(all, []byte(v)) {
				t.Errorf("%s: a secret value or token (%s) is in the database", stage, inventory.Redact(v))
			}
		}
	}
	check("open")
	r.store.Close()
	check("closed")
}

// A token that may not read sys/mounts still finds the mounts it can use
// (sys/internal/ui/mounts), and the gap is recorded. Without --vault-fingerprint
// no value is read.
func TestScanVaultLimitedToken(t *testing.T) {
	srv := harness.Vault(t)
	root := client(t, srv.Addr, srv.RootToken)
	value := harness.Password(30)
	write(t, root, "secret/data/svc/one", map[string]any{"data": map[string]any{"v": value}})
	hidden := harness.Password(30)
	write(t, root, "secret/data/svc/hidden", map[string]any{"data": map[string]any{"v": hidden}})
	write(t, root, "sys/auth/approle", map[string]any{"type": "approle"})
	write(t, root, "auth/approle/role/open", map[string]any{"token_policies": []string{"app"}})
	write(t, root, "auth/approle/role/locked", map[string]any{"token_policies": []string{"admin"}})
	// Metadata of one secret and one AppRole are out of the token's reach.
	write(t, root, "sys/policies/acl/kv-only", map[string]any{"policy": `
path "secret/metadata/*" { capabilities = ["list", "read"] }
path "secret/metadata/svc/hidden" { capabilities = ["deny"] }
path "auth/approle/role" { capabilities = ["list"] }
path "auth/approle/role/open" { capabilities = ["read"] }
path "auth/approle/role/open/secret-id" { capabilities = ["list"] }`})
	tok := write(t, root, "auth/token/create", map[string]any{"policies": []string{"kv-only"}, "ttl": "10m"})["client_token"].(string)

	r := scanInto(t, vault.New(vault.Options{Address: srv.Addr, Token: tok}))
	vr := r.results[0]
	if vr.Status != inventory.SourceOK {
		t.Fatalf("source %s: %s", vr.Status, vr.Error)
	}
	var items []string
	for _, e := range vr.ItemErrors {
		items = append(items, e.Item+": "+e.Error)
	}
	for _, want := range []string{"vault READ sys/mounts: permission denied (403)", "vault READ sys/auth: permission denied (403)",
		"vault LIST auth/token/accessors: permission denied (403)"} {
		if !slices.Contains(items, want) {
			t.Errorf("item errors %q lack %q", items, want)
		}
	}
	// A path the token cannot read is a unit error on that path: its
	// earlier state is kept.
	target := "vault:" + srv.Addr
	var units []inventory.ItemError
	for _, e := range vr.ItemErrors {
		if e.Unit != "" {
			units = append(units, e)
		} else if e.Target != target {
			t.Errorf("item error not stamped with the server: %+v", e)
		}
	}
	sort.Slice(units, func(i, j int) bool { return units[i].Item < units[j].Item }) // the walk is concurrent
	jsonEq(t, "unit errors", units, []inventory.ItemError{
		{Item: "auth/approle/role/locked", Unit: "auth/approle/role/locked", Target: target, Error: "vault READ auth/approle/role/locked: permission denied (403)"},
		{Item: "secret/svc/hidden", Unit: "secret/svc/hidden", Target: target, Error: "vault READ secret/metadata/svc/hidden: permission denied (403)"},
	})
	if _, ok := r.ids["vault:approle:"+hostOf(t, srv.Addr)+":approle/open"]; !ok {
		t.Error("the readable AppRole is missing")
	}
	checkUnits(t, r.rows, target)
	c, ok := r.creds["vault-kv:"+hostOf(t, srv.Addr)+":secret/svc/one"]
	if !ok {
		t.Fatalf("secret/svc/one not found through sys/internal/ui/mounts; item errors %q", items)
	}
	if c.Credential.Fingerprint != "" || c.Credential.Attrs["value_fingerprints"] != nil {
		t.Errorf("values were fingerprinted without Fingerprint: %+v", c.Credential)
	}
	assertNoSecrets(t, r, []string{value, hidden, tok, srv.RootToken})
}

func TestScanVaultFailures(t *testing.T) {
	t.Parallel()
	srv := harness.Vault(t)

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	// A server that accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 64)
	t.Cleanup(func() {
		silent.Close()
		close(held)
		for c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held <- c // keep it open, never answer
		}
	}()

	// A sealed server.
	sealed := harness.Vault(t)
	if err := client(t, sealed.Addr, sealed.RootToken).Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	badToken := harness.VaultToken()

	cases := []struct {
		name, addr, token, want string
		within                  time.Duration
		// scanTimeout, when set, bounds the whole scan below the
		// per-request timeout.
		scanTimeout time.Duration
	}{
		{"unreachable", closed, srv.RootToken, "unreachable", 5 * time.Second, 0},
		{"silent", "http://" + silent.Addr().String(), srv.RootToken, "no answer within 500ms", 5 * time.Second, 0},
		{"silent past the scan's deadline", "http://" + silent.Addr().String(), srv.RootToken, "the scan did not finish within 200ms", 2 * time.Second, 200 * time.Millisecond},
		{"sealed", sealed.Addr, sealed.RootToken, "is sealed", 5 * time.Second, 0},
		{"bad token", srv.Addr, badToken, "rejected the token", 5 * time.Second, 0},
		{"no token", srv.Addr, "", "no Vault token", time.Second, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			timeout := 500 * time.Millisecond
			if tc.scanTimeout > 0 {
				timeout = 10 * time.Second
			}
			r := scanInto(t, vault.New(vault.Options{Address: tc.addr, Token: tc.token, Timeout: timeout, ScanTimeout: tc.scanTimeout}))
			took := time.Since(start)
			vr := r.results[0]
			if vr.Status != inventory.SourceFailed || !strings.Contains(vr.Error, tc.want) {
				t.Fatalf("status %s error %q, want failed with %q", vr.Status, vr.Error, tc.want)
			}
			// The only source failed: the scan read nothing and is recorded
			// as failed, never as the latest complete one.
			if r.scan.Status != inventory.ScanFailed {
				t.Errorf("scan %s: a scan whose only source failed must be failed", r.scan.Status)
			}
			if took > tc.within {
				t.Errorf("took %v, want under %v", took, tc.within)
			}
			for _, tokn := range []string{srv.RootToken, sealed.RootToken, badToken} {
				if strings.Contains(vr.Error, tokn) {
					t.Errorf("error carries the token: %s", inventory.Redact(vr.Error))
				}
			}
			assertNoSecrets(t, r, []string{srv.RootToken, sealed.RootToken, badToken})
			t.Logf("%s: failed in %v: %s", tc.name, took.Round(time.Millisecond), vr.Error)
		})
	}
}

// The target is the server however its address is typed: scheme and host
// case, a default port, a trailing slash or credentials do not make a
// second server, and the keys of what it holds do not change.
func TestVaultTargetIsTheNormalisedAddress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ addr, ns, want string }{
		{"https://vault.example.com:8200", "", "https://vault.example.com:8200"},
		{"HTTPS://Vault.Example.COM:8200/", "", "https://vault.example.com:8200"},
		{"https://vault.example.com:443", "", "https://vault.example.com"},
		{"http://vault.example.com:80/", "", "http://vault.example.com"},
		{"https://scanner:" + harness.VaultToken() + "@vault.example.com:8200/?x=1#f", "", "https://vault.example.com:8200"},
		{"https://[::1]:8200", "", "https://[::1]:8200"},
		{"https://[::1]:443", "", "https://[::1]"},
		{"https://vault.example.com/prefix//v/", "", "https://vault.example.com/prefix/v"},
		{"unix:///var/run//vault.sock", "", "unix:///var/run/vault.sock"},
		{"https://vault.example.com:8200", "/team-a/", "https://vault.example.com:8200/team-a"},
		{"https://vault.example.com:8200", "team-a/apps", "https://vault.example.com:8200/team-a/apps"},
	} {
		s := vault.New(vault.Options{Address: c.addr, Namespace: c.ns})
		if s.Target() != c.want || s.Name() != "vault:"+c.want || s.Kind() != inventory.SourceVault {
			t.Errorf("%q ns %q: target %q name %q, want %q", inventory.RedactURL(c.addr), c.ns, s.Target(), s.Name(), c.want)
		}
	}

	srv := harness.Vault(t)
	root := client(t, srv.Addr, srv.RootToken)
	write(t, root, "secret/data/app/db", map[string]any{"data": map[string]any{"password": harness.Password(20)}})
	u, err := url.Parse(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	typed := strings.ToUpper(u.Scheme) + "://" + strings.ToUpper(u.Hostname()) + ":" + u.Port() + "/"
	a := scanInto(t, vault.New(vault.Options{Address: srv.Addr, Token: srv.RootToken}))
	b := scanInto(t, vault.New(vault.Options{Address: typed, Token: srv.RootToken}))
	for _, r := range []*result{a, b} {
		if res := r.results[0]; res.Status != inventory.SourceOK || !slices.Equal(res.Targets, []string{"vault:" + srv.Addr}) {
			t.Errorf("%s: %s %q covered %v, want vault:%s", res.Name, res.Status, res.Error, res.Targets, srv.Addr)
		}
		checkUnits(t, r.rows, "vault:"+srv.Addr)
	}
	if ka, kb := slices.Sorted(maps.Keys(a.creds)), slices.Sorted(maps.Keys(b.creds)); !slices.Equal(ka, kb) || len(ka) == 0 {
		t.Errorf("credential keys differ by how the address was typed:\n%v\n%v", ka, kb)
	}
}
