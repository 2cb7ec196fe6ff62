package aws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// awsTime is a date in an IAM JSON export.
type awsTime struct{ t *time.Time }

func (a *awsTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || s == "" {
		return nil // null or not a string: no date
	}
	t, err := parseAWSTime(s)
	if err != nil {
		return err
	}
	a.t = t
	return nil
}

// docValue is a policy document in an export: a JSON object (the AWS CLI
// decodes them) or a string, URL-encoded (the raw API) or not.
type docValue string

func (d *docValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = docValue(decodeDocument(s))
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	*d = docValue(b)
	return nil
}

type detailTag struct{ Key, Value string }

type detailPolicyRef struct{ PolicyName, PolicyArn string }

type detailInline struct {
	PolicyName     string
	PolicyDocument docValue
}

// authorizationDetails is the JSON of `aws iam
// get-account-authorization-details` (GetAccountAuthorizationDetails).
type authorizationDetails struct {
	UserDetailList []struct {
		Path, UserName, UserId, Arn string
		CreateDate                  awsTime
		UserPolicyList              []detailInline
		GroupList                   []string
		AttachedManagedPolicies     []detailPolicyRef
		Tags                        []detailTag
	}
	GroupDetailList []struct {
		Path, GroupName, GroupId, Arn string
		GroupPolicyList               []detailInline
		AttachedManagedPolicies       []detailPolicyRef
	}
	RoleDetailList []struct {
		Path, RoleName, RoleId, Arn string
		CreateDate                  awsTime
		AssumeRolePolicyDocument    docValue
		RolePolicyList              []detailInline
		AttachedManagedPolicies     []detailPolicyRef
		Tags                        []detailTag
		RoleLastUsed                struct {
			LastUsedDate awsTime
			Region       string
		}
	}
	Policies []struct {
		PolicyName, Arn, DefaultVersionId string
		PolicyVersionList                 []struct {
			Document         docValue
			VersionId        string
			IsDefaultVersion bool
		}
	}
}

func parseAuthorizationDetails(b []byte) (*authorizationDetails, error) {
	var d authorizationDetails
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("authorization details: %w", err)
	}
	if d.UserDetailList == nil && d.RoleDetailList == nil && d.GroupDetailList == nil && d.Policies == nil {
		return nil, fmt.Errorf("authorization details: no UserDetailList, GroupDetailList, RoleDetailList or Policies; is this the JSON of `aws iam get-account-authorization-details`?")
	}
	return &d, nil
}

func tagMap(tags []detailTag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

func refs(ps []detailPolicyRef) []policyRef {
	out := make([]policyRef, 0, len(ps))
	for _, p := range ps {
		out = append(out, policyRef{name: p.PolicyName, arn: p.PolicyArn})
	}
	return out
}

func inlines(ps []detailInline) []inlinePolicy {
	out := make([]inlinePolicy, 0, len(ps))
	for _, p := range ps {
		out = append(out, inlinePolicy{name: p.PolicyName, document: string(p.PolicyDocument)})
	}
	return out
}

// addDetails merges an authorization-details export into the account.
func (a *account) addDetails(d *authorizationDetails) {
	for _, u := range d.UserDetailList {
		if a.id == "" {
			a.id = accountFromARN(u.Arn)
		}
		x := a.users[u.Arn]
		if x == nil {
			x = &user{arn: u.Arn}
			a.users[u.Arn] = x
		}
		x.name, x.id, x.path = u.UserName, u.UserId, u.Path
		if u.CreateDate.t != nil {
			x.created = u.CreateDate.t
		}
		x.tags = tagMap(u.Tags)
		x.groups = append([]string{}, u.GroupList...)
		x.attached = refs(u.AttachedManagedPolicies)
		x.inline = inlines(u.UserPolicyList)
	}
	for _, g := range d.GroupDetailList {
		a.groups[g.GroupName] = &group{name: g.GroupName, arn: g.Arn, attached: refs(g.AttachedManagedPolicies), inline: inlines(g.GroupPolicyList)}
	}
	for _, r := range d.RoleDetailList {
		if a.id == "" {
			a.id = accountFromARN(r.Arn)
		}
		a.roles[r.Arn] = &role{arn: r.Arn, name: r.RoleName, id: r.RoleId, path: r.Path, created: r.CreateDate.t,
			tags: tagMap(r.Tags), trust: string(r.AssumeRolePolicyDocument), attached: refs(r.AttachedManagedPolicies),
			inline: inlines(r.RolePolicyList), lastUsed: r.RoleLastUsed.LastUsedDate.t, lastUsedRegion: r.RoleLastUsed.Region}
	}
	for _, p := range d.Policies {
		mp := &managedPolicy{name: p.PolicyName, arn: p.Arn}
		for _, v := range p.PolicyVersionList {
			if v.IsDefaultVersion || (p.DefaultVersionId != "" && strings.EqualFold(v.VersionId, p.DefaultVersionId)) {
				mp.document = string(v.Document)
			}
		}
		a.policies[p.Arn] = mp
	}
}
