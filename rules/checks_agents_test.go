package rules

import (
	"sort"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
)

// TestAgentControls: each agent control fails the server it is about and
// passes, or does not apply to, the others.
func TestAgentControls(t *testing.T) {
	const repo = "/src/app"
	awsKey := "aws-access-key:" + harness.AWSAccessKeyID()
	admin := "arn:aws:iam::111122223333:user/mcp-admin"
	srv := func(name string, attrs map[string]any) inventory.IdentityRow {
		attrs["path"] = ".mcp.json"
		attrs["line"] = 3
		r := ident("ai:mcp-server:"+repo+":.mcp.json:"+name, inventory.KindMCPServer, name, attrs)
		r.Identity.Account, r.Identity.Provider, r.Identity.Source = repo, "claude-code", inventory.SourceAgent
		return r
	}
	hardSecret := []any{map[string]any{"in": "env", "name": "GITHUB_TOKEN", "value": "hardcoded", "path": ".mcp.json", "line": float64(7), "credential": "fp:1"}}
	launch := map[string]any{"launcher": "npx", "registry": "npm", "package": "x"}
	ids := []inventory.IdentityRow{
		srv("hard", map[string]any{"hardcoded_secrets": []any{"env GITHUB_TOKEN: github-pat ghp_****(40) (.mcp.json:7)"},
			"broad_tokens": []any{"env GITHUB_TOKEN: a classic GitHub personal access token ghp_****(40)"},
			"credentials":  []any{"fp:1"}, "secrets": hardSecret, "launch": launch, "unpinned_launch": "npx x (no version)"}),
		srv("ref", map[string]any{"credentials": []any{"agent-ref:1"}, "launch": map[string]any{"pinned": true},
			"secrets": []any{map[string]any{"in": "env", "name": "T", "value": "env", "ref": "T", "line": 12}}}),
		srv("aws", map[string]any{"credentials": []any{awsKey}}),
		srv("bare", map[string]any{"launch": launch, "unpinned_launch": ""}),
		ident("ai:agent:"+repo+":.continue/config.yaml", inventory.KindAIAgent, "continue", map[string]any{"path": ".continue/config.yaml",
			"hardcoded_secrets": []any{"model openai:gpt: openai-api-key sk-proj-****(164) (.continue/config.yaml:4)"}}),
		ident(admin, inventory.KindIAMUser, "mcp-admin", nil),
		ident(wfStatic, inventory.KindCIWorkflow, "deploy", map[string]any{"hardcoded_secrets": []any{"x"}}),
	}
	ids[5].Identity.Privileges = inventory.PrivAdministrator
	creds := []inventory.CredentialRow{
		cred("fp:1", "github-pat", ids[0].Identity.Key, "", inventory.VaultHardcoded, nil),
		cred("agent-ref:1", inventory.TypeAgentReference, ids[1].Identity.Key, "", inventory.VaultUnknown, nil),
		cred(awsKey, inventory.TypeAWSAccessKey, admin, "Active", inventory.VaultUnknown, nil),
	}
	cat, err := LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := cat.Evaluate(&Estate{Now: now, Identities: ids, Credentials: creds})
	failing := map[string][]string{}
	var hardGap inventory.Gap
	for _, g := range ev.Gaps {
		if strings.HasPrefix(g.ControlID, "NHI-AGT-") {
			failing[g.ControlID] = append(failing[g.ControlID], g.SubjectName)
			if g.ControlID == "NHI-AGT-01" && g.SubjectName == "hard" {
				hardGap = g
			}
		}
	}
	evaluated := map[string]int{}
	for _, r := range ev.Controls {
		evaluated[r.ControlID] = r.Evaluated
	}
	for id, want := range map[string]struct {
		fail      string
		evaluated int
	}{
		"NHI-AGT-01": {"continue hard", 5}, // every server and agent, not the pipeline
		"NHI-AGT-02": {"aws hard", 3},      // servers handed credentials
		"NHI-AGT-03": {"hard", 2},          // launched from a registry with secrets
	} {
		got := failing[id]
		sort.Strings(got)
		if strings.Join(got, " ") != want.fail || evaluated[id] != want.evaluated {
			t.Errorf("%s fails %v of %d, want %s of %d", id, got, evaluated[id], want.fail, want.evaluated)
		}
	}
	// Located for SARIF: the repository, the file and the secret's line.
	if hardGap.Evidence["repo"] != repo || hardGap.Evidence["path"] != ".mcp.json" || hardGap.Evidence["line"] != 7 {
		t.Errorf("evidence %v", hardGap.Evidence)
	}
	for _, g := range ev.Gaps {
		if g.ControlID == "NHI-AGT-02" && g.SubjectName == "aws" && !strings.Contains(g.Detail, admin) {
			t.Errorf("the AWS key's admin user is named: %s", g.Detail)
		}
	}
}
