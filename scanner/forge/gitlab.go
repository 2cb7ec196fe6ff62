package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// gitlabLister lists a group's projects, its subgroups' included.
type gitlabLister struct {
	c     *gitlab.Client
	opts  Options
	group string
	host  string
}

// NewGitLab lists the projects of group (a full path such as
// "platform/backend") and of its subgroups on gitlab.com or, with
// opts.BaseURL, a self-managed GitLab (its web address).
func NewGitLab(group string, opts Options) (Lister, error) {
	opts.defaults()
	group = strings.Trim(group, "/")
	if group == "" {
		return nil, errors.New("GitLab group must be a group path such as platform or platform/backend")
	}
	host, err := webHost(opts.BaseURL, "https://gitlab.com")
	if err != nil {
		return nil, err
	}
	// Retries are ours (call), so that Retry-After and the wait bound
	// are honoured the same way for both forges.
	cos := []gitlab.ClientOptionFunc{gitlab.WithoutRetries(), gitlab.WithHTTPClient(&http.Client{})}
	if opts.BaseURL != "" {
		cos = append(cos, gitlab.WithBaseURL(strings.TrimSuffix(opts.BaseURL, "/")+"/api/v4"))
	}
	c, err := gitlab.NewClient(opts.Token, cos...)
	if err != nil {
		return nil, fmt.Errorf("GitLab client: %w", err)
	}
	return &gitlabLister{c: c, opts: opts, group: group, host: host}, nil
}

func (*gitlabLister) Kind() string    { return GitLab }
func (g *gitlabLister) Owner() string { return g.group }
func (g *gitlabLister) Host() string  { return g.host }

// List pages through the group's projects, 100 a page, following
// X-Next-Page.
func (g *gitlabLister) List(ctx context.Context) ([]Repo, error) {
	var out []Repo
	page := int64(1)
	for page != 0 {
		var (
			ps   []*gitlab.Project
			resp *gitlab.Response
		)
		what := fmt.Sprintf("list projects of GitLab group %s (page %d)", g.group, page)
		err := call(ctx, &g.opts, what, gitlabVerdict, func(ctx context.Context) error {
			var err error
			ps, resp, err = g.c.Groups.ListGroupProjects(g.group, &gitlab.ListGroupProjectsOptions{
				ListOptions:      gitlab.ListOptions{PerPage: 100, Page: page},
				IncludeSubGroups: gitlab.Ptr(true),
			}, gitlab.WithContext(ctx))
			return err
		})
		if err != nil {
			return nil, gitlabHint(err, g.group)
		}
		for _, p := range ps {
			out = append(out, Repo{FullName: p.PathWithNamespace, CloneURL: p.HTTPURLToRepo, Archived: p.Archived,
				Fork: p.ForkedFromProject != nil, ForgeID: p.ID})
		}
		page = resp.NextPage
	}
	return out, nil
}

func gitlabVerdict(err error) verdict {
	var er *gitlab.ErrorResponse
	if errors.As(err, &er) {
		return statusVerdict(er.Response)
	}
	return verdict{}
}

func gitlabHint(err error, group string) error {
	var er *gitlab.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return err
	}
	switch er.Response.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w (check GITLAB_TOKEN: it is missing, expired or revoked; it needs read_api and read_repository)", err)
	case http.StatusNotFound:
		return fmt.Errorf("%w (no GitLab group %s visible to the token)", err, group)
	}
	return err
}
