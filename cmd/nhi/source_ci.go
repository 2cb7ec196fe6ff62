package main

import (
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/ci"
)

// ciFamily reads CI pipeline files: directories given with --ci PATH or
// nhi.yaml `ci: {paths: [...]}`, and every repository given with --git
// (pipelines at the head of every branch).
type ciFamily struct {
	paths []string
}

func (*ciFamily) name() string { return "ci" }

func (c *ciFamily) flags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&c.paths, "ci", nil, "directory holding CI pipeline files to scan (repeatable)")
}

// ciSection is the `ci:` section of nhi.yaml.
type ciSection struct {
	Paths []string `yaml:"paths"`
}

func (c *ciFamily) sources(section *yaml.Node, env *scanEnv) ([]scanner.Source, error) {
	var sec ciSection
	if section != nil {
		if err := decodeStrict(section, &sec); err != nil {
			return nil, usageError("nhi.yaml ci: %v (expected ci: {paths: [dir, ...]})", err)
		}
	}
	opts := ci.Options{Disable: env.disableRules}
	if len(env.stores) > 0 {
		opts.Stores = env.stores
	}
	var out []scanner.Source
	seen := map[string]bool{}
	addDir := func(p string) error {
		if p == "" {
			return usageError("empty CI path in --ci or nhi.yaml ci.paths")
		}
		// One directory typed two ways is one source.
		if seen[scanner.CanonicalPath(p)] {
			return nil
		}
		seen[scanner.CanonicalPath(p)] = true
		out = append(out, ci.NewDir(p, opts))
		return nil
	}
	for _, p := range c.paths {
		if err := addDir(p); err != nil {
			return nil, err
		}
	}
	for _, p := range sec.Paths {
		if err := addDir(env.config.resolve(p)); err != nil {
			return nil, err
		}
	}
	// The pipeline files of every --path tree, as those of a repository.
	for _, p := range env.dirTargets {
		if !seen[p] {
			seen[p] = true
			out = append(out, ci.NewTree(p, opts))
		}
	}
	for _, t := range env.gitTargets {
		out = append(out, ci.NewRepo(t, env.repos, opts))
	}
	return out, nil
}
