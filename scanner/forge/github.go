package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v72/github"
)

// githubLister lists an organisation's or a user's repositories.
type githubLister struct {
	c     *github.Client
	opts  Options
	owner string
	user  bool
	host  string
}

// NewGitHub lists the repositories of organisation owner (user: of that
// user account) on github.com or, with opts.BaseURL, a GitHub Enterprise
// Server (its web address; /api/v3/ is added).
func NewGitHub(owner string, user bool, opts Options) (Lister, error) {
	opts.defaults()
	if owner == "" || strings.Contains(owner, "/") {
		return nil, fmt.Errorf("GitHub owner %q must be an organisation or user name", owner)
	}
	host, err := webHost(opts.BaseURL, "https://github.com")
	if err != nil {
		return nil, err
	}
	c := github.NewClient(&http.Client{})
	if opts.Token != "" {
		c = c.WithAuthToken(opts.Token)
	}
	if opts.BaseURL != "" {
		base := strings.TrimSuffix(opts.BaseURL, "/") + "/"
		if c, err = c.WithEnterpriseURLs(base, base); err != nil {
			return nil, fmt.Errorf("GitHub URL %s: %w", opts.BaseURL, err)
		}
	}
	return &githubLister{c: c, opts: opts, owner: owner, user: user, host: host}, nil
}

func (*githubLister) Kind() string    { return GitHub }
func (g *githubLister) Owner() string { return g.owner }
func (g *githubLister) Host() string  { return g.host }

// List pages through the repositories, 100 a page, following the Link
// header's next page.
func (g *githubLister) List(ctx context.Context) ([]Repo, error) {
	var out []Repo
	page := 1
	for page != 0 {
		var (
			rs   []*github.Repository
			resp *github.Response
		)
		what := fmt.Sprintf("list repositories of %s (page %d)", g.owner, page)
		err := call(ctx, &g.opts, what, githubVerdict, func(ctx context.Context) error {
			var err error
			lo := github.ListOptions{PerPage: 100, Page: page}
			if g.user {
				rs, resp, err = g.c.Repositories.ListByUser(ctx, g.owner, &github.RepositoryListByUserOptions{Type: "owner", ListOptions: lo})
			} else {
				rs, resp, err = g.c.Repositories.ListByOrg(ctx, g.owner, &github.RepositoryListByOrgOptions{Type: "all", ListOptions: lo})
			}
			return err
		})
		if err != nil {
			return nil, githubHint(err, g.owner, g.user)
		}
		for _, r := range rs {
			out = append(out, Repo{FullName: r.GetFullName(), CloneURL: r.GetCloneURL(), Archived: r.GetArchived(),
				Fork: r.GetFork(), ForgeID: r.GetID()})
		}
		page = resp.NextPage
	}
	return out, nil
}

// githubVerdict classifies go-github's errors: primary limits wait for
// their reset, secondary limits for Retry-After (60s when absent, as
// GitHub's documentation advises), 429 and server errors as HTTP says.
func githubVerdict(err error) verdict {
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		return verdict{retry: true, limited: true, wait: max(time.Until(rl.Rate.Reset.Time)+time.Second, 0)}
	}
	var ab *github.AbuseRateLimitError
	if errors.As(err, &ab) {
		if ab.RetryAfter != nil {
			return verdict{retry: true, limited: true, wait: *ab.RetryAfter}
		}
		return verdict{retry: true, limited: true, wait: time.Minute}
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return statusVerdict(er.Response)
	}
	return verdict{}
}

// githubHint says what to do about the answers people get wrong.
func githubHint(err error, owner string, user bool) error {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return err
	}
	switch er.Response.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w (check GITHUB_TOKEN: it is missing, expired or revoked)", err)
	case http.StatusNotFound:
		if user {
			return fmt.Errorf("%w (no GitHub user %s: for an organisation use --github-org)", err, owner)
		}
		return fmt.Errorf("%w (no GitHub organisation %s visible to the token: for a user account use --github-user)", err, owner)
	}
	return err
}
