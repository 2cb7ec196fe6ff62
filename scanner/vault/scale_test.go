package vault_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner/vault"
)

// A wide and deep tree is walked completely, with bounded parallelism.
func TestScanVaultManySecrets(t *testing.T) {
	const n = 300
	srv := harness.Vault(t)
	root := client(t, srv.Addr, srv.RootToken)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p := fmt.Sprintf("secret/data/team-%d/svc-%d/env-%d/key-%d", i%7, i%13, i%3, i)
			if _, err := root.Logical().Write(p, map[string]any{"data": map[string]any{"v": harness.Password(20)}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, conc := range []int{1, 8} {
		start := time.Now()
		r := scanInto(t, vault.New(vault.Options{Address: srv.Addr, Token: srv.RootToken, Concurrency: conc, Fingerprint: true}))
		took := time.Since(start)
		if r.results[0].Status != inventory.SourceOK || len(r.results[0].ItemErrors) != 0 {
			t.Fatalf("source %+v", r.results[0])
		}
		if got := r.results[0].Stats["kv_secrets"]; got != n {
			t.Fatalf("concurrency %d: %d secrets, want %d", conc, got, n)
		}
		t.Logf("concurrency %d: %d secrets (metadata + value read each) in %v", conc, n, took.Round(time.Millisecond))
	}
}
