// Command evidence measures nhi evidence export and verify on a large
// history: N credentials (default 100,000) of N/5 identities present in
// each of D daily scans (default 90), with gaps opening, resolving and
// reopening across the period, per-control results for every scan and
// risk acceptances. The scans are real (BeginScan/Finish: the hash chain
// is the one nhi writes, dated by Store.SetClock); the rows are bulk
// inserted in SQL, as 90 real scans of 100,000 credentials would take an
// hour to write. Then, in a fresh process, it times the export and the
// verification and reports peak memory. The goal (issue 16) is an export
// under 30 s with bounded memory.
//
//	go run -tags gore2regex ./bench/evidence [-n 100000] [-days 90] [-db /tmp/nhi-bench-evidence.db]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nhi-inventory/nhi/evidence"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
)

func main() {
	n := flag.Int("n", 100000, "credentials")
	days := flag.Int("days", 90, "daily scans")
	db := flag.String("db", "", "inventory file (default: a temporary file, removed after)")
	measure := flag.Bool("measure", false, "measure an existing inventory (used by the parent run)")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the export to this file")
	flag.Parse()
	ctx := context.Background()
	if *measure {
		if *profile != "" {
			pf, err := os.Create(*profile)
			check(err)
			check(pprof.StartCPUProfile(pf))
			defer pprof.StopCPUProfile()
		}
		check(measureExport(ctx, *db))
		return
	}
	path := *db
	if path == "" {
		dir, err := os.MkdirTemp("", "nhi-bench-evidence")
		check(err)
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "nhi.db")
	}
	if _, err := os.Stat(path); err != nil {
		start := time.Now()
		check(generate(ctx, path, *n, *days))
		fmt.Printf("generated %d daily scans of %d credentials in %s\n", *days, *n, time.Since(start).Round(time.Millisecond))
	}
	self, err := os.Executable()
	check(err)
	cmd := exec.Command(self, "-measure", "-db", path, "-cpuprofile", *profile)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	check(cmd.Run())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-evidence:", err)
		os.Exit(1)
	}
}

var day0 = time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)

func generate(ctx context.Context, path string, n, days int) error {
	store, err := inventory.Open(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		return err
	}
	var at time.Time
	store.SetClock(func() time.Time { return at })
	const target = "git:https://git.example.com/acme/monorepo"
	for d := 0; d < days; d++ {
		at = day0.AddDate(0, 0, d)
		w, err := store.BeginScan(ctx, "bench", "bench-config", time.Minute)
		if err != nil {
			return err
		}
		if err := w.RecordSource(ctx, inventory.SourceResult{Name: "git", Kind: inventory.SourceGit, Targets: []string{target},
			Status: inventory.SourceOK, StartedAt: at, FinishedAt: at.Add(time.Minute)}); err != nil {
			return err
		}
		if _, err := w.ApplyScope(ctx, []inventory.SourceResult{{Name: "git", Kind: inventory.SourceGit, Targets: []string{target}, Status: inventory.SourceOK}}); err != nil {
			return err
		}
		at = at.Add(2 * time.Minute)
		if _, err := w.Finish(ctx, nil); err != nil {
			return err
		}
	}
	db := store.DB()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	exec := func(q string, rows int, args func(i int) []any) error {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer st.Close()
		for i := 0; i < rows; i++ {
			if _, err := st.ExecContext(ctx, args(i)...); err != nil {
				return fmt.Errorf("%s: %w", q[:40], err)
			}
		}
		return nil
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	last := days
	nIDs := n / 5
	spread := min(20, days)
	if err := exec(`INSERT INTO identities(id, key, kind, name, source, provider, account, owner, owner_source, created_at, last_used_at,
		privileges, target, first_seen_scan, last_seen_scan, seen_scan) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, nIDs, func(i int) []any {
		owner, src := "", ""
		if i%3 != 0 {
			owner, src = fmt.Sprintf("team-%02d", i%40), "tag:owner"
		}
		return []any{i + 1, fmt.Sprintf("arn:aws:iam::111122223333:user/svc-%06d", i), inventory.KindIAMUser, fmt.Sprintf("svc-%06d", i), "aws", "aws",
			"111122223333", owner, src, ts(day0.AddDate(0, 0, -(i % 700))), ts(day0.AddDate(0, 0, days-(i%60))), "limited", "aws:111122223333", 1 + i%spread, last, last}
	}); err != nil {
		return err
	}
	if err := exec(`INSERT INTO credentials(id, key, type, identity_id, created_at, last_rotated_at, last_used_at, status, vault_status, fingerprint,
		redacted, owner, owner_source, target, first_seen_scan, last_seen_scan, seen_scan) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, n, func(i int) []any {
		created := day0.AddDate(0, 0, -(i % 400))
		return []any{i + 1, fmt.Sprintf("fp:%064x", i), "github-pat", 1 + i%nIDs, ts(created), ts(created), ts(day0.AddDate(0, 0, days-(i%90))), "active",
			inventory.VaultHardcoded, fmt.Sprintf("%064x", i), fmt.Sprintf("ghp_…%04x", i%65536), "", "", target, 1 + i%spread, last, last}
	}); err != nil {
		return err
	}
	if err := exec(`INSERT INTO occurrences(credential_id, okey, source, repo, path, line, commit_sha, author, email, date, target, first_seen_scan, last_seen_scan, seen_scan)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, n, func(i int) []any {
		return []any{i + 1, strconv.Itoa(i), "git", "https://git.example.com/acme/monorepo", fmt.Sprintf("svc/%d/config.env", i), 1 + i%80,
			fmt.Sprintf("%040x", i), fmt.Sprintf("dev%03d", i%500), fmt.Sprintf("dev%03d@example.com", i%500), ts(day0.AddDate(0, 0, -(i % 900))), target, 1 + i%spread, last, last}
	}); err != nil {
		return err
	}
	// Two gaps per credential: it is in code (all of them) and, for half,
	// not rotated; a tenth of the rotation gaps resolve mid-period and a
	// third of those reopen.
	gapID := 0
	var events [][3]any
	if err := exec(`INSERT INTO gaps(id, control_id, subject_kind, subject_key, subject_name, family, severity, title, detail, frameworks, owner,
		first_seen_scan, last_seen_scan, resolved_scan, judged_scan) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, n+n/2, func(i int) []any {
		gapID++
		cred := i
		control, sev, title := "NHI-SEC-01", "high", "No secret in code or git history"
		if i >= n {
			cred = (i - n) * 2
			control, sev, title = "NHI-ROT-01", "medium", "Access keys are rotated within the rotation period"
		}
		first := 1 + cred%spread
		var resolved any
		lastSeen := last
		events = append(events, [3]any{gapID, first, "opened"})
		if control == "NHI-ROT-01" && cred%10 == 0 {
			r := min(first+20+cred%30, last)
			if r == first {
				r = first + 1
			}
			events = append(events, [3]any{gapID, r, "resolved"})
			if cred%30 == 0 && r+10 <= last {
				events = append(events, [3]any{gapID, r + 10, "reopened"})
			} else {
				resolved, lastSeen = r, r-1
			}
		}
		return []any{gapID, control, inventory.SubjectCredential, fmt.Sprintf("fp:%064x", cred), fmt.Sprintf("ghp_…%04x", cred%65536), "git", sev, title,
			fmt.Sprintf("github-pat in svc/%d/config.env", cred), `{"soc2":["CC6.1"],"nist_csf":["PR.AA-01"],"owasp_nhi":["NHI2"]}`, "", first, lastSeen, resolved, lastSeen}
	}); err != nil {
		return err
	}
	if err := exec(`INSERT INTO gap_events(gap_id, scan_id, event) VALUES(?,?,?)`, len(events), func(i int) []any {
		return []any{events[i][0], events[i][1], events[i][2]}
	}); err != nil {
		return err
	}
	var controls []*rules.Control
	for _, c := range cat.Controls {
		if c.Enabled {
			controls = append(controls, c)
		}
	}
	if err := exec(`INSERT INTO control_results(scan_id, control_id, severity, evaluated, passing) VALUES(?,?,?,?,?)`, days*len(controls), func(i int) []any {
		scan, c := 1+i/len(controls), controls[i%len(controls)]
		return []any{scan, c.ID, c.Severity, n, n - (n/3 + scan*10)}
	}); err != nil {
		return err
	}
	crit := []string{"CC6.1", "CC6.2", "CC6.3", "CC7.1"}
	if err := exec(`INSERT INTO criterion_results(scan_id, framework, criterion, evaluated, passing) VALUES(?,?,?,?,?)`, days*len(crit), func(i int) []any {
		return []any{1 + i/len(crit), "soc2", crit[i%len(crit)], n, n / 2}
	}); err != nil {
		return err
	}
	if err := exec(`INSERT INTO decisions(subject_kind, subject_key, control_id, action, reason, actor, at, expires_at) VALUES(?,?,?,?,?,?,?,?)`, n/50, func(i int) []any {
		return []any{inventory.SubjectCredential, fmt.Sprintf("fp:%064x", i*50), "NHI-SEC-01", inventory.ActionAcceptRisk, "vendor key, rotation scheduled",
			fmt.Sprintf("lead%02d@example.com", i%7), ts(day0.AddDate(0, 0, 30)), ts(day0.AddDate(0, 0, 30+i%120))}
	}); err != nil {
		return err
	}
	return tx.Commit()
}

func measureExport(ctx context.Context, path string) error {
	store, err := inventory.OpenExisting(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "nhi-bench-evidence-out")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	key, pub := filepath.Join(dir, "k.key"), filepath.Join(dir, "k.pub")
	if err := evidence.Keygen(key, pub); err != nil {
		return err
	}
	signer, err := evidence.LoadSigner(key)
	if err != nil {
		return err
	}
	out := filepath.Join(dir, "evidence.tar.gz")
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	start := time.Now()
	m, err := evidence.Export(ctx, store, evidence.Options{ToolVersion: "bench", Catalogue: cat, Signer: signer, TempDir: dir, Trace: os.Stdout}, f)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	took := time.Since(start)
	exportRSS := peakRSS()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st, _ := os.Stat(out)
	var rows int64
	for _, fe := range m.Files {
		rows += fe.Rows
	}
	fmt.Printf("export: %d scans, inventory of scan %d, %d files, %d rows, archive %.1f MiB\n", len(m.Scans), m.InventoryScan, len(m.Files)+2, rows, float64(st.Size())/(1<<20))
	fmt.Printf("export: %s wall, %s CPU (goal < 30s; load average %s), peak RSS %.0f MiB, heap in use %.0f MiB, allocated in total %.0f MiB\n",
		took.Round(time.Millisecond), cpu.Round(time.Millisecond), loadAvg(), exportRSS, float64(ms.HeapInuse)/(1<<20), float64(ms.TotalAlloc)/(1<<20))
	k, err := evidence.LoadPublicKey(pub)
	if err != nil {
		return err
	}
	in, err := os.Open(out)
	if err != nil {
		return err
	}
	defer in.Close()
	start = time.Now()
	if _, err := evidence.Verify(in, k); err != nil {
		return err
	}
	fmt.Printf("verify: %s, peak RSS so far %.0f MiB\n", time.Since(start).Round(time.Millisecond), peakRSS())
	return nil
}

// loadAvg is the machine's one-minute load average: the wall time means
// little on a machine busy with other work.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// peakRSS is this process's peak resident set in MiB (VmHWM).
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
