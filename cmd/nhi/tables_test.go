package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func widest(s string) (int, string) {
	n, line := 0, ""
	for _, l := range strings.Split(s, "\n") {
		if w := utf8.RuneCountInString(l); w > n {
			n, line = w, l
		}
	}
	return n, line
}

// The default tables of nhi inventory, gaps and scans fit the width they
// are given (NHI_COLUMNS in a pipe, as a terminal's width would), say
// they were cut, and --wide (or a pipe without NHI_COLUMNS) writes every
// column in full, as before.
func TestTablesFitTheWidth(t *testing.T) {
	d := newDemoScope(t)
	cmds := [][]string{{"inventory"}, {"gaps"}, {"scans"}}
	full := map[string]string{}
	for _, c := range cmds {
		code, out, errs := nhi(t, append(c, "--db", d.db)...)
		if code != 0 {
			t.Fatalf("%v: exit %d %s", c, code, errs)
		}
		full[c[0]] = out
		if strings.Contains(out, "cut to") || strings.Contains(out, "next, with") {
			t.Errorf("%v in a pipe was cut or gives advice:\n%s", c, out)
		}
	}
	if n, _ := widest(full["gaps"] + full["inventory"]); n <= 120 {
		t.Fatalf("the demo's tables are only %d columns: too narrow to test fitting", n)
	}
	for _, width := range []int{80, 120} {
		t.Setenv("NHI_COLUMNS", fmt.Sprint(width))
		for _, c := range cmds {
			code, out, errs := nhi(t, append(c, "--db", d.db)...)
			if code != 0 {
				t.Fatalf("%v: exit %d %s", c, code, errs)
			}
			table, _, _ := strings.Cut(out, "next, with") // commands to copy may be longer
			if n, line := widest(table); n > width {
				t.Errorf("%v at %d columns has a line of %d: %q", c, width, n, line)
			}
			if c[0] != "scans" && !strings.Contains(out, fmt.Sprintf("cut to %d columns: --wide shows every column in full", width)) {
				t.Errorf("%v at %d columns does not say it was cut:\n%s", c, width, out)
			}
			if next := "nhi triage accept --db " + d.db + " ID --reason R --expires DATE"; c[0] == "gaps" && !strings.Contains(out, next) {
				t.Errorf("gaps for a person does not end with how to triage by id (%q):\n%s", next, out)
			}
			code, wide, _ := nhi(t, append(c, "--db", d.db, "--wide")...)
			if code != 0 || wide != full[c[0]] && c[0] != "gaps" {
				t.Errorf("%v --wide differs from the piped table (exit %d):\n%s", c, code, wide)
			}
			if c[0] == "gaps" && strings.Contains(wide, "…") {
				// The piped table clips subjects at 40 columns; --wide does not.
				t.Errorf("gaps --wide cut a cell:\n%s", wide)
			}
		}
	}
}

// In a real terminal (tmux, 80 columns) nhi gaps fits it without being
// told the width.
func TestTablesFitARealTerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is needed for the terminal test: install it (apt-get install tmux): %v", err)
	}
	d := newDemoScope(t)
	bin := buildNHI(t)
	sock := fmt.Sprintf("nhi-tables-%d", os.Getpid())
	t.Cleanup(func() { exec.Command("tmux", "-L", sock, "kill-server").Run() })
	script := fmt.Sprintf("NHI_COLUMNS= %s gaps --db %s; echo END-OF-GAPS; sleep 30", bin, d.db)
	if b, err := exec.Command("tmux", "-L", sock, "new-session", "-d", "-s", "t", "-x", "80", "-y", "150", "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := exec.Command("tmux", "-L", sock, "capture-pane", "-p", "-J", "-t", "t").Output()
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if strings.Contains(s, "END-OF-GAPS") {
			table, _, _ := strings.Cut(s, "next, with") // commands to copy may be longer
			if n, line := widest(table); n > 80 {
				t.Errorf("nhi gaps in an 80-column terminal wrote a line of %d: %q", n, line)
			}
			if !strings.Contains(s, "cut to 80 columns") || !strings.Contains(s, "ID  SEVERITY") {
				t.Errorf("nhi gaps in an 80-column terminal:\n%s", s)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nhi gaps never finished in the terminal:\n%s", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
