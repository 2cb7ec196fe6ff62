package ui

import (
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
)

// fixedNow is the model's clock in tests; scans are dated before it.
var fixedNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func day(s string) *time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return &t
}

const (
	deployBot = "arn:aws:iam::123456789012:user/deploy-bot"
	legacyETL = "arn:aws:iam::123456789012:user/legacy-etl"
	ciDeploy  = "ci:github:payments-api:.github/workflows/deploy.yml"
)

// buildInventory writes a real SQLite inventory with two complete scans
// evaluated by the real readiness engine, and dates the scans before
// fixedNow so views render the same on every run.
func buildInventory(t *testing.T) (*inventory.Store, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nhi.db")
	store, err := inventory.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Secret-shaped values are generated per run, never committed. The
	// goldens do not depend on them: the PAT's keyed fingerprint is masked
	// (stable) and the access key id shows at most as "aws-access-key:AK…".
	pat, keyID := harness.GitHubPAT(), harness.AWSAccessKeyID()

	for scan := 1; scan <= 2; scan++ {
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
		put(w.PutIdentity(ctx, &inventory.Identity{Key: deployBot, Kind: inventory.KindIAMUser, Name: "deploy-bot", Source: inventory.SourceAWS,
			Provider: "aws", Account: "123456789012", CreatedAt: day("2024-01-10"), LastUsedAt: day("2026-05-30"), Privileges: "administrator",
			Tags: map[string]string{"team": "platform"}, Attrs: map[string]any{"admin_policies": []string{"AdministratorAccess"}, "access_keys_active": 1}}))
		put(w.PutIdentity(ctx, &inventory.Identity{Key: legacyETL, Kind: inventory.KindIAMUser, Name: "legacy-etl", Source: inventory.SourceAWS,
			Provider: "aws", Account: "123456789012", CreatedAt: day("2022-03-01"), LastUsedAt: day("2025-10-01")}))
		put(w.PutCredential(ctx, &inventory.Credential{Key: inventory.AccessKeyCredentialKey(keyID), Type: "aws-access-key", IdentityKey: deployBot,
			CreatedAt: day("2025-09-01"), LastRotatedAt: day("2025-09-01"), LastUsedAt: day("2026-05-30"), Status: "Active",
			VaultStatus: inventory.VaultUnknown, Attrs: map[string]any{"access_key_id": keyID}}))
		put(w.PutOccurrence(ctx, &inventory.Occurrence{CredentialKey: inventory.AccessKeyCredentialKey(keyID), Source: inventory.SourceAWS,
			Detail: map[string]any{"user": "deploy-bot"}}))
		c := w.Keys().SecretCredential("github-pat", pat, inventory.VaultHardcoded)
		put(w.PutCredential(ctx, c))
		put(w.PutOccurrence(ctx, &inventory.Occurrence{CredentialKey: c.Key, Source: inventory.SourceGit, Repo: "https://git.example.com/acme/payments-api",
			Path: "deploy/release.sh", Line: 12, Commit: "4f2c9a1b7d3e5f60718293a4b5c6d7e8f9012345", Author: "Dana Ops", Email: "dana@example.com", Date: day("2026-03-02")}))
		if scan == 2 {
			put(w.PutIdentity(ctx, &inventory.Identity{Key: ciDeploy, Kind: inventory.KindCIWorkflow, Name: "deploy", Source: inventory.SourceCI,
				Provider: "github", Attrs: map[string]any{"repo": "payments-api", "file": ".github/workflows/deploy.yml", "static_cloud_keys": []string{"AWS_SECRET_ACCESS_KEY"}}}))
			ref := &inventory.Credential{Key: "ci-ref:payments-api:AWS_SECRET_ACCESS_KEY", Type: "ci-secret-reference", IdentityKey: ciDeploy,
				VaultStatus: inventory.VaultCISecretStore, Attrs: map[string]any{"name": "AWS_SECRET_ACCESS_KEY"}}
			put(w.PutCredential(ctx, ref))
			put(w.PutOccurrence(ctx, &inventory.Occurrence{CredentialKey: ref.Key, Source: inventory.SourceCI, Repo: "payments-api",
				Path: ".github/workflows/deploy.yml", Line: 31, CIJob: "deploy", CIStep: "configure"}))
			kv := &inventory.Credential{Key: "vault:kv/payments/db", Type: "vault-kv", VaultStatus: inventory.VaultVaulted,
				CreatedAt: day("2025-01-01"), LastRotatedAt: day("2025-01-01"), Attrs: map[string]any{"name": "kv/payments/db"}}
			put(w.PutCredential(ctx, kv))
			put(w.PutOccurrence(ctx, &inventory.Occurrence{CredentialKey: kv.Key, Source: inventory.SourceVault, VaultPath: "kv/payments/db"}))
		}
		var results []inventory.SourceResult
		for _, r := range []inventory.SourceResult{
			{Name: "aws:123456789012", Kind: "aws", Status: inventory.SourceOK, Targets: []string{"aws:123456789012"}},
			{Name: "git:payments-api", Kind: "git", Status: inventory.SourceOK, Targets: []string{"git:https://git.example.com/acme/payments-api"}},
			{Name: "git:infra", Kind: "git", Status: inventory.SourceFailed, Error: "clone https://git.example.com/acme/infra: authentication required",
				Targets: []string{"git:https://git.example.com/acme/infra"}},
		} {
			if scan == 1 && r.Status == inventory.SourceFailed {
				r.Status, r.Error = inventory.SourceOK, "" // read in full the first time
			}
			r.StartedAt, r.FinishedAt = fixedNow, fixedNow
			put(w.RecordSource(ctx, r))
			results = append(results, r)
		}
		if _, err := w.ApplyScope(ctx, results); err != nil {
			t.Fatal(err)
		}
		put(w.Settle(ctx))
		ids, err := store.Identities(ctx, w.ID())
		put(err)
		creds, err := store.Credentials(ctx, w.ID())
		put(err)
		ev := cat.Evaluate(&rules.Estate{Now: fixedNow, Identities: ids, Credentials: creds})
		put(w.PutEvaluation(ctx, ev))
		_, err = w.Finish(ctx, nil)
		put(err)
	}
	// Date the scans (BeginScan stamps the wall clock) so renders are stable.
	for id, at := range map[int]string{1: "2026-05-01T10:00:00Z", 2: "2026-05-31T10:00:00Z"} {
		if _, err := store.DB().ExecContext(ctx, `UPDATE scans SET started_at = ?, finished_at = ? WHERE id = ?`, at, at, id); err != nil {
			t.Fatal(err)
		}
	}
	return store, path
}

// newTestModel is a model over store with a fixed clock and no colour.
func newTestModel(t *testing.T, store *inventory.Store, width, height int) *Model {
	t.Helper()
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	m := New(context.Background(), Options{Store: store, Catalogue: cat, Actor: "alice", Now: func() time.Time { return fixedNow }, Renderer: r})
	run(t, m, m.Init())
	run(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: width, Height: height} })
	return m
}

// run executes cmd and every command that follows from it, synchronously,
// feeding each message to Update. It returns true if the program quit.
func run(t *testing.T, m *Model, cmd tea.Cmd) (quit bool) {
	t.Helper()
	queue := []tea.Cmd{cmd}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 10000 {
			t.Fatal("commands never settle")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		case tea.QuitMsg:
			quit = true
		default:
			_, next := m.Update(msg)
			queue = append(queue, next)
		}
	}
	return quit
}

// namedKeys are the keys press takes by name rather than as text.
var namedKeys = map[string]tea.KeyType{
	"enter": tea.KeyEnter, "esc": tea.KeyEsc, "tab": tea.KeyTab, "down": tea.KeyDown,
	"up": tea.KeyUp, "backspace": tea.KeyBackspace, "ctrl+u": tea.KeyCtrlU,
}

// press sends keys ("enter", "esc", "tab", "down", ... or text) to the model.
func press(t *testing.T, m *Model, keys ...string) (quit bool) {
	t.Helper()
	for _, k := range keys {
		msg := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		if typ, ok := namedKeys[k]; ok {
			msg = tea.KeyMsg{Type: typ}
		}
		if run(t, m, func() tea.Msg { return msg }) {
			quit = true
		}
	}
	return quit
}

var (
	fpHex   = regexp.MustCompile(`fp:[0-9a-f]+`)
	keyTail = regexp.MustCompile(`AKIA[0-9A-Z]{1,16}|…[0-9A-Z]{8,20}\b|\b[0-9A-Z]{8,20}\b`)
)

// stable masks the per-run parts of a render (the random secret's keyed
// fingerprint, the random access key id or, cut in the middle, its end)
// keeping widths.
func stable(s string) string {
	s = fpHex.ReplaceAllStringFunc(s, func(m string) string { return "fp:" + strings.Repeat("x", len(m)-3) })
	return keyTail.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "AKIA") {
			// Dashes, not letters: the golden holds no key-shaped value.
			return "AKIA" + strings.Repeat("-", len(m)-4)
		}
		if tail, ok := strings.CutPrefix(m, "…"); ok {
			// The end of a value cut in the middle: the key id's, even
			// when it drew no digit (one in 28).
			return "…" + strings.Repeat("X", len(tail))
		}
		if strings.ContainsAny(m, "0123456789") && strings.ContainsAny(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			return strings.Repeat("X", len(m))
		}
		return m
	})
}
