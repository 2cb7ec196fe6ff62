package rules

import (
	"fmt"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
)

// Checks of AI agents and the MCP servers they start or call
// (scanner/agents): the facts are inventory/agents.go's.

func isAgent(s *subject) bool {
	return s.id != nil && (s.id.Identity.Kind == inventory.KindMCPServer || s.id.Identity.Kind == inventory.KindAIAgent)
}

func isMCPServer(s *subject) bool {
	return s.id != nil && s.id.Identity.Kind == inventory.KindMCPServer
}

// agentPlace names a server or agent for details: "repo .mcp.json server github".
func agentPlace(s *subject) string {
	i := s.id.Identity
	p := i.Facts().String(inventory.AttrPath)
	where := p
	if i.Account != "" {
		where = inventory.RepoName(i.Account) + " " + p
	}
	if i.Kind == inventory.KindMCPServer {
		return fmt.Sprintf("MCP server %s (%s, %s)", i.Name, i.Provider, where)
	}
	return fmt.Sprintf("agent %s (%s)", i.Provider, where)
}

// agentSecrets are the identity's AttrAgentSecrets entries.
func agentSecrets(i *inventory.IdentityRow) []inventory.Facts {
	l, _ := i.Identity.Facts().Get(inventory.AttrAgentSecrets).([]any)
	out := make([]inventory.Facts, 0, len(l))
	for _, x := range l {
		if m, ok := x.(map[string]any); ok {
			out = append(out, inventory.Facts(m))
		}
	}
	return out
}

func factInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}

// agentEvidence locates a gap of an agent identity for SARIF and the
// exports: the repository, the file and the line of the first entry of
// secrets that match (or of the server's entry).
func agentEvidence(s *subject, match func(inventory.Facts) bool) map[string]any {
	i := s.id.Identity
	p := i.Facts().String(inventory.AttrPath)
	line := factInt(i.Facts().Get(inventory.AttrAgentLine))
	for _, f := range agentSecrets(s.id) {
		if match != nil && match(f) && f.String(inventory.SecretPath) != "" {
			p, line = f.String(inventory.SecretPath), factInt(f.Get(inventory.SecretLine))
			break
		}
	}
	ev := map[string]any{"identity": s.key, "path": p}
	if i.Account != "" {
		ev["repo"] = i.Account
	}
	if line > 0 {
		ev["line"] = line
	}
	return ev
}

func checkAgentNoHardcoded(c *Control, e *env, s *subject) (bool, *finding) {
	if !isAgent(s) {
		return false, nil
	}
	hard := s.id.Identity.Facts().Strings(inventory.AttrAgentHardcoded)
	if len(hard) == 0 {
		return true, nil
	}
	conf := s.id.Identity.Facts().String(inventory.AttrPath)
	ev := agentEvidence(s, func(f inventory.Facts) bool {
		return f.String(inventory.SecretValue) == inventory.AgentValueHardcoded && f.String(inventory.SecretPath) == conf
	})
	ev["secrets"] = hard
	return true, &finding{detail: fmt.Sprintf("%s has %d secret(s) written into its configuration: %s", agentPlace(s), len(hard), strings.Join(hard, "; ")),
		evidence: ev}
}

func checkAgentBroadTokens(c *Control, e *env, s *subject) (bool, *finding) {
	if !isMCPServer(s) {
		return false, nil
	}
	facts := s.id.Identity.Facts()
	held := facts.Strings(inventory.AttrAgentCredentials)
	if len(held) == 0 {
		return false, nil
	}
	broad := facts.Strings(inventory.AttrAgentBroadTokens)
	// An AWS key handed to the server is as broad as its IAM user: say so
	// when the inventory knows the user is an administrator.
	for _, k := range held {
		cr := e.cred[k]
		if cr == nil || cr.IdentityKey == "" || cr.IdentityKey == s.key {
			continue
		}
		if id := e.identity[cr.IdentityKey]; id != nil && (id.Identity.Privileges == inventory.PrivAdministrator || id.Identity.Privileges == inventory.PrivWildcard) {
			broad = append(broad, fmt.Sprintf("%s %s belongs to %s, which has %s access", cr.Credential.Type, cr.Credential.Label(), id.Identity.Key, id.Identity.Privileges))
		}
	}
	if len(broad) == 0 {
		return true, nil
	}
	ev := agentEvidence(s, func(f inventory.Facts) bool { return f.String(inventory.SecretValue) == inventory.AgentValueHardcoded })
	ev["tokens"] = broad
	return true, &finding{detail: fmt.Sprintf("%s is handed credentials broader than its tools need: %s", agentPlace(s), strings.Join(broad, "; ")),
		evidence: ev}
}

func checkAgentPinnedLaunch(c *Control, e *env, s *subject) (bool, *finding) {
	if !isMCPServer(s) {
		return false, nil
	}
	facts := s.id.Identity.Facts()
	if facts.Map(inventory.AttrAgentLaunch) == nil || len(facts.Strings(inventory.AttrAgentCredentials)) == 0 {
		// Not fetched from a registry at launch, or handed no secret.
		return false, nil
	}
	u := facts.String(inventory.AttrAgentUnpinnedLaunch)
	if u == "" {
		return true, nil
	}
	ev := agentEvidence(s, nil)
	ev["launch"] = u
	return true, &finding{detail: fmt.Sprintf("%s is launched with secrets from a package that is not pinned: %s", agentPlace(s), u), evidence: ev}
}
