package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
)

func TestScanVaultCLI(t *testing.T) {
	srv := harness.Vault(t)
	value := harness.StripeLiveKey()
	vaultDo(t, srv, "POST", "secret/data/billing/stripe", map[string]any{"data": map[string]any{"api_key": value}})
	vaultDo(t, srv, "POST", "secret/metadata/billing/stripe", map[string]any{"custom_metadata": map[string]any{"owner": "billing"}})
	dir := t.TempDir()
	db := filepath.Join(dir, "nhi.db")

	// --vault with the standard environment.
	t.Setenv("VAULT_ADDR", srv.Addr)
	t.Setenv("VAULT_TOKEN", srv.RootToken)
	t.Setenv("VAULT_NAMESPACE", "")
	code, out, errs := nhi(t, "scan", "--db", db, "--vault", "--vault-fingerprint", "--vault-exclude-mount", "cubbyhole", "--format", "json")
	if code != 0 {
		t.Fatalf("scan exit %d: %s %s", code, out, errs)
	}
	sum := decode[struct {
		Sources []struct{ Name, Status, Error string }
	}](t, out)
	if len(sum.Sources) != 1 || sum.Sources[0].Name != "vault:"+srv.Addr || sum.Sources[0].Status != "ok" {
		t.Fatalf("sources %+v", sum.Sources)
	}
	code, out, errs = nhi(t, "inventory", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("inventory exit %d: %s", code, errs)
	}
	inv := decode[struct {
		Credentials []struct {
			Key, Type, Fingerprint string
			VaultStatus            string `json:"vault_status"`
		}
		Identities []struct{ Key, Kind string }
	}](t, out)
	var found, root bool
	for _, c := range inv.Credentials {
		if strings.HasSuffix(c.Key, ":secret/billing/stripe") && c.Type == "vault-kv-secret" && c.VaultStatus == "vaulted" && len(c.Fingerprint) == 64 {
			found = true
		}
	}
	for _, i := range inv.Identities {
		root = root || i.Kind == "vault:token"
	}
	if !found || !root {
		t.Fatalf("vault credential (%v) or token identity (%v) missing: %s", found, root, out)
	}

	// nhi.yaml: the token comes from the variable named by token_env.
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("VAULT_TOKEN", "")
	t.Setenv("NHI_TEST_VAULT_TOKEN", srv.RootToken)
	cfg := filepath.Join(dir, "nhi.yaml")
	writeVaultConfig(t, cfg, "vault:\n  servers:\n    - address: "+srv.Addr+"\n      token_env: NHI_TEST_VAULT_TOKEN\n      include_mounts: [secret]\n")
	if code, out, errs := nhi(t, "scan", "--db", db, "--config", cfg, "--format", "json"); code != 0 {
		t.Fatalf("config scan exit %d: %s %s", code, out, errs)
	}

	stored, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(db + "-wal") // absent once checkpointed
	for _, b := range [][]byte{stored, wal} {
		for _, s := range []string{value, srv.RootToken} {
			if bytes.Contains(b, []byte(s)) {
				t.Fatalf("a secret (%s) is in the database", s[:4])
			}
		}
	}
}

func TestVaultUsageErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "nhi.db")
	withToken := filepath.Join(dir, "token.yaml")
	writeVaultConfig(t, withToken, "vault:\n  servers:\n    - address: http://127.0.0.1:1\n      token: "+harness.VaultToken()+"\n")
	emptyEnv := filepath.Join(dir, "empty.yaml")
	writeVaultConfig(t, emptyEnv, "vault:\n  servers:\n    - address: http://127.0.0.1:1\n      token_env: NHI_TEST_UNSET_TOKEN\n")
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("VAULT_TOKEN", "")
	t.Setenv("NHI_TEST_UNSET_TOKEN", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--db", db, "--vault"}, "--vault needs VAULT_ADDR"},
		{[]string{"scan", "--db", db, "--config", withToken}, "a token in the config file is refused"},
		{[]string{"scan", "--db", db, "--config", emptyEnv}, "NHI_TEST_UNSET_TOKEN (token_env) is empty"},
		{[]string{"scan", "--db", db, "--vault-fingerprint"}, "need --vault"},
	} {
		code, _, errs := nhi(t, c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errs, c.want)
		}
	}
	badTimeout := filepath.Join(dir, "timeout.yaml")
	writeVaultConfig(t, badTimeout, "vault:\n  servers:\n    - address: http://127.0.0.1:1\n      token_env: NHI_TEST_SET_TOKEN\n      timeout: soon\n")
	t.Setenv("NHI_TEST_SET_TOKEN", harness.VaultToken())
	if code, _, errs := nhi(t, "scan", "--db", db, "--config", badTimeout); code != exitUsage ||
		!strings.Contains(errs, badTimeout+": line 5: vault.servers[0].timeout is \"soon\", not a positive duration") {
		t.Errorf("bad vault timeout: exit %d, stderr %q", code, errs)
	}

	// request_timeout reaches the source: a silent server fails it in time.
	silent := filepath.Join(dir, "silent.yaml")
	writeVaultConfig(t, silent, "vault:\n  servers:\n    - address: "+silentListener(t)+"\n      token_env: NHI_TEST_SET_TOKEN\n      request_timeout: 200ms\n")
	start := time.Now()
	if code, out, errs := nhi(t, "scan", "--db", db, "--config", silent, "--format", "json"); code != exitSourceFailed ||
		!strings.Contains(out, "no answer within 200ms") || time.Since(start) > 5*time.Second {
		t.Errorf("silent vault: exit %d after %v: %s %s", code, time.Since(start), out, errs)
	}

	// An unreachable server fails the source (exit 3), not the scan.
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	t.Setenv("VAULT_TOKEN", harness.VaultToken())
	code, out, errs := nhi(t, "scan", "--db", db, "--vault", "--format", "json")
	if code != exitSourceFailed || !strings.Contains(out, "unreachable") {
		t.Fatalf("unreachable vault: exit %d: %s %s", code, out, errs)
	}
}

func writeVaultConfig(t *testing.T, p, body string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
