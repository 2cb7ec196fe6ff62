package aws

import (
	"strings"

	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
)

func tagMap(tags []awsparse.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

func refs(ps []awsparse.PolicyRef) []policyRef {
	out := make([]policyRef, 0, len(ps))
	for _, p := range ps {
		out = append(out, policyRef{name: p.PolicyName, arn: p.PolicyArn})
	}
	return out
}

func inlines(ps []awsparse.InlinePolicy) []inlinePolicy {
	out := make([]inlinePolicy, 0, len(ps))
	for _, p := range ps {
		out = append(out, inlinePolicy{name: p.PolicyName, document: string(p.PolicyDocument)})
	}
	return out
}

// addDetails merges an authorization-details export into the account.
func (a *account) addDetails(d *awsparse.AuthorizationDetails) {
	for _, u := range d.UserDetailList {
		if a.id == "" {
			a.id = awsparse.AccountFromARN(u.Arn)
		}
		x := a.users[u.Arn]
		if x == nil {
			x = &user{arn: u.Arn}
			a.users[u.Arn] = x
		}
		x.name, x.id, x.path = u.UserName, u.UserId, u.Path
		if u.CreateDate.T != nil {
			x.created = u.CreateDate.T
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
			a.id = awsparse.AccountFromARN(r.Arn)
		}
		a.roles[r.Arn] = &role{arn: r.Arn, name: r.RoleName, id: r.RoleId, path: r.Path, created: r.CreateDate.T,
			tags: tagMap(r.Tags), trust: string(r.AssumeRolePolicyDocument), attached: refs(r.AttachedManagedPolicies),
			inline: inlines(r.RolePolicyList), lastUsed: r.RoleLastUsed.LastUsedDate.T, lastUsedRegion: r.RoleLastUsed.Region}
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
