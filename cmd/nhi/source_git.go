package main

import (
	"os"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/git"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// gitFamily scans the full history of repositories: --git PATH|URL
// (repeatable) and nhi.yaml `git: {repos: [...], max_blob_size: N,
// token_env: VAR}`.
type gitFamily struct {
	repos       []string
	maxBlobSize int64
	fs          *pflag.FlagSet
}

// gitSection is the `git:` section of nhi.yaml.
type gitSection struct {
	Repos       []string `yaml:"repos"`
	MaxBlobSize *int64   `yaml:"max_blob_size"`
	// TokenEnv names the environment variable holding the token for
	// HTTPS clones (default GIT_TOKEN): nhi.yaml never holds one.
	TokenEnv string `yaml:"token_env"`
}

func (*gitFamily) name() string { return "git" }

func (g *gitFamily) flags(fs *pflag.FlagSet) {
	g.fs = fs
	fs.StringArrayVar(&g.repos, "git", nil, "git repository to scan, a path or a URL (repeatable)")
	fs.Int64Var(&g.maxBlobSize, "max-blob-size", git.DefaultMaxBlobSize, "skip file changes larger than this many bytes (counted as changes_skipped)")
}

func decodeGitSection(section *yaml.Node) (gitSection, error) {
	var sec gitSection
	if section == nil {
		return sec, nil
	}
	if err := decodeStrict(section, &sec); err != nil {
		return sec, usageError("nhi.yaml git: %v (expected git: {repos: [path or URL, ...], max_blob_size: BYTES, token_env: VARIABLE})", err)
	}
	return sec, nil
}

// targets lists every repository to scan, flags first, then nhi.yaml
// (relative paths resolved against the config file's directory), each
// once however it is spelled (gitrepo.ID).
func (g *gitFamily) targets(section *yaml.Node, env *scanEnv) []string {
	sec, _ := decodeGitSection(section) // the error is reported by sources
	var out []string
	seen := map[string]bool{}
	add := func(t string) {
		if t == "" || seen[gitrepo.ID(t)] {
			return
		}
		seen[gitrepo.ID(t)] = true
		out = append(out, t)
	}
	for _, t := range g.repos {
		add(t)
	}
	for _, t := range sec.Repos {
		add(env.config.resolve(t))
	}
	return out
}

func (g *gitFamily) sources(section *yaml.Node, env *scanEnv) ([]scanner.Source, error) {
	sec, err := decodeGitSection(section)
	if err != nil {
		return nil, err
	}
	for _, t := range g.repos {
		if t == "" {
			return nil, usageError("--git needs a repository path or URL")
		}
	}
	// A token in nhi.yaml would be kept in a file that is shared,
	// committed and digested into every scan: it is refused.
	for _, t := range sec.Repos {
		if inventory.URLHasCredential(t) {
			return nil, usageError("nhi.yaml git.repos: %s carries a credential; remove it from the URL and put the token in GIT_TOKEN, or name the variable that holds it with git.token_env", inventory.RedactURL(t))
		}
	}
	if sec.TokenEnv != "" {
		tok := os.Getenv(sec.TokenEnv)
		if tok == "" {
			return nil, usageError("nhi.yaml git.token_env names %s, which is not set: export the token for HTTPS clones in it", sec.TokenEnv)
		}
		env.repos.Token = tok
	}
	max := g.maxBlobSize
	flagSet := g.fs != nil && g.fs.Changed("max-blob-size")
	if !flagSet && sec.MaxBlobSize != nil {
		max = *sec.MaxBlobSize
	}
	if max <= 0 {
		return nil, usageError("max blob size must be a positive number of bytes, not %d", max)
	}
	opts := git.Options{MaxBlobSize: max, Disable: env.disableRules, Cache: git.NewChangeCache()}
	var out []scanner.Source
	// env.gitTargets are g.targets and the repositories forges listed.
	targets := env.gitTargets
	if targets == nil {
		targets = g.targets(section, env)
	}
	for _, t := range targets {
		out = append(out, git.New(t, env.repos, opts))
	}
	return out, nil
}
