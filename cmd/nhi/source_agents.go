package main

import (
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/agents"
)

// agentsFamily reads AI agents' configurations (the MCP servers of
// .mcp.json, .cursor/mcp.json, .vscode/mcp.json, ~/.claude.json,
// claude_desktop_config.json, .continue/, Windsurf...) in every --path
// tree and at the head of every branch of every --git repository, as the
// CI family reads pipelines. On by default; --agents=false or nhi.yaml
// `agents: {enabled: false}` turns it off.
type agentsFamily struct {
	enabled bool
	fs      *pflag.FlagSet
}

// agentsSection is the `agents:` section of nhi.yaml.
type agentsSection struct {
	Enabled *bool `yaml:"enabled"`
}

func (*agentsFamily) name() string { return "agents" }

func (a *agentsFamily) flags(fs *pflag.FlagSet) {
	a.fs = fs
	fs.BoolVar(&a.enabled, "agents", true, "read AI agents' MCP server configurations in --git repositories and --path trees")
}

func (a *agentsFamily) sources(section *yaml.Node, env *scanEnv) ([]scanner.Source, error) {
	var sec agentsSection
	if section != nil {
		if err := decodeStrict(section, &sec); err != nil {
			return nil, usageError("nhi.yaml agents: %v (expected agents: {enabled: true})", err)
		}
	}
	on := a.enabled
	if sec.Enabled != nil && (a.fs == nil || !a.fs.Changed("agents")) {
		on = *sec.Enabled
	}
	if !on {
		return nil, nil
	}
	opts := agents.Options{Disable: env.disableRules, Exclude: env.dirExclude}
	var out []scanner.Source
	for _, p := range env.dirTargets {
		out = append(out, agents.NewTree(p, opts))
	}
	for _, t := range env.gitTargets {
		out = append(out, agents.NewRepo(t, env.repos, agents.Options{Disable: env.disableRules}))
	}
	return out, nil
}
