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

// terminal is the TUI running from the real binary in a real terminal
// (tmux) of a given size.
type terminal struct {
	t      *testing.T
	tmux   func(args ...string) string
	store  *inventory.Store
	dbPath string
}

func startTerminal(t *testing.T, width, height int) *terminal {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is needed for the terminal test: install it (apt-get install tmux): %v", err)
	}
	bin := nhiBinary(t)
	store, dbPath := buildInventory(t)
	sock := fmt.Sprintf("nhi-ui-test-%d-%dx%d", os.Getpid(), width, height)
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
	tmux("new-session", "-d", "-s", "nhi", "-x", fmt.Sprint(width), "-y", fmt.Sprint(height), "-c", dir, "-e", "TERM=xterm-256color",
		fmt.Sprintf("%s tui --db %s --actor e2e; echo TUI-EXITED=$?; sleep 30", bin, dbPath))
	return &terminal{t: t, tmux: tmux, store: store, dbPath: dbPath}
}

func (term *terminal) screen() string { return term.tmux("capture-pane", "-p", "-t", "nhi") }

// waitFor polls until the screen shows every one of what at once: a
// header can change a frame before the table under it is re-read.
func (term *terminal) waitFor(what ...string) string {
	term.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := term.screen()
		all := true
		for _, w := range what {
			all = all && strings.Contains(s, w)
		}
		if all {
			return s
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("the screen never showed %q:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (term *terminal) keys(k ...string) {
	term.tmux(append([]string{"send-keys", "-t", "nhi"}, k...)...)
}

// TestTerminalAcceptRisk runs the real binary in a real terminal (tmux),
// accepts a risk with keystrokes and checks the screen and the database.
func TestTerminalAcceptRisk(t *testing.T) {
	term := startTerminal(t, 120, 40)
	store, waitFor, keys := term.store, term.waitFor, term.keys
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

// TestTerminalSmall walks the views in an 80x24 terminal: the gaps table
// with its id column, an identity whose gaps, facts and decisions do not
// fit on one screen (j follows the selection and then scrolls to the
// end), help, and an owner assigned by keys from the detail view.
func TestTerminalSmall(t *testing.T) {
	term := startTerminal(t, 80, 24)
	waitFor, keys := term.waitFor, term.keys
	waitFor("Readiness per control", "lines 1-")
	keys("2")
	waitFor("ID SEVERITY", "1/9")
	keys("/")
	keys("-l", "deploy-bot")
	waitFor("/deploy-bot", "> 3 ", "4  medium   -    NHI-OWN-01")
	keys("Enter")
	waitFor("status open · /deploy-bot", "1/2")
	keys("Enter")
	waitFor("aws:iam-user deploy-bot", "> #3 high", "lines 1-")
	keys("j")
	waitFor("> #4 medium", "no owner:")
	for i := 0; i < 12; i++ {
		keys("j")
	}
	s := waitFor("Decisions (0)", "Facts", "k/pgup: back up")
	if strings.Contains(s, "> #3") {
		t.Errorf("the selection moved back:\n%s", s)
	}
	keys("?")
	waitFor("Triage (gaps and detail)", "An expired acceptance reopens its gap.")
	keys("Escape")
	waitFor("Decisions (0)", "k/pgup: back up")
	keys("o")
	waitFor("Assign an owner")
	keys("-l", "team-small")
	keys("Enter", "Enter")
	waitFor("in effect now", "Decisions (1)", "team-small")
	keys("q")
	waitFor("TUI-EXITED=0")
	ds, err := term.store.Decisions(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Action != inventory.ActionOwner || ds[0].Value != "team-small" || ds[0].SubjectKey != deployBot {
		t.Fatalf("decisions in the database: %+v", ds)
	}
}
