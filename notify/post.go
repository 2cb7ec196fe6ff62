package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Result is what posting one message took.
type Result struct {
	Attempts int
	// Status is the HTTP status of the last answer (0: none).
	Status int
	Err    error
}

// Post sends msg to dest: each attempt bounded by the destination's
// timeout, failed attempts (a connection error, a timeout, 408, 425, 429
// or a 5xx answer) retried with exponential backoff or the receiver's
// Retry-After, up to its retries. Any other answer outside 2xx is final.
// Redirects are not followed (a webhook that redirects is misconfigured,
// and following it would send the message somewhere it was not meant
// to go). Generic webhooks are signed per attempt (Standard Webhooks: a
// fresh webhook-timestamp, one signature per secret). Errors never carry
// the URL, only its Redact form.
func Post(ctx context.Context, client *http.Client, dest Destination, msg Message) Result {
	var res Result
	wait := dest.backoff()
	for attempt := 0; ; attempt++ {
		res.Attempts++
		status, retryAfter, err := postOnce(ctx, client, dest, msg)
		res.Status, res.Err = status, err
		if err == nil || !retryable(status, err) || attempt >= dest.retries() || ctx.Err() != nil {
			return res
		}
		d := wait
		if retryAfter > d {
			d = min(retryAfter, MaxRetryAfter)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			res.Err = fmt.Errorf("%w (then: %v)", res.Err, ctx.Err())
			return res
		case <-t.C:
		}
		wait *= 2
	}
}

// errStatus is an answer outside 2xx.
type errStatus struct {
	code int
	body string
}

func (e *errStatus) Error() string {
	if e.body == "" {
		return fmt.Sprintf("HTTP %d", e.code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.code, e.body)
}

func retryable(status int, err error) bool {
	var es *errStatus
	if !errors.As(err, &es) {
		return true // no answer: connection refused, reset, timed out
	}
	return status == http.StatusRequestTimeout || status == http.StatusTooEarly ||
		status == http.StatusTooManyRequests || status >= 500
}

func postOnce(ctx context.Context, client *http.Client, dest Destination, msg Message) (status int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, dest.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest.URL, bytes.NewReader(msg.Body))
	if err != nil {
		return 0, 0, fmt.Errorf("%s: not a URL nhi can post to", Redact(dest.URL))
	}
	req.Header.Set("Content-Type", msg.ContentType)
	req.Header.Set("User-Agent", "nhi")
	if dest.Kind == Webhook {
		if err := sign(req.Header, dest.Secrets, msg); err != nil {
			return 0, 0, err
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, redactErr(dest, err)
	}
	defer resp.Body.Close()
	// Slack and Teams answer with a short reason ("invalid_payload",
	// "no_service"); keep a little of it, on one line.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	body := strings.Join(strings.Fields(string(snippet)), " ")
	if strings.Contains(body, dest.URL) {
		body = ""
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		body = "a redirect, not followed: post to the final URL"
	}
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After")), &errStatus{code: resp.StatusCode, body: body}
}

// sign sets the Standard Webhooks headers: the message id, the time of
// this attempt, and one v1 signature per secret, space separated.
func sign(h http.Header, secrets []string, msg Message) error {
	if len(secrets) == 0 {
		return errors.New("a generic webhook needs a signing secret (whsec_...)")
	}
	now := time.Now()
	var sigs []string
	for i, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return fmt.Errorf("signing secret %d is not a Standard Webhooks secret (whsec_ and base64)", i+1)
		}
		sig, err := wh.Sign(msg.ID, now, msg.Body)
		if err != nil {
			return err
		}
		sigs = append(sigs, sig)
	}
	h.Set(standardwebhooks.HeaderWebhookID, msg.ID)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, strings.Join(sigs, " "))
	return nil
}

// redactErr keeps the reason of a failed request and drops its URL.
func redactErr(dest Destination, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := strings.ReplaceAll(err.Error(), dest.URL, Redact(dest.URL))
	if errors.Is(err, context.DeadlineExceeded) {
		msg = fmt.Sprintf("no answer within %s", dest.timeout())
	}
	return fmt.Errorf("%s: %s", Redact(dest.URL), msg)
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
