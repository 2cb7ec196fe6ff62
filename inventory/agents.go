package inventory

// AI agents and the MCP servers they start or call (scanner/agents): the
// identity kinds, source, credential type and facts their controls read.

const (
	// KindMCPServer is an MCP server an AI agent is configured to start
	// (stdio) or call (sse, http), with the secrets it is handed.
	KindMCPServer = "ai:mcp-server"
	// KindAIAgent is an agent's own configuration when it holds
	// credentials of its own: model provider keys (Continue's models:),
	// AI provider keys in a .env beside it.
	KindAIAgent = "ai:agent"
	// SourceAgent is the agent configuration source.
	SourceAgent = "agent"
	// TypeAgentReference is a secret an agent hands a server by
	// reference (an environment variable, a prompt, a secrets manager).
	TypeAgentReference = "agent-secret-reference"
)

// Facts of ai:mcp-server and ai:agent identities read by controls.
const (
	// AttrAgentHardcoded describes each secret written into the agent's
	// configuration file itself ("env GITHUB_TOKEN: github-pat ghp_****(40) line 7").
	AttrAgentHardcoded AttrKey = "hardcoded_secrets"
	// AttrAgentBroadTokens describes each secret handed to the server
	// whose format says it is broader than one tool needs (a classic
	// GitHub PAT, an AWS access key, an admin key).
	AttrAgentBroadTokens AttrKey = "broad_tokens"
	// AttrAgentUnpinnedLaunch is the package a launcher (npx, uvx,
	// docker...) fetches at each start without an exact version or
	// digest, set only when the server is handed secrets.
	AttrAgentUnpinnedLaunch AttrKey = "unpinned_launch"
	// AttrAgentCredentials are the keys of the credentials handed to the
	// server (an AWS access key stays its IAM user's: it is listed here).
	AttrAgentCredentials AttrKey = "credentials"
)

// More facts of ai:mcp-server and ai:agent identities.
const (
	// AttrAgentSecrets lists each setting that carries a secret to the
	// server: a map with the Secret* fields.
	AttrAgentSecrets AttrKey = "secrets"
	// AttrAgentLaunch is the package a stdio server's launcher fetches: a
	// map {launcher, registry, package, version, pinned}.
	AttrAgentLaunch AttrKey = "launch"
	// AttrAgentLine is the line of the server's entry in its file.
	AttrAgentLine AttrKey = "line"
	// AttrAgentHistoryOnly marks a server configured in a repository's
	// history and on no branch head since: the identity its secrets in
	// history were handed to, judged by no agent control.
	AttrAgentHistoryOnly AttrKey = "history_only"
)

// Fields of an AttrAgentSecrets entry.
const (
	SecretIn         AttrKey = "in"    // env, header, arg, url, model, detected
	SecretName       AttrKey = "name"  // the variable, header, flag or rule
	SecretValue      AttrKey = "value" // hardcoded, env, input, secret-manager, command, placeholder
	SecretRef        AttrKey = "ref"   // the name a reference refers to
	SecretPath       AttrKey = "path"  // the file it is given in
	SecretLine       AttrKey = "line"
	SecretCredential AttrKey = "credential" // the credential's key
	SecretRule       AttrKey = "rule"
)

// AgentValueHardcoded is the SecretValue of a secret written into the
// file itself (the other values are references: env, input,
// secret-manager, command; or placeholder).
const AgentValueHardcoded = "hardcoded"
