package aws

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// denyProxy forwards to moto but answers the given IAM actions with AWS's
// AccessDenied error, as IAM does for a principal lacking the permission.
func denyProxy(t *testing.T, target string, deny ...string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		for _, a := range deny {
			if form.Get("Action") == a {
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/scanner is not authorized to perform: iam:`+a+` because no identity-based policy allows the iam:`+a+` action</Message></Error><RequestId>4c6f6e67-0000-4000-8000-000000000000</RequestId></ErrorResponse>`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLiveAccessDeniedIsAnItemError(t *testing.T) {
	m := motoEnv(t)
	e := populate(t, adminClient(t))
	proxy := denyProxy(t, m.Endpoint, "ListUserTags", "GetPolicyVersion")

	res := runScan(t, filepath.Join(t.TempDir(), "nhi.db"), NewLive(LiveOptions{Endpoint: proxy.URL}))
	r := res.results[0]
	if r.Status != inventory.SourceOK {
		t.Fatalf("a denied call must not fail the source: %s %q", r.Status, r.Error)
	}
	var tagErrs, polErrs int
	for _, ie := range r.ItemErrors {
		switch {
		case strings.HasPrefix(ie.Item, "iam:ListUserTags user/"):
			tagErrs++
			if !strings.Contains(ie.Error, "missing permission iam:ListUserTags") || !strings.HasPrefix(ie.Error, "AccessDenied") {
				t.Errorf("item error does not name the permission: %+v", ie)
			}
		case strings.HasPrefix(ie.Item, "iam:GetPolicyVersion arn:aws:iam::"):
			polErrs++
		default:
			t.Errorf("unexpected item error %+v", ie)
		}
	}
	if tagErrs != 4 || polErrs != 3 {
		t.Errorf("item errors: %d ListUserTags (want 4 users), %d GetPolicyVersion (want 3 policies): %+v", tagErrs, polErrs, r.ItemErrors)
	}
	ids := identities(t, res.store)
	creds := credentialRows(t, res.store)
	d := ids[arnUser("deploy-bot")]
	// Tags are lost, everything else is still collected; AdministratorAccess is still known by name.
	if d.Owner != "" || d.Privileges != PrivAdministrator || len(ids) != 7 {
		t.Errorf("deploy-bot owner %q privileges %q, %d identities", d.Owner, d.Privileges, len(ids))
	}
	if !strings.Contains(mustJSON(t, d.Attrs["policies"]), `"basis":"name"`) {
		t.Errorf("privilege basis not recorded: %v", d.Attrs["policies"])
	}
	if c := creds[inventory.AccessKeyCredentialKey(e.deployKeys[0])]; c.Status != "Active" || c.LastUsedAt == "" {
		t.Errorf("key still collected: %+v", c)
	}
	if ids[arnRole("gha-open")].Owner != "ci-team" {
		t.Errorf("role tags come from GetRole, which was allowed: %+v", ids[arnRole("gha-open")])
	}
}

func TestUnreachableEndpointFailsTheSourceNotTheScan(t *testing.T) {
	motoEnv(t) // isolates the environment; the source is pointed elsewhere
	// A loopback port nothing listens on.
	l := httptest.NewServer(http.NotFoundHandler())
	dead := l.URL
	l.Close()

	report := filepath.Join(t.TempDir(), "report.csv")
	if err := os.WriteFile(report, []byte(reportHeader+"\nbot,arn:aws:iam::111122223333:user/bot,2024-01-02T03:04:05+00:00,false,N/A,N/A,N/A,false,true,2024-01-02T03:04:06+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := runScan(t, filepath.Join(t.TempDir(), "nhi.db"), NewLive(LiveOptions{Endpoint: dead}), NewCredentialReport(report))
	took := time.Since(start)
	live, off := res.results[0], res.results[1]
	if live.Status != inventory.SourceFailed || !strings.Contains(live.Error, "cannot reach AWS") {
		t.Errorf("live source: %s %q", live.Status, live.Error)
	}
	if off.Status != inventory.SourceOK {
		t.Errorf("the other source must still run: %+v", off)
	}
	if took > 20*time.Second {
		t.Errorf("failing on an unreachable endpoint took %v", took)
	}
	t.Logf("unreachable endpoint failed the source in %v: %s", took, live.Error)
	if _, ok := identities(t, res.store)["arn:aws:iam::111122223333:user/bot"]; !ok {
		t.Error("offline source's identity missing")
	}
}
