// Package notify posts what changed between two scans (an
// inventory.Diff) to the places people read: Slack incoming webhooks
// (Block Kit), Microsoft Teams Workflows webhooks (an Adaptive Card) and
// generic JSON webhooks signed per the Standard Webhooks specification.
// Deliver remembers, per destination, every item it posted
// (inventory.Store deliveries), so an item is announced once and a
// destination that was down receives what it missed on the next run.
//
// A destination's URL is a secret (a Slack or Teams webhook URL is its own
// credential): it is never printed, logged or stored; Redact is the form
// that is shown, and the store keeps a keyed fingerprint.
package notify

import (
	"net/url"
	"strings"
	"time"
)

// Kind is the kind of destination, which decides the message format.
type Kind string

const (
	Slack   Kind = "slack"
	Teams   Kind = "teams"
	Webhook Kind = "webhook"
)

// Destination is one place to post to.
type Destination struct {
	// Name identifies the destination in the deliveries record and in
	// messages to the user; it must be stable across runs.
	Name string
	Kind Kind
	URL  string
	// Secrets sign generic webhooks (Standard Webhooks whsec_ secrets;
	// every one signs, so a receiver can rotate keys).
	Secrets []string
	// LinkTemplate makes a leak's place a link: {repo}, {repo_name},
	// {commit}, {path} and {line} are replaced (path-escaped), for
	// example https://github.com/acme/{repo_name}/blob/{commit}/{path}#L{line}.
	LinkTemplate string
	// Limit is how many items a Slack or Teams message lists before
	// "and N more" (default 10). Webhooks carry every item.
	Limit int
	// Timeout bounds one attempt (default 10s); Retries is the number of
	// attempts after the first (default 2); Backoff the wait before the
	// first retry, doubled for each next one (default 1s), unless the
	// receiver's Retry-After asks for longer (at most MaxRetryAfter).
	Timeout time.Duration
	Retries int
	Backoff time.Duration
}

const (
	defaultLimit   = 10
	defaultTimeout = 10 * time.Second
	defaultRetries = 2
	defaultBackoff = time.Second
	// MaxRetryAfter caps the wait a receiver's Retry-After may impose,
	// so that a failing destination never holds a scheduled scan for
	// long.
	MaxRetryAfter = 30 * time.Second
)

func (d Destination) limit() int {
	if d.Limit > 0 {
		return d.Limit
	}
	return defaultLimit
}

func (d Destination) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return defaultTimeout
}

func (d Destination) retries() int {
	if d.Retries > 0 {
		return d.Retries
	}
	if d.Retries < 0 {
		return 0
	}
	return defaultRetries
}

func (d Destination) backoff() time.Duration {
	if d.Backoff > 0 {
		return d.Backoff
	}
	return defaultBackoff
}

// KindOf guesses a destination's kind from its URL: Slack incoming
// webhooks live on hooks.slack.com, Teams Workflows webhooks on Power
// Automate / Logic Apps hosts; anything else is a generic webhook.
func KindOf(raw string) Kind {
	u, err := url.Parse(raw)
	if err != nil {
		return Webhook
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case host == "hooks.slack.com" || strings.HasSuffix(host, ".slack.com") && strings.HasPrefix(u.Path, "/services/"):
		return Slack
	case strings.HasSuffix(host, ".logic.azure.com") || strings.HasSuffix(host, ".powerautomate.com") ||
		strings.HasSuffix(host, ".powerplatform.com") || strings.HasSuffix(host, ".webhook.office.com"):
		return Teams
	}
	return Webhook
}

// Redact is the form of a destination URL that may be shown: its scheme
// and host, never its user, path or query (where webhook URLs carry
// their secret).
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(a URL that does not parse)"
	}
	shown := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		shown += "/…"
	}
	return shown
}

// Message is one post, built for one destination.
type Message struct {
	// ID is the Standard Webhooks message id (webhook-id): the same for
	// every attempt of one message, so a receiver drops duplicates.
	ID          string
	Body        []byte
	ContentType string
	// Heartbeat is set when the message only says that nothing changed.
	Heartbeat bool
}
