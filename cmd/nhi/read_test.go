package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// readCommands are every command that reads an inventory (or records a
// decision in one): none of them may create one.
var readCommands = [][]string{
	{"inventory"}, {"gaps"}, {"scans"}, {"tui"},
	{"triage", "list"}, {"triage", "undo", "1"}, {"triage", "owner", "1", "team-x"},
	{"triage", "accept", "1", "--reason", "r", "--expires", "2099-01-01"},
	{"triage", "false-positive", "1", "--reason", "r"},
}

// TestReadCommandsNeverCreateAnInventory: with no database at the path
// (the default ./nhi.db, or a mistyped --db) every read command says so,
// exits 2 and leaves no file behind: no database, no fingerprint key.
func TestReadCommandsNeverCreateAnInventory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("NHI_DB", "")
	for _, cmd := range readCommands {
		code, out, errs := nhi(t, cmd...)
		if want := "nhi: no inventory at ./nhi.db; run nhi scan first\n"; code != exitUsage || errs != want {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want 2 and %q", cmd, code, errs, out, want)
		}
		typo := filepath.Join(dir, "nhi.dbb")
		code, _, errs = nhi(t, append(cmd, "--db", typo)...)
		if code != exitUsage || !strings.Contains(errs, "no inventory at "+typo+"; run nhi scan first") {
			t.Errorf("%v --db %s: exit %d, stderr %q", cmd, typo, code, errs)
		}
		if left, _ := os.ReadDir(dir); len(left) > 0 {
			t.Fatalf("%v left %s behind", cmd, left[0].Name())
		}
	}
	// controls reads no inventory at all.
	if code, _, errs := nhi(t, "controls"); code != 0 {
		t.Errorf("controls without an inventory: exit %d %s", code, errs)
	}
	// nhi scan is the command that creates one.
	p := newPlantedRepo(t)
	if code, _, errs := nhi(t, "scan", "--git", p.repo.Dir); code != 0 {
		t.Fatalf("scan: exit %d %s", code, errs)
	}
	for _, f := range []string{"nhi.db", "nhi.db.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("nhi scan did not create %s: %v", f, err)
		}
	}
}

// TestScanFlagNamesARealScan: every --scan N names a scan of the
// inventory, one that was judged; otherwise it is an error, not an empty
// (and reassuring) "0 gaps".
func TestScanFlagNamesARealScan(t *testing.T) {
	p := newPlantedRepo(t)
	db := filepath.Join(t.TempDir(), "nhi.db")
	if code, _, errs := nhi(t, "scan", "--db", db, "--git", p.repo.Dir); code != 0 {
		t.Fatalf("scan: exit %d %s", code, errs)
	}
	// Scan 2 is killed before it is judged.
	store, err := inventory.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	w, err := store.BeginScan(context.Background(), "test", "digest", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Abandon(context.Background()); err != nil {
		t.Fatal(err)
	}
	store.Close()

	for _, cmd := range [][]string{{"gaps"}, {"inventory"}, {"tui"}} {
		code, out, errs := nhi(t, append(cmd, "--db", db, "--scan", "99")...)
		if code != exitUsage || !strings.Contains(errs, "--scan: no scan 99 in this inventory") || out != "" {
			t.Errorf("%v --scan 99: exit %d, stderr %q, stdout %q", cmd, code, errs, out)
		}
		code, _, errs = nhi(t, append(cmd, "--db", db, "--scan", "-1")...)
		if code != exitUsage || !strings.Contains(errs, "--scan must be a scan number") {
			t.Errorf("%v --scan -1: exit %d, stderr %q", cmd, code, errs)
		}
	}
	for _, cmd := range [][]string{{"gaps"}, {"tui"}} {
		code, _, errs := nhi(t, append(cmd, "--db", db, "--scan", "2")...)
		if code != exitUsage || !strings.Contains(errs, "--scan 2: the scan is incomplete, so it has no gaps") {
			t.Errorf("%v --scan 2 (killed): exit %d, stderr %q", cmd, code, errs)
		}
	}
	// The scans that exist still answer.
	if code, out, errs := nhi(t, "gaps", "--db", db, "--scan", "1"); code != 0 || !strings.Contains(out, "NHI-SEC-01") {
		t.Errorf("gaps --scan 1: exit %d %s %s", code, out, errs)
	}
	if code, out, errs := nhi(t, "inventory", "--db", db, "--scan", "2"); code != 0 || !strings.Contains(out, "scan 2 (incomplete") {
		t.Errorf("inventory --scan 2: exit %d %s %s", code, out, errs)
	}
}
