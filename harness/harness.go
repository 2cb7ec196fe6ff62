// Package harness starts real services for nhi's tests: an OpenBao server
// (Vault API) in dev mode and a moto_server (AWS API), each on a random
// loopback port, stopped when the test ends. It is imported only by tests and
// uses only the standard library.
//
// A missing service is a test failure, never a skip: the failure message says
// how to install it.
package harness

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	modulePath   = "github.com/nhi-inventory/nhi"
	startTimeout = 90 * time.Second // moto_server took over 30 s to start at load average 25-30
	startTries   = 3                // new port each try, in case another process took ours
)

// VaultServer is a running OpenBao dev server.
type VaultServer struct {
	Addr      string // http://127.0.0.1:PORT
	RootToken string
	stop      func()
}

// Kill kills the server now (SIGKILL), for tests of a server dying
// mid-scan; it is safe to call more than once.
func (v *VaultServer) Kill() { v.stop() }

// Vault starts an OpenBao dev server (KV v2 mounted at secret/) and stops it
// when t ends. The binary is NHI_BAO, else the one scripts/bao.sh caches.
func Vault(t testing.TB) *VaultServer {
	t.Helper()
	bin, err := baoBinary()
	if err != nil {
		t.Fatalf("harness: %v\n\tbuild OpenBao once with `bash scripts/bao.sh` (or `make bao`) from the repo root,\n\tor set NHI_BAO to a bao/vault binary", err)
	}
	token := "root-" + Hex(24)
	home := t.TempDir()
	env := []string{"HOME=" + home}
	for _, kv := range os.Environ() {
		// A caller's VAULT_*/BAO_* settings must not steer the dev server.
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "BAO_") {
			env = append(env, kv)
		}
	}
	addr, stop := start(t, "OpenBao", bin, env, func(hostPort string) []string {
		return []string{"server", "-dev", "-dev-root-token-id=" + token, "-dev-listen-address=" + hostPort}
	}, "/v1/sys/health", func(code int) bool { return code == http.StatusOK },
		"check the binary with `bash scripts/bao.sh` (or `make bao`), or set NHI_BAO")
	return &VaultServer{Addr: addr, RootToken: token, stop: stop}
}

// MotoServer is a running moto_server (all AWS services, one endpoint).
type MotoServer struct {
	Endpoint string // http://127.0.0.1:PORT
}

// Moto starts moto_server with AWS managed IAM policies loaded and stops it
// when t ends.
func Moto(t testing.TB) *MotoServer {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatalf("harness: moto_server not found on PATH (%v)\n\tinstall it with `pip install 'moto[server]'`", err)
	}
	env := append(os.Environ(), "MOTO_IAM_LOAD_MANAGED_POLICIES=true")
	ep, _ := start(t, "moto_server", bin, env, func(hostPort string) []string {
		host, port, _ := net.SplitHostPort(hostPort)
		return []string{"-H", host, "-p", port}
	}, "/", func(int) bool { return true },
		"check it with `moto_server --help`; install with `pip install 'moto[server]'`")
	return &MotoServer{Endpoint: ep}
}

// Env returns the environment that points the AWS SDK and CLI at m with
// dummy credentials, as KEY=VALUE pairs.
func (m *MotoServer) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + m.Endpoint,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION=us-east-1",
	}
}

// start runs bin on a free loopback port until GET path answers with a code
// ready accepts, and arranges for it to be killed when t ends. It returns the
// base URL. On failure it calls t.Fatalf with the server's output and hint.
func start(t testing.TB, name, bin string, env []string, args func(hostPort string) []string,
	path string, ready func(code int) bool, hint string) (string, func()) {
	t.Helper()
	var lastErr error
	var lastOut string
	for try := 0; try < startTries; try++ {
		hostPort, err := freePort()
		if err != nil {
			t.Fatalf("harness: %s: no free loopback port: %v", name, err)
		}
		out := &syncBuffer{}
		cmd := exec.Command(bin, args(hostPort)...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = out, out
		cmd.WaitDelay = time.Second // do not hang on pipes a stray child keeps open
		setProcessGroup(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatalf("harness: cannot start %s (%s): %v\n\t%s", name, bin, err, hint)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				killProcessGroup(cmd)
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
				}
			})
		}
		base := "http://" + hostPort
		err = waitReady(base+path, ready, exited)
		if err == nil {
			t.Cleanup(stop)
			return base, stop
		}
		stop()
		lastErr, lastOut = err, out.tail(40)
		if !errors.Is(err, errExited) {
			break // timed out: another port will not help
		}
	}
	t.Fatalf("harness: %s (%s) did not start: %v\n\t%s\n--- server output ---\n%s", name, bin, lastErr, hint, lastOut)
	return "", nil
}

var errExited = errors.New("server exited before it was ready")

func waitReady(url string, ready func(int) bool, exited <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	last := errors.New("no answer yet")
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errExited
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if ready(resp.StatusCode) {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v: %v", startTimeout, last)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// baoBinary returns NHI_BAO or the path scripts/bao.sh builds into:
// ${XDG_CACHE_HOME:-$HOME/.cache}/nhi/bao-<sha256(tools/bao/go.sum)[:16]>/bao.
func baoBinary() (string, error) {
	if p := os.Getenv("NHI_BAO"); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			return "", fmt.Errorf("NHI_BAO=%s is not a file", p)
		}
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	sum, err := os.ReadFile(filepath.Join(root, "tools", "bao", "go.sum"))
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(sum)
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home := os.Getenv("HOME")
		if home == "" {
			return "", errors.New("neither XDG_CACHE_HOME nor HOME is set")
		}
		cache = filepath.Join(home, ".cache")
	}
	bin := filepath.Join(cache, "nhi", "bao-"+hex.EncodeToString(h[:])[:16], "bao")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("OpenBao binary not found at %s", bin)
	}
	return bin, nil
}

// repoRoot walks up from the working directory to the directory whose go.mod
// declares module github.com/nhi-inventory/nhi.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				fields := strings.Fields(sc.Text())
				if len(fields) >= 2 && fields[0] == "module" && strings.Trim(fields[1], `"`) == modulePath {
					f.Close()
					return dir, nil
				}
			}
			f.Close()
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod with module %s above %s", modulePath, wd)
		}
	}
}

// syncBuffer collects a server's output for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) tail(lines int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	all := strings.Split(strings.TrimRight(b.buf.String(), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
