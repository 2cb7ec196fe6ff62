package awsparse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fuzz targets of the AWS readers: the two exports a user hands over
// (credential report CSV, authorization-details JSON) and the policy
// documents IAM answers with (URL-encoded or plain JSON). Seeds are the
// demo account's exports (testdata/demo-*, written by aws.WriteDemoAccount
// in the formats AWS produces, its random ids replaced by EXAMPLE ones)
// and moto-shaped policy documents. Whatever the bytes, reading is a
// result or an error saying where the file is wrong, never a panic; what
// is read is walked as package aws's account model walks it. `make fuzz`
// runs each. They live here, not in package aws, because the fuzzer
// instruments every package of the test binary: with the AWS SDK, the
// scanner and gitleaks in it, a run made a few executions a second.

func demoExport(f *testing.F, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// export is the name the targets give the file: an error must name it,
// then say what is wrong ("NAME: reason").
const export = "/exports/iam export.csv"

// fileError checks what a user sees of a refused file.
func fileError(t *testing.T, err error) {
	if err.Error() == "" || !strings.Contains(err.Error(), export+": ") {
		t.Fatalf("error does not name the file: %v", err)
	}
}

func FuzzCredentialReport(f *testing.F) {
	report := demoExport(f, "demo-credential-report.csv")
	f.Add(report)
	f.Add([]byte("\xef\xbb\xbf" + strings.SplitN(string(report), "\n", 2)[0] + "\n"))
	f.Add([]byte("user,arn\n\"unterminated,x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := CredentialReportFile(export, b)
		if err != nil {
			fileError(t, err)
			return
		}
		// What the account model reads of every row.
		for _, r := range rows {
			if _, err := PrincipalAccount(r.ARN); err != nil {
				t.Fatalf("row %q accepted with a bad ARN: %v", r.User, err)
			}
			for _, k := range r.Keys {
				_ = k.Exists()
			}
		}
	})
}

func FuzzAuthorizationDetails(f *testing.F) {
	details := demoExport(f, "demo-authorization-details.json")
	f.Add(details)
	f.Add(append(append([]byte{}, details...), details...)) // pages one after another
	f.Add([]byte(`{"UserDetailList":[{"Arn":"arn:aws:iam::123456789012:user/a","UserName":"a","CreateDate":"2020-01-01T00:00:00Z","UserPolicyList":[{"PolicyName":"p","PolicyDocument":"%7B%22Statement%22%3A%5B%5D%7D"}]}],"IsTruncated":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := AuthorizationDetailsFile(export, b)
		if err != nil {
			fileError(t, err)
			return
		}
		// What the account model reads of the documents: every policy
		// classified, every trust policy analysed.
		docs := func(ps []InlinePolicy) {
			for _, p := range ps {
				ClassifyDocument(string(p.PolicyDocument))
			}
		}
		for _, u := range d.UserDetailList {
			docs(u.UserPolicyList)
		}
		for _, g := range d.GroupDetailList {
			docs(g.GroupPolicyList)
		}
		for _, r := range d.RoleDetailList {
			docs(r.RolePolicyList)
			AnalyzeTrust(string(r.AssumeRolePolicyDocument))
		}
		for _, p := range d.Policies {
			for _, v := range p.PolicyVersionList {
				ClassifyDocument(string(v.Document))
			}
		}
	})
}

// FuzzPolicyDocument: IAM's answers carry policy documents as strings
// (URL-encoded by the query API); classifying one and reading a trust
// policy never panic, whatever the string.
func FuzzPolicyDocument(f *testing.F) {
	for _, s := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
		`{"Statement":{"Effect":"Allow","Action":["s3:*","iam:PassRole"],"NotResource":"arn:x"}}`,
		`%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Federated%22%3A%22arn%3Aaws%3Aiam%3A%3A1%3Aoidc-provider%2Ftoken.actions.githubusercontent.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRoleWithWebIdentity%22%2C%22Condition%22%3A%7B%22StringLike%22%3A%7B%22token.actions.githubusercontent.com%3Asub%22%3A%22repo%3Ao%2Fr%3A*%22%7D%7D%7D%5D%7D`,
		`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"],"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
		`%zz{`, `{"Statement":[{"Action":1}]}`, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p, _ := ClassifyDocument(s); p < Limited || p > Administrator {
			t.Fatalf("privilege %d out of range", p)
		}
		AnalyzeTrust(s)
	})
}
