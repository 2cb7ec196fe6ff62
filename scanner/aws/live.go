package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// LiveOptions configure a scan of one AWS account through the IAM API.
type LiveOptions struct {
	// Profile is a shared config profile; empty uses the SDK's default
	// credential chain (AWS_PROFILE, environment, SSO, IMDS, ...).
	Profile string
	// Region signs the requests (IAM is global); empty uses AWS_REGION or
	// the profile's, else us-east-1.
	Region string
	// Concurrency bounds parallel IAM calls (default 8).
	Concurrency int
	// Endpoint overrides the IAM and STS endpoint. Empty leaves it to the
	// SDK, which honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_IAM).
	Endpoint string
	// ReportWait bounds how long the credential report is polled for
	// (default 2 minutes). A report that is not ready in time is recorded
	// as an item error; everything else is still collected.
	ReportWait time.Duration
	// MaxAttempts is the SDK retry budget per call, throttling included
	// (default 10).
	MaxAttempts int
}

type live struct{ opts LiveOptions }

// NewLive returns a source that reads one account's IAM users, access
// keys, roles, groups, managed policies and credential report.
func NewLive(opts LiveOptions) scanner.Source {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.ReportWait <= 0 {
		opts.ReportWait = 2 * time.Minute
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 10
	}
	return &live{opts: opts}
}

func (s *live) Name() string {
	if s.opts.Profile == "" {
		return "aws:default"
	}
	return "aws:profile:" + s.opts.Profile
}

func (s *live) Kind() string { return inventory.SourceAWS }

func (s *live) Target() string {
	var parts []string
	if s.opts.Profile != "" {
		parts = append(parts, "profile "+s.opts.Profile)
	} else {
		parts = append(parts, "default credential chain")
	}
	if s.opts.Region != "" {
		parts = append(parts, "region "+s.opts.Region)
	}
	if s.opts.Endpoint != "" {
		parts = append(parts, "endpoint "+s.opts.Endpoint)
	}
	return strings.Join(parts, ", ")
}

func (s *live) loadConfig(ctx context.Context) (awssdk.Config, error) {
	maxAttempts := s.opts.MaxAttempts
	fns := []func(*config.LoadOptions) error{
		config.WithRetryer(func() awssdk.Retryer {
			// Adaptive mode slows the client down when IAM throttles;
			// no retry quota, so a large account is not cut short.
			return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
					so.MaxAttempts = maxAttempts
					so.MaxBackoff = 20 * time.Second
					so.RateLimiter = ratelimit.None
				})
			})
		}),
	}
	if s.opts.Profile != "" {
		fns = append(fns, config.WithSharedConfigProfile(s.opts.Profile))
	}
	if s.opts.Region != "" {
		fns = append(fns, config.WithRegion(s.opts.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, fns...)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration (%s): %w; check that the profile exists (`aws configure list-profiles`) and that AWS_CONFIG_FILE, if set, names your config", s.Target(), err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // IAM is global; any region signs
	}
	if s.opts.Endpoint != "" {
		cfg.BaseEndpoint = awssdk.String(s.opts.Endpoint)
	}
	return cfg, nil
}

func (s *live) Scan(ctx context.Context, sink scanner.Sink) error {
	cfg, err := s.loadConfig(ctx)
	if err != nil {
		return err
	}
	var calls atomic.Int64
	count := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("nhiCountCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				calls.Add(1)
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
	client := iam.NewFromConfig(cfg, func(o *iam.Options) { o.APIOptions = append(o.APIOptions, count) })
	c := &collector{iam: client, sink: sink, acct: newAccount(), limit: s.opts.Concurrency}
	defer func() { sink.Add("api_calls", calls.Load()) }()

	// One cheap call first, with few retries: an unreachable endpoint or
	// unusable credentials fail the source at once instead of turning every
	// later call into an item error.
	stsClient := sts.NewFromConfig(cfg)
	ident, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.Options) { o.RetryMaxAttempts = 2 })
	switch {
	case err == nil:
		c.acct.id = awssdk.ToString(ident.Account)
		sink.Progress("account " + c.acct.id)
	case isAccessDenied(err):
		c.itemError("sts", "GetCallerIdentity", "", err)
	default:
		return fmt.Errorf("cannot reach AWS (%s): %w; check credentials, the network and AWS_ENDPOINT_URL", s.Target(), err)
	}

	reportDone := make(chan struct{})
	go func() {
		defer close(reportDone)
		c.credentialReport(ctx, s.opts.ReportWait)
	}()
	c.collect(ctx)
	<-reportDone
	if err := ctx.Err(); err != nil {
		return err
	}
	c.acct.addReport(c.report)
	return c.acct.emit(ctx, sink)
}

// collector gathers one account through the API.
type collector struct {
	iam   *iam.Client
	sink  scanner.Sink
	acct  *account
	limit int

	mu     sync.Mutex // guards acct maps while workers run
	report []*reportRow
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

// itemError records a failed call: which call, on what, and for a denial
// which permission the scan needs.
func (c *collector) itemError(service, call, subject string, err error) {
	item := service + ":" + call
	if subject != "" {
		item += " " + subject
	}
	if isAccessDenied(err) {
		var ae smithy.APIError
		errors.As(err, &ae)
		err = fmt.Errorf("%s: missing permission %s:%s (%s); grant it as in scanner/aws/README-policy.json", ae.ErrorCode(), service, call, ae.ErrorMessage())
	}
	c.sink.ItemError(item, err)
}

// run runs tasks with at most c.limit at once and waits for all of them.
func (c *collector) run(ctx context.Context, tasks []func(context.Context)) {
	sem := make(chan struct{}, c.limit)
	var wg sync.WaitGroup
	for _, t := range tasks {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t(ctx)
		}()
	}
	wg.Wait()
}

func (c *collector) collect(ctx context.Context) {
	var tasks []func(context.Context)

	users := iam.NewListUsersPaginator(c.iam, &iam.ListUsersInput{})
	for users.HasMorePages() {
		page, err := users.NextPage(ctx)
		if err != nil {
			c.itemError("iam", "ListUsers", "", err)
			break
		}
		for _, u := range page.Users {
			x := &user{arn: awssdk.ToString(u.Arn), name: awssdk.ToString(u.UserName), id: awssdk.ToString(u.UserId),
				path: awssdk.ToString(u.Path), created: u.CreateDate, passwordLastUsed: u.PasswordLastUsed, tags: map[string]string{}}
			c.acct.users[x.arn] = x
			if c.acct.id == "" {
				c.acct.id = accountFromARN(x.arn)
			}
			tasks = append(tasks, func(ctx context.Context) { c.user(ctx, x) })
		}
	}
	groups := iam.NewListGroupsPaginator(c.iam, &iam.ListGroupsInput{})
	for groups.HasMorePages() {
		page, err := groups.NextPage(ctx)
		if err != nil {
			c.itemError("iam", "ListGroups", "", err)
			break
		}
		for _, g := range page.Groups {
			x := &group{name: awssdk.ToString(g.GroupName), arn: awssdk.ToString(g.Arn)}
			c.acct.groups[x.name] = x
			tasks = append(tasks, func(ctx context.Context) { c.group(ctx, x) })
		}
	}
	roles := iam.NewListRolesPaginator(c.iam, &iam.ListRolesInput{})
	for roles.HasMorePages() {
		page, err := roles.NextPage(ctx)
		if err != nil {
			c.itemError("iam", "ListRoles", "", err)
			break
		}
		for _, r := range page.Roles {
			x := &role{arn: awssdk.ToString(r.Arn), name: awssdk.ToString(r.RoleName), id: awssdk.ToString(r.RoleId),
				path: awssdk.ToString(r.Path), created: r.CreateDate, trust: decodeDocument(awssdk.ToString(r.AssumeRolePolicyDocument)),
				tags: map[string]string{}}
			c.acct.roles[x.arn] = x
			if c.acct.id == "" {
				c.acct.id = accountFromARN(x.arn)
			}
			tasks = append(tasks, func(ctx context.Context) { c.role(ctx, x) })
		}
	}
	c.sink.Progress(fmt.Sprintf("%d users, %d groups, %d roles", len(c.acct.users), len(c.acct.groups), len(c.acct.roles)))
	c.run(ctx, tasks)

	// Managed policies attached anywhere: their default versions decide
	// privilege.
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

func (c *collector) user(ctx context.Context, u *user) {
	name := awssdk.String(u.name)
	subject := "user/" + u.name

	tags := iam.NewListUserTagsPaginator(c.iam, &iam.ListUserTagsInput{UserName: name})
	for tags.HasMorePages() {
		page, err := tags.NextPage(ctx)
		if err != nil {
			c.itemError("iam", "ListUserTags", subject, err)
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
		c.itemError("iam", "GetLoginProfile", subject, err)
	}

	mfa := iam.NewListMFADevicesPaginator(c.iam, &iam.ListMFADevicesInput{UserName: name})
	devices, mfaOK := []string{}, true
	for mfa.HasMorePages() {
		page, err := mfa.NextPage(ctx)
		if err != nil {
			c.itemError("iam", "ListMFADevices", subject, err)
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
			c.itemError("iam", "ListGroupsForUser", subject, err)
			break
		}
		for _, g := range page.Groups {
			u.groups = append(u.groups, awssdk.ToString(g.GroupName))
		}
	}

	u.attached = c.attached(ctx, "ListAttachedUserPolicies", subject, func(ctx context.Context, marker *string) ([]types.AttachedPolicy, *string, error) {
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
			c.itemError("iam", "ListUserPolicies", subject, err)
			break
		}
		for _, pn := range page.PolicyNames {
			out, err := c.iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: name, PolicyName: awssdk.String(pn)})
			if err != nil {
				c.itemError("iam", "GetUserPolicy", subject+" policy "+pn, err)
				u.inline = append(u.inline, inlinePolicy{name: pn})
				continue
			}
			u.inline = append(u.inline, inlinePolicy{name: pn, document: decodeDocument(awssdk.ToString(out.PolicyDocument))})
		}
	}

	keys := iam.NewListAccessKeysPaginator(c.iam, &iam.ListAccessKeysInput{UserName: name})
	u.keysKnown = true
	for keys.HasMorePages() {
		page, err := keys.NextPage(ctx)
		if err != nil {
			c.itemError("iam", "ListAccessKeys", subject, err)
			u.keysKnown = false
			break
		}
		for _, k := range page.AccessKeyMetadata {
			ak := &accessKey{id: awssdk.ToString(k.AccessKeyId), status: string(k.Status), created: k.CreateDate}
			lu, err := c.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
			if err != nil {
				c.itemError("iam", "GetAccessKeyLastUsed", subject+" key "+ak.id, err)
			} else if l := lu.AccessKeyLastUsed; l != nil {
				ak.usedKnown = true
				ak.lastUsed = l.LastUsedDate
				ak.service = reportValue(awssdk.ToString(l.ServiceName))
				ak.region = reportValue(awssdk.ToString(l.Region))
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
func (c *collector) attached(ctx context.Context, call, subject string,
	page func(context.Context, *string) ([]types.AttachedPolicy, *string, error)) []policyRef {
	var out []policyRef
	var marker *string
	for {
		ps, next, err := page(ctx, marker)
		if err != nil {
			c.itemError("iam", call, subject, err)
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

func (c *collector) group(ctx context.Context, g *group) {
	name := awssdk.String(g.name)
	subject := "group/" + g.name
	g.attached = c.attached(ctx, "ListAttachedGroupPolicies", subject, func(ctx context.Context, marker *string) ([]types.AttachedPolicy, *string, error) {
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
			c.itemError("iam", "ListGroupPolicies", subject, err)
			break
		}
		for _, pn := range page.PolicyNames {
			out, err := c.iam.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: name, PolicyName: awssdk.String(pn)})
			if err != nil {
				c.itemError("iam", "GetGroupPolicy", subject+" policy "+pn, err)
				g.inline = append(g.inline, inlinePolicy{name: pn})
				continue
			}
			g.inline = append(g.inline, inlinePolicy{name: pn, document: decodeDocument(awssdk.ToString(out.PolicyDocument))})
		}
	}
}

func (c *collector) role(ctx context.Context, r *role) {
	name := awssdk.String(r.name)
	subject := "role/" + r.name
	// ListRoles returns neither tags nor last use; GetRole does.
	out, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: name})
	if err != nil {
		c.itemError("iam", "GetRole", subject, err)
	} else if out.Role != nil {
		for _, t := range out.Role.Tags {
			r.tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
		}
		if lu := out.Role.RoleLastUsed; lu != nil {
			r.lastUsed = lu.LastUsedDate
			r.lastUsedRegion = awssdk.ToString(lu.Region)
		}
		if r.trust == "" {
			r.trust = decodeDocument(awssdk.ToString(out.Role.AssumeRolePolicyDocument))
		}
	}
	r.attached = c.attached(ctx, "ListAttachedRolePolicies", subject, func(ctx context.Context, marker *string) ([]types.AttachedPolicy, *string, error) {
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
			c.itemError("iam", "ListRolePolicies", subject, err)
			break
		}
		for _, pn := range page.PolicyNames {
			out, err := c.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: name, PolicyName: awssdk.String(pn)})
			if err != nil {
				c.itemError("iam", "GetRolePolicy", subject+" policy "+pn, err)
				r.inline = append(r.inline, inlinePolicy{name: pn})
				continue
			}
			r.inline = append(r.inline, inlinePolicy{name: pn, document: decodeDocument(awssdk.ToString(out.PolicyDocument))})
		}
	}
}

func (c *collector) policy(ctx context.Context, arn, name string) {
	mp := &managedPolicy{name: name, arn: arn}
	defer func() {
		c.mu.Lock()
		c.acct.policies[arn] = mp
		c.mu.Unlock()
	}()
	p, err := c.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: awssdk.String(arn)})
	if err != nil {
		c.itemError("iam", "GetPolicy", arn, err)
		return
	}
	if p.Policy == nil || p.Policy.DefaultVersionId == nil {
		return
	}
	v, err := c.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: awssdk.String(arn), VersionId: p.Policy.DefaultVersionId})
	if err != nil {
		c.itemError("iam", "GetPolicyVersion", arn, err)
		return
	}
	if v.PolicyVersion != nil {
		mp.document = decodeDocument(awssdk.ToString(v.PolicyVersion.Document))
	}
}

// credentialReport generates, polls and reads the account's credential
// report: root keys and MFA, and every user's ages and last use in one call.
func (c *collector) credentialReport(ctx context.Context, wait time.Duration) {
	deadline := time.Now().Add(wait)
	delay := 250 * time.Millisecond
	for {
		out, err := c.iam.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			c.itemError("iam", "GenerateCredentialReport", "", err)
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
		c.itemError("iam", "GetCredentialReport", "", err)
		return
	}
	rows, err := parseCredentialReport(out.Content)
	if err != nil {
		c.sink.ItemError("iam:GetCredentialReport", err)
		return
	}
	c.report = rows
	c.sink.Add("credential_report_rows", int64(len(rows)))
}
