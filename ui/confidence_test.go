package ui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
)

// TestConfidenceShown: in a real inventory holding a live-looking token and
// a documentation example of one (low confidence, evaluated by the real
// controls), the gaps table at 80 columns shows each gap's confidence
// between its severity and its control (the example's secret gaps at low
// severity and low confidence), and the credential's detail names its
// confidence and why; nothing is wider than the terminal.
func TestConfidenceShown(t *testing.T) {
	ctx := context.Background()
	store, err := inventory.Open(ctx, filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := store.BeginScan(ctx, "test", "digest", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	put := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	const wf = "ci:workflow:app:.github/workflows/test.yml"
	put(w.PutIdentity(ctx, &inventory.Identity{Key: wf, Kind: inventory.KindCIWorkflow, Name: "test", Source: inventory.SourceCI, Provider: "github-actions"}))
	for _, c := range []struct{ path, conf, why, identity string }{
		{"deploy/release.sh", "", "", ""}, {"docs/setup.md", "low", "documentation", ""},
		{".github/workflows/test.yml", "low", "weak or default value", wf}, // a service's default password
	} {
		cr := w.Keys().SecretCredential("github-pat", harness.GitHubPAT(), inventory.VaultHardcoded)
		if c.conf != "" {
			cr.Attrs = map[string]any{inventory.AttrConfidence: c.conf, inventory.AttrConfidenceReason: c.why}
		}
		cr.IdentityKey = c.identity
		put(w.PutCredential(ctx, cr))
		put(w.PutOccurrence(ctx, &inventory.Occurrence{CredentialKey: cr.Key, Source: inventory.SourceGit, Repo: "https://git.example.com/acme/app",
			Path: c.path, Line: 4, Commit: "4f2c9a1b7d3e5f60718293a4b5c6d7e8f9012345", Author: "Dana Ops", Email: "dana@example.com", Date: day("2026-03-02")}))
	}
	res := []inventory.SourceResult{{Name: "git:app", Kind: "git", Status: inventory.SourceOK, Targets: []string{"git:https://git.example.com/acme/app"},
		StartedAt: fixedNow, FinishedAt: fixedNow}}
	put(w.RecordSource(ctx, res[0]))
	if _, err := w.ApplyScope(ctx, res); err != nil {
		t.Fatal(err)
	}
	put(w.Settle(ctx))
	creds, err := store.Credentials(ctx, w.ID())
	put(err)
	ids, err := store.Identities(ctx, w.ID())
	put(err)
	put(w.PutEvaluation(ctx, cat.Evaluate(&rules.Estate{Now: fixedNow, Identities: ids, Credentials: creds})))
	_, err = w.Finish(ctx, nil)
	put(err)

	m := newTestModel(t, store, 80, 24)
	press(t, m, "2")
	out := m.View()
	checkFrame(t, "gaps", out, 80, 24)
	lines := strings.Split(out, "\n")
	if head := strings.Fields(lines[2]); len(head) < 3 || head[1] != "SEVERITY" || head[2] != "CONF" {
		t.Fatalf("gaps heading %q", lines[2])
	}
	// Per gap: severity, confidence, control.
	got := map[string]int{}
	for _, l := range lines[3:] {
		f := strings.Fields(strings.TrimPrefix(l, "> "))
		if len(f) >= 4 && strings.HasPrefix(f[3], "NHI-") {
			got[f[1]+" "+f[2]+" "+f[3]]++
		}
	}
	for k, n := range map[string]int{
		"high high NHI-SEC-01": 1, "high high NHI-SEC-02": 1, "low low NHI-SEC-01": 2, "low low NHI-SEC-02": 2,
		"medium high NHI-OWN-01": 1, "medium low NHI-OWN-01": 1, "medium - NHI-OWN-01": 1,
	} {
		if got[k] != n {
			t.Errorf("rows %q: %d, want %d (rows %v)\n%s", k, got[k], n, got, out)
		}
	}

	press(t, m, "/", "NHI-SEC-01", "enter")
	for i := 0; i < m.gaps.total; i++ {
		if g := m.gaps.selected(); g != nil && g.Severity == "low" {
			break
		}
		press(t, m, "j")
	}
	press(t, m, "enter")
	out = m.View()
	checkFrame(t, "detail", out, 80, 24)
	if !strings.Contains(out, "confidence low (documentation)") || !strings.Contains(out, "low confidence (documentation)") {
		t.Errorf("the example's detail does not name its confidence:\n%s", out)
	}
	if strings.Contains(out, "confidence reason") {
		t.Errorf("the confidence is repeated among the facts:\n%s", out)
	}

	// The pipeline's credentials list their confidence.
	m = newTestModel(t, store, 80, 24)
	press(t, m, "2", "/", "test", "enter", "enter")
	if out = m.View(); !strings.Contains(out, "vault hardcoded · confidence low") {
		t.Errorf("the pipeline's credential does not show its confidence:\n%s", out)
	}
}
