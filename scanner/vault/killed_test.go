package vault_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/vault"
)

// TestOpenBaoKilledMidScanFailsOnlyItsSource: a real OpenBao dev server
// killed (SIGKILL) once its mounts are listed, while its secrets are
// being read: its source fails within bounded time saying the server
// cannot be reached, and another server's source in the same scan
// completes. The scan's inventory keeps what the killed server's target
// had (here: nothing), as a failed target changes nothing.
func TestOpenBaoKilledMidScanFailsOnlyItsSource(t *testing.T) {
	t.Parallel()
	doomed, other := harness.Vault(t), harness.Vault(t)
	root := client(t, doomed.Addr, doomed.RootToken)
	for i := range 200 {
		write(t, root, fmt.Sprintf("secret/data/app/%03d", i), map[string]any{"data": map[string]any{"password": harness.Password(24)}})
	}
	write(t, client(t, other.Addr, other.RootToken), "secret/data/kept", map[string]any{"data": map[string]any{"password": harness.Password(24)}})

	killed := vault.New(vault.Options{Address: doomed.Addr, Token: doomed.RootToken, Timeout: 5 * time.Second})
	kept := vault.New(vault.Options{Address: other.Addr, Token: other.RootToken, Timeout: 5 * time.Second})
	ctx := context.Background()
	store, err := inventory.Open(ctx, filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sw, err := store.BeginScan(ctx, "test", "test", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := &tap{ScanWriter: sw}
	opts := scanner.Options{Concurrency: 2, OnEvent: func(ev scanner.Event) {
		// Sent from the source's goroutine between listing the mounts
		// and reading them.
		if ev.Source == killed.Name() && strings.HasPrefix(ev.Message, "reading ") {
			doomed.Kill()
		}
	}}
	start := time.Now()
	res, err := scanner.Run(ctx, w, []scanner.Source{killed, kept}, opts)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	sc, err := w.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]inventory.SourceResult{}
	for _, r := range res {
		byName[r.Name] = r
	}
	k, o := byName[killed.Name()], byName[kept.Name()]
	if k.Status != inventory.SourceFailed || !strings.Contains(k.Error, "unreachable") && !strings.Contains(k.Error, "connection refused") {
		t.Errorf("killed server's source: %s %q, want failed as unreachable", k.Status, k.Error)
	}
	if o.Status != inventory.SourceOK {
		t.Errorf("the other server's source: %s %q", o.Status, o.Error)
	}
	// Bounded: the per-request timeout is 5 s, a refused connection is
	// immediate; generous for a loaded machine.
	if took > 60*time.Second {
		t.Errorf("the scan took %v after the server died", took)
	}
	if strings.Contains(k.Error, doomed.RootToken) {
		t.Error("the error carries the token")
	}
	creds, err := store.Credentials(ctx, sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range creds {
		if c.Credential.Target == killed.Target() {
			t.Errorf("credential %s of the killed server is in the inventory of a scan where its target failed", c.Credential.Key)
		}
	}
	t.Logf("failed in %v: %s (item errors %v, stats %v)", took.Round(time.Millisecond), k.Error, k.ItemErrors, k.Stats)
}
