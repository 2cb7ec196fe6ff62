// Command diff measures nhi diff on a large inventory: it writes two
// scans of N credentials (default 100,000) through the real store and the
// real readiness service, the second with 1% of the credentials gone and
// 1% new (each with a new leak and its gaps), then, in a fresh process,
// times Store.Diff between them and reports its peak memory. The goal
// (issue 15) is under 2 s and bounded memory.
//
//	go run -tags gore2regex ./bench/diff [-n 100000] [-db /tmp/nhi-bench-diff.db]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/readiness"
	"github.com/nhi-inventory/nhi/report"
	"github.com/nhi-inventory/nhi/rules"
)

const repos = 300

func main() {
	n := flag.Int("n", 100000, "credentials per scan")
	db := flag.String("db", "", "inventory file (default: a temporary file, removed after)")
	measure := flag.Bool("measure", false, "measure an existing inventory (used by the parent run)")
	flag.Parse()
	ctx := context.Background()
	if *measure {
		check(measureDiff(ctx, *db))
		return
	}
	path := *db
	if path == "" {
		dir, err := os.MkdirTemp("", "nhi-bench-diff")
		check(err)
		defer os.RemoveAll(dir)
		path = dir + "/nhi.db"
	}
	if _, err := os.Stat(path); err != nil {
		start := time.Now()
		check(generate(ctx, path, *n))
		fmt.Printf("generated two scans of %d credentials in %s\n", *n, time.Since(start).Round(time.Millisecond))
	}
	self, err := os.Executable()
	check(err)
	cmd := exec.Command(self, "-measure", "-db", path)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	check(cmd.Run())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-diff:", err)
		os.Exit(1)
	}
}

// generate writes scan 1 with credentials 0..n-1 and scan 2 with
// credentials n/100..n+n/100-1: 1% removed, 1% new.
func generate(ctx context.Context, path string, n int) error {
	store, err := inventory.Open(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		return err
	}
	svc := readiness.New(store, readiness.Config{Catalogue: cat})
	secrets := make([]string, n+n/100)
	buf := make([]byte, 20)
	for i := range secrets {
		if _, err := rand.Read(buf); err != nil {
			return err
		}
		secrets[i] = "ghp_" + hex.EncodeToString(buf)[:36]
	}
	for scan, first := range []int{0, n / 100} {
		w, err := store.BeginScan(ctx, "bench", "bench", time.Minute)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		for i := first; i < first+n; i++ {
			target := fmt.Sprintf("git:https://git.example.com/acme/repo-%03d", i%repos)
			c := w.Keys().SecretCredential("github-pat", secrets[i], inventory.VaultHardcoded)
			c.Target = target
			if err := w.PutCredential(ctx, c); err != nil {
				return err
			}
			date := now.AddDate(0, 0, -(i % 1000))
			if err := w.PutOccurrence(ctx, &inventory.Occurrence{CredentialKey: c.Key, Source: inventory.SourceGit, Target: target,
				Repo: target[len("git:"):], Path: fmt.Sprintf("src/config-%d.env", i), Line: 1 + i%80,
				Commit: fmt.Sprintf("%040x", i), Author: fmt.Sprintf("dev%03d", i%500), Email: fmt.Sprintf("dev%03d@example.com", i%500), Date: &date}); err != nil {
				return err
			}
		}
		targets := make([]string, repos)
		for r := range targets {
			targets[r] = fmt.Sprintf("git:https://git.example.com/acme/repo-%03d", r)
		}
		res := []inventory.SourceResult{{Name: "git", Kind: inventory.SourceGit, Targets: targets, Status: inventory.SourceOK}}
		if _, err := svc.FinishScan(ctx, w, res, now, nil); err != nil {
			return fmt.Errorf("scan %d: %w", scan+1, err)
		}
	}
	return nil
}

func measureDiff(ctx context.Context, path string) error {
	store, err := inventory.OpenExisting(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()
	from, to, err := store.DiffScans(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	d, err := store.Diff(ctx, from, to)
	if err != nil {
		return err
	}
	took := time.Since(start)
	// Render it too, as nhi diff --format json does.
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	if err := report.WriteDiff(devnull, d, "json"); err != nil {
		return err
	}
	total := time.Since(start)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("nhi diff scan %d..%d: %s, %d items (%d new credentials, %d removed, %d leaks, %d gaps opened, %d resolved)\n",
		from, to, report.DiffHeadline(d), len(d.Items()), len(d.NewCredentials), len(d.RemovedCredentials), len(d.Leaks), len(d.GapsOpened), len(d.GapsResolved))
	fmt.Printf("diff: %s (with JSON rendering %s; goal < 2s), peak RSS %.0f MiB, heap allocated in total %.0f MiB\n",
		took.Round(time.Millisecond), total.Round(time.Millisecond), peakRSS(), float64(ms.TotalAlloc)/(1<<20))
	return nil
}

// peakRSS is this process's peak resident set in MiB (VmHWM: per address
// space, so unlike getrusage it does not count the parent's before exec).
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
