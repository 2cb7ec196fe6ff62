package harness

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// send does req and returns the body, failing the test (naming the request
// what) unless the answer is 200 OK.
func send(t *testing.T, what string, req *http.Request) []byte {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s: %s", what, resp.Status, b)
	}
	return b
}

func TestVaultKVRoundTrip(t *testing.T) {
	v := Vault(t)
	do := func(method, path, body string) []byte {
		t.Helper()
		req, err := http.NewRequest(method, v.Addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Vault-Token", v.RootToken)
		req.Header.Set("Content-Type", "application/json")
		return send(t, method+" "+path, req)
	}
	do("POST", "/v1/secret/data/harness/app", `{"data":{"api_key":"s3cr3t"}}`)
	var got struct {
		Data struct {
			Data map[string]string `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal(do("GET", "/v1/secret/data/harness/app", ""), &got); err != nil {
		t.Fatal(err)
	}
	if got.Data.Data["api_key"] != "s3cr3t" {
		t.Fatalf("read back %v, want api_key=s3cr3t", got.Data.Data)
	}
}

func TestMotoIAM(t *testing.T) {
	m := Moto(t)
	if env := m.Env(); len(env) != 4 || env[0] != "AWS_ENDPOINT_URL="+m.Endpoint {
		t.Fatalf("Env() = %v", env)
	}
	call := func(form url.Values) string {
		t.Helper()
		req, err := http.NewRequest("POST", m.Endpoint+"/", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// moto routes by the credential scope's service; it does not check signatures.
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0")
		return string(send(t, form.Get("Action"), req))
	}
	call(url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"}, "UserName": {"ci-deployer"}})
	if out := call(url.Values{"Action": {"ListUsers"}, "Version": {"2010-05-08"}}); !strings.Contains(out, "<UserName>ci-deployer</UserName>") {
		t.Fatalf("ListUsers does not list ci-deployer:\n%s", out)
	}
	// MOTO_IAM_LOAD_MANAGED_POLICIES=true: AWS managed policies exist.
	call(url.Values{"Action": {"GetPolicy"}, "Version": {"2010-05-08"}, "PolicyArn": {"arn:aws:iam::aws:policy/ReadOnlyAccess"}})
}
