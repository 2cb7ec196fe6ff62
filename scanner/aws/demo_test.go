package aws

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

func TestDemoAccount(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	dir := t.TempDir()
	if err := WriteDemoAccount(dir, now); err != nil {
		t.Fatal(err)
	}
	res := runScan(t, filepath.Join(dir, "nhi.db"), NewOffline(OfflineOptions{
		CredentialReports:    []string{filepath.Join(dir, DemoCredentialReport)},
		AuthorizationDetails: []string{filepath.Join(dir, DemoAuthorizationDetails)},
	}))
	if r := res.results[0]; r.Status != inventory.SourceOK || len(r.ItemErrors) > 0 {
		t.Fatalf("%+v", r)
	}
	ids, creds := identities(t, res.store), credentialRows(t, res.store)
	arn := func(s string) string { return "arn:aws:iam::" + DemoAccountID + ":" + s }
	ago := func(d int) string { return now.AddDate(0, 0, -d).Format(time.RFC3339) }
	want := []struct {
		key, priv, owner, lastUsed string
	}{
		{arn("root"), PrivAdministrator, "", ago(12)},
		{arn("user/legacy-etl"), PrivAdministrator, "data-eng", ago(200)},    // old, unused, admin via group
		{arn("user/deploy-bot"), PrivWildcard, "platform-team", ago(1)},      // two active keys, s3:*
		{arn("user/jenkins"), PrivWildcard, "", ago(95)},                     // console password, no owner
		{arn("user/reporting-svc"), PrivLimited, "analytics", ago(0)},        // healthy
		{arn("user/old-import"), PrivLimited, "", ""},                        // never used
		{arn("role/gha-deploy"), PrivAdministrator, "platform-team", ago(1)}, // GitHub OIDC, any repo
		{arn("role/gha-app"), PrivLimited, "app", ago(3)},                    // GitHub OIDC, one branch
		{arn("role/lambda-exec"), PrivLimited, "analytics", ago(0)},          // healthy
		{arn("role/migration-2019"), PrivWildcard, "", ""},                   // never used
	}
	if len(ids) != len(want) {
		t.Errorf("%d identities, want %d", len(ids), len(want))
	}
	for _, w := range want {
		i, ok := ids[w.key]
		if !ok || i.Privileges != w.priv || i.Owner != w.owner || i.LastUsedAt != w.lastUsed {
			t.Errorf("%s: got priv %q owner %q last used %q, want %+v", w.key, i.Privileges, i.Owner, i.LastUsedAt, w)
		}
	}
	if tr := ids[arn("role/gha-deploy")].Attrs["trust"].(map[string]any); tr["github_oidc"] != true || tr["github_oidc_sub_restricted"] != false {
		t.Errorf("gha-deploy trust %v", tr)
	}
	if rk := creds["aws-root-access-key:"+DemoAccountID+":1"]; rk.Status != "Active" || rk.CreatedAt != ago(700) {
		t.Errorf("root key %+v", rk)
	}
	if ids[arn("user/jenkins")].Attrs["console_password"] != true {
		t.Error("jenkins console password")
	}
	if n := len(creds); n != 8 {
		t.Errorf("%d credentials, want 8 (root key, 6 user keys, 1 console password)", n)
	}
}
