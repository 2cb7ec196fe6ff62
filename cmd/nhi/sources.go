package main

import (
	"context"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/forge"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// sourceFamily wires one family of sources (git, CI, AWS, Vault) into
// `nhi scan`: its flags, its section of nhi.yaml, and the sources it
// builds. Each family lives in its own file, source_<family>.go.
type sourceFamily interface {
	// name is the family's nhi.yaml section ("git", "ci", "aws", "vault").
	name() string
	// flags registers the family's `nhi scan` flags.
	flags(fs *pflag.FlagSet)
	// sources builds the sources to scan from the flags and the family's
	// nhi.yaml section (nil node when absent). A configuration error is
	// returned as a usageError.
	sources(section *yaml.Node, env *scanEnv) ([]scanner.Source, error)
}

// families is the explicit list of source families, in scan order.
func families() []sourceFamily {
	// The forges come first: what they enumerate joins the git targets
	// that the git and CI families then scan.
	ff := &forgeFlags{}
	return []sourceFamily{&forgeFamily{kind: forge.GitHub, f: ff}, &forgeFamily{kind: forge.GitLab, f: ff},
		&gitFamily{}, &dirFamily{}, &ciFamily{}, &agentsFamily{}, &awsFamily{}, &vaultFamily{}}
}

// scanEnv is what every family may use when building its sources.
type scanEnv struct {
	// ctx bounds what building sources does on the network (listing an
	// organisation's repositories).
	ctx context.Context
	// config is nhi.yaml; config.resolve makes its relative paths absolute.
	config *fileConfig
	// gitTargets are every repository given by --git or git.repos (paths
	// or URLs), then those the forge families enumerated, for the git
	// family and the families that look inside repositories (CI). A --git
	// URL may carry a credential: hand targets to env.repos (through a
	// source), never print them; a Repo's ID is the name to show.
	gitTargets []string
	// dirTargets are every directory given by --path or dir.paths, for
	// the CI family, which reads the pipeline files in them too.
	dirTargets []string
	// dirExclude are the --exclude globs of those trees, which the agent
	// family honours too.
	dirExclude []string
	// repos opens (cloning URLs into the cache once) git repositories
	// shared by the git and CI sources.
	repos *gitrepo.Repos
	// stores are the Actions secret stores the forge families read
	// (--actions-secrets), for the CI family's references.
	stores secretStores
	// disableRules are detection rule ids turned off in nhi.yaml.
	disableRules []string
}
