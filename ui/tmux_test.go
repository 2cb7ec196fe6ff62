package ui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// TestTerminalAcceptRisk runs the real binary in a real terminal (tmux),
// accepts a risk with keystrokes and checks the screen and the database.
func TestTerminalAcceptRisk(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is needed for the terminal test: install it (apt-get install tmux): %v", err)
	}
	bin := nhiBinary(t)
	store, dbPath := buildInventory(t)
	sock := fmt.Sprintf("nhi-ui-test-%d", os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-L", sock, "kill-server").Run() })
	dir := t.TempDir()
	tmux("new-session", "-d", "-s", "nhi", "-x", "120", "-y", "40", "-c", dir, "-e", "TERM=xterm-256color",
		fmt.Sprintf("%s tui --db %s --actor e2e; echo TUI-EXITED=$?; sleep 30", bin, dbPath))
	screen := func() string { return tmux("capture-pane", "-p", "-t", "nhi") }
	// waitFor polls until the screen shows every one of what at once: a
	// header can change a frame before the table under it is re-read.
	waitFor := func(what ...string) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			s := screen()
			all := true
			for _, w := range what {
				all = all && strings.Contains(s, w)
			}
			if all {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("the screen never showed %q:\n%s", what, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	keys := func(k ...string) { tmux(append([]string{"send-keys", "-t", "nhi"}, k...)...) }

	waitFor("Readiness per control")
	keys("2")
	waitFor("SEVERITY")
	keys("/")
	keys("-l", "github-pat")
	waitFor("NHI-OWN-01")
	keys("Enter")
	waitFor("1/3") // the secret's three gaps, the worst (NHI-SEC-01) selected
	keys("a")
	waitFor("Accept the risk")
	expires := time.Now().AddDate(0, 6, 0).Format("2006-01-02")
	keys("-l", "vendor rotation in progress")
	keys("Tab", "C-u")
	keys("-l", expires)
	keys("Enter")
	waitFor("accepted by e2e until " + expires)
	waitFor("1/2") // the open table re-read: the secret's NHI-SEC-02 and owner gaps are left
	// An owner takes effect at once: the owner gap leaves the open table.
	keys("j", "o")
	waitFor("Assign an owner")
	keys("-l", "team-e2e")
	keys("Enter", "Enter")
	waitFor("in effect now")
	waitFor("1/1")
	keys("t")
	// The accepted table: the secret's NHI-SEC-01 gap, and not the open
	// NHI-SEC-02 left in the open table.
	s := waitFor("status accepted", "NHI-SEC-01 accepted")
	if strings.Contains(s, "NHI-SEC-02") {
		t.Errorf("the accepted table shows an open gap:\n%s", s)
	}
	keys("q")
	waitFor("TUI-EXITED=0")
	ds, err := store.Decisions(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Action != inventory.ActionOwner || ds[0].Value != "team-e2e" || ds[0].Actor != "e2e" {
		t.Fatalf("decisions in the database: %+v", ds)
	}
	if a := ds[1]; a.Action != inventory.ActionAcceptRisk || a.Actor != "e2e" || a.Reason != "vendor rotation in progress" ||
		a.ControlID != "NHI-SEC-01" || a.ExpiresAt.Format("2006-01-02") != expires {
		t.Fatalf("decisions in the database: %+v", ds)
	}
}
