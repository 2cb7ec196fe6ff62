package awsparse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Time is a date in an IAM JSON export; T is nil when there is none.
type Time struct{ T *time.Time }

// UnmarshalJSON reads a date string; null or a value of another type is
// no date.
func (a *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || s == "" {
		return nil // null or not a string: no date
	}
	t, err := ParseTime(s)
	if err != nil {
		return err
	}
	a.T = t
	return nil
}

// Document is a policy document in an export: a JSON object (the AWS CLI
// decodes them) or a string, URL-encoded (the raw API) or not.
type Document string

// UnmarshalJSON reads a document as an object or as a string, decoded
// with DecodeDocument.
func (d *Document) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = Document(DecodeDocument(s))
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	*d = Document(b)
	return nil
}

// Tag is an IAM tag.
type Tag struct{ Key, Value string }

// PolicyRef is an attached managed policy.
type PolicyRef struct{ PolicyName, PolicyArn string }

// InlinePolicy is a policy embedded in a user, group or role.
type InlinePolicy struct {
	PolicyName     string
	PolicyDocument Document
}

// AuthorizationDetails is the JSON of `aws iam
// get-account-authorization-details` (GetAccountAuthorizationDetails).
type AuthorizationDetails struct {
	UserDetailList []struct {
		Path, UserName, UserId, Arn string
		CreateDate                  Time
		UserPolicyList              []InlinePolicy
		GroupList                   []string
		AttachedManagedPolicies     []PolicyRef
		Tags                        []Tag
	}
	GroupDetailList []struct {
		Path, GroupName, GroupId, Arn string
		GroupPolicyList               []InlinePolicy
		AttachedManagedPolicies       []PolicyRef
	}
	RoleDetailList []struct {
		Path, RoleName, RoleId, Arn string
		CreateDate                  Time
		AssumeRolePolicyDocument    Document
		RolePolicyList              []InlinePolicy
		AttachedManagedPolicies     []PolicyRef
		Tags                        []Tag
		RoleLastUsed                struct {
			LastUsedDate Time
			Region       string
		}
	}
	// IsTruncated is set on a page of the raw API's answer that is not
	// the last.
	IsTruncated bool
	Policies    []struct {
		PolicyName, Arn, DefaultVersionId string
		PolicyVersionList                 []struct {
			Document         Document
			VersionId        string
			IsDefaultVersion bool
		}
	}
}

// ParseAuthorizationDetails reads an authorization-details export: the
// one JSON document the AWS CLI writes, or the pages of the raw API one
// after another. It reads all of it or nothing: invalid or truncated JSON
// is an error naming the line and column, and so is a last page that says
// more pages follow (IsTruncated) or a principal whose ARN has no account.
func ParseAuthorizationDetails(b []byte) (*AuthorizationDetails, error) {
	var all AuthorizationDetails
	dec := json.NewDecoder(bytes.NewReader(b))
	pages, truncated := 0, false
	for {
		var d AuthorizationDetails
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
		if _, err := PrincipalAccount(u.Arn); err != nil {
			return nil, fmt.Errorf("UserDetailList[%d] (%s): Arn %w", i, u.UserName, err)
		}
	}
	for i, g := range all.GroupDetailList {
		if _, err := PrincipalAccount(g.Arn); err != nil {
			return nil, fmt.Errorf("GroupDetailList[%d] (%s): Arn %w", i, g.GroupName, err)
		}
	}
	for i, r := range all.RoleDetailList {
		if _, err := PrincipalAccount(r.Arn); err != nil {
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
