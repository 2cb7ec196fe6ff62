package forge

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v72/github"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// Secrets is the GitHub Actions secret stores of one organisation: its
// own secrets, and per repository the repository's and its environments'
// (names and dates only: GitHub never returns values). Each store is read
// once, when first asked for. It answers the CI source's lookups
// (ci.SecretStores), so that a workflow's reference carries the date its
// secret was last updated, and its sources inventory every secret,
// referenced or not.
type Secrets struct {
	l   *githubLister
	org bool

	orgOnce sync.Once
	orgs    map[string]inventory.StoredSecret
	orgErr  error

	mu    sync.Mutex
	repos map[string]*repoStore
}

type repoStore struct {
	once    sync.Once
	repo    Repo
	secrets map[string]inventory.StoredSecret // repository, else environment
	envs    map[string][]string               // name -> environments defining it
	err     error
}

// NewSecrets returns the secret stores of li's owner, nil when its forge
// has none nhi reads (GitLab's CI variables API returns values).
func NewSecrets(li *Listing) *Secrets {
	g, ok := li.Lister.(*githubLister)
	if !ok || li.Err != nil {
		return nil
	}
	s := &Secrets{l: g, org: !g.user, repos: map[string]*repoStore{}}
	for _, r := range li.Repos {
		s.repos[r.ID()] = &repoStore{repo: r}
	}
	return s
}

func stored(sec *github.Secret, store string) inventory.StoredSecret {
	st := inventory.StoredSecret{Name: sec.Name, Store: store, Visibility: sec.Visibility}
	if !sec.CreatedAt.IsZero() {
		t := sec.CreatedAt.UTC()
		st.CreatedAt = &t
	}
	if !sec.UpdatedAt.IsZero() {
		t := sec.UpdatedAt.UTC()
		st.UpdatedAt = &t
	}
	return st
}

// pages lists every page of one secrets endpoint.
func (s *Secrets) pages(ctx context.Context, what string, list func(ctx context.Context, o *github.ListOptions) (*github.Secrets, *github.Response, error)) ([]*github.Secret, error) {
	var out []*github.Secret
	page := 1
	for page != 0 {
		var (
			res  *github.Secrets
			resp *github.Response
		)
		err := call(ctx, &s.l.opts, fmt.Sprintf("%s (page %d)", what, page), githubVerdict, func(ctx context.Context) error {
			var err error
			res, resp, err = list(ctx, &github.ListOptions{PerPage: 100, Page: page})
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, res.Secrets...)
		page = resp.NextPage
	}
	return out, nil
}

// orgSecrets reads the organisation's secrets once.
func (s *Secrets) orgSecrets(ctx context.Context) (map[string]inventory.StoredSecret, error) {
	s.orgOnce.Do(func() {
		s.orgs = map[string]inventory.StoredSecret{}
		if !s.org {
			return
		}
		secs, err := s.pages(ctx, "list Actions secrets of "+s.l.owner, func(ctx context.Context, o *github.ListOptions) (*github.Secrets, *github.Response, error) {
			return s.l.c.Actions.ListOrgSecrets(ctx, s.l.owner, o)
		})
		if err != nil {
			s.orgErr = fmt.Errorf("%w (reading organisation secrets needs a token with the organisation's secrets: read)", err)
			return
		}
		for _, sec := range secs {
			s.orgs[sec.Name] = stored(sec, "organization")
		}
	})
	return s.orgs, s.orgErr
}

// repo reads the repository's and its environments' secrets once.
func (s *Secrets) repo(ctx context.Context, id string) *repoStore {
	s.mu.Lock()
	rs := s.repos[id]
	s.mu.Unlock()
	if rs == nil {
		return nil
	}
	rs.once.Do(func() {
		rs.secrets, rs.envs = map[string]inventory.StoredSecret{}, map[string][]string{}
		owner, name, _ := strings.Cut(rs.repo.FullName, "/")
		secs, err := s.pages(ctx, "list Actions secrets of "+rs.repo.FullName, func(ctx context.Context, o *github.ListOptions) (*github.Secrets, *github.Response, error) {
			return s.l.c.Actions.ListRepoSecrets(ctx, owner, name, o)
		})
		if err != nil {
			rs.err = fmt.Errorf("%w (reading a repository's Actions secrets needs a token with secrets: read on it)", err)
			return
		}
		var envs *github.EnvResponse
		err = call(ctx, &s.l.opts, "list environments of "+rs.repo.FullName, githubVerdict, func(ctx context.Context) error {
			var err error
			envs, _, err = s.l.c.Repositories.ListEnvironments(ctx, owner, name, &github.EnvironmentListOptions{ListOptions: github.ListOptions{PerPage: 100}})
			return err
		})
		if err != nil {
			rs.err = err
			return
		}
		var names []string
		for _, e := range envs.Environments {
			names = append(names, e.GetName())
		}
		sort.Strings(names)
		for _, env := range names {
			esecs, err := s.pages(ctx, "list Actions secrets of "+rs.repo.FullName+" environment "+env, func(ctx context.Context, o *github.ListOptions) (*github.Secrets, *github.Response, error) {
				return s.l.c.Actions.ListEnvSecrets(ctx, int(rs.repo.ForgeID), env, o)
			})
			if err != nil {
				rs.err = err
				return
			}
			for _, sec := range esecs {
				rs.envs[sec.Name] = append(rs.envs[sec.Name], env)
				if _, ok := rs.secrets[sec.Name]; !ok {
					rs.secrets[sec.Name] = stored(sec, "environment:"+env)
				}
			}
		}
		// A repository secret wins over an environment's of the same name
		// for the key (the job's environment is not known here).
		for _, sec := range secs {
			rs.secrets[sec.Name] = stored(sec, "repository")
		}
	})
	return rs
}

// Lookup implements ci.SecretStores: the store a workflow of repository
// scope gets name from: the repository's (or an environment's) secret,
// else the organisation's when visible to every repository or to every
// private one (a "selected" one is not assumed to be).
func (s *Secrets) Lookup(ctx context.Context, provider, scope, name string) *inventory.StoredSecret {
	if provider != inventory.ProviderGitHubActions {
		return nil
	}
	rs := s.repo(ctx, scope)
	if rs == nil {
		return nil
	}
	if rs.err == nil {
		if st, ok := rs.secrets[name]; ok {
			return &st
		}
	}
	orgs, _ := s.orgSecrets(ctx)
	if st, ok := orgs[name]; ok && (st.Visibility == "all" || st.Visibility == "private") {
		return &st
	}
	return nil
}

func secretCredential(st inventory.StoredSecret, scope string, envs []string) *inventory.Credential {
	attrs := map[string]any{string(inventory.AttrName): st.Name, "kind": "secret", "provider": inventory.ProviderGitHubActions,
		"scope": scope, "store": st.Store}
	if st.Visibility != "" {
		attrs["visibility"] = st.Visibility
	}
	if len(envs) > 0 {
		attrs["environments"] = envs
	}
	return &inventory.Credential{Key: inventory.CIReferenceKey(inventory.ProviderGitHubActions, scope, st.Name),
		Type: inventory.TypeCIReference, VaultStatus: inventory.VaultCISecretStore, CreatedAt: st.CreatedAt,
		LastRotatedAt: st.UpdatedAt, Attrs: attrs}
}

// writeOrg inventories the organisation's secrets (scope: the
// organisation) from the listing source.
func (s *Secrets) writeOrg(ctx context.Context, sink scanner.Sink) error {
	if s == nil || !s.org {
		return nil
	}
	orgs, err := s.orgSecrets(ctx)
	if err != nil {
		sink.ItemError("organisation Actions secrets", err)
		return nil
	}
	names := make([]string, 0, len(orgs))
	for n := range orgs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := sink.Credential(ctx, secretCredential(orgs[n], Target(s.l), nil)); err != nil {
			return err
		}
	}
	sink.Add("org_secrets", int64(len(names)))
	return nil
}

// repoSecretsSource inventories one repository's Actions secrets: its
// scope target is forge:<repository id>, and it goes to the shard of the
// repository (its Target is the repository id, as the git source's).
type repoSecretsSource struct {
	s    *Secrets
	repo Repo
}

// NewRepoSecrets is the source of repo's Actions secrets.
func NewRepoSecrets(s *Secrets, repo Repo) scanner.Source {
	return &repoSecretsSource{s: s, repo: repo}
}

func (r *repoSecretsSource) Name() string   { return SourceKind + ":" + r.repo.ID() }
func (r *repoSecretsSource) Kind() string   { return SourceKind }
func (r *repoSecretsSource) Target() string { return r.repo.ID() }

func (r *repoSecretsSource) Scan(ctx context.Context, sink scanner.Sink) error {
	start := time.Now()
	rs := r.s.repo(ctx, r.repo.ID())
	if rs == nil {
		return fmt.Errorf("%s is not in the listing", r.repo.ID())
	}
	if rs.err != nil {
		return rs.err
	}
	names := make([]string, 0, len(rs.secrets))
	for n := range rs.secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := sink.Credential(ctx, secretCredential(rs.secrets[n], r.repo.ID(), rs.envs[n])); err != nil {
			return err
		}
	}
	sink.Add("secrets", int64(len(names)))
	sink.Add("list_ms", time.Since(start).Milliseconds())
	return nil
}
