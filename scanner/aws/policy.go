package aws

import (
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
)

// Privilege summaries of an identity, from most to least powerful: the
// inventory's, which the least-privilege control compares against.
const (
	PrivAdministrator = inventory.PrivAdministrator
	PrivWildcard      = inventory.PrivWildcard
	PrivLimited       = inventory.PrivLimited
)

func privRank(p string) int {
	switch p {
	case PrivAdministrator:
		return 2
	case PrivWildcard:
		return 1
	}
	return 0
}

// privOf is the inventory's name of what awsparse classified.
func privOf(p awsparse.Privilege) string {
	switch p {
	case awsparse.Administrator:
		return PrivAdministrator
	case awsparse.Wildcard:
		return PrivWildcard
	}
	return PrivLimited
}

// classifyDocument returns the privilege a permissions policy document
// grants. A document that does not parse is reported as limited with ok
// false.
func classifyDocument(doc string) (priv string, ok bool) {
	p, ok := awsparse.ClassifyDocument(doc)
	return privOf(p), ok
}

// classifyByName is the fallback for a managed policy whose document could
// not be read: AWS's own policy names say enough for the worst cases.
func classifyByName(name, arn string) string {
	if isAdministratorAccess(name, arn) {
		return PrivAdministrator
	}
	if strings.HasSuffix(name, "FullAccess") || name == "PowerUserAccess" || name == "IAMFullAccess" {
		return PrivWildcard
	}
	return PrivLimited
}

func isAdministratorAccess(name, arn string) bool {
	return strings.HasSuffix(arn, ":policy/AdministratorAccess") || (arn == "" && name == "AdministratorAccess")
}

// trustAttrs are the attributes of a role that say who may assume it.
func trustAttrs(t awsparse.TrustSummary) map[string]any {
	m := map[string]any{
		"principals": t.Principals,
		"public":     t.Public,
		"parsed":     t.Parsed,
	}
	f := inventory.Facts(m)
	f.Set(inventory.TrustGitHubOIDC, t.GitHubOIDC)
	f.Set(inventory.TrustGitHubOIDCSubRestricted, t.GitHubOIDCSubRestricted)
	if t.Principals == nil {
		m["principals"] = []string{}
	}
	if len(t.GitHubSubjects) > 0 {
		m["github_oidc_subjects"] = t.GitHubSubjects
	}
	return m
}
