package inventory

import "strings"

// This file is the contract between sources and controls: the facts a
// source records and a control reads are named here, once. A source
// writes with these constants, the readiness checks read with them, and
// no check spells a key itself (rules tests that). The string values are
// what databases already hold: never change one.

// AttrKey names a fact in an Attrs map (Identity, Credential) or an
// occurrence's Detail, or a field of a fact that is itself a map (trust,
// auth_signals).
type AttrKey string

// Identity facts read by controls.
const (
	// AttrPath is an IAM principal's path, a pipeline's file (ci) or the
	// path a Vault token was created on; owner rules match it.
	AttrPath AttrKey = "path"
	// AttrCodeowners is who CODEOWNERS names for a pipeline's file (ci
	// identity) or for the file a secret was found in (git occurrence).
	AttrCodeowners AttrKey = "codeowners"
	// AttrRoot marks the AWS root account, its access keys, and a Vault
	// token carrying the root policy.
	AttrRoot AttrKey = "root"
	// AttrServiceLinked marks an AWS service-linked role (AWS owns it).
	AttrServiceLinked AttrKey = "service_linked"
	// AttrAdminPolicies and AttrWildcardPolicies name the policies that
	// make an identity's Privileges PrivAdministrator or PrivWildcard.
	AttrAdminPolicies    AttrKey = "admin_policies"
	AttrWildcardPolicies AttrKey = "wildcard_policies"
	// AttrConsolePassword is whether an IAM user can sign in to the
	// console; AttrPasswordLastUsed when it last did (RFC 3339).
	AttrConsolePassword  AttrKey = "console_password"
	AttrPasswordLastUsed AttrKey = "password_last_used"
	// AttrTrust is what an IAM role's trust policy allows: a map with
	// the Trust* fields.
	AttrTrust AttrKey = "trust"
	// AttrAuthSignals is what a pipeline's AuthMode was decided from: a
	// map with the Signal* fields.
	AttrAuthSignals AttrKey = "auth_signals"
	// AttrUnpinnedSecretReceivers are third-party actions, not pinned to a
	// commit, that a pipeline hands secrets to.
	AttrUnpinnedSecretReceivers AttrKey = "unpinned_secret_receivers"
	// AttrPullRequestTargetExposure are the jobs of a pull_request_target
	// workflow that check out the pull request's code with secrets.
	AttrPullRequestTargetExposure AttrKey = "pull_request_target_exposure"
)

// Credential facts read by controls and by Label.
const (
	// AttrName is the name of a referenced secret (ci-secret-reference).
	AttrName AttrKey = "name"
	// AttrDeleted marks a Vault KV secret whose current version is deleted.
	AttrDeleted AttrKey = "deleted"
	// AttrOwner and AttrTeam are an owner recorded with the secret;
	// AttrCustomMetadata is Vault KV custom metadata (a map of strings,
	// read with OwnerTagKeys).
	AttrOwner          AttrKey = "owner"
	AttrTeam           AttrKey = "team"
	AttrCustomMetadata AttrKey = "custom_metadata"
)

// Fields of AttrTrust.
const (
	// TrustGitHubOIDC: GitHub Actions' OIDC provider may assume the role.
	TrustGitHubOIDC AttrKey = "github_oidc"
	// TrustGitHubOIDCSubRestricted: every such statement limits the
	// token's sub claim to something narrower than "*".
	TrustGitHubOIDCSubRestricted AttrKey = "github_oidc_sub_restricted"
)

// Fields of AttrAuthSignals: what in a pipeline points at static cloud
// keys, and what at OIDC federation.
const (
	SignalStatic AttrKey = "static"
	SignalOIDC   AttrKey = "oidc"
)

// Fields of a policy entry in a list such as AttrAdminPolicies when the
// entry is an object rather than a name.
const (
	PolicyName AttrKey = "name"
	PolicyARN  AttrKey = "arn"
)

// Credential types (Credential.Type) that sources write and controls
// compare against. A secret found in code or CI has the id of the
// detection rule that found it instead.
const (
	TypeAWSAccessKey       = "aws-access-key"
	TypeAWSConsolePassword = "aws-console-password"
	// TypeAWSRootAccessKey is a root access key typed as such; the AWS
	// source writes root keys as TypeAWSAccessKey with AttrRoot, and the
	// controls accept either.
	TypeAWSRootAccessKey = "aws-root-access-key"
	TypeVaultKV          = "vault-kv-secret"
	TypeVaultSecretID    = "vault-secret-id"
	TypeVaultToken       = "vault-token"
	TypeCIReference      = "ci-secret-reference"
)

// StatusActive is the status of a credential in use. AWS writes it as
// "Active": compare with Credential.Active.
const StatusActive = "active"

// Auth modes of a pipeline (Identity.AuthMode of a ci:workflow): how it
// reaches the cloud.
const (
	AuthStaticKeys = "static-keys"
	AuthOIDC       = "oidc"
	AuthNone       = "none"
)

// Privileges of an AWS identity (Identity.Privileges), worst first.
const (
	PrivAdministrator = "administrator" // Action "*" (or "*:*") on Resource "*", or AdministratorAccess
	PrivWildcard      = "wildcard"      // "service:*" actions, NotAction, or "*" on limited resources
	PrivLimited       = "limited"       // everything else, including no policy at all
)

// ProviderGitHubActions is the Provider of a GitHub Actions workflow.
const ProviderGitHubActions = "github-actions"

// OwnerTagKeys are the tag or metadata keys that name an owner, in order
// of precedence (an AWS tag, a Vault KV custom_metadata key).
func OwnerTagKeys() []string { return []string{"owner", "Owner", "team", "Team"} }

// Facts reads and writes an Attrs (or Detail) map by AttrKey. It is the
// map itself, not a copy; Set needs a non-nil map.
type Facts map[string]any

// Facts is the identity's Attrs.
func (i *Identity) Facts() Facts { return Facts(i.Attrs) }

// Facts is the credential's Attrs.
func (c *Credential) Facts() Facts { return Facts(c.Attrs) }

// DetailFacts is the occurrence's Detail.
func (o *Occurrence) DetailFacts() Facts { return Facts(o.Detail) }

// Active reports whether the credential is in use, however its source
// spells the status.
func (c *Credential) Active() bool { return strings.EqualFold(c.Status, StatusActive) }

// Get is the fact at k, nil when absent.
func (f Facts) Get(k AttrKey) any { return f[string(k)] }

// Set records v at k.
func (f Facts) Set(k AttrKey, v any) { f[string(k)] = v }

// String is the fact at k when it is a string, else "".
func (f Facts) String(k AttrKey) string {
	s, _ := f[string(k)].(string)
	return s
}

// Bool is the fact at k when it is a bool, else false.
func (f Facts) Bool(k AttrKey) bool {
	b, _ := f[string(k)].(bool)
	return b
}

// Map is the fact at k when it is a map (as a source wrote it or as it
// reads back from the database), else nil.
func (f Facts) Map(k AttrKey) Facts {
	switch m := f[string(k)].(type) {
	case map[string]any:
		return Facts(m)
	case Facts:
		return m
	}
	return nil
}

// Strings is the fact at k when it is a list: its strings, and for
// entries that are objects their PolicyName (or, without one, PolicyARN). A list
// reads back from the database as []any.
func (f Facts) Strings(k AttrKey) []string {
	switch x := f[string(k)].(type) {
	case []string:
		return x
	case []any:
		var out []string
		for _, e := range x {
			switch t := e.(type) {
			case string:
				out = append(out, t)
			case map[string]any:
				if n, ok := t[string(PolicyName)].(string); ok {
					out = append(out, n)
				} else if a, ok := t[string(PolicyARN)].(string); ok {
					out = append(out, a)
				}
			}
		}
		return out
	}
	return nil
}
