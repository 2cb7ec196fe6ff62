package aws

import (
	"encoding/json"
	"net/url"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
)

func TestClassifyDocument(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"admin star", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, PrivAdministrator},
		{"admin star colon star", `{"Statement":{"Effect":"Allow","Action":["*:*"],"Resource":["*"]}}`, PrivAdministrator},
		{"url-encoded admin", url.PathEscape(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`), PrivAdministrator},
		{"star on one bucket", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/*"}]}`, PrivWildcard},
		{"service star", `{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","iam:*"],"Resource":"arn:aws:iam::1:role/x"}]}`, PrivWildcard},
		{"not action", `{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`, PrivWildcard},
		{"deny star", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`, PrivLimited},
		{"limited", `{"Statement":[{"Effect":"Allow","Action":["s3:Get*"],"Resource":"*"}]}`, PrivLimited},
	} {
		got, ok := classifyDocument(tc.doc)
		if !ok || got != tc.want {
			t.Errorf("%s: %q (parsed %v), want %q", tc.name, got, ok, tc.want)
		}
	}
	if _, ok := classifyDocument("not json"); ok {
		t.Error("garbage parsed")
	}
}

func TestAnalyzeTrust(t *testing.T) {
	t.Parallel()
	gh := `"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity"`
	for _, tc := range []struct {
		name, doc               string
		github, restricted, pub bool
	}{
		{"no sub", `{"Statement":[{"Effect":"Allow",` + gh + `}]}`, true, false, false},
		{"sub star", `{"Statement":[{"Effect":"Allow",` + gh + `,"Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:*"}}}]}`, true, false, false},
		{"sub repo", `{"Statement":[{"Effect":"Allow",` + gh + `,"Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":["repo:a/b:*"]}}}]}`, true, true, false},
		{"one open one locked", `{"Statement":[{"Effect":"Allow",` + gh + `},{"Effect":"Allow",` + gh + `,"Condition":{"StringEquals":{"token.actions.githubusercontent.com:sub":"repo:a/b:ref:refs/heads/main"}}}]}`, true, false, false},
		{"public", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}`, false, false, true},
		{"service", `{"Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com"]},"Action":"sts:AssumeRole"}]}`, false, false, false},
	} {
		got := awsparse.AnalyzeTrust(awsparse.DecodeDocument(url.QueryEscape(tc.doc)))
		if !got.Parsed || got.GitHubOIDC != tc.github || got.GitHubOIDCSubRestricted != tc.restricted || got.Public != tc.pub {
			t.Errorf("%s: %+v", tc.name, got)
		}
	}
}

// The documented policy grants every IAM call the live source makes.
func TestREADMEPolicyCoversEveryCall(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Statement []struct{ Action []string } }
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	var src []byte
	for _, f := range []string{"live.go", "collect.go", "principals.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	// Every API call the source makes: client methods and paginators.
	calls := regexp.MustCompile(`c\.iam\.(\w+)\(`).FindAllStringSubmatch(string(src), -1)
	calls = append(calls, regexp.MustCompile(`iam\.New(\w+)Paginator\(`).FindAllStringSubmatch(string(src), -1)...)
	if len(calls) < 20 {
		t.Fatalf("found only %d calls in the live source", len(calls))
	}
	for _, c := range calls {
		if !slices.Contains(p.Statement[0].Action, "iam:"+c[1]) {
			t.Errorf("README-policy.json lacks iam:%s", c[1])
		}
	}
}
