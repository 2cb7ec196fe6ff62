package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// checks maps the catalogue's check names to their implementations.
var checks = map[string]check{
	"owner_assigned":            checkOwnerAssigned,
	"no_secret_in_code":         checkNoSecretInCode,
	"stored_in_secrets_manager": checkStoredInSecretsManager,
	"no_reuse":                  checkNoReuse,
	"key_rotated":               checkKeyRotated,
	"vault_secret_rotated":      checkVaultSecretRotated,
	"unused_credential":         checkUnused,
	"one_active_key":            checkOneActiveKey,
	"no_root_keys":              checkNoRootKeys,
	"least_privilege":           checkLeastPrivilege,
	"no_console_password":       checkNoConsolePassword,
	"github_oidc_sub":           checkGitHubOIDCSub,
	"ci_uses_oidc":              checkCIUsesOIDC,
	"ci_pinned_receivers":       checkCIPinned,
	"ci_no_prt_exposure":        checkCIPullRequestTarget,
	"agent_no_hardcoded":        checkAgentNoHardcoded,
	"agent_broad_tokens":        checkAgentBroadTokens,
	"agent_pinned_launch":       checkAgentPinnedLaunch,
	"vault_expiry":              checkVaultExpiry,
	"review_attested":           checkReviewAttested,
}

// The facts checks read are the inventory's (inventory/facts.go), never
// a key spelled here: TestChecksReadNoKeyByLiteral holds that.

func isRoot(i *inventory.IdentityRow) bool { return i.Identity.Facts().Bool(inventory.AttrRoot) }

func isServiceLinked(i *inventory.IdentityRow) bool {
	return i.Identity.Facts().Bool(inventory.AttrServiceLinked)
}

// Owner: identities, and credentials no identity answers for.
func checkOwnerAssigned(c *Control, e *env, s *subject) (bool, *finding) {
	if s.cred != nil && (s.cred.IdentityKey != "" || s.cred.Credential.Type == inventory.TypeCIReference) {
		return false, nil
	}
	if s.id != nil && (isRoot(s.id) || isServiceLinked(s.id)) {
		return false, nil
	}
	if s.owner.name != "" && !strings.Contains(s.owner.source, "suspected") {
		return true, nil
	}
	f := &finding{detail: "no owner: no owner tag or metadata, no owners: rule in nhi.yaml and no CODEOWNERS entry", evidence: map[string]any{}}
	if s.owner.name != "" {
		f.detail = fmt.Sprintf("no confirmed owner; suspected owner %s (author of the commit that introduced it)", s.owner.name)
		f.evidence["suspected_owner"] = s.owner.name
	}
	if s.id != nil {
		f.evidence["identity"] = s.key
	} else if first := firstOccurrence(s.cred); first != nil {
		f.detail += "; first seen at " + place(*first)
	}
	return true, f
}

func firstOccurrence(c *inventory.CredentialRow) *inventory.Occurrence {
	if o := introducing(c.Occurrences); o != nil {
		return o
	}
	if len(c.Occurrences) > 0 {
		return &c.Occurrences[0]
	}
	return nil
}

func gitOccurrences(c *inventory.CredentialRow) []inventory.Occurrence {
	var out []inventory.Occurrence
	for _, o := range c.Occurrences {
		if o.Source == inventory.SourceGit {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Date == nil || out[j].Date == nil {
			return false
		}
		return out[i].Date.Before(*out[j].Date)
	})
	return out
}

func vaultCopies(e *env, c *inventory.CredentialRow) []string {
	var paths []string
	for _, other := range e.byFP[c.Credential.Fingerprint] {
		if other == c || other.Credential.VaultStatus != inventory.VaultVaulted {
			continue
		}
		for _, o := range other.Occurrences {
			if o.VaultPath != "" {
				paths = append(paths, o.VaultPath)
			}
		}
	}
	return paths
}

func checkNoSecretInCode(c *Control, e *env, s *subject) (bool, *finding) {
	if s.cred == nil {
		return false, nil
	}
	occ := gitOccurrences(s.cred)
	if len(occ) == 0 {
		// Only credentials that could be in code are evaluated.
		return s.cred.Credential.Fingerprint != "" || s.cred.Credential.Type == inventory.TypeAWSAccessKey, nil
	}
	cr := s.cred.Credential
	f := &finding{evidence: map[string]any{"occurrences": len(occ), "first": place(occ[0]), "repo": occ[0].Repo,
		"path": occ[0].Path, "line": occ[0].Line, "commit": occ[0].Commit}}
	f.detail = fmt.Sprintf("%s %s committed at %s", cr.Type, cr.Redacted, place(occ[0]))
	if len(occ) > 1 {
		f.detail += fmt.Sprintf(" and %d more places in history", len(occ)-1)
	}
	if cr.Active() {
		f.severity = c.thresholdString("live_severity")
		f.detail += "; the key is ACTIVE"
		if id := e.identity[s.cred.IdentityKey]; id != nil {
			f.detail += " in IAM for " + id.Identity.Key
			f.evidence["arn"] = id.Identity.Key
		}
		if cr.LastUsedAt != nil {
			f.detail += ", last used " + cr.LastUsedAt.UTC().Format("2006-01-02")
		}
	}
	if paths := vaultCopies(e, s.cred); len(paths) > 0 {
		f.detail += "; it is a copy of the vaulted secret at " + strings.Join(paths, ", ")
		f.evidence["vault_paths"] = paths
	}
	byConfidence(c, s, f)
	return true, f
}

func checkStoredInSecretsManager(c *Control, e *env, s *subject) (bool, *finding) {
	if s.cred == nil {
		return false, nil
	}
	vs := s.cred.Credential.VaultStatus
	if vs == inventory.VaultUnknown || vs == "" {
		return false, nil
	}
	if vs != inventory.VaultHardcoded {
		return true, nil
	}
	// A secret committed to git is not in a secrets manager either: it
	// fails here too (it once counted as passing, so a repository of
	// nothing but hard-coded secrets read 100%), NHI-SEC-01 says it leaked.
	if occ := gitOccurrences(s.cred); len(occ) > 0 {
		cr := s.cred.Credential
		f := &finding{detail: fmt.Sprintf("%s %s is hard-coded in git history at %s, not kept in a secrets manager; once it is rotated (NHI-SEC-01), keep the new value in Vault or the CI secret store",
			cr.Type, cr.Redacted, place(occ[0])),
			evidence: map[string]any{"place": place(occ[0]), "repo": occ[0].Repo, "path": occ[0].Path, "line": occ[0].Line, "commit": occ[0].Commit}}
		byConfidence(c, s, f)
		return true, f
	}
	f := &finding{detail: fmt.Sprintf("%s %s is hard-coded", s.cred.Credential.Type, s.cred.Credential.Redacted), evidence: map[string]any{}}
	if first := firstOccurrence(s.cred); first != nil {
		f.detail += " at " + place(*first)
		f.evidence["place"] = place(*first)
	}
	byConfidence(c, s, f)
	return true, f
}

func checkNoReuse(c *Control, e *env, s *subject) (bool, *finding) {
	if s.cred == nil || s.cred.Credential.Fingerprint == "" || s.cred.Credential.Type == inventory.TypeCIReference {
		return false, nil
	}
	// A place is a repository (or CI directory) and, inside it, the
	// environment a path names: one secret in prod.env and staging.env of
	// one repository is reused across environments.
	places := map[string]bool{}
	for _, o := range s.cred.Occurrences {
		switch o.Source {
		case inventory.SourceGit, inventory.SourceCI, inventory.SourceDir, inventory.SourceAgent:
			where := o.Repo
			if where == "" {
				where = o.Path
			}
			if env := environmentOf(o.Path); env != "" {
				where += " (" + env + ")"
			}
			places[where] = true
		}
	}
	if len(places) == 0 {
		return false, nil
	}
	if float64(len(places)) <= c.threshold("max_places") {
		return true, nil
	}
	list := make([]string, 0, len(places))
	for p := range places {
		list = append(list, p)
	}
	sort.Strings(list)
	short := make([]string, len(list))
	for i, p := range list {
		short[i] = inventory.RepoName(p)
	}
	return true, &finding{detail: fmt.Sprintf("the same %s is used in %d places: %s", s.cred.Credential.Type, len(list), strings.Join(short, ", ")),
		evidence: map[string]any{"places": list}}
}

// environmentOf names the deployment environment a path is for, from its
// directory and file names (prod.env, config/staging/, values-dev.yaml).
func environmentOf(path string) string {
	words := strings.FieldsFunc(strings.ToLower(path), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	for _, w := range words {
		switch w {
		case "prod", "production", "prd", "live":
			return "production"
		case "staging", "stage", "stg", "preprod", "uat":
			return "staging"
		case "dev", "development", "sandbox":
			return "development"
		case "qa":
			// "test" is left out: a test/ directory holds test code, not an environment.
			return "qa"
		}
	}
	return ""
}

func checkKeyRotated(c *Control, e *env, s *subject) (bool, *finding) {
	if s.cred == nil || s.cred.Credential.Type != inventory.TypeAWSAccessKey || !s.cred.Credential.Active() {
		return false, nil
	}
	cr := s.cred.Credential
	since := cr.LastRotatedAt
	if since == nil {
		since = cr.CreatedAt
	}
	if since == nil {
		return false, nil
	}
	age := days(e.now.Sub(*since))
	max := int(c.threshold("max_age_days"))
	if age <= max {
		return true, nil
	}
	return true, &finding{detail: fmt.Sprintf("access key %s is %d days old (created %s); rotate within %d days", cr.Label(), age, since.UTC().Format("2006-01-02"), max),
		evidence: map[string]any{"age_days": age, "created": since.UTC().Format(time.RFC3339), "identity": s.cred.IdentityKey}}
}

func checkVaultSecretRotated(c *Control, e *env, s *subject) (bool, *finding) {
	if s.cred == nil || s.cred.Credential.Type != inventory.TypeVaultKV || s.cred.Credential.LastRotatedAt == nil || s.cred.Credential.Facts().Bool(inventory.AttrDeleted) {
		return false, nil
	}
	age := days(e.now.Sub(*s.cred.Credential.LastRotatedAt))
	max := int(c.threshold("max_age_days"))
	if age <= max {
		return true, nil
	}
	vp := ""
	if len(s.cred.Occurrences) > 0 {
		vp = s.cred.Occurrences[0].VaultPath
	}
	return true, &finding{detail: fmt.Sprintf("vault secret %s last written %d days ago (%s); rotate within %d days", vp, age,
		s.cred.Credential.LastRotatedAt.UTC().Format("2006-01-02"), max), evidence: map[string]any{"vault_path": vp, "age_days": age}}
}

func checkUnused(c *Control, e *env, s *subject) (bool, *finding) {
	if s.cred == nil || !s.cred.Credential.Active() {
		return false, nil
	}
	cr := s.cred.Credential
	if cr.Type != inventory.TypeAWSAccessKey && cr.Type != inventory.TypeAWSConsolePassword && cr.Type != inventory.TypeAWSRootAccessKey {
		return false, nil
	}
	ref, what := cr.LastUsedAt, "last used"
	if ref == nil {
		ref, what = cr.CreatedAt, "never used; created"
	}
	if ref == nil {
		return false, nil
	}
	idle := days(e.now.Sub(*ref))
	disable, remove := int(c.threshold("disable_after_days")), int(c.threshold("remove_after_days"))
	if idle <= disable {
		return true, nil
	}
	f := &finding{evidence: map[string]any{"idle_days": idle, "identity": s.cred.IdentityKey}}
	action := "disable it"
	if idle > remove {
		action = "remove it"
		f.severity = c.thresholdString("remove_severity")
	}
	f.detail = fmt.Sprintf("%s %s %s %s (%d days ago): %s", cr.Type, cr.Label(), what, ref.UTC().Format("2006-01-02"), idle, action)
	if s.cred.IdentityKey != "" {
		f.detail += "; identity " + s.cred.IdentityKey
	}
	return true, f
}

func checkOneActiveKey(c *Control, e *env, s *subject) (bool, *finding) {
	if s.id == nil || s.id.Identity.Kind != inventory.KindIAMUser || isRoot(s.id) {
		return false, nil
	}
	var keys []string
	for _, cr := range s.creds {
		if cr.Credential.Type == inventory.TypeAWSAccessKey && cr.Credential.Active() {
			keys = append(keys, cr.Credential.Redacted)
		}
	}
	if float64(len(keys)) <= c.threshold("max_active_keys") {
		return true, nil
	}
	sort.Strings(keys)
	return true, &finding{detail: fmt.Sprintf("%s has %d active access keys: %s", s.key, len(keys), strings.Join(keys, ", ")),
		evidence: map[string]any{"keys": keys}}
}

func checkNoRootKeys(c *Control, e *env, s *subject) (bool, *finding) {
	if s.id == nil || !isRoot(s.id) {
		return false, nil
	}
	n := 0
	for _, cr := range s.creds {
		if (cr.Credential.Type == inventory.TypeAWSRootAccessKey || cr.Credential.Type == inventory.TypeAWSAccessKey) && cr.Credential.Active() {
			n++
		}
	}
	if n == 0 {
		return true, nil
	}
	return true, &finding{detail: fmt.Sprintf("the root account %s has %d active access key(s)", s.id.Identity.Account, n),
		evidence: map[string]any{"active_root_keys": n}}
}

func checkLeastPrivilege(c *Control, e *env, s *subject) (bool, *finding) {
	if s.id == nil || (s.id.Identity.Kind != inventory.KindIAMUser && s.id.Identity.Kind != inventory.KindIAMRole) ||
		isRoot(s.id) || isServiceLinked(s.id) {
		return false, nil
	}
	switch s.id.Identity.Privileges {
	case inventory.PrivAdministrator:
		pols := s.id.Identity.Facts().Strings(inventory.AttrAdminPolicies)
		return true, &finding{detail: fmt.Sprintf("%s has administrator access through %s", s.key, orNone(pols)),
			evidence: map[string]any{"policies": pols}}
	case inventory.PrivWildcard:
		pols := s.id.Identity.Facts().Strings(inventory.AttrWildcardPolicies)
		return true, &finding{severity: c.thresholdString("wildcard_severity"),
			detail:   fmt.Sprintf("%s is granted wildcard actions through %s", s.key, orNone(pols)),
			evidence: map[string]any{"policies": pols}}
	}
	return true, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(unnamed policy)"
	}
	return strings.Join(s, ", ")
}

func checkNoConsolePassword(c *Control, e *env, s *subject) (bool, *finding) {
	if s.id == nil || s.id.Identity.Kind != inventory.KindIAMUser || isRoot(s.id) {
		return false, nil
	}
	hasKey := false
	for _, cr := range s.creds {
		if cr.Credential.Type == inventory.TypeAWSAccessKey && cr.Credential.Active() {
			hasKey = true
		}
	}
	if !hasKey {
		// A user without keys is not a service user.
		return false, nil
	}
	facts := s.id.Identity.Facts()
	if !facts.Bool(inventory.AttrConsolePassword) {
		return true, nil
	}
	d := fmt.Sprintf("service user %s (it has active access keys) also has a console password", s.key)
	lu := facts.String(inventory.AttrPasswordLastUsed)
	if lu != "" {
		d += ", last used " + lu
	}
	return true, &finding{detail: d, evidence: map[string]any{"password_last_used": lu}}
}

func checkGitHubOIDCSub(c *Control, e *env, s *subject) (bool, *finding) {
	if s.id == nil || s.id.Identity.Kind != inventory.KindIAMRole {
		return false, nil
	}
	trust := s.id.Identity.Facts().Map(inventory.AttrTrust)
	if !trust.Bool(inventory.TrustGitHubOIDC) {
		return false, nil
	}
	if trust.Bool(inventory.TrustGitHubOIDCSubRestricted) {
		return true, nil
	}
	return true, &finding{detail: fmt.Sprintf("role %s trusts token.actions.githubusercontent.com without a sub condition: any GitHub repository's workflow can assume it", s.key),
		evidence: map[string]any{"arn": s.key}}
}

func isCI(s *subject) bool { return s.id != nil && s.id.Identity.Kind == inventory.KindCIWorkflow }

func ciPlace(s *subject) string {
	p := s.id.Identity.Facts().String(inventory.AttrPath)
	if p == "" {
		p = s.id.Identity.Name
	}
	if acc := s.id.Identity.Account; acc != "" {
		return inventory.RepoName(acc) + " " + p
	}
	return p
}

func checkCIUsesOIDC(c *Control, e *env, s *subject) (bool, *finding) {
	if !isCI(s) {
		return false, nil
	}
	switch s.id.Identity.AuthMode {
	case inventory.AuthOIDC:
		return true, nil
	case inventory.AuthStaticKeys:
		static := s.id.Identity.Facts().Map(inventory.AttrAuthSignals).Strings(inventory.SignalStatic)
		d := fmt.Sprintf("pipeline %s reaches the cloud with static keys", ciPlace(s))
		if len(static) > 0 {
			d += " (" + strings.Join(static, ", ") + ")"
		}
		return true, &finding{detail: d, evidence: map[string]any{"signals": static}}
	}
	return false, nil
}

func checkCIPinned(c *Control, e *env, s *subject) (bool, *finding) {
	if !isCI(s) {
		return false, nil
	}
	recv := s.id.Identity.Facts().Strings(inventory.AttrUnpinnedSecretReceivers)
	if len(recv) == 0 {
		return true, nil
	}
	return true, &finding{detail: fmt.Sprintf("pipeline %s hands secrets to third-party code not pinned to a commit SHA: %s", ciPlace(s), strings.Join(recv, ", ")),
		evidence: map[string]any{"receivers": recv}}
}

func checkCIPullRequestTarget(c *Control, e *env, s *subject) (bool, *finding) {
	if !isCI(s) || s.id.Identity.Provider != inventory.ProviderGitHubActions {
		return false, nil
	}
	facts := s.id.Identity.Facts()
	exposed := facts.Bool(inventory.AttrPullRequestTargetExposure) || len(facts.Strings(inventory.AttrPullRequestTargetExposure)) > 0
	if !exposed {
		return true, nil
	}
	return true, &finding{detail: fmt.Sprintf("workflow %s runs on pull_request_target with secrets and checks out code from the pull request", ciPlace(s)),
		evidence: map[string]any{"workflow": ciPlace(s)}}
}

func checkVaultExpiry(c *Control, e *env, s *subject) (bool, *finding) {
	if s.cred == nil {
		return false, nil
	}
	cr := s.cred.Credential
	if cr.Type != inventory.TypeVaultToken && cr.Type != inventory.TypeVaultSecretID {
		return false, nil
	}
	if cr.ExpiresAt != nil {
		return true, nil
	}
	what := "token"
	if cr.Type == inventory.TypeVaultSecretID {
		what = "AppRole secret-id"
	}
	d := fmt.Sprintf("Vault %s %s never expires", what, cr.Redacted)
	if id := e.identity[s.cred.IdentityKey]; id != nil {
		d += " (" + id.Identity.Name + ")"
		if id.Identity.Facts().Bool(inventory.AttrRoot) {
			d += "; it carries the root policy"
		}
	}
	return true, &finding{detail: d, evidence: map[string]any{"identity": s.cred.IdentityKey}}
}
