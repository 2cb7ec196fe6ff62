package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/sync/errgroup"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// Defaults of LiveOptions.
const (
	DefaultAttemptTimeout     = 10 * time.Second
	DefaultUnansweredAttempts = 3
	DefaultTimeout            = 10 * time.Minute
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
	// (default 10): IAM throttles large accounts, and giving up early
	// would leave principals unread.
	MaxAttempts int
	// AttemptTimeout bounds one HTTP attempt of a call: connecting, the
	// request and the whole answer (default 10s). An endpoint that
	// accepts connections and never answers costs this per attempt.
	AttemptTimeout time.Duration
	// UnansweredAttempts is how often a call that got no answer at all
	// (timed out, refused, reset) is tried before the scan of the account
	// stops (default 3). Answers that ask to retry (throttling, 5xx) are
	// retried up to MaxAttempts.
	UnansweredAttempts int
	// Timeout bounds the scan of the account as a whole (default 10
	// minutes); a scan that has not finished by then fails the source.
	Timeout time.Duration
}

type live struct{ opts LiveOptions }

// NewLive returns a source that reads one account's IAM users, access
// keys, roles, groups, managed policies and credential report.
//
// Its scope target is the account (aws:<account id>, from STS
// GetCallerIdentity or the first principal's ARN), covered before
// anything is written: a profile renamed or an endpoint moved is still
// the same account. A principal that could not be read in full is a unit
// error on its ARN; a call that gets no answer, or an account that cannot
// be learned, fails the source.
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
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = DefaultAttemptTimeout
	}
	if opts.UnansweredAttempts <= 0 {
		opts.UnansweredAttempts = DefaultUnansweredAttempts
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &live{opts: opts}
}

func (s *live) Name() string { return "aws:" + s.Target() }

func (s *live) Kind() string { return inventory.SourceAWS }

// Target is the way in ("profile:NAME", or "default" for the SDK's
// default credential chain): the source's own name. The scope target its
// rows carry is the account it finds behind it.
func (s *live) Target() string {
	if s.opts.Profile == "" {
		return "default"
	}
	return "profile:" + s.opts.Profile
}

// describe is the way in, for messages.
func (s *live) describe() string {
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
		parts = append(parts, "endpoint "+inventory.RedactURL(s.opts.Endpoint))
	}
	return strings.Join(parts, ", ")
}

// answerBudget stops retrying a call that got no answer once it has been
// tried n times, while answers that ask for a retry (throttling) keep the
// wrapped retryer's larger budget.
type answerBudget struct {
	awssdk.RetryerV2
	n int
}

func (r answerBudget) RetryDelay(attempt int, err error) (time.Duration, error) {
	if attempt >= r.n && unanswered(err) {
		return 0, &noAnswerError{attempts: attempt, err: err}
	}
	return r.RetryerV2.RetryDelay(attempt, err)
}

// noAnswerError is a call given up after its attempts got no answer.
type noAnswerError struct {
	attempts int
	err      error
}

func (e *noAnswerError) Error() string {
	return fmt.Sprintf("no answer after %d attempts: %v", e.attempts, e.err)
}
func (e *noAnswerError) Unwrap() error { return e.err }

// unanswered reports whether err is a call that got no complete answer
// from AWS: refused, reset or timed out, or stopped before it was sent
// because the credentials could not be had.
func unanswered(err error) bool {
	var to interface{ Timeout() bool }
	if errors.As(err, &to) && to.Timeout() {
		return true
	}
	var se *v4.SigningError
	if errors.As(err, &se) {
		return true
	}
	// The SDK wraps a request that was never sent or never answered in a
	// response error with no status.
	var rse *smithyhttp.RequestSendError
	if errors.As(err, &rse) {
		return true
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode() == 0
	}
	var ae smithy.APIError
	return !errors.As(err, &ae)
}

func (s *live) loadConfig(ctx context.Context) (awssdk.Config, error) {
	maxAttempts, budget := s.opts.MaxAttempts, s.opts.UnansweredAttempts
	fns := []func(*config.LoadOptions) error{
		// One attempt may take AttemptTimeout, whole answer included; the
		// credential providers (SSO, assume-role) use this client too.
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(s.opts.AttemptTimeout)),
		config.WithRetryer(func() awssdk.Retryer {
			// Adaptive mode slows the client down when IAM throttles;
			// no retry quota, so a large account is not cut short.
			return answerBudget{n: budget, RetryerV2: retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
					so.MaxAttempts = maxAttempts
					so.MaxBackoff = 20 * time.Second
					so.RateLimiter = ratelimit.None
				})
			})}
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
		return cfg, fmt.Errorf("load AWS configuration (%s): %w; check that the profile exists (`aws configure list-profiles`) and that AWS_CONFIG_FILE, if set, names your config", s.describe(), err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // IAM is global; any region signs
	}
	if s.opts.Endpoint != "" {
		cfg.BaseEndpoint = awssdk.String(s.opts.Endpoint)
	}
	return cfg, nil
}

func (s *live) Scan(parent context.Context, sink scanner.Sink) error {
	ctx, cancel := context.WithTimeout(parent, s.opts.Timeout)
	defer cancel()
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
	c := &collector{iam: client, sink: sink, acct: newAccount(), limit: s.opts.Concurrency, src: s, cancel: cancel}
	defer func() { sink.Add("api_calls", calls.Load()) }()

	// One cheap call first, with few retries: an unreachable endpoint or
	// unusable credentials fail the source at once instead of turning every
	// later call into an error.
	stsClient := sts.NewFromConfig(cfg)
	ident, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.Options) { o.RetryMaxAttempts = 2 })
	switch {
	case err == nil:
		c.acct.id = awssdk.ToString(ident.Account)
	case parent.Err() != nil:
		return parent.Err()
	case isAccessDenied(err):
		// An SCP may deny it; the account is then the one in the ARNs.
		c.stsDenied = err
	case ctx.Err() != nil:
		return s.deadline("")
	default:
		return s.fatal(ctx, "sts:GetCallerIdentity", err)
	}
	if c.acct.id != "" {
		if !validAccountID(c.acct.id) {
			return fmt.Errorf("AWS (%s): STS GetCallerIdentity gave account %q, not a 12-digit account id", s.describe(), c.acct.id)
		}
		sink.Cover(Target(c.acct.id))
		sink.Progress("account " + c.acct.id)
	}

	tasks, err := c.list(ctx)
	if err == nil {
		reportDone := make(chan struct{})
		go func() {
			defer close(reportDone)
			c.credentialReport(ctx, s.opts.ReportWait)
		}()
		c.collect(ctx, tasks)
		<-reportDone
	}
	switch {
	case parent.Err() != nil:
		return parent.Err()
	case c.fatal() != nil:
		return c.fatal()
	case ctx.Err() != nil:
		return s.deadline(c.acct.id)
	case err != nil:
		return err
	}
	c.acct.addReport(c.report)
	c.principalErrors()
	return c.acct.emit(ctx, sink)
}

// deadline is the error of a scan that ran out of its overall time.
func (s *live) deadline(accountID string) error {
	what := "AWS (" + s.describe() + ")"
	if accountID != "" {
		what = "AWS account " + accountID + " (" + s.describe() + ")"
	}
	return fmt.Errorf("%s: the scan did not finish within %v, so none of it was recorded; raise aws.timeout in nhi.yaml (or --aws-timeout) for a large account", what, s.opts.Timeout)
}

// fatal is the error that stops the scan of the account on a call that
// got no answer: what was called, where, and what to check.
func (s *live) fatal(ctx context.Context, call string, err error) error {
	if ctx.Err() != nil {
		return nil // the deadline or the caller stopped the scan; said once by Scan
	}
	endpoint := "AWS"
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			endpoint = "AWS endpoint " + inventory.RedactURL(u.Scheme+"://"+u.Host)
		}
	}
	attempts := ""
	var na *noAnswerError
	var ma *retry.MaxAttemptsError
	switch {
	case errors.As(err, &na):
		attempts = fmt.Sprintf(", %d attempts", na.attempts)
	case errors.As(err, &ma):
		attempts = fmt.Sprintf(", %d attempts", ma.Attempt)
	}
	var se *v4.SigningError
	var to interface{ Timeout() bool }
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("AWS credentials (%s) could not be had for %s: %v; check the profile, `aws sso login` or the credentials in the environment", s.describe(), call, se.Err)
	case errors.As(err, &to) && to.Timeout():
		return fmt.Errorf("%s did not answer %s within %v (%s%s); check the network, a proxy and AWS_ENDPOINT_URL, or raise aws.attempt_timeout in nhi.yaml", endpoint, call, s.opts.AttemptTimeout, s.describe(), attempts)
	}
	// The network's own words (connection refused, no such host) say more
	// than the SDK's layers around them.
	cause := err
	var oe *net.OpError
	if errors.As(err, &oe) {
		cause = oe
	}
	return fmt.Errorf("cannot reach %s for %s (%s%s): %v; check credentials, the network and AWS_ENDPOINT_URL", endpoint, call, s.describe(), attempts, cause)
}

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
	report   []*reportRow
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
				path: awssdk.ToString(r.Path), created: r.CreateDate, trust: decodeDocument(awssdk.ToString(r.AssumeRolePolicyDocument)),
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
		id, err := principalAccount(firstARN)
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
			u.inline = append(u.inline, inlinePolicy{name: pn, document: decodeDocument(awssdk.ToString(out.PolicyDocument))})
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
			g.inline = append(g.inline, inlinePolicy{name: pn, document: decodeDocument(awssdk.ToString(out.PolicyDocument))})
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
			r.trust = decodeDocument(awssdk.ToString(out.Role.AssumeRolePolicyDocument))
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
			r.inline = append(r.inline, inlinePolicy{name: pn, document: decodeDocument(awssdk.ToString(out.PolicyDocument))})
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
		mp.document = decodeDocument(awssdk.ToString(v.PolicyVersion.Document))
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
	rows, err := parseCredentialReport(out.Content)
	if err != nil {
		c.sink.ItemError("iam:GetCredentialReport", fmt.Errorf("the credential report IAM returned: %w", err))
		return
	}
	c.report = rows
	c.sink.Add("credential_report_rows", int64(len(rows)))
}
