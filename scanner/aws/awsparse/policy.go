package awsparse

import (
	"encoding/json"
	"net/url"
	"sort"
	"strings"
)

// DecodeDocument returns a policy document as JSON text. IAM's query API
// returns documents URL-encoded; moto and the AWS CLI return plain JSON.
// Decode only when the value does not already start with "{".
func DecodeDocument(s string) string {
	t := strings.TrimSpace(s)
	if t == "" || strings.HasPrefix(t, "{") {
		return t
	}
	if d, err := url.PathUnescape(t); err == nil {
		return strings.TrimSpace(d)
	}
	if d, err := url.QueryUnescape(t); err == nil {
		return strings.TrimSpace(d)
	}
	return t
}

// stringList is an IAM policy element that is either a string or a list.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

type statement struct {
	Effect      string                           `json:"Effect"`
	Action      stringList                       `json:"Action"`
	NotAction   stringList                       `json:"NotAction"`
	Resource    stringList                       `json:"Resource"`
	NotResource stringList                       `json:"NotResource"`
	Principal   json.RawMessage                  `json:"Principal"`
	Condition   map[string]map[string]stringList `json:"Condition"`
}

// statements is the Statement element: one object or a list.
type statements []statement

func (s *statements) UnmarshalJSON(b []byte) error {
	var one statement
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = statements{one}
		return nil
	}
	var many []statement
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

type policyDocument struct {
	Statement statements `json:"Statement"`
}

func parseDocument(doc string) (*policyDocument, error) {
	var d policyDocument
	if err := json.Unmarshal([]byte(DecodeDocument(doc)), &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Privilege is what a permissions policy grants, least to most.
type Privilege int

// The privileges a policy document can grant: the inventory's
// PrivLimited, PrivWildcard and PrivAdministrator, which package aws maps
// them to.
const (
	Limited       Privilege = iota // named actions only
	Wildcard                       // a service's every action (s3:*), or all but some (NotAction)
	Administrator                  // every action on every resource
)

// ClassifyDocument returns the privilege a permissions policy document
// grants. A document that does not parse is reported as Limited with ok
// false.
func ClassifyDocument(doc string) (priv Privilege, ok bool) {
	d, err := parseDocument(doc)
	if err != nil {
		return Limited, false
	}
	priv = Limited
	raise := func(p Privilege) { priv = max(priv, p) }
	for _, st := range d.Statement {
		if !strings.EqualFold(st.Effect, "Allow") {
			continue
		}
		allResources := len(st.NotResource) > 0
		for _, r := range st.Resource {
			if r == "*" {
				allResources = true
			}
		}
		if len(st.NotAction) > 0 {
			// Allow everything except a list: PowerUserAccess and friends.
			raise(Wildcard)
		}
		for _, a := range st.Action {
			a = strings.TrimSpace(a)
			switch {
			case a == "*" || a == "*:*":
				if allResources {
					raise(Administrator)
				} else {
					raise(Wildcard)
				}
			case strings.HasSuffix(a, ":*"):
				raise(Wildcard)
			}
		}
	}
	return priv, true
}

// GitHubOIDCHost is the issuer of GitHub Actions' OIDC tokens.
const GitHubOIDCHost = "token.actions.githubusercontent.com"

// TrustSummary is what a role's trust policy says about who may assume it.
type TrustSummary struct {
	Principals []string `json:"principals"`
	// Public is true when any principal ("*") may assume the role without
	// a condition.
	Public bool `json:"public"`
	// GitHubOIDC is true when GitHub Actions' OIDC provider may assume the
	// role; GitHubOIDCSubRestricted only when every such statement limits
	// the token's sub claim (repository, branch, environment) to something
	// narrower than "*".
	GitHubOIDC              bool     `json:"github_oidc"`
	GitHubOIDCSubRestricted bool     `json:"github_oidc_sub_restricted"`
	GitHubSubjects          []string `json:"github_oidc_subjects,omitempty"`
	Parsed                  bool     `json:"parsed"`
}

// AnalyzeTrust reads a role's trust policy document (decoded JSON). A
// document that does not parse has Parsed false.
func AnalyzeTrust(doc string) TrustSummary {
	var t TrustSummary
	d, err := parseDocument(doc)
	if err != nil || doc == "" {
		return t
	}
	t.Parsed = true
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			t.Principals = append(t.Principals, p)
		}
	}
	restrictedAll := true
	for _, st := range d.Statement {
		if !strings.EqualFold(st.Effect, "Allow") || len(st.Principal) == 0 {
			continue
		}
		var principals []string // "Type:value"
		var star string
		if err := json.Unmarshal(st.Principal, &star); err == nil {
			principals = append(principals, "*")
		} else {
			var m map[string]stringList
			if err := json.Unmarshal(st.Principal, &m); err != nil {
				continue
			}
			for typ, vals := range m {
				for _, v := range vals {
					if v == "*" && typ == "AWS" {
						principals = append(principals, "*")
						continue
					}
					principals = append(principals, typ+":"+v)
				}
			}
		}
		github := false
		for _, p := range principals {
			add(p)
			if p == "*" && len(st.Condition) == 0 {
				t.Public = true
			}
			if strings.HasPrefix(p, "Federated:") && strings.Contains(p, GitHubOIDCHost) {
				github = true
			}
		}
		if !github {
			continue
		}
		t.GitHubOIDC = true
		var subs []string
		for _, keys := range st.Condition {
			for k, vals := range keys {
				if strings.EqualFold(k, GitHubOIDCHost+":sub") {
					subs = append(subs, vals...)
				}
			}
		}
		restricted := len(subs) > 0
		for _, s := range subs {
			if s == "*" || s == "repo:*" || strings.HasPrefix(s, "*") {
				restricted = false
			}
		}
		if !restricted {
			restrictedAll = false
		}
		t.GitHubSubjects = append(t.GitHubSubjects, subs...)
	}
	t.GitHubOIDCSubRestricted = t.GitHubOIDC && restrictedAll
	sort.Strings(t.Principals)
	sort.Strings(t.GitHubSubjects)
	return t
}
