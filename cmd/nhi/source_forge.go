package main

import (
	"context"
	"os"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/forge"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// forgeFlags are the `nhi scan` flags that select the repositories of
// every enumerated organisation or group, shared by both forges.
type forgeFlags struct {
	include, exclude  []string
	archived, forks   bool
	cloneTimeout      time.Duration
	githubOrgs, users []string
	githubURL         string
	gitlabGroups      []string
	gitlabURL         string
	actionsSecrets    bool
}

// ForgeSettings are the settings `github:` and `gitlab:` share in
// nhi.yaml (inlined in both).
type ForgeSettings struct {
	URL             string   `yaml:"url"`
	TokenEnv        string   `yaml:"token_env"`
	Include         []string `yaml:"include"`
	Exclude         []string `yaml:"exclude"`
	IncludeArchived bool     `yaml:"include_archived"`
	IncludeForks    bool     `yaml:"include_forks"`
	CloneTimeout    string   `yaml:"clone_timeout"`
	MaxWait         string   `yaml:"max_wait"`
	RequestTimeout  string   `yaml:"request_timeout"`
}

// forgeSection is what the family reads from either section.
type forgeSection struct {
	Orgs, Users, Groups []string
	ForgeSettings
	ActionsSecrets bool
}

// githubSection and gitlabSection are told apart so that each refuses
// the other's owner key.
type githubSection struct {
	Orgs           []string `yaml:"orgs"`
	Users          []string `yaml:"users"`
	ForgeSettings  `yaml:",inline"`
	ActionsSecrets bool `yaml:"actions_secrets"`
}

type gitlabSection struct {
	Groups        []string `yaml:"groups"`
	ForgeSettings `yaml:",inline"`
}

// forgeFamily enumerates a forge's organisations (users, groups) and
// hands their repositories to the git and CI families as clone URLs:
// --github-org, --github-user, --gitlab-group and nhi.yaml github: /
// gitlab:. Its own sources record each listing (forge.NewSource).
type forgeFamily struct {
	kind string // forge.GitHub or forge.GitLab
	f    *forgeFlags
	fs   *pflag.FlagSet
}

func (ff *forgeFamily) name() string { return ff.kind }

func (ff *forgeFamily) flags(fs *pflag.FlagSet) {
	ff.fs = fs
	f := ff.f
	if ff.kind == forge.GitHub {
		fs.StringArrayVar(&f.githubOrgs, "github-org", nil, "scan every repository of this GitHub organisation (repeatable; token in GITHUB_TOKEN)")
		fs.StringArrayVar(&f.users, "github-user", nil, "scan every repository of this GitHub user (repeatable; token in GITHUB_TOKEN)")
		fs.StringVar(&f.githubURL, "github-url", "", "GitHub Enterprise Server address (default github.com)")
		fs.BoolVar(&f.actionsSecrets, "actions-secrets", false, "also inventory the Actions secrets of enumerated GitHub organisations, repositories and environments (names and dates, never values; the token needs secrets: read)")
		// The selection flags are shared by both forges: registered once.
		fs.StringArrayVar(&f.include, "include-repo", nil, "enumerated repositories to keep: glob on owner/name or name (repeatable; default all)")
		fs.StringArrayVar(&f.exclude, "exclude-repo", nil, "enumerated repositories to leave out: glob on owner/name or name (repeatable)")
		fs.BoolVar(&f.archived, "include-archived", false, "also scan archived repositories of enumerated organisations")
		fs.BoolVar(&f.forks, "include-forks", false, "also scan forks in enumerated organisations")
		fs.DurationVar(&f.cloneTimeout, "clone-timeout", 0, "give up on a clone or fetch of a URL taking longer than this: that repository fails alone (default 10m when an organisation is enumerated)")
		return
	}
	fs.StringArrayVar(&f.gitlabGroups, "gitlab-group", nil, "scan every project of this GitLab group and its subgroups (repeatable; token in GITLAB_TOKEN)")
	fs.StringVar(&f.gitlabURL, "gitlab-url", "", "self-managed GitLab address (default gitlab.com)")
}

// section reads the family's nhi.yaml section into the common shape.
func (ff *forgeFamily) section(node *yaml.Node) (forgeSection, error) {
	var sec forgeSection
	if node == nil {
		return sec, nil
	}
	if ff.kind == forge.GitHub {
		var g githubSection
		if err := decodeStrict(node, &g); err != nil {
			return sec, usageError("nhi.yaml github: %v (expected github: {orgs: [ORG], users: [USER], url, token_env, include, exclude, include_archived, include_forks, clone_timeout, max_wait, request_timeout})", err)
		}
		return g.toForge(), nil
	}
	var g gitlabSection
	if err := decodeStrict(node, &g); err != nil {
		return sec, usageError("nhi.yaml gitlab: %v (expected gitlab: {groups: [GROUP], url, token_env, include, exclude, include_archived, include_forks, clone_timeout, max_wait, request_timeout})", err)
	}
	return g.toForge(), nil
}

func (g githubSection) toForge() forgeSection {
	return forgeSection{Orgs: g.Orgs, Users: g.Users, ForgeSettings: g.ForgeSettings, ActionsSecrets: g.ActionsSecrets}
}

func (g gitlabSection) toForge() forgeSection {
	return forgeSection{Groups: g.Groups, ForgeSettings: g.ForgeSettings}
}

// sources enumerates every owner, adds the selected repositories to the
// git targets (so the git and CI families scan them) and returns one
// source per listing.
func (ff *forgeFamily) sources(node *yaml.Node, env *scanEnv) ([]scanner.Source, error) {
	sec, err := ff.section(node)
	if err != nil {
		return nil, err
	}
	f := ff.f
	type owner struct {
		name string
		user bool
	}
	var owners []owner
	base, tokenVar, user := f.githubURL, "GITHUB_TOKEN", "x-access-token"
	if ff.kind == forge.GitHub {
		for _, o := range append(append([]string{}, f.githubOrgs...), sec.Orgs...) {
			owners = append(owners, owner{name: o})
		}
		for _, u := range append(append([]string{}, f.users...), sec.Users...) {
			owners = append(owners, owner{name: u, user: true})
		}
	} else {
		base, tokenVar, user = f.gitlabURL, "GITLAB_TOKEN", "oauth2"
		for _, g := range append(append([]string{}, f.gitlabGroups...), sec.Groups...) {
			owners = append(owners, owner{name: g})
		}
	}
	if len(owners) == 0 {
		// --clone-timeout bounds the clones of --git URLs too.
		if ff.kind == forge.GitHub && ff.fs != nil && ff.fs.Changed("clone-timeout") && f.cloneTimeout > 0 {
			env.repos.CloneTimeout = f.cloneTimeout
		}
		return nil, nil
	}
	if base == "" {
		base = sec.URL
	}
	if sec.TokenEnv != "" {
		tokenVar = sec.TokenEnv
	}
	token := os.Getenv(tokenVar)
	opts := forge.Options{BaseURL: base, Token: token}
	for _, d := range []struct {
		key, val string
		dst      *time.Duration
	}{{ff.kind + ".max_wait", sec.MaxWait, &opts.MaxWait}, {ff.kind + ".request_timeout", sec.RequestTimeout, &opts.Timeout}} {
		if *d.dst, err = durationSetting(env.config, node, d.key, d.val); err != nil {
			return nil, err
		}
	}
	cloneTimeout, err := durationSetting(env.config, node, ff.kind+".clone_timeout", sec.CloneTimeout)
	if err != nil {
		return nil, err
	}
	if ff.fs != nil && ff.fs.Changed("clone-timeout") {
		cloneTimeout = f.cloneTimeout
	}
	if cloneTimeout <= 0 {
		cloneTimeout = 10 * time.Minute
	}
	if env.repos.CloneTimeout == 0 || cloneTimeout < env.repos.CloneTimeout {
		env.repos.CloneTimeout = cloneTimeout
	}
	filter := forge.Filter{
		Include:  append(append([]string{}, f.include...), sec.Include...),
		Exclude:  append(append([]string{}, f.exclude...), sec.Exclude...),
		Archived: f.archived || sec.IncludeArchived,
		Forks:    f.forks || sec.IncludeForks,
	}
	seen := map[string]bool{}
	for _, t := range env.gitTargets {
		seen[gitrepo.ID(t)] = true
	}
	var out []scanner.Source
	for _, o := range owners {
		var l forge.Lister
		if ff.kind == forge.GitHub {
			l, err = forge.NewGitHub(o.name, o.user, opts)
		} else {
			l, err = forge.NewGitLab(o.name, opts)
		}
		if err != nil {
			return nil, usageError("%s %s: %v", ff.kind, o.name, err)
		}
		// The token goes to the forge's own git host only, never to a
		// clone URL elsewhere (GIT_TOKEN stays the token of other URLs).
		env.repos.Authorize(hostOf(l.Host()), user, token)
		li := forge.Enumerate(env.ctx, l, filter)
		if f.actionsSecrets || sec.ActionsSecrets {
			li.Secrets = forge.NewSecrets(li)
		}
		for _, r := range li.Repos {
			if !seen[r.ID()] {
				seen[r.ID()] = true
				env.gitTargets = append(env.gitTargets, r.CloneURL)
				if li.Secrets != nil {
					out = append(out, forge.NewRepoSecrets(li.Secrets, r))
				}
			}
		}
		if li.Secrets != nil {
			env.stores = append(env.stores, li.Secrets)
		}
		out = append(out, forge.NewSource(li))
	}
	return out, nil
}

// hostOf is the host[:port] of a web address.
func hostOf(web string) string {
	_, rest, ok := cutScheme(web)
	if !ok {
		return web
	}
	return rest
}

func cutScheme(u string) (string, string, bool) {
	for _, s := range []string{"https://", "http://"} {
		if len(u) > len(s) && u[:len(s)] == s {
			return s, u[len(s):], true
		}
	}
	return "", u, false
}

// secretStores are the Actions secret stores of every enumerated
// organisation, for the CI source's references (ci.SecretStores).
type secretStores []*forge.Secrets

func (ss secretStores) Lookup(ctx context.Context, provider, scope, name string) *inventory.StoredSecret {
	for _, s := range ss {
		if st := s.Lookup(ctx, provider, scope, name); st != nil {
			return st
		}
	}
	return nil
}
