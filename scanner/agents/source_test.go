package agents_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/agents"
	"github.com/nhi-inventory/nhi/scanner/dir"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// openAIKey is shaped as OpenAI's project keys (gitleaks openai-api-key).
func openAIKey() string {
	return "sk-proj-" + harness.RandomString(alnum, 74) + "T3BlbkFJ" + harness.RandomString(alnum, 74)
}

// homeTree is a home-like directory: ~/.claude.json with a top-level and
// a per-project server, a project with .mcp.json, a .env beside it and
// a VS Code configuration, Windsurf's configuration.
func homeTree(pat, akid, awsSecret, oai, ant, mistral string) map[string]string {
	return map[string]string{
		".claude.json": `{
  "numStartups": 12,
  "primaryApiKey": "` + ant + `",
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "` + pat + `"}
    }
  },
  "projects": {
    "/home/dev/shop": {
      "mcpServers": {
        "aws": {
          "command": "uvx",
          "args": ["awslabs.aws-api-mcp-server==0.2.1"],
          "env": {"AWS_ACCESS_KEY_ID": "` + akid + `", "AWS_SECRET_ACCESS_KEY": "` + awsSecret + `", "AWS_REGION": "eu-west-1"}
        }
      }
    }
  }
}
`,
		"shop/.mcp.json": `{
  "mcpServers": {
    "openai-tools": {
      "command": "npx",
      "args": ["-y", "openai-mcp@^1.0.0"],
      "env": {"OPENAI_API_KEY": "${OPENAI_API_KEY}"}
    },
    "docs": {"type": "http", "url": "https://docs.example.com/mcp", "headers": {"Authorization": "Bearer ${env:DOCS_TOKEN}"}}
  }
}
`,
		"shop/.env": "# keys\nOPENAI_API_KEY=" + oai + "\nLOG_LEVEL=debug\nMISTRAL_API_KEY=" + mistral + "\n",
		// Handed its key only by the .env beside it: still an unpinned
		// launch with a secret.
		"shop/.cursor/mcp.json":             `{"mcpServers": {"mistral": {"command": "uvx", "args": ["mistral-mcp"], "env": {"MISTRAL_API_KEY": ""}}}}`,
		"shop/.vscode/mcp.json":             "{\n  // prompts for the token\n  \"inputs\": [{\"id\": \"tok\", \"type\": \"promptString\", \"password\": true}],\n  \"servers\": {\"gh\": {\"command\": \"docker\", \"args\": [\"run\", \"-i\", \"--rm\", \"-e\", \"GITHUB_PERSONAL_ACCESS_TOKEN\", \"ghcr.io/github/github-mcp-server@sha256:" + strings.Repeat("0a", 32) + "\"], \"env\": {\"GITHUB_PERSONAL_ACCESS_TOKEN\": \"${input:tok}\"}},},\n}\n",
		".codeium/windsurf/mcp_config.json": `{"mcpServers": {"broken": {"command": "npx", "args": [}}}`,
		"notes/README.md":                   "nothing here\n",
		".github/CODEOWNERS":                "/shop/ @team-shop\n",
	}
}

type store struct {
	*inventory.Store
	db *sql.DB
}

func scan(t *testing.T, db string, sources ...scanner.Source) []inventory.SourceResult {
	t.Helper()
	ctx := context.Background()
	st, err := inventory.Open(ctx, db)
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
	if _, err := w.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return res
}

type idRow struct {
	kind, name, provider string
	attrs                map[string]any
}

func query(t *testing.T, db string) (map[string]idRow, map[string][]string) {
	t.Helper()
	h, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rows, err := h.Query(`SELECT key, kind, name, provider, attrs FROM identities`)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]idRow{}
	for rows.Next() {
		var k, attrs string
		var r idRow
		if err := rows.Scan(&k, &r.kind, &r.name, &r.provider, &attrs); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(attrs), &r.attrs); err != nil {
			t.Fatal(err)
		}
		ids[k] = r
	}
	rows.Close()
	// credential type -> "identity|sources" of its occurrences
	crows, err := h.Query(`SELECT c.type, COALESCE(i.key, ''), group_concat(DISTINCT o.source)
		FROM credentials c LEFT JOIN identities i ON i.id = c.identity_id JOIN occurrences o ON o.credential_id = c.id GROUP BY c.id`)
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string][]string{}
	for crows.Next() {
		var typ, id, srcs string
		if err := crows.Scan(&typ, &id, &srcs); err != nil {
			t.Fatal(err)
		}
		s := strings.Split(srcs, ",")
		sort.Strings(s)
		creds[typ] = append(creds[typ], id+"|"+strings.Join(s, ","))
	}
	return ids, creds
}

func strs(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}

func TestTreeServersCredentialsAndEnv(t *testing.T) {
	pat, akid, awsSecret, oai := harness.GitHubPAT(), harness.AWSAccessKeyID(), harness.AWSSecretAccessKey(), openAIKey()
	ant := "sk-ant-api03-" + harness.RandomString(alnum, 93) + "AA"
	root := t.TempDir()
	mistral := harness.RandomString(alnum, 32)
	harness.WriteFiles(t, root, homeTree(pat, akid, awsSecret, oai, ant, mistral))
	root = scanner.CanonicalPath(root)
	db := filepath.Join(t.TempDir(), "nhi.db")
	res := scan(t, db, agents.NewTree(root, agents.Options{}), dir.New(root, dir.Options{}))
	var agentRes inventory.SourceResult
	for _, r := range res {
		if r.Kind == inventory.SourceAgent {
			agentRes = r
		}
	}
	if agentRes.Status != inventory.SourceOK || agentRes.Stats["mcp-servers"] != 6 {
		t.Fatalf("agent source: %+v", agentRes)
	}
	// The Windsurf file does not parse: its unit failed, with its line.
	if len(agentRes.ItemErrors) != 1 || !strings.Contains(agentRes.ItemErrors[0].Error, ".codeium/windsurf/mcp_config.json:1: not valid JSON") {
		t.Errorf("item errors: %+v", agentRes.ItemErrors)
	}
	ids, creds := query(t, db)
	gh := agents.ServerKey(root, ".claude.json", "", "github")
	aws := agents.ServerKey(root, ".claude.json", "/home/dev/shop", "aws")
	oaiTools := agents.ServerKey(root, "shop/.mcp.json", "", "openai-tools")
	docs := agents.ServerKey(root, "shop/.mcp.json", "", "docs")
	vs := agents.ServerKey(root, "shop/.vscode/mcp.json", "", "gh")
	for _, k := range []string{gh, aws, oaiTools, docs, vs} {
		if ids[k].kind != inventory.KindMCPServer {
			t.Errorf("no server %s (have %v)", k, ids)
		}
	}
	if g := ids[gh]; len(strs(g.attrs["hardcoded_secrets"])) != 1 || len(strs(g.attrs["broad_tokens"])) != 1 ||
		!strings.Contains(fmt.Sprint(g.attrs["unpinned_launch"]), "@modelcontextprotocol/server-github") || g.provider != agents.ClaudeCode {
		t.Errorf("github server: %+v", g)
	}
	if a := ids[aws]; a.attrs["project"] != "/home/dev/shop" || a.attrs["unpinned_launch"] != nil || len(strs(a.attrs["broad_tokens"])) != 2 {
		t.Errorf("aws server (pinned, two broad AWS secrets): %+v", a)
	}
	if o := ids[oaiTools]; o.attrs[string(inventory.AttrCodeowners)] != "@team-shop" || o.attrs["unpinned_launch"] == nil {
		t.Errorf("openai-tools: CODEOWNERS and an unpinned range: %+v", o)
	}
	mi := ids[agents.ServerKey(root, "shop/.cursor/mcp.json", "", "mistral")]
	if mi.attrs["unpinned_launch"] == nil || len(strs(mi.attrs[string(inventory.AttrAgentCredentials)])) != 1 {
		t.Errorf("mistral server, handed the .env key by name: %+v", mi)
	}
	if v := ids[vs]; v.attrs["unpinned_launch"] != nil || v.attrs["hardcoded_secrets"] != nil || v.provider != agents.VSCode {
		t.Errorf("vscode server (digest, a password input): %+v", v)
	}
	// One credential per secret, the server's, seen by both sources.
	want := map[string][]string{
		"github-pat":                {gh + "|agent,dir"},
		"nhi-aws-secret-access-key": {aws + "|agent,dir"},
		// The AWS key id stays unowned by the server (its IAM user's).
		"aws-access-token": {"|agent,dir"},
		// The .env key named by the server's ${OPENAI_API_KEY} is its.
		"openai-api-key":         {oaiTools + "|agent,dir"},
		"agent-secret-reference": {oaiTools + "|agent", docs + "|agent", vs + "|agent"},
		// Claude Code's own key, at the top of ~/.claude.json: the agent's.
		"anthropic-api-key": {agents.AgentKey(root, ".claude.json") + "|agent,dir"},
	}
	for typ, w := range want {
		got := creds[typ]
		sort.Strings(got)
		sort.Strings(w)
		if strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("%s: %v, want %v", typ, got, w)
		}
	}
	if !strings.Contains(strings.Join(strs(ids[aws].attrs[string(inventory.AttrAgentCredentials)]), " "), inventory.AccessKeyCredentialKey(akid)) {
		t.Errorf("the aws server lists the key id it is handed: %v", ids[aws].attrs)
	}
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{pat, awsSecret, oai, ant, mistral} {
		if bytes.Contains(b, []byte(s)) {
			t.Fatal("a plaintext secret is in the inventory")
		}
	}
}

func TestRepoBranchHeads(t *testing.T) {
	pat, oai, oldPAT, slack := harness.GitHubPAT(), openAIKey(), harness.GitHubPAT(), harness.SlackBotToken()
	repo := harness.NewGitRepo(t)
	who := harness.Author{Name: "Dev", Email: "dev@example.com"}
	// History: a server since removed, and the github server's earlier PAT.
	first := repo.Commit(who, "first agents", map[string]string{
		".mcp.json": `{"mcpServers": {"github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"], "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "` + oldPAT + `"}},
  "slack": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-slack"], "env": {"SLACK_BOT_TOKEN": "` + slack + `"}}}}`,
	})
	repo.Commit(who, "agents", map[string]string{
		".mcp.json":          `{"mcpServers": {"github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"], "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "` + pat + `"}}}}`,
		".github/CODEOWNERS": "/.mcp.json @team-agents\n.continue/ @team-ide\n",
	})
	repo.Git(who, "checkout", "-q", "-b", "feature")
	repo.Commit(who, "continue", map[string]string{
		".continue/config.yaml": "models:\n  - name: gpt\n    provider: openai\n    apiKey: " + oai + "\nmcpServers:\n  - name: sqlite\n    command: uvx\n    args: [mcp-server-sqlite]\n",
		".cursor/mcp.json":      "{\"mcpServers\": {\"x\": ",
	})
	repo.Git(who, "checkout", "-q", "main")
	db := filepath.Join(t.TempDir(), "nhi.db")
	res := scan(t, db, agents.NewRepo(repo.Dir, nil, agents.Options{}))
	if res[0].Status != inventory.SourceOK || res[0].Stats["branches"] != 2 {
		t.Fatalf("%+v", res[0])
	}
	if len(res[0].ItemErrors) != 1 || !strings.Contains(res[0].ItemErrors[0].Error, "(on feature)") || res[0].ItemErrors[0].Unit != ".cursor/mcp.json" {
		t.Errorf("the broken file of one branch is a failed unit: %+v", res[0].ItemErrors)
	}
	ids, creds := query(t, db)
	id := scanner.CanonicalPath(repo.Dir)
	gh := ids[agents.ServerKey(id, ".mcp.json", "", "github")]
	if d := strings.Join(strs(gh.attrs["branches"]), ","); d != "feature,main" || gh.attrs[string(inventory.AttrCodeowners)] != "@team-agents" || gh.attrs["unpinned_launch"] != nil {
		t.Errorf("github server on both branches, owned, pinned: %+v", gh)
	}
	if hard := strs(gh.attrs[string(inventory.AttrAgentHardcoded)]); len(hard) != 1 {
		t.Errorf("the facts are the heads': one hard-coded PAT, not the rotated one too: %v", hard)
	}
	if got := creds["github-pat"]; len(got) != 2 || got[0] != got[1] || !strings.HasPrefix(got[0], agents.ServerKey(id, ".mcp.json", "", "github")) {
		t.Errorf("both PATs, the earlier one from history, are the github server's: %v", got)
	}
	old := ids[agents.ServerKey(id, ".mcp.json", "", "slack")]
	if old.attrs[string(inventory.AttrAgentHistoryOnly)] != true || old.attrs["last_commit"] != first || old.attrs["unpinned_launch"] != nil {
		t.Errorf("the removed slack server is an identity of history: %+v", old)
	}
	if got := creds["slack-bot-token"]; len(got) != 1 || got[0] != agents.ServerKey(id, ".mcp.json", "", "slack")+"|agent" {
		t.Errorf("the slack token in history is the removed server's: %v", got)
	}
	// A re-scan with no ref moved lists no history again, and finds the same.
	again := scan(t, db, agents.NewRepo(repo.Dir, nil, agents.Options{}))
	if again[0].Stats["history_unchanged"] != 1 || again[0].Stats["history_versions"] != res[0].Stats["history_versions"] {
		t.Errorf("re-scan stats %v, first %v", again[0].Stats, res[0].Stats)
	}
	if ids2, _ := query(t, db); ids2[agents.ServerKey(id, ".mcp.json", "", "slack")].attrs[string(inventory.AttrAgentHistoryOnly)] != true {
		t.Error("the re-scan lost the server of history")
	}
	sq := ids[agents.ServerKey(id, ".continue/config.yaml", "", "sqlite")]
	if d := strings.Join(strs(sq.attrs["branches"]), ","); d != "feature" || sq.attrs["unpinned_launch"] != nil {
		t.Errorf("sqlite server only on feature, handed no secret (so no pin gap): %+v", sq)
	}
	ag := ids[agents.AgentKey(id, ".continue/config.yaml")]
	if ag.kind != inventory.KindAIAgent || ag.attrs[string(inventory.AttrCodeowners)] != "@team-ide" {
		t.Errorf("the Continue agent holds its model key: %+v", ag)
	}
	if got := creds["openai-api-key"]; len(got) != 1 || got[0] != agents.AgentKey(id, ".continue/config.yaml")+"|agent" {
		t.Errorf("openai key: %v", got)
	}
}

// TestRepoHistoryListedSince: after the refs move forward, a re-scan
// lists only the commits added (history_incremental) and ends with what a
// first scan of the same repository finds; after a ref is rewound, it
// lists history in full and, as a first scan, leaves the dropped
// commit's version out of what it reads.
func TestRepoHistoryListedSince(t *testing.T) {
	repo := harness.NewGitRepo(t)
	who := harness.Author{Name: "Dev", Email: "dev@example.com"}
	server := func(name, token string) string {
		return `{"mcpServers": {"` + name + `": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"], "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "` + token + `"}}}}`
	}
	repo.Commit(who, "first", map[string]string{".mcp.json": server("one", harness.GitHubPAT())})
	repo.Commit(who, "second", map[string]string{".mcp.json": server("two", harness.GitHubPAT())})
	db := filepath.Join(t.TempDir(), "nhi.db")
	scan(t, db, agents.NewRepo(repo.Dir, nil, agents.Options{}))

	repo.Commit(who, "third", map[string]string{".mcp.json": server("three", harness.GitHubPAT())})
	repo.Commit(who, "unrelated", map[string]string{"README.md": "docs\n"})
	res := scan(t, db, agents.NewRepo(repo.Dir, nil, agents.Options{}))
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	first := scan(t, fresh, agents.NewRepo(repo.Dir, nil, agents.Options{}))
	if res[0].Stats["history_incremental"] != 1 || res[0].Stats["history_added"] != 1 {
		t.Errorf("the re-scan after two commits lists them alone, one configuration version: %v", res[0].Stats)
	}
	if first[0].Stats["history_incremental"] != 0 || res[0].Stats["history_versions"] != first[0].Stats["history_versions"] || res[0].Stats["history_versions"] != 2 {
		t.Errorf("the re-scan reads the versions a first scan reads (two not at the head): %v against %v", res[0].Stats, first[0].Stats)
	}
	idsRe, credsRe := query(t, db)
	idsFresh, credsFresh := query(t, fresh)
	id := scanner.CanonicalPath(repo.Dir)
	for _, name := range []string{"one", "two", "three"} {
		k := agents.ServerKey(id, ".mcp.json", "", name)
		if _, ok := idsRe[k]; !ok {
			t.Errorf("the re-scan lacks server %s", name)
		}
		if _, ok := idsFresh[k]; !ok {
			t.Errorf("the first scan lacks server %s", name)
		}
	}
	if len(credsRe["github-pat"]) != 3 || len(credsFresh["github-pat"]) != 3 {
		t.Errorf("three PATs in both: %v, %v", credsRe["github-pat"], credsFresh["github-pat"])
	}

	// A rewound branch: the listing is whole again, the third commit gone.
	repo.Git(who, "reset", "-q", "--hard", "HEAD~2")
	res = scan(t, db, agents.NewRepo(repo.Dir, nil, agents.Options{}))
	if res[0].Stats["history_incremental"] != 0 || res[0].Stats["history_versions"] != 1 {
		t.Errorf("after a rewind history is listed in full: one version (the first) not at the head: %v", res[0].Stats)
	}

	// A kept tip gone from the object store (a branch deleted, then
	// pruned): the listing is whole again, not an error.
	repo.Git(who, "checkout", "-q", "-b", "gone")
	repo.Commit(who, "gone", map[string]string{".mcp.json": server("gone", harness.GitHubPAT())})
	repo.Git(who, "checkout", "-q", "main")
	scan(t, db, agents.NewRepo(repo.Dir, nil, agents.Options{}))
	repo.Git(who, "branch", "-q", "-D", "gone")
	repo.Git(who, "reflog", "expire", "--expire=now", "--all")
	repo.Git(who, "gc", "-q", "--prune=now")
	repo.Commit(who, "after", map[string]string{"README.md": "more docs\n"})
	res = scan(t, db, agents.NewRepo(repo.Dir, nil, agents.Options{}))
	if res[0].Status != inventory.SourceOK || res[0].Stats["history_incremental"] != 0 || res[0].Stats["history_versions"] != 1 {
		t.Errorf("with a kept tip pruned, history is listed in full: %+v", res[0])
	}

	// Kept versions that cannot be read: listed in full, and said so.
	h, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Exec(`UPDATE memos SET value = x'1f8b00' WHERE kind LIKE 'agent-history/%'`); err != nil {
		t.Fatal(err)
	}
	h.Close()
	repo.Commit(who, "later", map[string]string{"README.md": "docs again\n"})
	res = scan(t, db, agents.NewRepo(repo.Dir, nil, agents.Options{}))
	if res[0].Stats["memos_unreadable"] != 1 || res[0].Stats["history_incremental"] != 0 || res[0].Stats["history_versions"] != 1 {
		t.Errorf("over unreadable kept versions, history is listed in full: %v", res[0].Stats)
	}
}
