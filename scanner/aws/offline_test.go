package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
)

// exportFromMoto writes moto's own GetAccountAuthorizationDetails (raw API
// shapes: policy documents as strings) and credential report to files.
func exportFromMoto(t *testing.T, c *iam.Client, dir string) (details, report string) {
	t.Helper()
	ctx := context.Background()
	all := iam.GetAccountAuthorizationDetailsOutput{}
	p := iam.NewGetAccountAuthorizationDetailsPaginator(c, &iam.GetAccountAuthorizationDetailsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all.UserDetailList = append(all.UserDetailList, page.UserDetailList...)
		all.GroupDetailList = append(all.GroupDetailList, page.GroupDetailList...)
		all.RoleDetailList = append(all.RoleDetailList, page.RoleDetailList...)
		// Only the policies in use, as with --filter on a real account; keeps the file small.
		for _, pol := range page.Policies {
			if awssdk.ToInt32(pol.AttachmentCount) > 0 {
				all.Policies = append(all.Policies, pol)
			}
		}
	}
	b, err := json.Marshal(struct {
		UserDetailList  []types.UserDetail
		GroupDetailList []types.GroupDetail
		RoleDetailList  []types.RoleDetail
		Policies        []types.ManagedPolicyDetail
		IsTruncated     bool
	}{all.UserDetailList, all.GroupDetailList, all.RoleDetailList, all.Policies, false})
	if err != nil {
		t.Fatal(err)
	}
	details = filepath.Join(dir, "authorization-details.json")
	if err := os.WriteFile(details, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		g, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			t.Fatal(err)
		}
		if g.State == types.ReportStateTypeComplete {
			break
		}
		if i > 50 {
			t.Fatal("credential report never completed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	r, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	report = filepath.Join(dir, "credential-report.csv")
	if err := os.WriteFile(report, r.Content, 0o600); err != nil {
		t.Fatal(err)
	}
	return details, report
}

// comparable is what must agree between the live and offline paths.
func comparable(i identityRow) string {
	pick := map[string]any{}
	for _, k := range []string{"admin_policies", "wildcard_policies", "groups", "trust", "console_password", "mfa_enabled", "access_keys_active", "owner_tag"} {
		if v, ok := i.Attrs[k]; ok {
			pick[k] = v
		}
	}
	b, _ := json.Marshal(pick)
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s|%v|%s", i.Kind, i.Name, i.Account, i.Owner, i.OwnerSource, i.Privileges, i.CreatedAt, i.LastUsedAt, i.Tags, b)
}

func TestOfflineExportsGiveTheSameIdentitiesAsLive(t *testing.T) {
	motoEnv(t)
	c := adminClient(t)
	populate(t, c)
	dir := t.TempDir()
	details, report := exportFromMoto(t, c, dir)

	liveRes := runScan(t, filepath.Join(dir, "live.db"), NewLive(LiveOptions{}))
	offRes := runScan(t, filepath.Join(dir, "offline.db"), NewOffline(OfflineOptions{CredentialReports: []string{report}, AuthorizationDetails: []string{details}}))
	for _, r := range append(liveRes.results, offRes.results...) {
		if r.Status != inventory.SourceOK || len(r.ItemErrors) > 0 {
			t.Fatalf("%s: %s %q %v", r.Name, r.Status, r.Error, r.ItemErrors)
		}
	}
	live, off := identities(t, liveRes.store), identities(t, offRes.store)
	if !slices.Equal(slices.Sorted(maps.Keys(live)), slices.Sorted(maps.Keys(off))) {
		t.Fatalf("identity keys differ:\nlive    %v\noffline %v", slices.Sorted(maps.Keys(live)), slices.Sorted(maps.Keys(off)))
	}
	for k, l := range live {
		if a, b := comparable(l), comparable(off[k]); a != b {
			t.Errorf("%s differs:\nlive    %s\noffline %s", k, a, b)
		}
	}
	// Credentials: offline has key slots (no ids in the report) but the same
	// per-identity count, statuses and last use.
	summary := func(cs map[string]credentialRow) map[string][]string {
		out := map[string][]string{}
		for _, c := range cs {
			out[c.IdentityKey] = append(out[c.IdentityKey], c.Type+"/"+c.Status+"/"+c.CreatedAt+"/"+c.LastUsedAt)
		}
		for _, v := range out {
			slices.Sort(v)
		}
		return out
	}
	ls, os := summary(credentialRows(t, liveRes.store)), summary(credentialRows(t, offRes.store))
	if mustJSON(t, ls) != mustJSON(t, os) {
		t.Errorf("credentials differ:\nlive    %v\noffline %v", ls, os)
	}

	// Each file alone: the report gives the users (no roles, no owners);
	// the details give users and roles with owners and privileges.
	onlyReport := identities(t, runScan(t, filepath.Join(dir, "r.db"), NewCredentialReport(report)).store)
	onlyDetails := identities(t, runScan(t, filepath.Join(dir, "d.db"), NewAuthorizationDetails(details)).store)
	for k, l := range live {
		d, ok := onlyDetails[k]
		if !ok || d.Kind != l.Kind || d.Owner != l.Owner || d.Privileges != l.Privileges || d.CreatedAt != l.CreatedAt {
			t.Errorf("details alone, %s: %+v, live %+v", k, d, l)
		}
		r, ok := onlyReport[k]
		if l.Kind == inventory.KindIAMUser && (!ok || r.Kind != l.Kind || r.Name != l.Name || r.CreatedAt != l.CreatedAt) {
			t.Errorf("report alone, %s: %+v", k, r)
		}
	}
	if len(onlyReport) != 4 {
		t.Errorf("report alone: %d identities, want the 4 users", len(onlyReport))
	}
}

// TestOfflineAWSFormats reads a credential report and an authorization
// details document written here in AWS's formats: the CLI's (documents as
// objects) and the raw API's (URL-encoded documents), with a root row.
func TestOfflineAWSFormats(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	day := func(n int) string { return now.AddDate(0, 0, -n).Format("2006-01-02T15:04:05+00:00") }
	acct := "210987654321"
	arn := func(s string) string { return "arn:aws:iam::" + acct + ":" + s }
	keyID := "AKIA" + strings.Repeat("Q", 16)
	_ = keyID
	csv := awsparse.ReportHeader + "\n" +
		"<root_account>," + arn("root") + "," + day(900) + ",not_supported," + day(3) + ",not_supported,not_supported,false,true," + day(800) + "," + day(1) + ",us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n" +
		"legacy-etl," + arn("user/legacy-etl") + "," + day(400) + ",true," + day(200) + "," + day(400) + ",N/A,false,true," + day(400) + "," + day(120) + ",eu-west-1,dynamodb,true," + day(10) + ",N/A,N/A,N/A,false,N/A,false,N/A\n"
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + arn("oidc-provider/token.actions.githubusercontent.com") + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}}]}`
	details := `{
    "UserDetailList": [
        {
            "Path": "/",
            "UserName": "legacy-etl",
            "UserId": "AIDAEXAMPLEUSERID01",
            "Arn": "` + arn("user/legacy-etl") + `",
            "CreateDate": "` + day(400) + `",
            "UserPolicyList": [],
            "GroupList": ["admins"],
            "AttachedManagedPolicies": [],
            "Tags": [{"Key": "team", "Value": "data-eng"}]
        }
    ],
    "GroupDetailList": [
        {
            "Path": "/",
            "GroupName": "admins",
            "GroupId": "AGPAEXAMPLEGROUP001",
            "Arn": "` + arn("group/admins") + `",
            "GroupPolicyList": [],
            "AttachedManagedPolicies": [{"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]
        }
    ],
    "RoleDetailList": [
        {
            "Path": "/",
            "RoleName": "gha",
            "RoleId": "AROAEXAMPLEROLEID01",
            "Arn": "` + arn("role/gha") + `",
            "CreateDate": "` + day(30) + `",
            "AssumeRolePolicyDocument": "` + url.PathEscape(trust) + `",
            "InstanceProfileList": [],
            "RolePolicyList": [{"PolicyName": "deploy", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["lambda:UpdateFunctionCode"], "Resource": "*"}]}}],
            "AttachedManagedPolicies": [{"PolicyName": "PowerUsers", "PolicyArn": "` + arn("policy/PowerUsers") + `"}],
            "Tags": [],
            "RoleLastUsed": {"LastUsedDate": "` + day(2) + `", "Region": "us-east-1"}
        }
    ],
    "Policies": [
        {
            "PolicyName": "PowerUsers",
            "PolicyId": "ANPAEXAMPLEPOLICY01",
            "Arn": "` + arn("policy/PowerUsers") + `",
            "Path": "/",
            "DefaultVersionId": "v2",
            "AttachmentCount": 1,
            "IsAttachable": true,
            "CreateDate": "` + day(100) + `",
            "UpdateDate": "` + day(50) + `",
            "PolicyVersionList": [
                {"Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}, "VersionId": "v2", "IsDefaultVersion": true, "CreateDate": "` + day(50) + `"},
                {"Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}, "VersionId": "v1", "IsDefaultVersion": false, "CreateDate": "` + day(100) + `"}
            ]
        }
    ]
}`
	dir := t.TempDir()
	rp, dp := filepath.Join(dir, "report.csv"), filepath.Join(dir, "details.json")
	os.WriteFile(rp, []byte(csv), 0o600)
	os.WriteFile(dp, []byte(details), 0o600)

	res := runScan(t, filepath.Join(dir, "nhi.db"), NewOffline(OfflineOptions{CredentialReports: []string{rp}, AuthorizationDetails: []string{dp}}))
	if r := res.results[0]; r.Status != inventory.SourceOK || len(r.ItemErrors) > 0 {
		t.Fatalf("%+v", r)
	}
	// The target is the account in the files, not the files: tomorrow's
	// export under another name, reached through a symlink and a relative
	// path, covers the same target and stamps the same rows.
	resolved := func(p string) string {
		t.Helper()
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := res.results[0]; !slices.Contains(r.Targets, Target(acct)) || r.Target != resolved(rp)+","+resolved(dp) {
		t.Errorf("covered %v, source target %q", r.Targets, r.Target)
	}
	res.rows.checkScope(t, Target(acct))
	tomorrow := filepath.Join(t.TempDir(), "report-2025-06-02.csv")
	os.WriteFile(tomorrow, []byte(csv), 0o600)
	link := filepath.Join(dir, "latest.csv")
	if err := os.Symlink(tomorrow, link); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, link)
	if err != nil {
		t.Fatal(err)
	}
	again := runScan(t, filepath.Join(dir, "again.db"), NewCredentialReport(rel))
	if r := again.results[0]; r.Status != inventory.SourceOK || !slices.Contains(r.Targets, Target(acct)) || r.Target != resolved(tomorrow) {
		t.Errorf("renamed export: %s covered %v, source target %q (want the resolved %s)", r.Status, r.Targets, r.Target, tomorrow)
	}
	again.rows.checkScope(t, Target(acct))
	ids, creds := identities(t, res.store), credentialRows(t, res.store)
	ts := func(n int) string { return now.AddDate(0, 0, -n).Format(time.RFC3339) }

	root := ids[arn("root")]
	if root.Kind != inventory.KindIAMUser || root.Attrs["root"] != true || root.Attrs["mfa_active"] != false ||
		root.Privileges != PrivAdministrator || root.Account != acct || root.LastUsedAt != ts(1) || root.CreatedAt != ts(900) {
		t.Errorf("root: %+v", root)
	}
	rk := creds["aws-root-access-key:"+acct+":1"]
	if rk.Type != TypeAccessKey || rk.Status != "Active" || rk.IdentityKey != arn("root") || rk.CreatedAt != ts(800) ||
		rk.LastUsedAt != ts(1) || rk.Attrs["last_used_service"] != "s3" || len(rk.Occurrences) != 1 {
		t.Errorf("root key: %+v", rk)
	}
	if _, ok := creds["aws-root-access-key:"+acct+":2"]; ok {
		t.Error("root key 2 never existed")
	}

	u := ids[arn("user/legacy-etl")]
	if u.Owner != "data-eng" || u.Privileges != PrivAdministrator || !slices.Equal(strs(u.Attrs["admin_policies"]), []string{"AdministratorAccess"}) ||
		u.Attrs["console_password"] != true || u.Attrs["mfa_enabled"] != false || u.Attrs["access_keys_active"] != float64(2) ||
		u.CreatedAt != ts(400) || u.LastUsedAt != ts(120) || u.Attrs["password_last_used"] != ts(200) {
		t.Errorf("legacy-etl: %+v", u)
	}
	k1 := creds["aws-access-key-slot:"+arn("user/legacy-etl")+":1"]
	if k1.Status != "Active" || k1.CreatedAt != ts(400) || k1.LastUsedAt != ts(120) || k1.Attrs["last_used_region"] != "eu-west-1" || k1.IdentityKey != arn("user/legacy-etl") {
		t.Errorf("legacy-etl key 1: %+v", k1)
	}
	if k2 := creds["aws-access-key-slot:"+arn("user/legacy-etl")+":2"]; k2.Status != "Active" || k2.LastUsedAt != "" || k2.CreatedAt != ts(10) {
		t.Errorf("legacy-etl key 2: %+v", k2)
	}
	if pw := creds[TypeConsolePassword+":"+arn("user/legacy-etl")]; pw.LastUsedAt != ts(200) || pw.LastRotatedAt != ts(400) {
		t.Errorf("console password: %+v", pw)
	}

	r := ids[arn("role/gha")]
	trustAttrs := r.Attrs["trust"].(map[string]any)
	if r.Kind != inventory.KindIAMRole || r.Privileges != PrivWildcard || r.LastUsedAt != ts(2) ||
		trustAttrs["github_oidc"] != true || trustAttrs["github_oidc_sub_restricted"] != true ||
		!slices.Equal(strs(r.Attrs["wildcard_policies"]), []string{"PowerUsers"}) {
		t.Errorf("gha role: %+v", r)
	}
	if len(ids) != 3 || len(creds) != 4 {
		t.Errorf("%d identities %d credentials", len(ids), len(creds))
	}
}

func TestOfflineBadFileFailsTheSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "x.json")
	os.WriteFile(p, []byte(`{"hello": 1}`), 0o600)
	res := runScan(t, filepath.Join(dir, "nhi.db"), NewAuthorizationDetails(p), NewCredentialReport(filepath.Join(dir, "missing.csv")))
	for _, r := range res.results {
		if r.Status != inventory.SourceFailed || r.Error == "" {
			t.Errorf("%s: %s %q", r.Name, r.Status, r.Error)
		}
	}
	if !strings.Contains(res.results[0].Error, "get-account-authorization-details") {
		t.Errorf("error does not say what file was expected: %s", res.results[0].Error)
	}
}

// A corrupt export fails the whole offline source with an error naming
// the file, where it is broken and what to do, and nothing of the account
// is written, not even from the other, valid export of the same account:
// a half-read account must never stand in for the real one (its gaps
// would resolve).
func TestOfflineCorruptExportFailsTheSource(t *testing.T) {
	t.Parallel()
	acct := "345678901234"
	arn := func(s string) string { return "arn:aws:iam::" + acct + ":" + s }
	root := "<root_account>," + arn("root") + ",2020-01-01T00:00:00+00:00,not_supported,N/A,not_supported,not_supported,false,true,2021-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
	user := "etl," + arn("user/etl") + ",2022-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2022-01-02T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
	goodCSV := awsparse.ReportHeader + "\n" + root + "\n" + user + "\n"
	goodJSON := `{
  "UserDetailList": [
    {"UserName": "etl", "Arn": "` + arn("user/etl") + `", "CreateDate": "2022-01-01T00:00:00Z",
     "AttachedManagedPolicies": [{"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]}
  ],
  "RoleDetailList": [
    {"RoleName": "gha", "Arn": "` + arn("role/gha") + `", "AssumeRolePolicyDocument": {"Statement": []}}
  ],
  "GroupDetailList": [],
  "Policies": [],
  "IsTruncated": false
}
`
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodReport, goodDetails := write("good.csv", goodCSV), write("good.json", goodJSON)

	// Both valid: the baseline the broken cases are measured against.
	ok := runScan(t, filepath.Join(dir, "ok.db"), NewOffline(OfflineOptions{CredentialReports: []string{goodReport}, AuthorizationDetails: []string{goodDetails}}))
	if r := ok.results[0]; r.Status != inventory.SourceOK || ok.rows.count() == 0 {
		t.Fatalf("valid exports: %+v, %d rows", r, ok.rows.count())
	}

	reportHint := "aws iam get-credential-report"
	detailsHint := "aws iam get-account-authorization-details"
	cases := []struct {
		name, file, body string
		want             []string
	}{
		{"report bad header", "r.csv", strings.Replace(goodCSV, ",mfa_active,", ",mfa,", 1),
			[]string{"line 1", "lacks column(s) mfa_active", reportHint}},
		{"report not a report", "r.csv", "name,value\nx,1\n", []string{"line 1", "lacks column(s) user, arn,", reportHint}},
		{"report extra field", "r.csv", awsparse.ReportHeader + "\n" + root + "\n" + user + ",surplus\n",
			[]string{"line 3 has 23 fields, the header has 22", reportHint}},
		{"report truncated mid-row", "r.csv", goodCSV[:len(goodCSV)-len(user)/2], []string{"line 3 has ", "fields, the header has 22", "truncated"}},
		{"report truncated in a quoted field", "r.csv", awsparse.ReportHeader + "\n" + root + "\n" + `"etl,` + arn("user/etl"),
			[]string{"line 3", "truncated"}},
		{"report bad flag", "r.csv", strings.Replace(goodCSV, "false,true,2022-01-02", "false,yes,2022-01-02", 1),
			[]string{"line 3, column access_key_1_active", `"yes"`}},
		{"report bad date", "r.csv", strings.Replace(goodCSV, "2022-01-01T00:00:00+00:00", "01/01/2022", 1),
			[]string{"line 3, column user_creation_time", "01/01/2022"}},
		{"report ARN without account", "r.csv", strings.Replace(goodCSV, arn("user/etl"), "arn:aws:iam:::user/etl", 1),
			[]string{"line 3, column arn", "12-digit account id"}},
		{"report empty", "r.csv", "", []string{"the file is empty", reportHint}},
		{"report header only", "r.csv", awsparse.ReportHeader + "\n", []string{"no rows after the header"}},
		{"details truncated", "d.json", goodJSON[:len(goodJSON)/2], []string{"the file is truncated", "line ", detailsHint}},
		{"details invalid", "d.json", strings.Replace(goodJSON, `"RoleName": "gha",`, `"RoleName": "gha"`, 1),
			[]string{"line 7, column 24: invalid JSON", detailsHint}},
		{"details wrong type", "d.json", strings.Replace(goodJSON, `"GroupDetailList": []`, `"GroupDetailList": {}`, 1),
			[]string{"line 9, column 22: GroupDetailList is a JSON object, not the list"}},
		{"details one page of several", "d.json", strings.Replace(goodJSON, `"IsTruncated": false`, `"IsTruncated": true`, 1),
			[]string{"IsTruncated: true", "principals are missing"}},
		{"details ARN without account", "d.json", strings.Replace(goodJSON, arn("role/gha"), "arn:aws:iam::12:role/gha", 1),
			[]string{"RoleDetailList[0] (gha)", "12-digit account id"}},
		{"details garbage after the document", "d.json", goodJSON + "]\n", []string{"line 13, column 1", "invalid JSON"}},
		{"details not the export", "d.json", `{"hello": 1}`, []string{"is this the JSON of `aws iam get-account-authorization-details`"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub := t.TempDir()
			bad := filepath.Join(sub, tc.file)
			if err := os.WriteFile(bad, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			opts := OfflineOptions{CredentialReports: []string{goodReport}, AuthorizationDetails: []string{goodDetails}}
			if strings.HasSuffix(tc.file, ".csv") {
				opts.CredentialReports = []string{bad}
			} else {
				opts.AuthorizationDetails = []string{bad}
			}
			res := runScan(t, filepath.Join(sub, "nhi.db"), NewOffline(opts))
			r := res.results[0]
			if r.Status != inventory.SourceFailed {
				t.Fatalf("source %s (items %v), want failed", r.Status, r.ItemErrors)
			}
			for _, w := range append([]string{bad, "nothing of this source was recorded"}, tc.want...) {
				if !strings.Contains(r.Error, w) {
					t.Errorf("error lacks %q:\n%s", w, r.Error)
				}
			}
			if n := res.rows.count(); n != 0 {
				t.Errorf("%d rows written from a source that failed on a corrupt export", n)
			}
			if ids := identities(t, res.store); len(ids) != 0 {
				t.Errorf("identities stored: %v", slices.Sorted(maps.Keys(ids)))
			}
			t.Logf("%s", r.Error)
		})
	}
}
