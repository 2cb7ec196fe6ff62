package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
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
		if !awsparse.ValidAccountID(c.acct.id) {
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
