package aws

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
)

// Demo export file names written by WriteDemoAccount.
const (
	DemoCredentialReport     = "credential-report.csv"
	DemoAuthorizationDetails = "authorization-details.json"
	DemoAccountID            = "111122223333"
)

// WriteDemoAccount writes the offline exports of a demo account into dir:
// a credential report CSV and an authorization-details JSON, in the
// formats IAM and the AWS CLI produce, with dates relative to now. The
// account has old, unused, over-privileged and healthy identities, and a
// root account key. IAM exports hold no secret values, and no access key
// ids either; the user and role ids in it are random.
func WriteDemoAccount(dir string, now time.Time) error {
	now = now.UTC().Truncate(time.Second)
	ago := func(days int) string { return now.AddDate(0, 0, -days).Format("2006-01-02T15:04:05+00:00") }
	arn := func(s string) string { return "arn:aws:iam::" + DemoAccountID + ":" + s }
	na := "N/A"

	// Credential report rows: user, created, password (enabled, last used,
	// changed), mfa, key 1 and key 2 (active, rotated, used, region, service).
	type key struct {
		active          bool
		rotated, used   int // days ago; -1: none
		region, service string
	}
	row := func(user, a string, created int, pw bool, pwUsed, pwChanged int, mfa bool, k1, k2 key) string {
		d := func(n int) string {
			if n < 0 {
				return na
			}
			return ago(n)
		}
		pwEnabled, pwUsedS, pwChangedS := fmt.Sprint(pw), d(pwUsed), d(pwChanged)
		if user == awsparse.RootUser {
			pwEnabled, pwChangedS = "not_supported", "not_supported"
		} else if pw && pwUsed < 0 {
			pwUsedS = "no_information"
		}
		ks := func(k key) string {
			region, service := k.region, k.service
			if k.used < 0 {
				region, service = na, na
			}
			return strings.Join([]string{fmt.Sprint(k.active), d(k.rotated), d(k.used), region, service}, ",")
		}
		nextRotation := na
		if user == awsparse.RootUser {
			nextRotation = "not_supported"
		}
		return strings.Join([]string{user, a, d(created), pwEnabled, pwUsedS, pwChangedS, nextRotation, fmt.Sprint(mfa),
			ks(k1), ks(k2), "false", na, "false", na}, ",")
	}
	none := key{rotated: -1, used: -1}
	rows := []string{
		awsparse.ReportHeader,
		// Root: MFA on, but an access key from long ago still active.
		row(awsparse.RootUser, arn("root"), 1400, false, 12, -1, true, key{true, 700, 40, "us-east-1", "s3"}, none),
		// Old and over-privileged: admin via group, key 500 days old, unused for 200.
		row("legacy-etl", arn("user/legacy-etl"), 900, false, -1, -1, false, key{true, 500, 200, "eu-west-1", "dynamodb"}, none),
		// Two active keys, one never used; wildcard inline policy.
		row("deploy-bot", arn("user/deploy-bot"), 400, false, -1, -1, false, key{true, 120, 1, "us-east-1", "s3"}, key{true, 30, -1, "", ""}),
		// A service user with a console password, no MFA, no owner.
		row("jenkins", arn("user/jenkins"), 700, true, 300, 650, false, key{true, 650, 95, "us-west-2", "ec2"}, none),
		// Healthy: recent key, used today, limited policy, owner.
		row("reporting-svc", arn("user/reporting-svc"), 60, false, -1, -1, false, key{true, 20, 0, "us-east-1", "athena"}, none),
		// Unused: a key created long ago and never used, now inactive.
		row("old-import", arn("user/old-import"), 1000, false, -1, -1, false, key{false, 990, -1, "", ""}, none),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, DemoCredentialReport), []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		return err
	}

	type tag struct{ Key, Value string }
	type ref struct{ PolicyName, PolicyArn string }
	type inline struct {
		PolicyName     string
		PolicyDocument any
	}
	doc := func(stmts ...map[string]any) map[string]any {
		return map[string]any{"Version": "2012-10-17", "Statement": stmts}
	}
	allow := func(action, resource any) map[string]any {
		return map[string]any{"Effect": "Allow", "Action": action, "Resource": resource}
	}
	id := func(prefix string) string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
		b := make([]byte, 17)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		return prefix + string(b)
	}
	user := func(name string, created int, groups []string, attached []ref, inl []inline, tags []tag) map[string]any {
		return map[string]any{"Path": "/", "UserName": name, "UserId": id("AIDA"), "Arn": arn("user/" + name), "CreateDate": ago(created),
			"UserPolicyList": nonNil(inl), "GroupList": nonNil(groups), "AttachedManagedPolicies": nonNil(attached), "Tags": nonNil(tags)}
	}
	oidc := arn("oidc-provider/token.actions.githubusercontent.com")
	gha := func(sub string) map[string]any {
		cond := map[string]any{"StringEquals": map[string]any{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}
		if sub != "" {
			cond["StringLike"] = map[string]any{"token.actions.githubusercontent.com:sub": sub}
		}
		return doc(map[string]any{"Effect": "Allow", "Principal": map[string]any{"Federated": oidc},
			"Action": "sts:AssumeRoleWithWebIdentity", "Condition": cond})
	}
	role := func(name string, created, used int, trust map[string]any, attached []ref, inl []inline, tags []tag) map[string]any {
		lastUsed := map[string]any{}
		if used >= 0 {
			lastUsed = map[string]any{"LastUsedDate": ago(used), "Region": "us-east-1"}
		}
		return map[string]any{"Path": "/", "RoleName": name, "RoleId": id("AROA"), "Arn": arn("role/" + name), "CreateDate": ago(created),
			"AssumeRolePolicyDocument": trust, "InstanceProfileList": []any{}, "RolePolicyList": nonNil(inl),
			"AttachedManagedPolicies": nonNil(attached), "Tags": nonNil(tags), "RoleLastUsed": lastUsed}
	}
	admin := ref{"AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess"}
	reports := ref{"reporting-read", arn("policy/reporting-read")}
	details := map[string]any{
		"UserDetailList": []any{
			user("legacy-etl", 900, []string{"admins"}, nil, nil, []tag{{"team", "data-eng"}}),
			user("deploy-bot", 400, nil, nil, []inline{{"deploy", doc(allow([]string{"s3:*", "cloudfront:CreateInvalidation"}, "*"))}}, []tag{{"owner", "platform-team"}}),
			user("jenkins", 700, nil, []ref{{"AmazonEC2FullAccess", "arn:aws:iam::aws:policy/AmazonEC2FullAccess"}}, nil, nil),
			user("reporting-svc", 60, nil, []ref{reports}, nil, []tag{{"owner", "analytics"}}),
			user("old-import", 1000, nil, nil, []inline{{"import", doc(allow("s3:PutObject", "arn:aws:s3:::imports/*"))}}, nil),
		},
		"GroupDetailList": []any{
			map[string]any{"Path": "/", "GroupName": "admins", "GroupId": id("AGPA"), "Arn": arn("group/admins"),
				"GroupPolicyList": []any{}, "AttachedManagedPolicies": []ref{admin}},
		},
		"RoleDetailList": []any{
			role("gha-deploy", 200, 1, gha(""), []ref{admin}, nil, []tag{{"owner", "platform-team"}}),
			role("gha-app", 90, 3, gha("repo:acme/app:ref:refs/heads/main"), nil,
				[]inline{{"deploy-lambda", doc(allow("lambda:UpdateFunctionCode", "arn:aws:lambda:us-east-1:"+DemoAccountID+":function:app"))}}, []tag{{"team", "app"}}),
			role("lambda-exec", 300, 0, doc(map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}),
				[]ref{reports}, nil, []tag{{"owner", "analytics"}}),
			role("migration-2019", 1500, -1, doc(map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": arn("root")}, "Action": "sts:AssumeRole"}),
				nil, []inline{{"everything-ec2", doc(allow("ec2:*", "*"))}}, nil),
		},
		"Policies": []any{
			map[string]any{"PolicyName": "AdministratorAccess", "PolicyId": id("ANPA"), "Arn": admin.PolicyArn, "Path": "/", "DefaultVersionId": "v1",
				"AttachmentCount": 2, "IsAttachable": true, "CreateDate": "2015-02-06T18:39:46+00:00", "UpdateDate": "2015-02-06T18:39:46+00:00",
				"PolicyVersionList": []any{map[string]any{"Document": doc(allow("*", "*")), "VersionId": "v1", "IsDefaultVersion": true, "CreateDate": "2015-02-06T18:39:46+00:00"}}},
			map[string]any{"PolicyName": "reporting-read", "PolicyId": id("ANPA"), "Arn": reports.PolicyArn, "Path": "/", "DefaultVersionId": "v1",
				"AttachmentCount": 2, "IsAttachable": true, "CreateDate": ago(60), "UpdateDate": ago(60),
				"PolicyVersionList": []any{map[string]any{"Document": doc(allow([]string{"athena:StartQueryExecution", "athena:GetQueryResults", "s3:GetObject"}, "*")),
					"VersionId": "v1", "IsDefaultVersion": true, "CreateDate": ago(60)}}},
		},
	}
	b, err := json.MarshalIndent(details, "", "    ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, DemoAuthorizationDetails), append(b, '\n'), 0o644)
}

// nonNil makes a nil slice encode as [] like the AWS CLI does.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
