package ci

import (
	"sort"
	"strings"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/inventory"
)

// Providers (identity Provider of a ci:workflow).
const (
	GitHubActions  = inventory.ProviderGitHubActions
	GitLabCI       = "gitlab-ci"
	CircleCI       = "circleci"
	AzurePipelines = "azure-pipelines"
	Bitbucket      = "bitbucket"
	Jenkins        = "jenkins"
)

// Auth modes of a pipeline's cloud authentication: the inventory's,
// which the OIDC control compares against.
const (
	AuthStaticKeys = inventory.AuthStaticKeys
	AuthOIDC       = inventory.AuthOIDC
	AuthNone       = inventory.AuthNone
)

// Reference kinds (credential attrs "kind").
const (
	refSecret   = "secret"        // a CI secret store entry: ${{ secrets.X }}
	refVariable = "variable"      // a CI/CD (project/repository/group) variable: $X
	refContext  = "context"       // a CircleCI context
	refCredID   = "credential-id" // a Jenkins credentials id
	refInherit  = "inherit"       // secrets: inherit (all secrets of the caller)
	refVault    = "vault"         // read from Vault at run time
)

// ref is one use of a secret by name.
type ref struct {
	name      string
	kind      string
	line      int
	job, step string
	vaultPath string
	// receiver is the third-party code (action, orb, pipe, reusable
	// workflow) that receives the secret, with its pinning.
	receiver string
	pinned   bool
}

// hard is one hard-coded secret value; it lives only in memory.
type hard struct {
	rule  string
	value string
	line  int
	// found is the detector's hit the value comes from: its credential
	// is the one the git source makes of the same secret. nil for the
	// CI-aware checks.
	found *detect.Hit
}

// credential is the credential of h, safe to store.
func (h hard) credential(keys *inventory.Keyring) *inventory.Credential {
	if h.found != nil {
		return h.found.Credential()
	}
	return ownConfidence(h, keys.SecretCredential(h.rule, h.value, inventory.VaultHardcoded))
}

type span struct {
	line      int
	job, step string
}

// pipeline is what a parser extracts from one pipeline file.
type pipeline struct {
	provider string
	name     string
	refs     []ref
	hard     []hard
	spans    []span
	static   map[string]bool // static cloud key signals
	oidc     map[string]bool // OIDC federation signals
	sets     map[inventory.AttrKey]map[string]bool
	flags    map[string]bool
	// includes are local files this one pulls in (GitLab include:local).
	includes []string
	// defined are the variables the file defines (GitLab), passed on to
	// the files it includes.
	defined map[string]bool
	// lenient says, by line, what of the file had to be read leniently
	// because it is not valid YAML (lenient.go).
	lenient []string
	// syntax are the syntax errors of a file read without a parser
	// (Jenkinsfile): the CI system would refuse it, but all of it was read.
	syntax []string
	// lineWise marks the pipeline of a file that is not YAML: only its
	// hard-coded secrets, read line by line (linewise.go).
	lineWise bool
}

func newPipeline(provider string) *pipeline {
	return &pipeline{provider: provider, static: map[string]bool{}, oidc: map[string]bool{},
		sets: map[inventory.AttrKey]map[string]bool{}, flags: map[string]bool{}}
}

func (p *pipeline) addRef(r ref) {
	if r.name == "" {
		return
	}
	p.refs = append(p.refs, r)
}

// set adds v to the set-valued attribute attr.
func (p *pipeline) set(attr inventory.AttrKey, v string) {
	if v == "" {
		return
	}
	m := p.sets[attr]
	if m == nil {
		m = map[string]bool{}
		p.sets[attr] = m
	}
	m[v] = true
}

func (p *pipeline) span(line int, job, step string) {
	p.spans = append(p.spans, span{line, job, step})
}

// where tells which job and step a line belongs to.
func (p *pipeline) where(line int) (string, string) {
	best := -1
	for i, s := range p.spans {
		if s.line <= line && (best < 0 || s.line >= p.spans[best].line) {
			best = i
		}
	}
	if best < 0 {
		return "", ""
	}
	return p.spans[best].job, p.spans[best].step
}

// authMode: any static cloud key makes the pipeline long-lived, whatever
// else it does.
func (p *pipeline) authMode() string {
	switch {
	case len(p.static) > 0:
		return AuthStaticKeys
	case len(p.oidc) > 0:
		return AuthOIDC
	}
	return AuthNone
}

// staticKeyNames are environment variables that carry long-lived cloud
// credentials: feeding one from a secret (or a literal) means static keys.
var staticKeyNames = map[string]string{
	"AWS_ACCESS_KEY_ID":              "aws",
	"AWS_SECRET_ACCESS_KEY":          "aws",
	"GOOGLE_CREDENTIALS":             "gcp",
	"GOOGLE_APPLICATION_CREDENTIALS": "gcp",
	"GCLOUD_SERVICE_KEY":             "gcp",
	"GCP_SA_KEY":                     "gcp",
	"GCP_SERVICE_ACCOUNT_KEY":        "gcp",
	"GCP_CREDENTIALS":                "gcp",
	"ARM_CLIENT_SECRET":              "azure",
	"AZURE_CLIENT_SECRET":            "azure",
	"AZURE_CREDENTIALS":              "azure",
	"AZURE_STORAGE_KEY":              "azure",
}

// staticKeyName reports the cloud whose static key a variable (or
// action input) name holds: AWS_SECRET_ACCESS_KEY, aws_access_key,
// GCP_SERVICE_KEY, AZURE_CREDENTIALS, AZURE_WEBAPP_PUBLISH_PROFILE, ...
func staticKeyName(name string) string {
	n := strings.ReplaceAll(strings.ToUpper(name), "-", "_")
	if c, ok := staticKeyNames[n]; ok {
		return c
	}
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(n, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("AWS") && has("SECRET", "ACCESS_KEY"):
		return "aws"
	case has("GCP", "GOOGLE", "GCLOUD", "GKE") && has("SERVICE_KEY", "SERVICE_ACCOUNT_KEY", "SA_KEY", "CREDENTIALS", "KEY_JSON", "KEYFILE", "KEY_FILE"):
		return "gcp"
	case has("AZURE", "ARM_") && has("CLIENT_SECRET", "CREDENTIALS", "PUBLISH_PROFILE", "STORAGE_KEY", "ACCOUNT_KEY", "PASSWORD"):
		return "azure"
	}
	return ""
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
