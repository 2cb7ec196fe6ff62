package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/notify"
)

// notifySection is the `notify:` section of nhi.yaml: where nhi diff
// --post and nhi scan --post send what changed. URLs and signing secrets
// are secrets, so the file names the environment variables that hold
// them, never the values.
type notifySection struct {
	Destinations []notifyDestination `yaml:"destinations"`
	// Always posts a "no change" heartbeat when nothing changed.
	Always bool `yaml:"always"`
}

type notifyDestination struct {
	Name         string `yaml:"name"`
	Kind         string `yaml:"kind"`
	URLEnv       string `yaml:"url_env"`
	SecretEnv    string `yaml:"secret_env"`
	LinkTemplate string `yaml:"link_template"`
	Limit        int    `yaml:"limit"`
	Timeout      string `yaml:"timeout"`
	Retries      *int   `yaml:"retries"`
	// URL and Secret are only decoded to refuse them with a clear message.
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"`
}

// webhookSecretEnv holds the signing secret of a generic webhook given
// with --post (whsec_..., several separated by spaces while rotating).
const webhookSecretEnv = "NHI_WEBHOOK_SECRET"

// postOptions are the flags of nhi diff and nhi scan that post the change.
type postOptions struct {
	urls   []string
	dryRun bool
	always bool
	// notify posts to nhi.yaml's notify: destinations too (always for
	// nhi scan, with --notify for nhi diff).
	notify bool
}

func (p *postOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&p.urls, "post", nil, "post the change to this Slack, Teams or webhook URL, or env:VARIABLE holding it (repeatable)")
	f.BoolVar(&p.dryRun, "dry-run", false, "print what would be posted and post nothing")
	f.BoolVar(&p.always, "always", false, "post a \"no change\" heartbeat when nothing changed")
}

// destinations are the --post URLs and nhi.yaml's notify: destinations.
func (p *postOptions) destinations(cfg *fileConfig) ([]notify.Destination, error) {
	var sec notifySection
	if err := decodeStrict(cfg.sections["notify"], &sec); err != nil {
		return nil, usageError("config: notify: %v", err)
	}
	if !p.notify {
		sec = notifySection{}
	}
	if sec.Always {
		p.always = true
	}
	var out []notify.Destination
	for i, d := range sec.Destinations {
		where := fmt.Sprintf("%s: notify.destinations[%d]", cfg.name, i)
		if d.URL != "" || d.Secret != "" {
			return nil, usageError("%s: a webhook URL and its secret are credentials and are not read from the file: put them in environment variables and name them with url_env and secret_env", where)
		}
		if d.URLEnv == "" {
			return nil, usageError("%s: url_env (the environment variable holding the URL) is required", where)
		}
		url := os.Getenv(d.URLEnv)
		if url == "" {
			return nil, usageError("%s: the environment variable %s (url_env) is not set", where, d.URLEnv)
		}
		dest, err := newDestination(d.Name, d.Kind, url, where)
		if err != nil {
			return nil, err
		}
		if d.SecretEnv != "" {
			s := os.Getenv(d.SecretEnv)
			if s == "" {
				return nil, usageError("%s: the environment variable %s (secret_env) is not set", where, d.SecretEnv)
			}
			dest.Secrets = strings.Fields(s)
		}
		dest.LinkTemplate, dest.Limit = d.LinkTemplate, d.Limit
		if d.Timeout != "" {
			t, err := time.ParseDuration(d.Timeout)
			if err != nil || t <= 0 {
				return nil, usageError("%s: timeout must be a duration such as 10s, not %q", where, d.Timeout)
			}
			dest.Timeout = t
		}
		if d.Retries != nil {
			if *d.Retries < 0 || *d.Retries > 10 {
				return nil, usageError("%s: retries must be between 0 and 10, not %d", where, *d.Retries)
			}
			dest.Retries = *d.Retries
			if dest.Retries == 0 {
				dest.Retries = -1 // no retry
			}
		}
		out = append(out, dest)
	}
	for _, u := range p.urls {
		where := "--post " + notify.Redact(u)
		if name, ok := strings.CutPrefix(u, "env:"); ok {
			where = "--post " + u
			if u = os.Getenv(name); u == "" {
				return nil, usageError("%s: the environment variable %s is not set", where, name)
			}
		}
		dest, err := newDestination("", "", u, where)
		if err != nil {
			return nil, err
		}
		if dest.Kind == notify.Webhook {
			dest.Secrets = strings.Fields(os.Getenv(webhookSecretEnv))
		}
		out = append(out, dest)
	}
	for i, d := range out {
		if d.Kind == notify.Webhook && len(d.Secrets) == 0 {
			return nil, usageError("webhook %s needs a signing secret (Standard Webhooks, whsec_...): set %s, or secret_env in nhi.yaml notify:", d.Name, webhookSecretEnv)
		}
		for _, s := range d.Secrets {
			if !strings.HasPrefix(s, "whsec_") {
				return nil, usageError("webhook %s: a signing secret must be a Standard Webhooks secret (whsec_ and base64)", d.Name)
			}
		}
		for _, e := range out[:i] {
			if e.Name == d.Name {
				return nil, usageError("two destinations are named %s: give each its own name", d.Name)
			}
		}
	}
	return out, nil
}

func newDestination(name, kind, url, where string) (notify.Destination, error) {
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") && !strings.Contains(url, "+http") {
		return notify.Destination{}, usageError("%s: not an http(s) URL", where)
	}
	k := notify.KindOf(url)
	if kind != "" {
		k = notify.Kind(kind)
		switch k {
		case notify.Slack, notify.Teams, notify.Webhook:
		default:
			return notify.Destination{}, usageError("%s: kind must be slack, teams or webhook, not %q", where, kind)
		}
	}
	if name == "" {
		// Named by a short hash of the URL: several Slack webhooks share
		// a host, and the URL itself may not be shown.
		sum := sha256.Sum256([]byte(url))
		name = string(k) + "-" + hex.EncodeToString(sum[:4])
	}
	return notify.Destination{Name: name, Kind: k, URL: url}, nil
}

// deliver posts the change up to scan to every destination, and says on
// stderr what it did. It returns an exitError (4) when a destination
// could not be posted to: recorded, and retried by the next run.
func (p *postOptions) deliver(cmd *cobra.Command, g *globals, store *inventory.Store, dests []notify.Destination, to int64) error {
	outs, err := notify.Deliver(cmd.Context(), store, dests, to, notify.DeliverOptions{DryRun: p.dryRun, Always: p.always, DryRunOut: g.stdout})
	if err != nil {
		return err
	}
	failed := 0
	for _, o := range outs {
		fmt.Fprintln(g.stderr, "nhi:", o)
		if o.Failed() {
			failed++
		}
	}
	if failed > 0 {
		return &exitError{code: exitPostFailed, err: fmt.Errorf("%d of %d destinations could not be posted to (recorded; their items go out with the next run)", failed, len(outs))}
	}
	return nil
}
