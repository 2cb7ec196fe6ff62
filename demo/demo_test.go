package demo_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/demo"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/ci"
	"github.com/nhi-inventory/nhi/scanner/git"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// runs is how many estates TestDemoIsDeterministic generates. A value
// that breaks the file it is planted in shows in a few percent of runs
// (a password beginning with `!` or `#` in a YAML file, `%` or `#` in a
// URL): fifty runs find each such value with a high probability.
const runs = 50

// TestDemoIsDeterministic generates the demo estate again and again, with
// fresh secrets each time, and scans its repositories and CI directory
// with the git and CI sources `make demo` runs: every run must give the
// same inventory (pipelines, references, hard-coded secrets by rule,
// failures) and find every secret the demo planted.
func TestDemoIsDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and scans the demo estate 50 times")
	}
	t.Parallel()
	ctx := context.Background()
	now := time.Now().UTC()
	cache := git.NewChangeCache()
	var want []string
	for i := range runs {
		e, err := demo.Generate(filepath.Join(t.TempDir(), "estate"), now)
		if err != nil {
			t.Fatal(err)
		}
		sources := []scanner.Source{ci.NewDir(e.CIDir, ci.Options{})}
		repos := &gitrepo.Repos{CacheDir: t.TempDir()}
		for _, r := range e.Repos {
			sources = append(sources, git.New(r, repos, git.Options{Cache: cache}), ci.NewRepo(r, repos, ci.Options{}))
		}
		got := summary(t, ctx, sources, e)
		if want == nil {
			want = got
			t.Logf("the demo estate:\n%s", strings.Join(want, "\n"))
			for _, l := range want {
				if strings.Contains(l, "NOT FOUND") || strings.Contains(l, "error ") || strings.HasPrefix(l, "source ") && !strings.Contains(l, ": ok") {
					t.Errorf("run 1: %s", l)
				}
			}
			continue
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("run %d differs from run 1:\n%s", i+1, diff(want, got))
		}
	}
}

// summary scans sources into a fresh inventory and describes what it
// holds, the estate's directory left out.
func summary(t *testing.T, ctx context.Context, sources []scanner.Source, e *demo.Estate) []string {
	t.Helper()
	st, err := inventory.Open(ctx, filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err := st.BeginScan(ctx, "test", "test", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scanner.Run(ctx, w, sources, scanner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	scan, err := w.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range res {
		out = append(out, fmt.Sprintf("source %s: %s %s", strings.ReplaceAll(r.Name, e.Dir, "ESTATE"), r.Status, r.Error))
		for _, ie := range r.ItemErrors {
			out = append(out, fmt.Sprintf("  error %s: %s", ie.Item, strings.ReplaceAll(ie.Error, e.Dir, "ESTATE")))
		}
	}
	ids, err := st.Identities(ctx, scan.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if id.Identity.Kind == inventory.KindCIWorkflow {
			out = append(out, "pipeline "+strings.ReplaceAll(id.Identity.Key, e.Dir, "ESTATE"))
		}
	}
	creds, err := st.Credentials(ctx, scan.ID)
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string]int{}
	found := map[string]bool{}
	for _, c := range creds {
		byType[c.Credential.Type]++
		found[c.Credential.Fingerprint] = true
	}
	for typ, n := range byType {
		out = append(out, fmt.Sprintf("credentials %s: %d", typ, n))
	}
	for _, p := range e.Planted {
		status := "found"
		if !found[st.Keys().Fingerprint(p.Value.Reveal())] {
			status = "NOT FOUND"
		}
		out = append(out, fmt.Sprintf("planted %s in %s: %s", p.Kind, p.Where, status))
	}
	sort.Strings(out)
	return out
}

// diff lists the lines only one of two sorted summaries has.
func diff(want, got []string) string {
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var out []string
	for _, s := range want {
		if !g[s] {
			out = append(out, "- "+s)
		}
	}
	for _, s := range got {
		if !w[s] {
			out = append(out, "+ "+s)
		}
	}
	return strings.Join(out, "\n")
}
