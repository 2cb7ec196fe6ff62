// Package forge lists the repositories of a GitHub organisation or user,
// or of a GitLab group, for the git and CI sources: their names, clone
// URLs (never with a credential) and whether they are archived or forks,
// filtered by include/exclude globs. The clones themselves are made by
// scanner/gitrepo, which owns the clone cache and repository ids; this
// package never clones.
//
// API calls honour the forges' rate limits: a primary limit waits for its
// reset, a secondary one (GitHub's abuse limit, HTTP 429) for Retry-After,
// each wait bounded by Options.MaxWait. The token is only ever sent to the
// forge's API and, through gitrepo.Repos.Authorize, to its git host.
package forge

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/glob"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// Kinds of forge.
const (
	GitHub = "github"
	GitLab = "gitlab"
)

// Repo is one repository of an organisation or group.
type Repo struct {
	// FullName is owner/name (GitLab: the path with its namespace).
	FullName string `json:"full_name"`
	// CloneURL is the HTTPS clone URL, without a credential.
	CloneURL string `json:"clone_url"`
	Archived bool   `json:"archived,omitempty"`
	Fork     bool   `json:"fork,omitempty"`
	// Numeric id on the forge (GitHub's environment secrets need it).
	ForgeID int64 `json:"-"`
}

// ID is the repository's canonical id, as gitrepo names it.
func (r Repo) ID() string { return gitrepo.ID(r.CloneURL) }

// Filter selects repositories of a listing.
type Filter struct {
	// Include, when not empty, keeps only repositories whose full name or
	// short name matches one of these globs (glob.Text: * spans "/";
	// case-insensitive, as forges' names are).
	Include []string
	// Exclude drops repositories whose full or short name matches.
	Exclude []string
	// Archived and Forks keep archived repositories and forks, which are
	// left out by default.
	Archived bool
	Forks    bool
}

// Counts says what a selection kept and why it dropped the rest.
type Counts struct {
	Listed   int64
	Selected int64
	Excluded int64 // by the globs
	Archived int64 // archived, left out
	Forks    int64 // forks, left out
}

// Select returns the repositories f keeps, sorted by id, each once.
func (f Filter) Select(repos []Repo) ([]Repo, Counts) {
	inc := compile(f.Include)
	exc := compile(f.Exclude)
	c := Counts{Listed: int64(len(repos))}
	seen := map[string]bool{}
	var out []Repo
	for _, r := range repos {
		// Forges treat names case-insensitively, and so do the globs.
		full := strings.ToLower(r.FullName)
		short := full[strings.LastIndex(full, "/")+1:]
		match := func(ps []glob.Pattern) bool {
			for _, p := range ps {
				if p.Match(full) || p.Match(short) {
					return true
				}
			}
			return false
		}
		switch {
		case len(inc) > 0 && !match(inc), match(exc):
			c.Excluded++
		case r.Archived && !f.Archived:
			c.Archived++
		case r.Fork && !f.Forks:
			c.Forks++
		case seen[r.ID()]:
		default:
			seen[r.ID()] = true
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	c.Selected = int64(len(out))
	return out, c
}

func compile(globs []string) []glob.Pattern {
	var out []glob.Pattern
	for _, g := range globs {
		if g != "" {
			out = append(out, glob.Text(strings.ToLower(g)))
		}
	}
	return out
}

// Options are what a lister is built with.
type Options struct {
	// BaseURL is the forge's web or API address: "" for github.com or
	// gitlab.com, else a GitHub Enterprise Server or self-managed GitLab.
	BaseURL string
	// Token authenticates API calls (GITHUB_TOKEN, GITLAB_TOKEN). Never
	// logged, never stored.
	Token string
	// Timeout bounds each API request (default 30s).
	Timeout time.Duration
	// MaxWait is the longest a rate limit is waited for (default 15m);
	// a longer one fails the listing, naming when the limit resets.
	MaxWait time.Duration
	// MaxAttempts bounds the tries of one call that is rate limited or
	// answered with a server error (default 6).
	MaxAttempts int
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 15 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
}

// Lister lists the repositories of one organisation, user or group.
type Lister interface {
	// Kind is GitHub or GitLab.
	Kind() string
	// Owner is the organisation, user or group listed.
	Owner() string
	// Host is the web address of the forge, as clone URLs name it
	// ("https://github.com"): the scope target of what is listed.
	Host() string
	// List returns every repository (unfiltered).
	List(ctx context.Context) ([]Repo, error)
}

// Target is the scope target of a lister: the owner's web address.
func Target(l Lister) string {
	return strings.TrimSuffix(l.Host(), "/") + "/" + l.Owner()
}

// webHost is the scheme and host of a base URL, lower case.
func webHost(base, def string) (string, error) {
	if base == "" {
		return def, nil
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("forge URL %q must be an http(s) address such as https://github.example.com", base)
	}
	if u.User != nil {
		return "", errors.New("forge URL must not carry a credential: give the token in the environment")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}
