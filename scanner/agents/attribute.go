package agents

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/inventory"
)

// ident is one identity as collected over the snapshots of a target: its
// first version's facts, the branches it is on, and what it is handed.
type ident struct {
	id       *inventory.Identity
	unit     string
	branches map[string]bool
	creds    map[string]*inventory.Credential
	credKeys []string
	occs     map[string]*occ
	occOrder []string
	secrets  map[string]inventory.Facts // in+name -> fact
	hard     map[string]bool
	broad    map[string]bool
	handed   bool // the server is handed any secret
	// launch is what the heads' version launches (nil: no registry).
	launch *Launch
	// lastCommit is the newest commit of history that holds it (set when
	// history is read).
	lastCommit string
}

type occ struct {
	o        *inventory.Occurrence
	branches map[string]bool
}

func (e *engine) ident(key string, mk func() *inventory.Identity, unit, branch string) *ident {
	it := e.idents[key]
	if it == nil {
		it = &ident{id: mk(), unit: unit, branches: map[string]bool{}, creds: map[string]*inventory.Credential{},
			occs: map[string]*occ{}, secrets: map[string]inventory.Facts{}, hard: map[string]bool{}, broad: map[string]bool{}}
		e.idents[key] = it
		e.order = append(e.order, key)
	}
	if branch != "" {
		it.branches[branch] = true
	}
	if e.history {
		it.lastCommit = e.commit
	}
	return it
}

// handed records a credential given to the identity, seen at p:line.
func (e *engine) handed(it *ident, c *inventory.Credential, p string, line int, detail map[string]any, branch string) {
	if _, ok := it.creds[c.Key]; !ok {
		// An AWS access key id is its IAM user's credential: the server is
		// handed it, it does not own it (AttrAgentCredentials lists it).
		if strings.HasPrefix(c.Key, inventory.AccessKeyCredentialKey("")) {
			c.IdentityKey = ""
		} else {
			c.IdentityKey = it.id.Key
		}
		c.Unit = p
		it.creds[c.Key] = c
		it.credKeys = append(it.credKeys, c.Key)
	}
	if co := e.owners.Owners(p); len(co) > 0 {
		detail[string(inventory.AttrCodeowners)] = strings.Join(co, " ")
	}
	o := &inventory.Occurrence{CredentialKey: c.Key, Source: inventory.SourceAgent, Repo: e.scope, Path: p, Line: line, Commit: e.commit, Detail: detail, Unit: p}
	k := c.Key + "\x00" + o.OccurrenceKey()
	x := it.occs[k]
	if x == nil {
		x = &occ{o: o, branches: map[string]bool{}}
		it.occs[k] = x
		it.occOrder = append(it.occOrder, k)
	}
	if branch != "" {
		x.branches[branch] = true
	}
}

// settle gives each setting of a server (or agent) its credential: the
// detector's hit on its line when there is one (the fingerprint the git
// and directory sources give the same value), else the literal itself
// for a setting named like a secret. It returns the hits of lines from
// to through left unattributed to a setting, and marks as used those it
// took.
func (e *engine) settle(it *ident, p string, settings []*Setting, hits []detect.Hit, used map[int]bool, from, to int, branch, server string) []*Setting {
	var kept []*Setting
	for _, st := range settings {
		var c *inventory.Credential
		rule := ""
		if st.Value == ValueHardcoded {
			for i := range hits {
				h := &hits[i]
				pt := h.Plaintext()
				if used[i] || h.Line != st.Line || pt == "" || st.value == "" ||
					!(strings.Contains(st.value, pt) || strings.Contains(pt, st.value)) {
					continue
				}
				used[i] = true
				c, rule = h.Credential(), h.RuleID
				if b := broadToken(h.RuleID, pt); b != "" && !e.history {
					it.broad[fmt.Sprintf("%s %s: %s %s", st.In, st.Name, b, c.Redacted)] = true
				}
				break
			}
			if c == nil && !st.weak {
				rule = "agent-hardcoded-" + st.In
				c = e.keys.SecretCredential(rule, st.value, inventory.VaultHardcoded)
				if b := broadToken("", st.value); b != "" && !e.history {
					it.broad[fmt.Sprintf("%s %s: %s %s", st.In, st.Name, b, c.Redacted)] = true
				}
			}
			if c == nil {
				continue
			}
			if p == it.unit && !e.history {
				// In the configuration itself; a .env beside it is the
				// credential's own gap (NHI-SEC-01/02), not the agent's.
				it.hard[fmt.Sprintf("%s %s: %s %s (%s:%d)", st.In, st.Name, c.Type, c.Redacted, p, st.Line)] = true
			}
		} else if st.weak {
			continue
		}
		kept = append(kept, st)
		fact := inventory.Facts{}
		fact.Set(inventory.SecretIn, st.In)
		fact.Set(inventory.SecretName, st.Name)
		fact.Set(inventory.SecretValue, st.Value)
		fact.Set(inventory.SecretPath, p)
		fact.Set(inventory.SecretLine, st.Line)
		if st.Ref != "" {
			fact.Set(inventory.SecretRef, st.Ref)
		}
		if c == nil && st.Value != ValuePlaceholder {
			vs := inventory.VaultUnknown
			if st.Value == ValueSecretManager {
				vs = inventory.VaultVaulted
			}
			name := st.Ref
			if name == "" {
				name = st.Name
			}
			c = &inventory.Credential{Key: "agent-ref:" + it.id.Key + ":" + st.In + ":" + st.Name, Type: inventory.TypeAgentReference,
				VaultStatus: vs, Attrs: map[string]any{string(inventory.AttrName): name, "value": st.Value, "in": st.In, "setting": st.Name}}
		}
		if c != nil {
			fact.Set(inventory.SecretCredential, c.Key)
			it.handed = true
			if c.Attrs == nil {
				c.Attrs = map[string]any{}
			}
			c.Attrs["found_in"] = "agent:" + it.id.Provider
			detail := map[string]any{"in": st.In, "setting": st.Name}
			if server != "" {
				detail["server"] = server
			}
			if rule != "" {
				detail["rule"] = rule
				fact.Set(inventory.SecretRule, rule)
			}
			e.handed(it, c, p, st.Line, detail, branch)
		}
		if !e.history {
			it.secrets[st.In+"\x00"+st.Name+"\x00"+p] = fact
		}
	}
	// Secrets the detector found in the entry but in no setting (inside an
	// argument, a command string, an unusual key).
	for i := range hits {
		h := &hits[i]
		if used[i] || h.Line < from || h.Line > to {
			continue
		}
		used[i] = true
		c := h.Credential()
		if b := broadToken(h.RuleID, h.Plaintext()); b != "" && !e.history {
			it.broad[fmt.Sprintf("line %d: %s %s", h.Line, b, c.Redacted)] = true
		}
		if p == it.unit && !e.history {
			it.hard[fmt.Sprintf("%s %s (%s:%d)", c.Type, c.Redacted, p, h.Line)] = true
		}
		it.handed = true
		if !e.history {
			it.secrets[fmt.Sprintf("detected\x00%d:%s", h.Line, h.RuleID)] = inventory.Facts{string(inventory.SecretIn): "detected",
				string(inventory.SecretName): h.RuleID, string(inventory.SecretValue): ValueHardcoded, string(inventory.SecretPath): p,
				string(inventory.SecretLine): h.Line, string(inventory.SecretCredential): c.Key, string(inventory.SecretRule): h.RuleID}
		}
		e.handed(it, c, p, h.Line, map[string]any{"rule": h.RuleID, "server": server}, branch)
	}
	return kept
}

// broadToken says why a secret is broader than an agent's tool needs, from
// the rule that found it and its format; "" when nothing says so.
func broadToken(rule, v string) string {
	switch {
	case rule == "github-pat" || strings.HasPrefix(v, "ghp_"):
		return "a classic GitHub personal access token (every repository and organisation its user can reach; use a fine-grained token or a GitHub App)"
	case rule == "github-oauth" || strings.HasPrefix(v, "gho_"):
		return "a GitHub OAuth user token (the user's whole authorization)"
	case rule == "aws-access-token" || inventory.IsAWSAccessKeyID(v):
		return "an AWS access key (long-lived cloud credentials with every permission of its IAM user)"
	case rule == "nhi-aws-secret-access-key":
		return "an AWS secret access key (long-lived cloud credentials)"
	case rule == "anthropic-admin-api-key" || strings.HasPrefix(v, "sk-ant-admin"):
		return "an Anthropic Admin API key (manages the organisation)"
	case strings.HasPrefix(v, "sk-admin-"):
		return "an OpenAI admin key (manages the organisation)"
	case rule == "slack-user-token" || strings.HasPrefix(v, "xoxp-"):
		return "a Slack user token (acts as the user in every channel)"
	case strings.HasPrefix(v, "sk_live_"):
		return "a Stripe live secret key (the whole account; a restricted key rk_live_ can be scoped)"
	case rule == "gitlab-pat" || strings.HasPrefix(v, "glpat-"):
		return "a GitLab personal access token (its user's projects)"
	case rule == "nhi-vault-token" || strings.HasPrefix(v, "hvs.") && len(v) > 20:
		return "a Vault token (every policy attached to it)"
	}
	return ""
}

// facts writes what was collected into the identity's attributes.
func (it *ident) facts() {
	a := it.id.Attrs
	if len(it.secrets) > 0 {
		keys := make([]string, 0, len(it.secrets))
		for k := range it.secrets {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		list := make([]any, len(keys))
		for i, k := range keys {
			list[i] = map[string]any(it.secrets[k])
		}
		a[string(inventory.AttrAgentSecrets)] = list
	}
	set := func(k inventory.AttrKey, m map[string]bool) {
		if len(m) > 0 {
			a[string(k)] = sortedKeys(m)
		}
	}
	if it.handed && it.launch != nil && !it.launch.Pinned {
		a[string(inventory.AttrAgentUnpinnedLaunch)] = it.launch.describe()
	}
	set(inventory.AttrAgentHardcoded, it.hard)
	set(inventory.AttrAgentBroadTokens, it.broad)
	if len(it.credKeys) > 0 {
		a[string(inventory.AttrAgentCredentials)] = append([]string(nil), it.credKeys...)
	}
	if len(it.branches) > 0 {
		a["branches"] = sortedKeys(it.branches)
	} else if it.lastCommit != "" {
		// On no branch head: configured once, removed since.
		a[string(inventory.AttrAgentHistoryOnly)] = true
		a["last_commit"] = it.lastCommit
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
