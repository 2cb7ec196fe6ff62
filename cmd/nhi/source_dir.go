package main

import (
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/dir"
)

// dirFamily scans plain directory trees: --path DIR (repeatable) and
// nhi.yaml `dir: {paths: [...], exclude: [...], follow_symlinks: B}`.
// The CI family reads the pipeline files of the same trees.
type dirFamily struct {
	paths   []string
	exclude []string
	follow  bool
	fs      *pflag.FlagSet
}

// dirSection is the `dir:` section of nhi.yaml.
type dirSection struct {
	Paths          []string `yaml:"paths"`
	Exclude        []string `yaml:"exclude"`
	FollowSymlinks bool     `yaml:"follow_symlinks"`
}

func (*dirFamily) name() string { return "dir" }

func (d *dirFamily) flags(fs *pflag.FlagSet) {
	d.fs = fs
	fs.StringArrayVar(&d.paths, "path", nil, "plain directory to scan for secrets, as it is now (repeatable)")
	fs.StringArrayVar(&d.exclude, "exclude", nil, "glob (gitignore syntax) of paths inside --path trees not to read (repeatable)")
	fs.BoolVar(&d.follow, "follow-symlinks", false, "read the files symbolic links in --path trees point to, even outside the tree")
}

func (d *dirFamily) sources(section *yaml.Node, env *scanEnv) ([]scanner.Source, error) {
	var sec dirSection
	if section != nil {
		if err := decodeStrict(section, &sec); err != nil {
			return nil, usageError("nhi.yaml dir: %v (expected dir: {paths: [dir, ...], exclude: [glob, ...], follow_symlinks: false})", err)
		}
	}
	exclude := append(append([]string(nil), d.exclude...), sec.Exclude...)
	if err := dir.ValidateExclude(exclude); err != nil {
		return nil, usageError("%v", err)
	}
	max := int64(dir.DefaultMaxBlobSize)
	if d.fs != nil {
		if v, err := d.fs.GetInt64("max-blob-size"); err == nil {
			max = v
		}
	}
	if max <= 0 {
		return nil, usageError("max blob size must be a positive number of bytes, not %d", max)
	}
	env.dirExclude = exclude
	opts := dir.Options{MaxBlobSize: max, Exclude: exclude, FollowSymlinks: d.follow || sec.FollowSymlinks, Disable: env.disableRules}
	var out []scanner.Source
	seen := map[string]bool{}
	add := func(p string) error {
		if p == "" {
			return usageError("empty directory in --path or nhi.yaml dir.paths")
		}
		c := scanner.CanonicalPath(p)
		if seen[c] {
			return nil
		}
		seen[c] = true
		env.dirTargets = append(env.dirTargets, c)
		out = append(out, dir.New(c, opts))
		return nil
	}
	for _, p := range d.paths {
		if err := add(p); err != nil {
			return nil, err
		}
	}
	for _, p := range sec.Paths {
		if err := add(env.config.resolve(p)); err != nil {
			return nil, err
		}
	}
	return out, nil
}
