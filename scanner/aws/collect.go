package aws

// The collector: one account read through the IAM API, principal by
// principal, with per-principal failures kept as item errors.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
)

// collector gathers one account through the API.
type collector struct {
	iam    *iam.Client
	sink   scanner.Sink
	acct   *account
	limit  int
	src    *live
	cancel context.CancelFunc
	// stsDenied is why GetCallerIdentity was refused, if it was.
	stsDenied error

	mu       sync.Mutex // guards acct maps while workers run, and fatalErr
	report   []*awsparse.ReportRow
	fatalErr error
}

func isAccessDenied(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "NotAuthorized":
		return true
	}
	return false
}

func isNoSuchEntity(err error) bool {
	var ne *types.NoSuchEntityException
	if errors.As(err, &ne) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchEntity"
}

// stop ends the scan of the account with err (the first one wins).
func (c *collector) stop(err error) {
	c.mu.Lock()
	if c.fatalErr == nil {
		c.fatalErr = err
	}
	c.mu.Unlock()
	c.cancel()
}

// fatal is the error that stopped the scan, if any.
func (c *collector) fatal() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fatalErr
}

// callFailed classifies a failed call (service:Action, with detail such
// as a policy name). A call that got no answer after its attempts stops
// the whole scan: AWS is not answering, and every later call would wait
// as long. It returns nil then, or when the scan is stopping anyway;
// otherwise the error to record, naming the call and, for a denial, the
// permission the scan lacks.
func (c *collector) callFailed(ctx context.Context, call, detail string, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	what := call
	if detail != "" {
		what += " " + detail
	}
	if unanswered(err) {
		if f := c.src.fatal(ctx, what, err); f != nil {
			c.stop(f)
		}
		return nil
	}
	if isAccessDenied(err) {
		var ae smithy.APIError
		errors.As(err, &ae)
		return fmt.Errorf("%s: %s: missing permission %s (%s); grant it as in scanner/aws/README-policy.json", what, ae.ErrorCode(), call, ae.ErrorMessage())
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unitErr records a failed call about one principal: that principal (its
// ARN, the unit of its rows) keeps its earlier state.
func (c *collector) unitErr(ctx context.Context, unit, call, detail string, err error) {
	if e := c.callFailed(ctx, call, detail, err); e != nil {
		c.sink.UnitError(unit, e)
	}
}

// itemErr records a failed call about the account as a whole: data lost
// without a unit, so the account counts as read in part.
func (c *collector) itemErr(ctx context.Context, call string, err error) {
	if e := c.callFailed(ctx, call, "", err); e != nil {
		c.sink.ItemError(call, e)
	}
}

// run runs tasks with at most c.limit at once and waits for all of them;
// once ctx ends, no further task starts.
func (c *collector) run(ctx context.Context, tasks []func(context.Context)) {
	var g errgroup.Group
	g.SetLimit(max(c.limit, 1))
	for _, t := range tasks {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error { t(ctx); return nil })
	}
	g.Wait()
}

// list lists the account's users, groups and roles, learns the account id
// from the first ARN when STS did not give it, and covers the account
// before anything about it is recorded. It returns a task per principal.
func (c *collector) list(ctx context.Context) ([]func(context.Context), error) {
	var tasks []func(context.Context)
	type failure struct {
		call string
		err  error
	}
	var failures []failure // recorded once the account is covered
	var firstARN string
	seen := func(arn string) {
		if firstARN == "" {
			firstARN = arn
		}
	}
	fail := func(call string, err error) {
		if e := c.callFailed(ctx, call, "", err); e != nil {
			failures = append(failures, failure{call, e})
		}
	}

	users := iam.NewListUsersPaginator(c.iam, &iam.ListUsersInput{})
	for users.HasMorePages() {
		page, err := users.NextPage(ctx)
		if err != nil {
			fail("iam:ListUsers", err)
			break
		}
		for _, u := range page.Users {
			x := &user{arn: awssdk.ToString(u.Arn), name: awssdk.ToString(u.UserName), id: awssdk.ToString(u.UserId),
				path: awssdk.ToString(u.Path), created: u.CreateDate, passwordLastUsed: u.PasswordLastUsed, tags: map[string]string{}}
			c.acct.users[x.arn] = x
			seen(x.arn)
			tasks = append(tasks, func(ctx context.Context) { c.user(ctx, x) })
		}
	}
	groups := iam.NewListGroupsPaginator(c.iam, &iam.ListGroupsInput{})
	for groups.HasMorePages() {
		page, err := groups.NextPage(ctx)
		if err != nil {
			fail("iam:ListGroups", err)
			break
		}
		for _, g := range page.Groups {
			x := &group{name: awssdk.ToString(g.GroupName), arn: awssdk.ToString(g.Arn)}
			c.acct.groups[x.name] = x
			seen(x.arn)
			tasks = append(tasks, func(ctx context.Context) { c.group(ctx, x) })
		}
	}
	roles := iam.NewListRolesPaginator(c.iam, &iam.ListRolesInput{})
	for roles.HasMorePages() {
		page, err := roles.NextPage(ctx)
		if err != nil {
			fail("iam:ListRoles", err)
			break
		}
		for _, r := range page.Roles {
			x := &role{arn: awssdk.ToString(r.Arn), name: awssdk.ToString(r.RoleName), id: awssdk.ToString(r.RoleId),
				path: awssdk.ToString(r.Path), created: r.CreateDate, trust: awsparse.DecodeDocument(awssdk.ToString(r.AssumeRolePolicyDocument)),
				tags: map[string]string{}}
			c.acct.roles[x.arn] = x
			seen(x.arn)
			tasks = append(tasks, func(ctx context.Context) { c.role(ctx, x) })
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.acct.id == "" {
		id, err := awsparse.PrincipalAccount(firstARN)
		if err != nil {
			why := "no user, group or role could be listed"
			if firstARN != "" {
				why = "the first ARN listed has none: " + err.Error()
			}
			var listed []string
			for _, f := range failures {
				listed = append(listed, f.err.Error())
			}
			if len(listed) > 0 {
				why += " (" + strings.Join(listed, "; ") + ")"
			}
			return nil, fmt.Errorf("AWS (%s): cannot tell which account this is, so nothing was recorded: STS GetCallerIdentity was refused (%v) and %s; allow sts:GetCallerIdentity, or iam:ListUsers and iam:ListRoles", c.src.describe(), c.stsDenied, why)
		}
		c.acct.id = id
		c.sink.Cover(Target(id))
		c.sink.Progress("account " + id + " (from " + firstARN + ")")
	}
	for _, f := range failures {
		c.sink.ItemError(f.call, f.err)
	}
	c.sink.Progress(fmt.Sprintf("%d users, %d groups, %d roles", len(c.acct.users), len(c.acct.groups), len(c.acct.roles)))
	return tasks, nil
}

// collect reads every principal, then the managed policies attached
// anywhere: their default versions decide privilege.
func (c *collector) collect(ctx context.Context, tasks []func(context.Context)) {
	c.run(ctx, tasks)
	arns := map[string]string{}
	addRefs := func(ps []policyRef) {
		for _, p := range ps {
			arns[p.arn] = p.name
		}
	}
	for _, u := range c.acct.users {
		addRefs(u.attached)
	}
	for _, g := range c.acct.groups {
		addRefs(g.attached)
	}
	for _, r := range c.acct.roles {
		addRefs(r.attached)
	}
	tasks = tasks[:0]
	for _, arn := range sortedKeys(arns) {
		tasks = append(tasks, func(ctx context.Context) { c.policy(ctx, arn, arns[arn]) })
	}
	c.run(ctx, tasks)
	c.sink.Progress(fmt.Sprintf("%d managed policies", len(arns)))
}

// principalErrors turns what failed for a group or a managed policy into
// unit errors of every principal it reaches: their privileges are not
// fully known this scan, so their earlier state is kept.
func (c *collector) principalErrors() {
	policyErrs := func(unit string, refs []policyRef) {
		done := map[string]bool{}
		for _, p := range refs {
			if done[p.arn] {
				continue
			}
			done[p.arn] = true
			if mp := c.acct.policies[p.arn]; mp != nil && mp.err != nil {
				c.sink.UnitError(unit, fmt.Errorf("managed policy %s: %w", p.name, mp.err))
			}
		}
	}
	for _, arn := range sortedKeys(c.acct.users) {
		u := c.acct.users[arn]
		refs := append([]policyRef{}, u.attached...)
		for _, gname := range u.groups {
			g := c.acct.groups[gname]
			if g == nil {
				continue
			}
			for _, e := range g.errs {
				c.sink.UnitError(arn, fmt.Errorf("group %s: %w", gname, e))
			}
			refs = append(refs, g.attached...)
		}
		policyErrs(arn, refs)
	}
	for _, arn := range sortedKeys(c.acct.roles) {
		policyErrs(arn, c.acct.roles[arn].attached)
	}
}

// credentialReport generates, polls and reads the account's credential
// report: root keys and MFA, and every user's ages and last use in one
// call. What fails here is the account's (root keys), not a principal's.
func (c *collector) credentialReport(ctx context.Context, wait time.Duration) {
	deadline := time.Now().Add(wait)
	delay := 250 * time.Millisecond
	for {
		out, err := c.iam.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			c.itemErr(ctx, "iam:GenerateCredentialReport", err)
			// A report generated earlier may still be readable.
			break
		}
		if out.State == types.ReportStateTypeComplete {
			break
		}
		if time.Now().Add(delay).After(deadline) {
			c.sink.ItemError("iam:GenerateCredentialReport", fmt.Errorf("credential report not ready after %v; root account keys and MFA are not known this scan", wait))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		if delay < 5*time.Second {
			delay *= 2
		}
	}
	out, err := c.iam.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		c.itemErr(ctx, "iam:GetCredentialReport", err)
		return
	}
	rows, err := awsparse.ParseCredentialReport(out.Content)
	if err != nil {
		c.sink.ItemError("iam:GetCredentialReport", fmt.Errorf("the credential report IAM returned: %w", err))
		return
	}
	c.report = rows
	c.sink.Add("credential_report_rows", int64(len(rows)))
}
