package aws

// What the collector reads of each principal: a user (keys, login
// profile, MFA, policies, groups), a group, a role (trust, policies,
// last use) and a managed policy's default version.

import (
	"context"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
)

func (c *collector) user(ctx context.Context, u *user) {
	name := awssdk.String(u.name)
	fail := func(call, detail string, err error) { c.unitErr(ctx, u.arn, call, detail, err) }

	tags := iam.NewListUserTagsPaginator(c.iam, &iam.ListUserTagsInput{UserName: name})
	for tags.HasMorePages() {
		page, err := tags.NextPage(ctx)
		if err != nil {
			fail("iam:ListUserTags", "", err)
			break
		}
		for _, t := range page.Tags {
			u.tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
		}
	}

	lp, err := c.iam.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: name})
	switch {
	case err == nil:
		v := true
		u.consolePassword = &v
		if lp.LoginProfile != nil {
			u.passwordCreated = lp.LoginProfile.CreateDate
		}
	case isNoSuchEntity(err):
		v := false
		u.consolePassword = &v
	default:
		fail("iam:GetLoginProfile", "", err)
	}

	mfa := iam.NewListMFADevicesPaginator(c.iam, &iam.ListMFADevicesInput{UserName: name})
	devices, mfaOK := []string{}, true
	for mfa.HasMorePages() {
		page, err := mfa.NextPage(ctx)
		if err != nil {
			fail("iam:ListMFADevices", "", err)
			mfaOK = false
			break
		}
		for _, d := range page.MFADevices {
			devices = append(devices, awssdk.ToString(d.SerialNumber))
		}
	}
	if mfaOK {
		u.mfaDevices = devices
		v := len(devices) > 0
		u.mfaActive = &v
	}

	gs := iam.NewListGroupsForUserPaginator(c.iam, &iam.ListGroupsForUserInput{UserName: name})
	for gs.HasMorePages() {
		page, err := gs.NextPage(ctx)
		if err != nil {
			fail("iam:ListGroupsForUser", "", err)
			break
		}
		for _, g := range page.Groups {
			u.groups = append(u.groups, awssdk.ToString(g.GroupName))
		}
	}

	u.attached = c.attached(ctx, "iam:ListAttachedUserPolicies", fail, func(ctx context.Context, marker *string) ([]types.AttachedPolicy, *string, error) {
		out, err := c.iam.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: name, Marker: marker})
		if err != nil {
			return nil, nil, err
		}
		return out.AttachedPolicies, nextMarker(out.IsTruncated, out.Marker), nil
	})

	inl := iam.NewListUserPoliciesPaginator(c.iam, &iam.ListUserPoliciesInput{UserName: name})
	for inl.HasMorePages() {
		page, err := inl.NextPage(ctx)
		if err != nil {
			fail("iam:ListUserPolicies", "", err)
			break
		}
		for _, pn := range page.PolicyNames {
			out, err := c.iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: name, PolicyName: awssdk.String(pn)})
			if err != nil {
				fail("iam:GetUserPolicy", "policy "+pn, err)
				u.inline = append(u.inline, inlinePolicy{name: pn})
				continue
			}
			u.inline = append(u.inline, inlinePolicy{name: pn, document: awsparse.DecodeDocument(awssdk.ToString(out.PolicyDocument))})
		}
	}

	keys := iam.NewListAccessKeysPaginator(c.iam, &iam.ListAccessKeysInput{UserName: name})
	u.keysKnown = true
	for keys.HasMorePages() {
		page, err := keys.NextPage(ctx)
		if err != nil {
			fail("iam:ListAccessKeys", "", err)
			u.keysKnown = false
			break
		}
		for _, k := range page.AccessKeyMetadata {
			ak := &accessKey{id: awssdk.ToString(k.AccessKeyId), status: string(k.Status), created: k.CreateDate}
			lu, err := c.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
			if err != nil {
				fail("iam:GetAccessKeyLastUsed", "key "+ak.id, err)
			} else if l := lu.AccessKeyLastUsed; l != nil {
				ak.usedKnown = true
				ak.lastUsed = l.LastUsedDate
				ak.service = awsparse.Value(awssdk.ToString(l.ServiceName))
				ak.region = awsparse.Value(awssdk.ToString(l.Region))
			}
			u.keys = append(u.keys, ak)
			c.sink.Add("access_keys", 1)
		}
	}
}

func nextMarker(truncated bool, marker *string) *string {
	if !truncated || awssdk.ToString(marker) == "" {
		return nil
	}
	return marker
}

// attached pages through one of the ListAttached*Policies calls.
func (c *collector) attached(ctx context.Context, call string, fail func(call, detail string, err error),
	page func(context.Context, *string) ([]types.AttachedPolicy, *string, error)) []policyRef {
	var out []policyRef
	var marker *string
	for {
		ps, next, err := page(ctx, marker)
		if err != nil {
			fail(call, "", err)
			return out
		}
		for _, p := range ps {
			out = append(out, policyRef{name: awssdk.ToString(p.PolicyName), arn: awssdk.ToString(p.PolicyArn)})
		}
		if next == nil {
			return out
		}
		marker = next
	}
}

// group reads a group's policies. A group is not an identity: what fails
// here is recorded against each member user (principalErrors).
func (c *collector) group(ctx context.Context, g *group) {
	name := awssdk.String(g.name)
	fail := func(call, detail string, err error) {
		if e := c.callFailed(ctx, call, detail, err); e != nil {
			g.errs = append(g.errs, e)
		}
	}
	g.attached = c.attached(ctx, "iam:ListAttachedGroupPolicies", fail, func(ctx context.Context, marker *string) ([]types.AttachedPolicy, *string, error) {
		out, err := c.iam.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: name, Marker: marker})
		if err != nil {
			return nil, nil, err
		}
		return out.AttachedPolicies, nextMarker(out.IsTruncated, out.Marker), nil
	})
	inl := iam.NewListGroupPoliciesPaginator(c.iam, &iam.ListGroupPoliciesInput{GroupName: name})
	for inl.HasMorePages() {
		page, err := inl.NextPage(ctx)
		if err != nil {
			fail("iam:ListGroupPolicies", "", err)
			break
		}
		for _, pn := range page.PolicyNames {
			out, err := c.iam.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: name, PolicyName: awssdk.String(pn)})
			if err != nil {
				fail("iam:GetGroupPolicy", "policy "+pn, err)
				g.inline = append(g.inline, inlinePolicy{name: pn})
				continue
			}
			g.inline = append(g.inline, inlinePolicy{name: pn, document: awsparse.DecodeDocument(awssdk.ToString(out.PolicyDocument))})
		}
	}
}

func (c *collector) role(ctx context.Context, r *role) {
	name := awssdk.String(r.name)
	fail := func(call, detail string, err error) { c.unitErr(ctx, r.arn, call, detail, err) }
	// ListRoles returns neither tags nor last use; GetRole does.
	out, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: name})
	if err != nil {
		fail("iam:GetRole", "", err)
	} else if out.Role != nil {
		for _, t := range out.Role.Tags {
			r.tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
		}
		if lu := out.Role.RoleLastUsed; lu != nil {
			r.lastUsed = lu.LastUsedDate
			r.lastUsedRegion = awssdk.ToString(lu.Region)
		}
		if r.trust == "" {
			r.trust = awsparse.DecodeDocument(awssdk.ToString(out.Role.AssumeRolePolicyDocument))
		}
	}
	r.attached = c.attached(ctx, "iam:ListAttachedRolePolicies", fail, func(ctx context.Context, marker *string) ([]types.AttachedPolicy, *string, error) {
		out, err := c.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: name, Marker: marker})
		if err != nil {
			return nil, nil, err
		}
		return out.AttachedPolicies, nextMarker(out.IsTruncated, out.Marker), nil
	})
	inl := iam.NewListRolePoliciesPaginator(c.iam, &iam.ListRolePoliciesInput{RoleName: name})
	for inl.HasMorePages() {
		page, err := inl.NextPage(ctx)
		if err != nil {
			fail("iam:ListRolePolicies", "", err)
			break
		}
		for _, pn := range page.PolicyNames {
			out, err := c.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: name, PolicyName: awssdk.String(pn)})
			if err != nil {
				fail("iam:GetRolePolicy", "policy "+pn, err)
				r.inline = append(r.inline, inlinePolicy{name: pn})
				continue
			}
			r.inline = append(r.inline, inlinePolicy{name: pn, document: awsparse.DecodeDocument(awssdk.ToString(out.PolicyDocument))})
		}
	}
}

// policy reads a managed policy's default version. What fails is kept on
// the policy and recorded against every principal it is attached to
// (principalErrors).
func (c *collector) policy(ctx context.Context, arn, name string) {
	mp := &managedPolicy{name: name, arn: arn}
	defer func() {
		c.mu.Lock()
		c.acct.policies[arn] = mp
		c.mu.Unlock()
	}()
	p, err := c.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: awssdk.String(arn)})
	if err != nil {
		mp.err = c.callFailed(ctx, "iam:GetPolicy", "", err)
		return
	}
	if p.Policy == nil || p.Policy.DefaultVersionId == nil {
		return
	}
	v, err := c.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: awssdk.String(arn), VersionId: p.Policy.DefaultVersionId})
	if err != nil {
		mp.err = c.callFailed(ctx, "iam:GetPolicyVersion", "", err)
		return
	}
	if v.PolicyVersion != nil {
		mp.document = awsparse.DecodeDocument(awssdk.ToString(v.PolicyVersion.Document))
	}
}
