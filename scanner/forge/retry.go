package forge

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// verdict is what to do about a failed call: wait this long and try
// again, or give up.
type verdict struct {
	retry bool
	wait  time.Duration
	// limited marks a rate limit (the wait is the forge's, not a backoff).
	limited bool
}

// call runs fn, each attempt bounded by o.Timeout, until it succeeds, its
// error is not worth retrying (classify), the attempts run out, or a rate
// limit would hold it longer than o.MaxWait.
func call(ctx context.Context, o *Options, what string, classify func(error) verdict, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, o.Timeout)
		err := fn(cctx)
		timedOut := cctx.Err() != nil
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if timedOut {
			err = fmt.Errorf("no answer within %s: %w", o.Timeout, err)
		}
		v := classify(err)
		if timedOut {
			v = verdict{retry: true}
		}
		if v.retry && !v.limited {
			v.wait = backoff(attempt)
		}
		if !v.retry || attempt >= o.MaxAttempts {
			return fmt.Errorf("%s: %w", what, err)
		}
		if v.wait > o.MaxWait {
			return fmt.Errorf("%s: rate limited until %s, longer than the %s nhi waits (forge max_wait): %w",
				what, time.Now().Add(v.wait).UTC().Format(time.RFC3339), o.MaxWait, err)
		}
		t := time.NewTimer(v.wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff is the wait before attempt+1 of a call that failed without a
// rate limit saying how long: 1s, 2s, 4s, ... capped at 30s.
func backoff(attempt int) time.Duration {
	d := time.Second << (attempt - 1)
	if d > 30*time.Second || d <= 0 {
		d = 30 * time.Second
	}
	return d
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), else
// an X-RateLimit-Reset / RateLimit-Reset epoch; ok is false when neither
// is there.
func retryAfter(h http.Header) (time.Duration, bool) {
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(time.Until(t), 0), true
		}
	}
	for _, k := range []string{"X-RateLimit-Reset", "RateLimit-Reset"} {
		if v := h.Get(k); v != "" {
			if s, err := strconv.ParseInt(v, 10, 64); err == nil && s > 0 {
				return max(time.Until(time.Unix(s, 0))+time.Second, 0), true
			}
		}
	}
	return 0, false
}

// statusVerdict classifies an HTTP answer: 429 (and a 403 that names a
// wait) is a rate limit, a server error is retried with backoff.
func statusVerdict(resp *http.Response) verdict {
	if resp == nil {
		return verdict{}
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if d, ok := retryAfter(resp.Header); ok {
			return verdict{retry: true, wait: d, limited: true}
		}
		return verdict{retry: true, wait: time.Minute, limited: true}
	case resp.StatusCode == http.StatusForbidden:
		if d, ok := retryAfter(resp.Header); ok && resp.Header.Get("Retry-After") != "" {
			return verdict{retry: true, wait: d, limited: true}
		}
	case resp.StatusCode >= 500:
		return verdict{retry: true}
	}
	return verdict{}
}
