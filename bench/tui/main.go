// Command tui measures the TUI on a large inventory: it generates an
// inventory of N credentials (default 100,000) with the real store and
// the real readiness engine, then, in a fresh process, reports the time to
// the first frame (open + Init + first data messages + View), the time to
// jump to the last page, and peak memory.
//
//	go run ./bench/tui [-n 100000] [-db /tmp/nhi-bench-tui.db]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
	"github.com/nhi-inventory/nhi/ui"
)

func main() {
	n := flag.Int("n", 100000, "credentials to generate")
	db := flag.String("db", "", "inventory file (default: a temporary file, removed after)")
	measure := flag.Bool("measure", false, "measure an existing inventory (used by the parent run)")
	flag.Parse()
	ctx := context.Background()
	if *measure {
		if err := measureTUI(ctx, *db); err != nil {
			fmt.Fprintln(os.Stderr, "bench-tui:", err)
			os.Exit(1)
		}
		return
	}
	path := *db
	if path == "" {
		dir, err := os.MkdirTemp("", "nhi-bench-tui")
		check(err)
		defer os.RemoveAll(dir)
		path = dir + "/nhi.db"
	}
	if _, err := os.Stat(path); err != nil {
		start := time.Now()
		gaps, err := generate(ctx, path, *n)
		check(err)
		fmt.Printf("generated %d credentials, %d gaps in %s\n", *n, gaps, time.Since(start).Round(time.Millisecond))
	}
	// Measure in a fresh process so peak memory is the TUI's alone.
	self, err := os.Executable()
	check(err)
	cmd := exec.Command(self, "-measure", "-db", path)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	check(cmd.Run())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-tui:", err)
		os.Exit(1)
	}
}

// generate writes n code-secret credentials (10% attached to one of n/20
// IAM users) each with a git occurrence, and evaluates them.
func generate(ctx context.Context, path string, n int) (int, error) {
	store, err := inventory.Open(ctx, path)
	if err != nil {
		return 0, err
	}
	defer store.Close()
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		return 0, err
	}
	w, err := store.BeginScan(ctx, "bench", "bench", time.Minute)
	if err != nil {
		return 0, err
	}
	now := time.Now().UTC()
	users := max(n/20, 1)
	for i := 0; i < users; i++ {
		created := now.AddDate(0, 0, -(i % 900))
		if err := w.PutIdentity(ctx, &inventory.Identity{Key: fmt.Sprintf("arn:aws:iam::123456789012:user/svc-%05d", i), Kind: inventory.KindIAMUser,
			Name: fmt.Sprintf("svc-%05d", i), Source: inventory.SourceAWS, Provider: "aws", Account: "123456789012", CreatedAt: &created}); err != nil {
			return 0, err
		}
	}
	buf := make([]byte, 20)
	for i := 0; i < n; i++ {
		if _, err := rand.Read(buf); err != nil {
			return 0, err
		}
		c := w.Keys().SecretCredential("github-pat", "ghp_"+hex.EncodeToString(buf)[:36], inventory.VaultHardcoded)
		if i%10 == 0 {
			c.IdentityKey = fmt.Sprintf("arn:aws:iam::123456789012:user/svc-%05d", i%users)
		}
		if err := w.PutCredential(ctx, c); err != nil {
			return 0, err
		}
		date := now.AddDate(0, 0, -(i % 1000))
		if err := w.PutOccurrence(ctx, &inventory.Occurrence{CredentialKey: c.Key, Source: inventory.SourceGit,
			Repo: fmt.Sprintf("https://git.example.com/acme/repo-%03d", i%300), Path: fmt.Sprintf("src/config-%d.env", i), Line: 1 + i%80,
			Commit: fmt.Sprintf("%040x", i), Author: fmt.Sprintf("dev%03d", i%500), Email: fmt.Sprintf("dev%03d@example.com", i%500), Date: &date}); err != nil {
			return 0, err
		}
	}
	if err := w.Settle(ctx); err != nil {
		return 0, err
	}
	ids, err := store.Identities(ctx, w.ID())
	if err != nil {
		return 0, err
	}
	creds, err := store.Credentials(ctx, w.ID())
	if err != nil {
		return 0, err
	}
	ev := cat.Evaluate(&rules.Estate{Now: now, Identities: ids, Credentials: creds})
	if err := w.PutEvaluation(ctx, ev); err != nil {
		return 0, err
	}
	if _, err := w.Finish(ctx, nil); err != nil {
		return 0, err
	}
	return len(ev.Gaps), nil
}

// runtime runs commands concurrently and delivers their messages to the
// model one at a time, as bubbletea does, without a terminal.
type teaRuntime struct {
	m        tea.Model
	msgs     chan tea.Msg
	inflight int
}

type noMsg struct{}

func newRuntime(m tea.Model) *teaRuntime { return &teaRuntime{m: m, msgs: make(chan tea.Msg, 64)} }

func (r *teaRuntime) exec(c tea.Cmd) {
	if c == nil {
		return
	}
	r.inflight++
	go func() {
		msg := c()
		if b, ok := msg.(tea.BatchMsg); ok {
			r.msgs <- b // expanded by the loop, which owns inflight
			return
		}
		if msg == nil {
			msg = noMsg{}
		}
		r.msgs <- msg
	}()
}

// run delivers messages until nothing is in flight or stop accepts one.
func (r *teaRuntime) run(stop func(tea.Msg) bool) {
	for r.inflight > 0 {
		msg := <-r.msgs
		r.inflight--
		switch msg := msg.(type) {
		case noMsg, tea.QuitMsg:
		case tea.BatchMsg:
			for _, c := range msg {
				r.exec(c)
			}
		default:
			var next tea.Cmd
			r.m, next = r.m.Update(msg)
			r.exec(next)
			if stop != nil && stop(msg) {
				return
			}
		}
	}
}

// send delivers msg and runs everything that follows from it.
func (r *teaRuntime) send(msg tea.Msg) {
	var next tea.Cmd
	r.m, next = r.m.Update(msg)
	r.exec(next)
	r.run(nil)
}

func keyMsg(s string) tea.Msg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

func measureTUI(ctx context.Context, path string) error {
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		return err
	}
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)

	start := time.Now()
	store, err := inventory.Open(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()
	opened := time.Since(start)
	m := ui.New(ctx, ui.Options{Store: store, Catalogue: cat, Actor: "bench", Renderer: r})
	rt := newRuntime(m)
	rt.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	// The first frame: the overview's summary has arrived.
	rt.exec(m.Init())
	rt.run(func(msg tea.Msg) bool { return fmt.Sprintf("%T", msg) == "ui.overviewMsg" })
	frame := m.View()
	first := time.Since(start)
	if !strings.Contains(ansi.Strip(frame), "Readiness per control") {
		return fmt.Errorf("first frame has no overview:\n%s", frame)
	}
	// Then the gap counts and the first page of the gaps table.
	rt.run(nil)
	_ = m.View()
	complete := time.Since(start)

	t := time.Now()
	rt.send(keyMsg("2"))
	gapsView := ansi.Strip(m.View())
	toGaps := time.Since(t)
	total := ""
	if i := strings.Index(gapsView, "1/"); i >= 0 {
		total = strings.Fields(gapsView[i:])[0]
	}
	t = time.Now()
	rt.send(keyMsg("G"))
	_ = m.View()
	toEnd := time.Since(t)
	t = time.Now()
	for i := 0; i < 20; i++ {
		rt.send(tea.KeyMsg{Type: tea.KeyPgUp})
		_ = m.View()
	}
	scroll := time.Since(t) / 20
	t = time.Now()
	rt.send(keyMsg("/"))
	for _, ch := range "repo-042" { // typed faster than the query delay
		var next tea.Cmd
		_, next = m.Update(keyMsg(string(ch)))
		rt.exec(next)
	}
	rt.run(nil)
	_ = m.View()
	search := time.Since(t)

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("inventory: %s (gaps table position %s)\n", path, total)
	fmt.Printf("open store:          %s\n", opened.Round(time.Microsecond))
	fmt.Printf("time to first frame: %s (open + Init + first data + View, 120x40)\n", first.Round(time.Microsecond))
	fmt.Printf("overview complete:   %s (+ gap counts and the gaps table's first page)\n", complete.Round(time.Microsecond))
	fmt.Printf("switch to gaps:      %s\n", toGaps.Round(time.Microsecond))
	fmt.Printf("jump to last gap:    %s\n", toEnd.Round(time.Microsecond))
	fmt.Printf("page up (mean):      %s\n", scroll.Round(time.Microsecond))
	fmt.Printf("search, 8 keys:      %s (typed at once: one query after a %s pause)\n", search.Round(time.Microsecond), "120ms")
	// getrusage's ru_maxrss survives fork and exec (it would report the
	// generating parent's peak); VmHWM is this process image's own.
	fmt.Printf("peak RSS:            %s; Go heap in use %.1f MiB, total allocated %.1f MiB\n",
		vmHWM(), float64(ms.HeapInuse)/(1<<20), float64(ms.TotalAlloc)/(1<<20))
	return nil
}

// vmHWM is the peak resident set size of this process image, from
// /proc/self/status.
func vmHWM() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				return fmt.Sprintf("%.1f MiB", kb/1024)
			}
		}
	}
	return "unknown"
}
