package aws

import (
	"bytes"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
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

// A call refused for one principal is a unit error on that principal's
// ARN (its earlier state is kept), naming the missing permission; what a
// group or a managed policy lacks reaches every principal it applies to;
// what is lost for the account as a whole (the credential report) is an
// item error without a unit. Everything else is still collected.
func TestLiveAccessDeniedIsAUnitError(t *testing.T) {
	m := motoEnv(t)
	e := populate(t, adminClient(t))
	proxy := denyProxy(t, m.Endpoint, "ListUserTags", "GetPolicyVersion", "ListGroupPolicies", "GenerateCredentialReport", "GetCredentialReport")

	res := runScan(t, filepath.Join(t.TempDir(), "nhi.db"), NewLive(LiveOptions{Endpoint: proxy.URL}))
	r := res.results[0]
	if r.Status != inventory.SourceOK {
		t.Fatalf("a denied call must not fail the source: %s %q", r.Status, r.Error)
	}
	got := map[string][]string{} // unit -> errors
	var account []string
	for _, ie := range r.ItemErrors {
		if ie.Target != Target(motoAccount) {
			t.Errorf("item error not stamped with the account: %+v", ie)
		}
		if ie.Unit == "" {
			account = append(account, ie.Item)
			continue
		}
		if ie.Item != ie.Unit {
			t.Errorf("unit error names %q, unit %q", ie.Item, ie.Unit)
		}
		got[ie.Unit] = append(got[ie.Unit], ie.Error)
	}
	want := map[string][]string{
		arnUser("deploy-bot"): {"iam:ListUserTags: AccessDenied: missing permission iam:ListUserTags",
			"managed policy AdministratorAccess: iam:GetPolicyVersion: AccessDenied: missing permission iam:GetPolicyVersion"},
		arnUser("ci-reader"): {"iam:ListUserTags: AccessDenied", "group readers: iam:ListGroupPolicies: AccessDenied: missing permission iam:ListGroupPolicies",
			"managed policy s3-read: iam:GetPolicyVersion: AccessDenied"},
		arnUser("alice-ops"):  {"iam:ListUserTags: AccessDenied"},
		arnUser("orphan"):     {"iam:ListUserTags: AccessDenied"},
		arnRole("gha-open"):   {"managed policy AdministratorAccess: iam:GetPolicyVersion: AccessDenied"},
		arnRole("gha-deploy"): {"managed policy ec2-instances: iam:GetPolicyVersion: AccessDenied"},
	}
	for unit, prefixes := range want {
		errs := got[unit]
		if len(errs) != len(prefixes) {
			t.Errorf("%s: %d unit errors, want %d: %q", unit, len(errs), len(prefixes), errs)
			continue
		}
		for _, p := range prefixes {
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.HasPrefix(e, p) && strings.Contains(e, "README-policy.json") }) {
				t.Errorf("%s: no unit error starting %q in %q", unit, p, errs)
			}
		}
	}
	if _, ok := got[arnRole("app-ec2")]; ok || len(got) != len(want) {
		t.Errorf("unit errors for %v, want exactly %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	if !slices.Equal(account, []string{"iam:GenerateCredentialReport", "iam:GetCredentialReport"}) {
		t.Errorf("account-wide item errors %q, want the credential report's two", account)
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
	res.rows.checkScope(t, Target(motoAccount))
}

// STS GetCallerIdentity refused (an SCP can): the account comes from the
// first ARN listed. With no principal to list, the account cannot be
// known and the source fails rather than cover nothing it can name.
func TestLiveAccountFromARNWhenSTSIsDenied(t *testing.T) {
	m := motoEnv(t)
	proxy := denyProxy(t, m.Endpoint, "GetCallerIdentity")
	dir := t.TempDir()

	empty := runScan(t, filepath.Join(dir, "empty.db"), NewLive(LiveOptions{Endpoint: proxy.URL}))
	if r := empty.results[0]; r.Status != inventory.SourceFailed || !strings.Contains(r.Error, "cannot tell which account") ||
		!strings.Contains(r.Error, "sts:GetCallerIdentity") || empty.rows.count() != 0 {
		t.Errorf("empty account behind a denied STS: %s %q, %d rows", r.Status, r.Error, empty.rows.count())
	}

	populate(t, adminClient(t))
	res := runScan(t, filepath.Join(dir, "nhi.db"), NewLive(LiveOptions{Endpoint: proxy.URL}))
	r := res.results[0]
	if r.Status != inventory.SourceOK || len(r.ItemErrors) > 0 || !slices.Contains(r.Targets, Target(motoAccount)) {
		t.Fatalf("%s %q items %v covered %v", r.Status, r.Error, r.ItemErrors, r.Targets)
	}
	res.rows.checkScope(t, Target(motoAccount))
}

// silentListener accepts connections and never answers, like an endpoint
// behind a black-holing firewall or a hung proxy.
func silentListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // keep it open, never read or answer
			mu.Unlock()
		}
	}()
	return "http://" + l.Addr().String()
}

// An endpoint that accepts and never answers fails the source within its
// attempts' time, saying which endpoint did not answer and within what;
// the scan and its other sources go on.
func TestSilentEndpointFailsTheSourceInBoundedTime(t *testing.T) {
	motoEnv(t)
	silent := silentListener(t)
	report := filepath.Join(t.TempDir(), "report.csv")
	if err := os.WriteFile(report, []byte(awsparse.ReportHeader+"\nbot,arn:aws:iam::111122223333:user/bot,2024-01-02T03:04:05+00:00,false,N/A,N/A,N/A,false,true,2024-01-02T03:04:06+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	res := runScan(t, filepath.Join(t.TempDir(), "nhi.db"),
		NewLive(LiveOptions{Endpoint: silent, AttemptTimeout: 300 * time.Millisecond}), NewCredentialReport(report))
	took := time.Since(start)
	live, off := res.results[0], res.results[1]
	want := "AWS endpoint " + silent + " did not answer sts:GetCallerIdentity within 300ms"
	if live.Status != inventory.SourceFailed || !strings.Contains(live.Error, want) || !strings.Contains(live.Error, "2 attempts") {
		t.Errorf("live source: %s %q, want failed with %q", live.Status, live.Error, want)
	}
	if took > 10*time.Second {
		t.Errorf("a silent endpoint held the scan %v", took)
	}
	if off.Status != inventory.SourceOK {
		t.Errorf("the other source must still run: %+v", off)
	}
	t.Logf("silent endpoint failed the source in %v: %s", took.Round(time.Millisecond), live.Error)

	// The overall deadline bounds the scan even when each attempt may
	// take longer.
	start = time.Now()
	res = runScan(t, filepath.Join(t.TempDir(), "nhi.db"), NewLive(LiveOptions{Endpoint: silent, Timeout: 500 * time.Millisecond}))
	took = time.Since(start)
	if r := res.results[0]; r.Status != inventory.SourceFailed || !strings.Contains(r.Error, "did not finish within 500ms") || took > 5*time.Second {
		t.Errorf("overall deadline: %s %q after %v", r.Status, r.Error, took)
	}
}

// IAM stops answering after the principals are listed: the first call
// that gets no answer stops the account's scan within bounded time, the
// source fails, and nothing of the half-read account is written.
func TestEndpointGoingSilentMidScanFailsTheSource(t *testing.T) {
	m := motoEnv(t)
	populate(t, adminClient(t))
	u, err := url.Parse(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if form.Get("Action") == "ListUserTags" {
			select { // never answer
			case <-r.Context().Done():
			case <-hang:
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	start := time.Now()
	// 2 s per attempt: moto itself can take most of a second on a loaded
	// machine (300 ms once failed on iam:ListUsers, answered in 731 ms),
	// and only the silent call may fail.
	res := runScan(t, filepath.Join(t.TempDir(), "nhi.db"), NewLive(LiveOptions{Endpoint: proxy.URL, AttemptTimeout: 2 * time.Second}))
	took := time.Since(start)
	r := res.results[0]
	if r.Status != inventory.SourceFailed || !strings.Contains(r.Error, "did not answer iam:ListUserTags within 2s") || !strings.Contains(r.Error, "3 attempts") {
		t.Errorf("source %s %q", r.Status, r.Error)
	}
	if took > 60*time.Second || res.rows.count() != 0 || len(r.ItemErrors) != 0 {
		t.Errorf("took %v, %d rows written, item errors %v: want bounded, none, none", took, res.rows.count(), r.ItemErrors)
	}
	t.Logf("failed in %v: %s", took.Round(time.Millisecond), r.Error)
}

// ownMoto runs a moto_server of this test's own, so that the test can kill
// it; the shared harness one lives as long as the test.
func ownMoto(t *testing.T) (endpoint string, kill func()) {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatalf("moto_server not on PATH: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	cmd := exec.Command(bin, "-H", host, "-p", port)
	cmd.Env = append(os.Environ(), "MOTO_IAM_LOAD_MANAGED_POLICIES=true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill = func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(kill)
	endpoint = "http://" + net.JoinHostPort(host, port)
	for i := 0; ; i++ {
		resp, err := http.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return endpoint, kill
		}
		if i > 300 {
			t.Fatalf("moto_server on %s did not start: %v", endpoint, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// moto_server killed once the principals are listed: the source fails
// (cannot reach the endpoint), writes nothing of the account, and the
// scan's other sources are unaffected.
func TestMotoKilledMidScanFailsOnlyTheSource(t *testing.T) {
	motoEnv(t) // isolates the environment
	endpoint, kill := ownMoto(t)
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	populate(t, adminClient(t))
	report := filepath.Join(t.TempDir(), "report.csv")
	if err := os.WriteFile(report, []byte(awsparse.ReportHeader+"\nbot,arn:aws:iam::111122223333:user/bot,2024-01-02T03:04:05+00:00,false,N/A,N/A,N/A,false,true,2024-01-02T03:04:06+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := NewLive(LiveOptions{})
	opts := scanner.Options{Concurrency: 2, OnEvent: func(ev scanner.Event) {
		// Progress is reported from the source's goroutine, between
		// listing the principals and reading each of them.
		if ev.Source == src.Name() && strings.Contains(ev.Message, " users, ") {
			kill()
		}
	}}
	start := time.Now()
	res := runScanOpts(t, filepath.Join(t.TempDir(), "nhi.db"), opts, src, NewCredentialReport(report))
	took := time.Since(start)
	live, off := res.results[0], res.results[1]
	if live.Status != inventory.SourceFailed || !strings.Contains(live.Error, "cannot reach AWS endpoint "+endpoint) {
		t.Errorf("live source: %s %q", live.Status, live.Error)
	}
	if off.Status != inventory.SourceOK {
		t.Errorf("the other source: %+v", off)
	}
	for _, id := range res.rows.ids {
		if id.Target == Target(motoAccount) {
			t.Errorf("identity %s of the half-read account written", id.Key)
		}
	}
	if took > 30*time.Second {
		t.Errorf("took %v", took)
	}
	t.Logf("failed in %v: %s", took.Round(time.Millisecond), live.Error)
}

func TestUnreachableEndpointFailsTheSourceNotTheScan(t *testing.T) {
	motoEnv(t) // isolates the environment; the source is pointed elsewhere
	// A loopback port nothing listens on.
	l := httptest.NewServer(http.NotFoundHandler())
	dead := l.URL
	l.Close()

	report := filepath.Join(t.TempDir(), "report.csv")
	if err := os.WriteFile(report, []byte(awsparse.ReportHeader+"\nbot,arn:aws:iam::111122223333:user/bot,2024-01-02T03:04:05+00:00,false,N/A,N/A,N/A,false,true,2024-01-02T03:04:06+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"), 0o600); err != nil {
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
