package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// silentListener is a loopback endpoint that accepts connections and
// never answers, like one behind a black-holing firewall; its URL.
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
			held = append(held, c)
			mu.Unlock()
		}
	}()
	return "http://" + l.Addr().String()
}

// silentAWS points the SDK's environment at a silent listener, with dummy
// credentials and no local AWS configuration. Tests using it cannot run
// in parallel.
func silentAWS(t *testing.T) string {
	t.Helper()
	endpoint := silentListener(t)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_PROFILE": "", "AWS_SESSION_TOKEN": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
		"AWS_ENDPOINT_URL": endpoint,
	} {
		t.Setenv(k, v)
	}
	return endpoint
}

// aws.attempt_timeout and --aws-timeout reach the live source: a silent
// endpoint fails the source (exit 3) within them, saying so.
func TestScanAWSTimeouts(t *testing.T) {
	endpoint := silentAWS(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nhi.yaml")
	if err := os.WriteFile(cfg, []byte("aws:\n  attempt_timeout: 200ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, out, errs := nhi(t, "scan", "--db", filepath.Join(dir, "a.db"), "--config", cfg, "--aws", "--format", "json")
	took := time.Since(start)
	want := "AWS endpoint " + endpoint + " did not answer sts:GetCallerIdentity within 200ms"
	if code != exitSourceFailed || !strings.Contains(out, want) || took > 10*time.Second {
		t.Errorf("attempt_timeout: exit %d after %v, want 3 and %q:\n%s\n%s", code, took, want, out, errs)
	}

	start = time.Now()
	code, out, errs = nhi(t, "scan", "--db", filepath.Join(dir, "b.db"), "--aws", "--aws-timeout", "300ms", "--format", "json")
	took = time.Since(start)
	if code != exitSourceFailed || !strings.Contains(out, "did not finish within 300ms") || took > 5*time.Second {
		t.Errorf("--aws-timeout: exit %d after %v:\n%s\n%s", code, took, out, errs)
	}
}

// A duration nhi.yaml cannot use is a configuration error naming the
// file, the line and the setting.
func TestAWSTimeoutConfigErrors(t *testing.T) {
	silentAWS(t)
	dir := t.TempDir()
	for _, c := range []struct{ body, want string }{
		{"aws:\n  concurrency: 2\n  timeout: ten minutes\n", `line 3: aws.timeout is "ten minutes", not a positive duration`},
		{"aws:\n  attempt_timeout: 10\n", `line 2: aws.attempt_timeout is "10", not a positive duration`},
		{"aws:\n  timeout: -1m\n", `line 2: aws.timeout is "-1m"`},
	} {
		cfg := filepath.Join(dir, "nhi.yaml")
		if err := os.WriteFile(cfg, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errs := nhi(t, "scan", "--db", filepath.Join(dir, "nhi.db"), "--config", cfg, "--aws")
		if code != exitUsage || !strings.Contains(errs, c.want) || !strings.Contains(errs, cfg) {
			t.Errorf("%q: exit %d, stderr %q; want 2, %s and %q", c.body, code, errs, cfg, c.want)
		}
	}
	if code, _, errs := nhi(t, "scan", "--db", filepath.Join(dir, "nhi.db"), "--aws", "--aws-timeout", "soon"); code != exitUsage || !strings.Contains(errs, "--aws-timeout") {
		t.Errorf("--aws-timeout soon: exit %d, %q", code, errs)
	}
}
