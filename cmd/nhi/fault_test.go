package main

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/nhi-inventory/nhi/harness"
)

// Fault tests through the real parts: a real nhi process killed with
// SIGKILL at random points of a real scan, damaged and read-only
// inventory files. What was recorded before a fault is never lost or
// changed; a fault is said clearly.

// genHistory appends commits to the repository at dir with git
// fast-import (a few thousand commits in a second): each commit adds or
// changes a few files, one in four with a freshly generated secret. It
// returns the secrets.
func genHistory(t *testing.T, dir, branch string, commits int) []string {
	t.Helper()
	var in bytes.Buffer
	var secrets []string
	parent := ""
	if out, err := exec.Command("git", "-C", dir, "rev-parse", "-q", "--verify", "refs/heads/"+branch).Output(); err == nil {
		parent = strings.TrimSpace(string(out))
	}
	when := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for c := range commits {
		fmt.Fprintf(&in, "commit refs/heads/%s\ncommitter Bot <bot@example.com> %d +0000\ndata <<EOM\ncommit %d\nEOM\n", branch, when+int64(c), c)
		if c == 0 && parent != "" {
			fmt.Fprintf(&in, "from %s\n", parent)
		}
		for f := range 3 {
			body := fmt.Sprintf("# service %d/%d\nname: svc-%d\nreplicas: %d\n%s", c, f, c%97, c%5, strings.Repeat("padding line of configuration\n", 10))
			if f == 0 && c%4 == 0 {
				s := harness.GitHubPAT()
				if c%8 == 0 {
					s = harness.StripeLiveKey()
				}
				secrets = append(secrets, s)
				body += "token: " + s + "\n"
			}
			data := []byte(body)
			fmt.Fprintf(&in, "M 644 inline %s/svc%d/f%d.yml\ndata %d\n%s\n", branch, c%50, f, len(data), data)
		}
	}
	cmd := exec.Command("git", "-C", dir, "fast-import", "--quiet")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git fast-import: %v\n%s", err, out)
	}
	return secrets
}

// sqliteCheck runs PRAGMA integrity_check on the database at path.
func sqliteCheck(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res []string
	rows, err := db.Query(`PRAGMA integrity_check`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		rows.Scan(&s)
		res = append(res, s)
	}
	return strings.Join(res, "; ")
}

type scanRow struct {
	ID     int64  `json:"scan_id"`
	Status string `json:"status"`
	raw    string // all of it as nhi scans prints it
}

func scansOf(t *testing.T, db string) ([]scanRow, bool) {
	t.Helper()
	code, out, errs := nhi(t, "scans", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("nhi scans: exit %d %s", code, errs)
	}
	doc := decode[struct {
		Scans   []json.RawMessage
		ChainOK bool `json:"chain_ok"`
	}](t, out)
	var rows []scanRow
	for _, raw := range doc.Scans {
		r := decode[scanRow](t, string(raw))
		r.raw = string(raw)
		rows = append(rows, r)
	}
	return rows, doc.ChainOK
}

// lockReleased waits (up to 10 s) until no process holds the scan lock
// of db. The kernel releases a killed scan's lock when the last copy of
// its descriptor closes, and a child the scan was starting (git) holds a
// copy from fork to exec: seen once in 40 kills on a loaded machine, the
// scan still read as running right after the kill. Who held it is logged.
func lockReleased(t *testing.T, db string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for logged := false; ; time.Sleep(20 * time.Millisecond) {
		f, err := os.OpenFile(db+".lock", os.O_RDWR, 0)
		if err != nil {
			return // no lock file: nothing holds it
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		f.Close() // releases it too
		if err == nil {
			return
		}
		if !logged {
			t.Logf("the scan lock is held after the kill, by %s", lockHolders(db+".lock"))
			logged = true
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scan lock is still held 10 s after the kill, by %s", lockHolders(db+".lock"))
		}
	}
}

// lockHolders names the processes with path open: pid and command line.
func lockHolders(path string) string {
	var who []string
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && target == path {
			pid := strings.Split(fd, "/")[2]
			cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			who = append(who, fmt.Sprintf("pid %s (%s)", pid, strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")))
		}
	}
	if len(who) == 0 {
		return "no process found"
	}
	return strings.Join(who, ", ")
}

func inventoryText(t *testing.T, db string) string {
	t.Helper()
	code, out, errs := nhi(t, "inventory", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("nhi inventory: exit %d %s", code, errs)
	}
	return out
}

// TestScanKilledAtRandomPoints: a real nhi scan of a real repository of
// a few thousand commits, killed with SIGKILL after a random time, again
// and again for about 20 seconds. After each kill the database passes
// PRAGMA integrity_check, every earlier scan reads as before, the
// inventory (the latest complete scan) is unchanged, and the killed scan
// is incomplete. The scan after the last kill is correct: it finds every
// secret of the history, as a scan into a new database does.
func TestScanKilledAtRandomPoints(t *testing.T) {
	t0 := time.Now()
	// The binary builds while the history is made.
	built := make(chan string, 1)
	go func() {
		bin, err := buildBinary(t.TempDir())
		if err != nil {
			t.Error(err)
		}
		built <- bin
	}()
	r := harness.NewGitRepo(t)
	secrets := genHistory(t, r.Dir, "main", 100)
	db := filepath.Join(t.TempDir(), "nhi.db")
	if code, _, errs := nhi(t, "scan", "--db", db, "--git", r.Dir); code != 0 {
		t.Fatalf("first scan: %s", errs)
	}
	// What the killed scans would add: a larger history on a new branch.
	more := genHistory(t, r.Dir, "more", 1200)
	secrets = append(secrets, more...)
	bin := <-built
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("history made and binary built in %v", time.Since(t0).Round(time.Millisecond))

	// How long an uninterrupted scan of it takes the binary (into a
	// copy of the inventory, so as much is new), to kill within it; the
	// in-process scan is slower under -race.
	full := filepath.Join(t.TempDir(), "full.db")
	if err := os.WriteFile(full, mustRead(t, db), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(full+".key", mustRead(t, db+".key"), 0o600)
	start := time.Now()
	if out, err := exec.Command(bin, "scan", "--db", full, "--git", r.Dir).CombinedOutput(); err != nil {
		t.Fatalf("reference scan: %v %s", err, out)
	}
	took := time.Since(start)
	t.Logf("a full scan of %d secrets takes %v", len(secrets), took.Round(time.Millisecond))

	scans, _ := scansOf(t, db)
	inv := inventoryText(t, db)
	budget := time.Now().Add(20 * time.Second)
	kills, late := 0, 0
	for i := 0; time.Now().Before(budget) || kills < 3; i++ {
		if i > 200 {
			t.Fatal("no kill landed within a scan in 200 tries")
		}
		cmd := exec.Command(bin, "scan", "--db", db, "--git", r.Dir, "--progress", "always")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Anywhere from the start (opening the database) to near the end
		// of a full scan (its last commits, judgement, writing the gaps).
		delay := time.Duration(rand.Int64N(int64(took * 9 / 10)))
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		lockReleased(t, db)

		if got := sqliteCheck(t, db); got != "ok" {
			t.Fatalf("kill %d after %v: integrity_check: %s", i, delay, got)
		}
		now, chainOK := scansOf(t, db)
		if !chainOK {
			t.Fatalf("kill %d after %v: the scan chain is broken", i, delay)
		}
		if len(now) < len(scans) {
			t.Fatalf("kill %d: scans %d, were %d", i, len(now), len(scans))
		}
		// Scans are listed newest first: the earlier ones are the tail.
		for j, s := range scans {
			if got := now[len(now)-len(scans)+j]; got != s {
				t.Fatalf("kill %d after %v: earlier scan changed: %+v, was %+v", i, delay, got, s)
			}
		}
		ws, ok := err.(*exec.ExitError)
		killed := ok && ws.Sys().(syscall.WaitStatus).Signaled()
		switch {
		case !killed:
			// The scan ended before the kill: a complete scan, the new
			// inventory.
			if err != nil || len(now) != len(scans)+1 || now[0].Status != "complete" {
				t.Fatalf("scan not killed: %v %s, scans %+v", err, stderr.String(), now[:1])
			}
			late++
			inv = inventoryText(t, db)
			// More history, for the next kills to land in.
			secrets = append(secrets, genHistory(t, r.Dir, fmt.Sprintf("more%d", i), 400)...)
		case len(now) == len(scans):
			// Killed before its scan row was written (opening the
			// database, reading the configuration).
			if got := inventoryText(t, db); got != inv {
				t.Fatalf("kill %d after %v: the inventory changed", i, delay)
			}
		default:
			kills++
			if len(now) != len(scans)+1 || now[0].Status != "incomplete" && now[0].Status != "complete" {
				t.Fatalf("kill %d after %v: newest scan %+v, want incomplete", i, delay, now[0])
			}
			if now[0].Status == "complete" {
				late++ // finished, then killed while printing
				inv = inventoryText(t, db)
				secrets = append(secrets, genHistory(t, r.Dir, fmt.Sprintf("more%d", i), 400)...)
			} else if got := inventoryText(t, db); got != inv {
				t.Fatalf("kill %d after %v: the inventory of the complete scan changed", i, delay)
			}
		}
		scans = now
	}
	t.Logf("%d kills within a scan, %d scans finished first (%v since the start)", kills, late, time.Since(t0))

	// The next scan is correct: every secret, as a scan from scratch.
	code, out, errs := nhi(t, "scan", "--db", db, "--git", r.Dir, "--format", "json")
	if code != 0 || !strings.Contains(out, `"status": "complete"`) {
		t.Fatalf("scan after the kills: exit %d %s %s", code, out, errs)
	}
	if got := sqliteCheck(t, db); got != "ok" {
		t.Fatalf("integrity_check after the last scan: %s", got)
	}
	// Fingerprints are keyed per inventory: occurrences are compared by
	// type and place.
	places := func(db string) map[string]bool {
		doc := decode[struct {
			Credentials []struct {
				Type        string
				Occurrences []struct {
					Path, Commit string
					Line         int
				}
			}
		}](t, inventoryText(t, db))
		m := map[string]bool{}
		for _, c := range doc.Credentials {
			for _, o := range c.Occurrences {
				m[fmt.Sprintf("%s %s:%d@%s", c.Type, o.Path, o.Line, o.Commit)] = true
			}
		}
		return m
	}
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	if code, _, errs := nhi(t, "scan", "--db", fresh, "--git", r.Dir); code != 0 {
		t.Fatalf("scan from scratch: %s", errs)
	}
	got, want := places(db), places(fresh)
	if len(want) < len(secrets) {
		t.Fatalf("a scan from scratch finds %d occurrences of %d planted secrets", len(want), len(secrets))
	}
	for p := range want {
		if !got[p] {
			t.Errorf("after the kills the inventory lacks %s", p)
		}
	}
	if len(got) != len(want) {
		t.Errorf("after the kills the inventory has %d occurrences, a scan from scratch %d", len(got), len(want))
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fileDigest is the SHA-256 of the file at path, "" when absent.
func fileDigest(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// scannedInventory is a small scanned inventory and the repository.
func scannedInventory(t *testing.T) (db string, repo *plantedRepo) {
	p := newPlantedRepo(t)
	db = filepath.Join(t.TempDir(), "nhi.db")
	if code, _, errs := nhi(t, "scan", "--db", db, "--git", p.repo.Dir); code != 0 {
		t.Fatalf("scan: %s", errs)
	}
	return db, p
}

// copyInventory copies the database and its key to dir.
func copyInventory(t *testing.T, db, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, "copy.db")
	for _, suffix := range []string{"", ".key"} {
		b, err := os.ReadFile(db + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestDamagedInventoryIsRefused: garbage written into a copy of an
// inventory (over its header, or over pages in the middle) makes every
// command that would write refuse it, saying it is damaged and what to do;
// the file is never written (its bytes stay the same, no WAL appears).
func TestDamagedInventoryIsRefused(t *testing.T) {
	db, p := scannedInventory(t)
	for _, c := range []struct {
		name string
		off  int64
	}{{"header", 0}, {"pages", 8 << 10}} {
		t.Run(c.name, func(t *testing.T) {
			cp := copyInventory(t, db, t.TempDir())
			f, err := os.OpenFile(cp, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			garbage := make([]byte, 4096)
			for i := range garbage {
				garbage[i] = byte(rand.IntN(256))
			}
			if _, err := f.WriteAt(garbage, c.off); err != nil {
				t.Fatal(err)
			}
			f.Close()
			before := fileDigest(t, cp)
			for _, args := range [][]string{
				{"scan", "--db", cp, "--git", p.repo.Dir},
				{"scan", "--db", cp, "--git", p.repo.Dir, "--format", "json"},
			} {
				code, out, errs := nhi(t, args...)
				if code != exitUsage || !strings.Contains(errs, "inventory "+cp+" is damaged") || !strings.Contains(errs, "restore it from a backup") {
					t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and the inventory is damaged", args, code, out, errs)
				}
				if got := fileDigest(t, cp); got != before {
					t.Fatalf("%v wrote to the damaged inventory", args)
				}
				if fileDigest(t, cp+"-wal") != "" {
					t.Fatalf("%v left a write-ahead log on the damaged inventory", args)
				}
			}
			// A read-only command never writes either, whatever it says.
			nhi(t, "inventory", "--db", cp)
			nhi(t, "scans", "--db", cp)
			if got := fileDigest(t, cp); got != before {
				t.Fatal("reading the damaged inventory wrote to it")
			}
		})
	}
}

// TestReadOnlyInventoryIsRefused: an inventory the user cannot write
// (mode 0400; for root, which writes through modes, a process of the
// nobody user on a file it owns read-only) is refused by nhi scan with a
// message saying why and what to do, and is not changed.
func TestReadOnlyInventoryIsRefused(t *testing.T) {
	db, p := scannedInventory(t)
	bin := buildNHI(t)
	// A directory every user can enter: t.TempDir's parents are 0700.
	dir, err := os.MkdirTemp("", "nhi-readonly-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cp := copyInventory(t, db, dir)
	repo := filepath.Join(dir, "repo")
	if out, err := exec.Command("git", "clone", "-q", p.repo.Dir, repo).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v %s", err, out)
	}
	exe := filepath.Join(dir, "nhi")
	if b, err := os.ReadFile(bin); err != nil || os.WriteFile(exe, b, 0o755) != nil {
		t.Fatal("copy the binary")
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		const nobody = 65534
		cred = &syscall.Credential{Uid: nobody, Gid: nobody}
		filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, nobody, nobody) })
	}
	for _, f := range []string{cp, cp + ".key"} {
		if err := os.Chmod(f, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o755)
	before := fileDigest(t, cp)
	cmd := exec.Command(exe, "scan", "--db", cp, "--git", repo)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CACHE_HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitUsage || !strings.Contains(stderr.String(), "inventory "+cp+" cannot be written") ||
		!strings.Contains(stderr.String(), "fix its permissions, or copy it") {
		t.Fatalf("scan of a read-only inventory: %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
	if got := fileDigest(t, cp); got != before {
		t.Fatal("the read-only inventory changed")
	}
	t.Logf("refused: %s", strings.TrimSpace(stderr.String()))
}
