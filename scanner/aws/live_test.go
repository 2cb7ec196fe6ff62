package aws

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
)

const motoAccount = "123456789012"

func arnUser(name string) string { return "arn:aws:iam::" + motoAccount + ":user/" + name }
func arnRole(name string) string { return "arn:aws:iam::" + motoAccount + ":role/" + name }

// estate is what populate created, for assertions.
type estate struct {
	deployKeys []string // deploy-bot: [used+active, inactive]
	readerKey  string
}

// ok fails the test on an SDK call's error.
func ok(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// populate builds a small account in moto through the real SDK.
func populate(t *testing.T, c *iam.Client) estate {
	t.Helper()
	ctx := context.Background()
	s := awssdk.String
	tag := func(k, v string) types.Tag { return types.Tag{Key: s(k), Value: s(v)} }
	var e estate
	check := ok(t)

	// deploy-bot: owner tag, AWS-managed AdministratorAccess, two keys (one used, one deactivated).
	check(c.CreateUser(ctx, &iam.CreateUserInput{UserName: s("deploy-bot"), Tags: []types.Tag{tag("owner", "platform-team"), tag("env", "prod")}}))
	check(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: s("deploy-bot"), PolicyArn: s("arn:aws:iam::aws:policy/AdministratorAccess")}))
	for i := 0; i < 2; i++ {
		k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: s("deploy-bot")})
		if err != nil {
			t.Fatal(err)
		}
		e.deployKeys = append(e.deployKeys, awssdk.ToString(k.AccessKey.AccessKeyId))
		if i == 0 {
			// Sign one request with this key: moto records its last use.
			cfg, err := config.LoadDefaultConfig(ctx, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
				awssdk.ToString(k.AccessKey.AccessKeyId), awssdk.ToString(k.AccessKey.SecretAccessKey), "")))
			if err != nil {
				t.Fatal(err)
			}
			check(iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{}))
		}
	}
	check(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: s("deploy-bot"), AccessKeyId: s(e.deployKeys[1]), Status: types.StatusTypeInactive}))

	// ci-reader: team tag, group with an s3:* inline policy, a limited managed policy, one key.
	check(c.CreateUser(ctx, &iam.CreateUserInput{UserName: s("ci-reader"), Tags: []types.Tag{tag("team", "data")}}))
	check(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: s("readers")}))
	check(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: s("readers"), UserName: s("ci-reader")}))
	check(c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: s("readers"), PolicyName: s("s3-everything"),
		PolicyDocument: s(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`)}))
	ro, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: s("s3-read"),
		PolicyDocument: s(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	check(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: s("ci-reader"), PolicyArn: ro.Policy.Arn}))
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: s("ci-reader")})
	if err != nil {
		t.Fatal(err)
	}
	e.readerKey = awssdk.ToString(k.AccessKey.AccessKeyId)

	// alice-ops: Owner tag, console password, MFA, inline admin policy.
	check(c.CreateUser(ctx, &iam.CreateUserInput{UserName: s("alice-ops"), Tags: []types.Tag{tag("Owner", "alice@example.com")}}))
	check(c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: s("alice-ops"), Password: s("Pw1!" + harness.RandomString("abcdefghijkmnopqrstuvwxyz23456789", 20))}))
	mfa, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: s("alice-ops")})
	if err != nil {
		t.Fatal(err)
	}
	check(c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: s("alice-ops"), SerialNumber: mfa.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: s("123456"), AuthenticationCode2: s("654321")}))
	check(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: s("alice-ops"), PolicyName: s("break-glass"),
		PolicyDocument: s(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}))

	// orphan: nothing at all.
	check(c.CreateUser(ctx, &iam.CreateUserInput{UserName: s("orphan")}))

	// Roles: GitHub OIDC without and with a sub condition, and an EC2 role.
	oidc := "arn:aws:iam::" + motoAccount + ":oidc-provider/token.actions.githubusercontent.com"
	check(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: s("gha-open"), Tags: []types.Tag{tag("owner", "ci-team")},
		AssumeRolePolicyDocument: s(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + oidc + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}`)}))
	check(c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: s("gha-open"), PolicyArn: s("arn:aws:iam::aws:policy/AdministratorAccess")}))
	check(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: s("gha-deploy"),
		AssumeRolePolicyDocument: s(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + oidc + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/app:ref:refs/heads/main"}}}]}`)}))
	ec2, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: s("ec2-instances"),
		PolicyDocument: s(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"arn:aws:ec2:*:*:instance/*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	check(c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: s("gha-deploy"), PolicyArn: ec2.Policy.Arn}))
	check(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: s("app-ec2"), Tags: []types.Tag{tag("team", "app")},
		AssumeRolePolicyDocument: s(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}))
	check(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: s("app-ec2"), PolicyName: s("read-queue"),
		PolicyDocument: s(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessage"],"Resource":"arn:aws:sqs:us-east-1:123456789012:q"}]}`)}))
	return e
}

func TestLiveScanAgainstMoto(t *testing.T) {
	motoEnv(t)
	c := adminClient(t)
	e := populate(t, c)
	before := time.Now().UTC().Add(-time.Minute)

	// Only the standard environment (AWS_ENDPOINT_URL etc.) points the source at moto.
	res := runScan(t, filepath.Join(t.TempDir(), "nhi.db"), NewLive(LiveOptions{Concurrency: 4}))
	r := res.results[0]
	if r.Status != inventory.SourceOK || len(r.ItemErrors) > 0 {
		t.Fatalf("source %s: status %s error %q item errors %v", r.Name, r.Status, r.Error, r.ItemErrors)
	}
	t.Logf("stats: %v in %v", r.Stats, r.FinishedAt.Sub(r.StartedAt))
	// The scope target is the account behind the credentials, whatever the
	// profile; each principal is the unit of its rows.
	if r.Name != "aws:default" || r.Target != "default" || !slices.Contains(r.Targets, Target(motoAccount)) {
		t.Errorf("source %q target %q covered %v, want aws:%s covered", r.Name, r.Target, r.Targets, motoAccount)
	}
	res.rows.checkScope(t, Target(motoAccount))
	ids := identities(t, res.store)
	creds := credentialRows(t, res.store)

	recent := func(what, ts string) {
		t.Helper()
		tm, err := time.Parse(time.RFC3339, ts)
		if err != nil || tm.Before(before) || tm.After(time.Now().Add(time.Minute)) {
			t.Errorf("%s = %q, want a time of this test run (%v)", what, ts, err)
		}
	}
	id := func(key string) identityRow {
		t.Helper()
		i, ok := ids[key]
		if !ok {
			t.Fatalf("identity %s missing; have %v", key, slices.Sorted(maps.Keys(ids)))
		}
		return i
	}

	// deploy-bot
	d := id(arnUser("deploy-bot"))
	if d.Kind != inventory.KindIAMUser || d.Name != "deploy-bot" || d.Provider != "aws" || d.Account != motoAccount {
		t.Errorf("deploy-bot identity: %+v", d)
	}
	if d.Owner != "platform-team" || d.OwnerSource != "tag:owner" || d.Tags["env"] != "prod" {
		t.Errorf("deploy-bot owner %q/%q tags %v", d.Owner, d.OwnerSource, d.Tags)
	}
	if d.Privileges != PrivAdministrator || !slices.Equal(strs(d.Attrs["admin_policies"]), []string{"AdministratorAccess"}) {
		t.Errorf("deploy-bot privileges %q admin policies %v", d.Privileges, d.Attrs["admin_policies"])
	}
	if d.Attrs["console_password"] != false || d.Attrs["mfa_enabled"] != false || d.Attrs["access_keys_active"] != float64(1) {
		t.Errorf("deploy-bot attrs: %v", d.Attrs)
	}
	recent("deploy-bot created", d.CreatedAt)
	recent("deploy-bot last used", d.LastUsedAt)

	used := creds[inventory.AccessKeyCredentialKey(e.deployKeys[0])]
	if used.Type != TypeAccessKey || used.IdentityKey != arnUser("deploy-bot") || used.Status != "Active" ||
		used.Redacted != e.deployKeys[0] || used.VaultStatus != inventory.VaultUnknown || used.Fingerprint == "" {
		t.Errorf("used key: %+v", used)
	}
	recent("used key created", used.CreatedAt)
	if used.LastRotatedAt != used.CreatedAt {
		t.Errorf("last rotated %q != created %q", used.LastRotatedAt, used.CreatedAt)
	}
	recent("used key last used", used.LastUsedAt)
	if used.Attrs["last_used_service"] != "iam" || used.Attrs["last_used_region"] == nil {
		t.Errorf("used key last-use attrs: %v", used.Attrs)
	}
	if len(used.Occurrences) != 1 || used.Occurrences[0].Source != inventory.SourceAWS || used.Occurrences[0].Detail["arn"] != arnUser("deploy-bot") {
		t.Errorf("used key occurrences: %+v", used.Occurrences)
	}
	idle := creds[inventory.AccessKeyCredentialKey(e.deployKeys[1])]
	if idle.Status != "Inactive" || idle.LastUsedAt != "" || idle.IdentityKey != arnUser("deploy-bot") {
		t.Errorf("inactive key: %+v", idle)
	}

	// ci-reader: team tag owner, wildcard through its group, limited managed policy.
	rd := id(arnUser("ci-reader"))
	if rd.Owner != "data" || rd.OwnerSource != "tag:owner" || rd.Attrs["owner_tag"] != "team" {
		t.Errorf("ci-reader owner %q/%q %v", rd.Owner, rd.OwnerSource, rd.Attrs["owner_tag"])
	}
	if rd.Privileges != PrivWildcard || !slices.Equal(strs(rd.Attrs["wildcard_policies"]), []string{"s3-everything"}) ||
		!slices.Equal(strs(rd.Attrs["groups"]), []string{"readers"}) {
		t.Errorf("ci-reader privileges %q wildcard %v groups %v", rd.Privileges, rd.Attrs["wildcard_policies"], rd.Attrs["groups"])
	}
	pols := mustJSON(t, rd.Attrs["policies"])
	for _, want := range []string{`"name":"s3-read"`, `"via":"group:readers"`, `"grants":"limited"`, `"type":"inline"`} {
		if !strings.Contains(pols, want) {
			t.Errorf("ci-reader policies %s lack %s", pols, want)
		}
	}
	if rk := creds[inventory.AccessKeyCredentialKey(e.readerKey)]; rk.Status != "Active" || rk.LastUsedAt != "" || rk.IdentityKey != arnUser("ci-reader") {
		t.Errorf("ci-reader key: %+v", rk)
	}
	if rd.LastUsedAt != "" {
		t.Errorf("ci-reader never used, got last used %q", rd.LastUsedAt)
	}

	// alice-ops: console password + MFA + inline admin.
	al := id(arnUser("alice-ops"))
	if al.Owner != "alice@example.com" || al.Privileges != PrivAdministrator ||
		!slices.Equal(strs(al.Attrs["admin_policies"]), []string{"break-glass"}) ||
		al.Attrs["console_password"] != true || al.Attrs["mfa_enabled"] != true || al.Attrs["mfa_devices"] != float64(1) {
		t.Errorf("alice-ops: owner %q priv %q attrs %v", al.Owner, al.Privileges, al.Attrs)
	}
	pw := creds[TypeConsolePassword+":"+arnUser("alice-ops")]
	if pw.Type != TypeConsolePassword || pw.IdentityKey != arnUser("alice-ops") || pw.Status != "Active" || len(pw.Occurrences) != 1 {
		t.Errorf("console password credential: %+v", pw)
	}
	recent("console password created", pw.CreatedAt)

	// orphan: nothing.
	or := id(arnUser("orphan"))
	if or.Owner != "" || or.Privileges != PrivLimited || len(strs(or.Attrs["admin_policies"])) != 0 || or.Attrs["access_keys_active"] != float64(0) {
		t.Errorf("orphan: %+v", or)
	}

	// Roles.
	open := id(arnRole("gha-open"))
	trust := open.Attrs["trust"].(map[string]any)
	if open.Kind != inventory.KindIAMRole || open.Owner != "ci-team" || open.Privileges != PrivAdministrator ||
		trust["github_oidc"] != true || trust["github_oidc_sub_restricted"] != false {
		t.Errorf("gha-open: %+v", open)
	}
	if p := strs(trust["principals"]); len(p) != 1 || !strings.HasPrefix(p[0], "Federated:") || !strings.Contains(p[0], awsparse.GitHubOIDCHost) {
		t.Errorf("gha-open principals %v", p)
	}
	recent("gha-open created", open.CreatedAt)
	dep := id(arnRole("gha-deploy"))
	trust = dep.Attrs["trust"].(map[string]any)
	if dep.Privileges != PrivWildcard || trust["github_oidc"] != true || trust["github_oidc_sub_restricted"] != true ||
		!slices.Equal(strs(trust["github_oidc_subjects"]), []string{"repo:acme/app:ref:refs/heads/main"}) || dep.Owner != "" {
		t.Errorf("gha-deploy: priv %q trust %v owner %q", dep.Privileges, trust, dep.Owner)
	}
	app := id(arnRole("app-ec2"))
	trust = app.Attrs["trust"].(map[string]any)
	if app.Privileges != PrivLimited || app.Owner != "app" || trust["github_oidc"] != false ||
		!slices.Equal(strs(trust["principals"]), []string{"Service:ec2.amazonaws.com"}) {
		t.Errorf("app-ec2: priv %q owner %q trust %v", app.Privileges, app.Owner, trust)
	}

	// No root row in moto's report: no root identity; nothing else invented.
	for k, i := range ids {
		if i.Kind != inventory.KindIAMUser && i.Kind != inventory.KindIAMRole {
			t.Errorf("unexpected identity kind %s: %s", i.Kind, k)
		}
	}
	if n := len(creds); n != 4 {
		t.Errorf("%d credentials, want 4 (3 access keys, 1 console password): %v", n, slices.Sorted(maps.Keys(creds)))
	}
}
