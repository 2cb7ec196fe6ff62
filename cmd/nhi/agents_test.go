package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
	"github.com/nhi-inventory/nhi/ui"
)

// agentEstate is two repositories and a home directory with MCP
// configurations; the secrets are generated here.
type agentEstate struct {
	shop, infra *harness.GitRepo
	home        string
	db, config  string
	secrets     []string
}

func newAgentEstate(t *testing.T) *agentEstate {
	e := &agentEstate{shop: harness.NewGitRepo(t), infra: harness.NewGitRepo(t), home: filepath.Join(t.TempDir(), "home")}
	pat, akid, awsSecret := harness.GitHubPAT(), harness.AWSAccessKeyID(), harness.AWSSecretAccessKey()
	notion := "ntn_" + harness.RandomString("abcdefghijklmnopqrstuvwxyz0123456789", 46)
	oai := "sk-proj-" + harness.RandomString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 74) + "T3BlbkFJ" +
		harness.RandomString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 74)
	// The AWS key id is kept in clear by design (it correlates sources).
	e.secrets = []string{pat, awsSecret, notion, oai}
	e.shop.Commit(alice, "agents for the shop", map[string]string{
		".mcp.json": `{
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "` + pat + `"}
    }
  }
}
`,
		".cursor/mcp.json":   `{"mcpServers": {"linear": {"url": "https://mcp.linear.app/sse", "headers": {"Authorization": "Bearer ${env:LINEAR_TOKEN}"}}}}` + "\n",
		".github/CODEOWNERS": "/.mcp.json @team-shop\n",
	})
	e.infra.Commit(bob, "aws agent", map[string]string{
		".vscode/mcp.json": `{
  // the AWS API server
  "servers": {
    "aws": {
      "command": "uvx",
      "args": ["awslabs.aws-api-mcp-server@latest"],
      "env": {"AWS_ACCESS_KEY_ID": "` + akid + `", "AWS_SECRET_ACCESS_KEY": "` + awsSecret + `", "AWS_REGION": "eu-west-1"},
    },
  },
}
`})
	harness.WriteFiles(t, e.home, map[string]string{
		".claude.json":   `{"numStartups": 3, "mcpServers": {"notion": {"command": "npx", "args": ["-y", "@notionhq/notion-mcp-server@1.8.1"], "env": {"NOTION_TOKEN": "` + notion + `"}}}}` + "\n",
		"proj/.mcp.json": `{"mcpServers": {"openai-tools": {"command": "npx", "args": ["-y", "openai-mcp@2.0.1"], "env": {"OPENAI_API_KEY": "${OPENAI_API_KEY}"}}}}` + "\n",
		"proj/.env":      "OPENAI_API_KEY=" + oai + "\n",
	})
	dir := t.TempDir()
	e.db = filepath.Join(dir, "nhi.db")
	e.config = filepath.Join(dir, "nhi.yaml")
	cfg := "owners:\n  - {match: \"*/home\", owner: team-workstations}\n  - {match: \"" + scannerCanonical(t, e.infra.Dir) + "\", owner: team-infra}\n"
	if err := os.WriteFile(e.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

type agentIdentity struct {
	Key, Kind, Name, Owner string
	OwnerSource            string `json:"owner_source"`
	Attrs                  map[string]any
	Credentials            []int64
}

type agentCred struct {
	ID          int64  `json:"id"`
	Type        string `json:"type"`
	Identity    string `json:"identity"`
	Occurrences []struct {
		Source, Repo, Path, Commit, Author string
		Line                               int
	}
}

// TestAgentEstate: MCP servers configured in two repositories and a home
// directory are identities with their credentials, owners and gaps, in
// the inventory (table, JSON, CSV), the gaps, SARIF and the TUI.
func TestAgentEstate(t *testing.T) {
	e := newAgentEstate(t)
	code, out, errs := nhi(t, "scan", "--db", e.db, "--config", e.config, "--git", e.shop.Dir, "--git", e.infra.Dir, "--path", e.home, "--format", "json")
	if code != 0 {
		t.Fatalf("scan exit %d: %s %s", code, out, errs)
	}
	code, out, errs = nhi(t, "inventory", "--db", e.db, "--config", e.config, "--format", "json")
	if code != 0 {
		t.Fatalf("inventory: %d %s", code, errs)
	}
	inv := decode[struct {
		Identities  []agentIdentity
		Credentials []agentCred
	}](t, out)
	servers := map[string]agentIdentity{}
	for _, i := range inv.Identities {
		if i.Kind == inventory.KindMCPServer {
			servers[i.Name] = i
		}
	}
	// Owners, with the precedence of every identity: CODEOWNERS of the
	// file, owners: rules of nhi.yaml, none.
	for name, want := range map[string]string{"github": "@team-shop/codeowners", "linear": "/", "aws": "team-infra/rule",
		"notion": "team-workstations/rule", "openai-tools": "team-workstations/rule"} {
		s, ok := servers[name]
		if !ok {
			t.Fatalf("no server %s in %v", name, servers)
		}
		if got := s.Owner + "/" + s.OwnerSource; got != want {
			t.Errorf("%s owner %s, want %s", name, got, want)
		}
	}
	credOf := map[string][]agentCred{}
	for _, c := range inv.Credentials {
		credOf[c.Identity] = append(credOf[c.Identity], c)
	}
	// The hard-coded PAT: one credential, the github server's, with the
	// commit that introduced it (git source) and the server's file.
	gh := credOf[servers["github"].Key]
	if len(gh) != 1 || gh[0].Type != "github-pat" {
		t.Fatalf("github server credentials: %+v", gh)
	}
	sources := map[string]bool{}
	for _, o := range gh[0].Occurrences {
		sources[o.Source] = true
		if o.Source == "git" && (o.Author != alice.Name || o.Path != ".mcp.json" || o.Line != 6) {
			t.Errorf("git occurrence %+v", o)
		}
	}
	if !sources["git"] || !sources["agent"] {
		t.Errorf("the PAT is seen by the git and agent sources: %v", sources)
	}
	if c := credOf[servers["openai-tools"].Key]; len(c) != 2 {
		t.Errorf("openai-tools: the .env key it names and its reference: %+v", c)
	}
	if c := credOf[servers["linear"].Key]; len(c) != 1 || c[0].Type != inventory.TypeAgentReference {
		t.Errorf("linear: a reference: %+v", c)
	}

	// Gaps: which server fails which agent control.
	gaps := agentGaps(t, e)
	for ctl, want := range map[string]string{
		"NHI-AGT-01": "aws github notion",
		"NHI-AGT-02": "aws github",
		"NHI-AGT-03": "aws github",
		"NHI-OWN-01": "linear",
	} {
		if got := strings.Join(gaps[ctl], " "); got != want {
			t.Errorf("%s fails %q, want %q", ctl, got, want)
		}
	}

	// A triage decision outranks the rule, as for every identity.
	id := agentGapID(t, e, "NHI-AGT-02", "aws")
	if code, _, errs := nhi(t, "triage", "owner", itoa(id), "carol", "--db", e.db, "--config", e.config, "--actor", "alice"); code != 0 {
		t.Fatalf("triage owner: %s", errs)
	}
	_, out, _ = nhi(t, "inventory", "--db", e.db, "--config", e.config, "--format", "json")
	for _, i := range decode[struct{ Identities []agentIdentity }](t, out).Identities {
		if i.Name == "aws" && i.Kind == inventory.KindMCPServer && (i.Owner != "carol" || i.OwnerSource != "decision") {
			t.Errorf("aws owner after the decision: %s (%s)", i.Owner, i.OwnerSource)
		}
	}

	// Table and CSV name the servers and their credentials.
	_, table, _ := nhi(t, "inventory", "--db", e.db, "--config", e.config)
	_, csv, _ := nhi(t, "inventory", "--db", e.db, "--config", e.config, "--format", "csv")
	for _, want := range []string{"ai:mcp-server", "github", "notion", "openai-tools", "ghp_****(40)"} {
		if !strings.Contains(table, want) {
			t.Errorf("inventory table lacks %q", want)
		}
	}
	if !strings.Contains(csv, servers["github"].Key) || !strings.Contains(csv, ",agent,") {
		t.Errorf("inventory CSV lacks the github server's credential rows")
	}

	// SARIF: the agent gaps at the file and line of the secret.
	code, sarif, errs := nhi(t, "gaps", "--db", e.db, "--config", e.config, "--format", "sarif")
	if code != 0 {
		t.Fatalf("sarif: %s", errs)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
				Properties struct{ Subject string }
			}
		}
	}
	if err := json.Unmarshal([]byte(sarif), &log); err != nil {
		t.Fatal(err)
	}
	located := map[string]bool{}
	for _, r := range log.Runs {
		for _, res := range r.Results {
			if strings.HasPrefix(res.RuleID, "NHI-AGT-") {
				l := res.Locations[0].PhysicalLocation
				located[res.RuleID+" "+l.ArtifactLocation.URI+":"+itoa(int64(l.Region.StartLine))] = true
			}
		}
	}
	for _, want := range []string{"NHI-AGT-01 .mcp.json:6", "NHI-AGT-01 .vscode/mcp.json:7", "NHI-AGT-01 .claude.json:1", "NHI-AGT-03 .mcp.json:3"} {
		if !located[want] {
			t.Errorf("SARIF lacks %s (has %v)", want, located)
		}
	}

	// The TUI's data: the gaps table finds the servers' gaps, and the
	// detail of one shows the server and its credential.
	m := agentTUI(t, e.db)
	tuiPress(t, m, "2", "/", "NHI-AGT-03")
	v := m.View()
	if !strings.Contains(v, "NHI-AGT-03") || !strings.Contains(v, "github") || !strings.Contains(v, "aws") {
		t.Errorf("gaps view:\n%s", v)
	}
	tuiPress(t, m, "enter", "enter") // the first leaves the search field
	if v := m.View(); !strings.Contains(v, "ai:mcp-server") {
		t.Errorf("detail view:\n%s", v)
	}

	// No plaintext anywhere.
	b, err := os.ReadFile(e.db)
	if err != nil {
		t.Fatal(err)
	}
	all := string(b) + out + table + csv + sarif
	for i, s := range e.secrets {
		if strings.Contains(all, s) {
			t.Fatalf("plaintext secret %d left the scanner", i)
		}
	}
}

// agentGaps is, per control, the sorted names of the MCP servers with an
// open gap.
func agentGaps(t *testing.T, e *agentEstate) map[string][]string {
	t.Helper()
	code, out, errs := nhi(t, "gaps", "--db", e.db, "--config", e.config, "--format", "json")
	if code != 0 {
		t.Fatalf("gaps: %s", errs)
	}
	got := map[string][]string{}
	for _, g := range decode[struct {
		Gaps []struct {
			ControlID   string `json:"control_id"`
			SubjectID   string `json:"subject_id"`
			SubjectName string `json:"subject_name"`
		}
	}](t, out).Gaps {
		if strings.HasPrefix(g.SubjectID, inventory.KindMCPServer+":") {
			got[g.ControlID] = append(got[g.ControlID], g.SubjectName)
		}
	}
	for _, v := range got {
		sort.Strings(v)
	}
	return got
}

func agentGapID(t *testing.T, e *agentEstate, control, name string) int64 {
	t.Helper()
	_, out, _ := nhi(t, "gaps", "--db", e.db, "--config", e.config, "--format", "json", "--control", control)
	for _, g := range decode[struct {
		Gaps []struct {
			ID          int64  `json:"id"`
			SubjectName string `json:"subject_name"`
		}
	}](t, out).Gaps {
		if g.SubjectName == name {
			return g.ID
		}
	}
	t.Fatalf("no %s gap of %s", control, name)
	return 0
}

// agentTUI is the TUI's model over the inventory, 80x24, no colour.
func agentTUI(t *testing.T, db string) *ui.Model {
	t.Helper()
	st, err := inventory.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	m := ui.New(context.Background(), ui.Options{Store: st, Catalogue: cat, Actor: "alice", Now: func() time.Time { return time.Now().UTC() }, Renderer: r})
	tuiRun(t, m, m.Init())
	tuiRun(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: 80, Height: 24} })
	return m
}

// tuiRun runs cmd and every command following from it, synchronously.
func tuiRun(t *testing.T, m *ui.Model, cmd tea.Cmd) {
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
		case nil, tea.QuitMsg:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			_, next := m.Update(msg)
			queue = append(queue, next)
		}
	}
}

func tuiPress(t *testing.T, m *ui.Model, keys ...string) {
	t.Helper()
	for _, k := range keys {
		msg := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		if k == "enter" {
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		}
		tuiRun(t, m, func() tea.Msg { return msg })
	}
}
