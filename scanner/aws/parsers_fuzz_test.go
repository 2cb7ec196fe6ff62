package aws

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fuzz targets of the AWS readers: the two exports a user hands over
// (credential report CSV, authorization-details JSON) and the policy
// documents IAM answers with (URL-encoded or plain JSON). Seeds are the
// demo account's exports, written in the formats AWS produces, and
// moto-shaped policy documents. Whatever the bytes, reading is a result
// or an error saying where the file is wrong, never a panic; what is read
// goes through the account model as a scan would. `make fuzz` runs each.

func demoExports(f *testing.F) (report, details []byte) {
	dir := f.TempDir()
	if err := WriteDemoAccount(dir, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		f.Fatal(err)
	}
	var err error
	for _, p := range []string{"credential-report.csv", "authorization-details.json"} {
		var b []byte
		if b, err = os.ReadFile(filepath.Join(dir, p)); err != nil {
			ents, _ := os.ReadDir(dir)
			f.Fatalf("demo account: %v (files: %v)", err, ents)
		}
		if strings.HasSuffix(p, ".csv") {
			report = b
		} else {
			details = b
		}
	}
	return report, details
}

// readerError checks what a user sees of a refused file: the path, then
// a reason.
func readerError(t *testing.T, read func(string) error, b []byte) {
	p := filepath.Join(t.TempDir(), "export")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := read(p); err != nil && !strings.Contains(err.Error(), p+": ") {
		t.Fatalf("error does not name the file: %v", err)
	}
}

func FuzzCredentialReport(f *testing.F) {
	report, _ := demoExports(f)
	f.Add(report)
	f.Add([]byte("\xef\xbb\xbf" + strings.SplitN(string(report), "\n", 2)[0] + "\n"))
	f.Add([]byte("user,arn\n\"unterminated,x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := parseCredentialReport(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			if len(b) < 4096 {
				readerError(t, func(p string) error { _, err := readReport(p); return err }, b)
			}
			return
		}
		newAccount().addReport(rows)
	})
}

func FuzzAuthorizationDetails(f *testing.F) {
	_, details := demoExports(f)
	f.Add(details)
	f.Add(append(append([]byte{}, details...), details...)) // pages one after another
	f.Add([]byte(`{"UserDetailList":[{"Arn":"arn:aws:iam::123456789012:user/a","UserName":"a","CreateDate":"2020-01-01T00:00:00Z","UserPolicyList":[{"PolicyName":"p","PolicyDocument":"%7B%22Statement%22%3A%5B%5D%7D"}]}],"IsTruncated":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseAuthorizationDetails(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			if len(b) < 4096 {
				readerError(t, func(p string) error { _, err := readDetails(p); return err }, b)
			}
			return
		}
		newAccount().addDetails(d)
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
		classifyDocument(s)
		analyzeTrust(s).attrs()
	})
}
