package aws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// IsTruncated is set on a page of the raw API's answer that is not
	// the last.
	IsTruncated bool
	Policies    []struct {
		PolicyName, Arn, DefaultVersionId string
		PolicyVersionList                 []struct {
			Document         docValue
			VersionId        string
			IsDefaultVersion bool
		}
	}
}

// parseAuthorizationDetails reads an authorization-details export: the
// one JSON document the AWS CLI writes, or the pages of the raw API one
// after another. It reads all of it or nothing: invalid or truncated JSON
// is an error naming the line and column, and so is a last page that says
// more pages follow (IsTruncated) or a principal whose ARN has no account.
func parseAuthorizationDetails(b []byte) (*authorizationDetails, error) {
	var all authorizationDetails
	dec := json.NewDecoder(bytes.NewReader(b))
	pages, truncated := 0, false
	for {
		var d authorizationDetails
		start := dec.InputOffset()
		err := dec.Decode(&d)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, jsonError(b, start, err)
		}
		if d.UserDetailList == nil && d.RoleDetailList == nil && d.GroupDetailList == nil && d.Policies == nil {
			l, c := lineCol(b, start)
			return nil, fmt.Errorf("line %d, column %d: a JSON value without UserDetailList, GroupDetailList, RoleDetailList or Policies; is this the JSON of `aws iam get-account-authorization-details`?", l, c)
		}
		pages++
		truncated = d.IsTruncated
		all.UserDetailList = append(all.UserDetailList, d.UserDetailList...)
		all.GroupDetailList = append(all.GroupDetailList, d.GroupDetailList...)
		all.RoleDetailList = append(all.RoleDetailList, d.RoleDetailList...)
		all.Policies = append(all.Policies, d.Policies...)
	}
	if pages == 0 {
		return nil, errors.New("the file is empty; export it with `aws iam get-account-authorization-details > FILE`")
	}
	if truncated {
		return nil, errors.New("the last page says more follow (IsTruncated: true), so principals are missing; export with the AWS CLI, which reads every page, or append every page of the API's answer")
	}
	for i, u := range all.UserDetailList {
		if _, err := principalAccount(u.Arn); err != nil {
			return nil, fmt.Errorf("UserDetailList[%d] (%s): Arn %w", i, u.UserName, err)
		}
	}
	for i, g := range all.GroupDetailList {
		if _, err := principalAccount(g.Arn); err != nil {
			return nil, fmt.Errorf("GroupDetailList[%d] (%s): Arn %w", i, g.GroupName, err)
		}
	}
	for i, r := range all.RoleDetailList {
		if _, err := principalAccount(r.Arn); err != nil {
			return nil, fmt.Errorf("RoleDetailList[%d] (%s): Arn %w", i, r.RoleName, err)
		}
	}
	if len(all.UserDetailList)+len(all.GroupDetailList)+len(all.RoleDetailList) == 0 {
		return nil, errors.New("no users, groups or roles, so no account to record; export without --filter, or with --filter User Role Group")
	}
	return &all, nil
}

// jsonError says where a JSON document is broken: line and column of the
// byte the decoder stopped at, and what to do about a truncated file.
func jsonError(b []byte, start int64, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		l, c := lineCol(b, int64(len(b)))
		return fmt.Errorf("the JSON ends at line %d, column %d in the middle of a value: the file is truncated", l, c)
	case errors.As(err, &se):
		// Offset counts the bytes read, the offending one included.
		l, c := lineCol(b, se.Offset-1)
		return fmt.Errorf("line %d, column %d: invalid JSON: %v", l, c, se)
	case errors.As(err, &te):
		l, c := lineCol(b, te.Offset-1)
		return fmt.Errorf("line %d, column %d: %s is a JSON %s, not the %s the export has there", l, c, te.Field, te.Value, jsonKind(te.Type.Kind().String()))
	}
	l, c := lineCol(b, start)
	return fmt.Errorf("in the JSON document starting at line %d, column %d: %w", l, c, err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice", "array":
		return "list"
	case "struct", "map":
		return "object"
	case "bool":
		return "boolean"
	case "string":
		return "string"
	}
	return "number"
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(b []byte, off int64) (line, col int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	before := b[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
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
