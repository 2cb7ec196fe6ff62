package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tuiScreens runs `nhi tui` (the real binary) on db in a real terminal
// (tmux, wide and tall so that nothing is cut before it is grepped) and
// returns every screen it visits: the overview, the gaps table, and for
// each search the filtered table and the details of its first two gaps
// (the credential, its gaps, occurrences, facts and decisions), each of
// their gaps expanded in turn.
// The TUI writes only to the terminal, so the captures are what a user
// sees of it. The mechanics are ui/tmux_test.go's.
func tuiScreens(t *testing.T, db string, searches ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is needed for the terminal test: install it (apt-get install tmux): %v", err)
	}
	bin := buildNHI(t)
	sock := fmt.Sprintf("nhi-leak-%d", os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-L", sock, "kill-server").Run() })
	tmux("new-session", "-d", "-s", "nhi", "-x", "220", "-y", "80", "-c", t.TempDir(), "-e", "TERM=xterm-256color",
		fmt.Sprintf("%s tui --db %s --actor leak; echo TUI-EXITED=$?; sleep 30", bin, db))
	var screens []string
	screen := func() string { return tmux("capture-pane", "-p", "-J", "-t", "nhi") }
	waitUntil := func(what string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			s := screen()
			if ok(s) {
				screens = append(screens, s)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the screen never showed %s:\n%s", what, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor := func(what ...string) {
		t.Helper()
		waitUntil(fmt.Sprintf("%q", what), func(s string) bool {
			for _, w := range what {
				if !strings.Contains(s, w) {
					return false
				}
			}
			return true
		})
	}
	keys := func(k ...string) { tmux(append([]string{"send-keys", "-t", "nhi"}, k...)...) }

	waitFor("Readiness per control")
	keys("2")
	waitFor("SEVERITY")
	for _, q := range searches {
		keys("x", "/")
		keys("-l", q)
		keys("Enter")
		// The filtered table once read (the status line ends with the
		// selected row of how many, or "0 gaps"): a search that finds
		// nothing means the inventory lacks what the test looks at.
		count := regexp.MustCompile(regexp.QuoteMeta("/"+q) + ` +(?:\d+/\d+|(0) gaps)\b`)
		waitUntil("the table filtered by "+q, func(s string) bool { return count.MatchString(s) && !strings.Contains(s, "loading…") })
		if m := count.FindStringSubmatch(screens[len(screens)-1]); m[1] == "0" {
			t.Fatalf("the TUI found no gap for %q: the inventory lacks what the test means to look at:\n%s", q, screens[len(screens)-1])
		}
		// The details of the first two gaps found, each of their gaps
		// selected (and so expanded) in turn.
		for row := 0; row < 2; row++ {
			if row > 0 {
				keys("j")
			}
			keys("Enter")
			waitFor("Decisions (")
			for i := 0; i < 6; i++ {
				keys("j")
				screens = append(screens, screen())
			}
			keys("Escape")
			waitFor("SEVERITY")
		}
	}
	keys("q")
	waitFor("TUI-EXITED=0")
	return screens
}
