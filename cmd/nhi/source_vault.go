package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/vault"
)

// vaultFamily scans Vault/OpenBao servers: --vault scans the server in
// VAULT_ADDR with VAULT_TOKEN (VAULT_NAMESPACE, VAULT_CACERT); nhi.yaml
// `vault: {servers: [...]}` lists more. Tokens come only from the
// environment: a token written in nhi.yaml is refused.
type vaultFamily struct {
	enabled     bool
	fingerprint bool
	include     []string
	exclude     []string
}

// vaultSection is the `vault:` section of nhi.yaml.
type vaultSection struct {
	Servers []vaultServer `yaml:"servers"`
}

type vaultServer struct {
	Address       string   `yaml:"address"`
	TokenEnv      string   `yaml:"token_env"`
	Namespace     string   `yaml:"namespace"`
	CACert        string   `yaml:"ca_cert"`
	IncludeMounts []string `yaml:"include_mounts"`
	ExcludeMounts []string `yaml:"exclude_mounts"`
	Fingerprint   bool     `yaml:"fingerprint"`
	// Timeout bounds the whole scan of the server, RequestTimeout each
	// request (Go durations; defaults 30m and 10s).
	Timeout        string `yaml:"timeout"`
	RequestTimeout string `yaml:"request_timeout"`
	// Token is only decoded to refuse it with a clear message.
	Token string `yaml:"token"`
}

func (*vaultFamily) name() string { return "vault" }

func (v *vaultFamily) flags(fs *pflag.FlagSet) {
	fs.BoolVar(&v.enabled, "vault", false, "scan the Vault server in VAULT_ADDR with VAULT_TOKEN (VAULT_NAMESPACE, VAULT_CACERT honoured)")
	fs.BoolVar(&v.fingerprint, "vault-fingerprint", false, "read KV values to fingerprint them in memory (never stored), so leaked copies are recognised; needs read on <mount>/data/*")
	fs.StringArrayVar(&v.include, "vault-mount", nil, "scan only this Vault mount, e.g. secret or auth/approle (repeatable)")
	fs.StringArrayVar(&v.exclude, "vault-exclude-mount", nil, "skip this Vault mount (repeatable)")
}

func (v *vaultFamily) sources(section *yaml.Node, env *scanEnv) ([]scanner.Source, error) {
	var sec vaultSection
	if err := decodeStrict(section, &sec); err != nil {
		return nil, usageError("nhi.yaml vault: %v (expected vault: {servers: [{address, token_env, namespace, ca_cert, include_mounts, exclude_mounts, fingerprint, timeout, request_timeout}]})", err)
	}
	var out []scanner.Source
	seen := map[string]bool{}
	add := func(o vault.Options) {
		o.IncludeMounts = append(o.IncludeMounts, v.include...)
		o.ExcludeMounts = append(o.ExcludeMounts, v.exclude...)
		o.Fingerprint = o.Fingerprint || v.fingerprint
		// One source per server and namespace, as its name says.
		s := vault.New(o)
		if !seen[s.Name()] {
			seen[s.Name()] = true
			out = append(out, s)
		}
	}
	cfg := env.config
	for i, s := range sec.Servers {
		if s.Token != "" {
			return nil, usageError("nhi.yaml vault.servers[%d].token: a token in the config file is refused; put it in an environment variable and name it with token_env", i)
		}
		if s.Address == "" {
			return nil, usageError("nhi.yaml vault.servers[%d]: address is required", i)
		}
		tokenEnv := s.TokenEnv
		if tokenEnv == "" {
			tokenEnv = "VAULT_TOKEN"
		}
		token := os.Getenv(tokenEnv)
		if token == "" {
			return nil, usageError("nhi.yaml vault.servers[%d] (%s): environment variable %s (token_env) is empty; set it to a token with the nhi-scan policy", i, s.Address, tokenEnv)
		}
		cacert := cfg.resolve(s.CACert)
		if cacert == "" {
			cacert = os.Getenv("VAULT_CACERT")
		}
		node := serverNode(section, i)
		scanTimeout, err := durationSetting(cfg, node, fmt.Sprintf("vault.servers[%d].timeout", i), s.Timeout)
		if err != nil {
			return nil, err
		}
		requestTimeout, err := durationSetting(cfg, node, fmt.Sprintf("vault.servers[%d].request_timeout", i), s.RequestTimeout)
		if err != nil {
			return nil, err
		}
		add(vault.Options{Address: s.Address, Token: token, Namespace: s.Namespace, CACert: cacert,
			IncludeMounts: s.IncludeMounts, ExcludeMounts: s.ExcludeMounts, Fingerprint: s.Fingerprint,
			ScanTimeout: scanTimeout, Timeout: requestTimeout})
	}
	if v.enabled {
		addr := os.Getenv("VAULT_ADDR")
		switch {
		case addr == "" && len(sec.Servers) == 0:
			return nil, usageError("--vault needs VAULT_ADDR (and VAULT_TOKEN), or vault.servers in nhi.yaml")
		case addr != "":
			if os.Getenv("VAULT_TOKEN") == "" {
				return nil, usageError("--vault: VAULT_TOKEN is empty; set it to a token with the nhi-scan policy")
			}
			add(vault.Options{Address: addr, Token: os.Getenv("VAULT_TOKEN"), Namespace: os.Getenv("VAULT_NAMESPACE"),
				CACert: os.Getenv("VAULT_CACERT")})
		}
	} else if len(sec.Servers) == 0 && (v.fingerprint || len(v.include) > 0 || len(v.exclude) > 0) {
		return nil, usageError("--vault-fingerprint, --vault-mount and --vault-exclude-mount need --vault or vault.servers in nhi.yaml")
	}
	return out, nil
}

// serverNode is the mapping of vault.servers[i] in the section, for the
// line of a bad setting; nil when it cannot be found.
func serverNode(section *yaml.Node, i int) *yaml.Node {
	if section == nil || section.Kind != yaml.MappingNode {
		return nil
	}
	for k := 0; k+1 < len(section.Content); k += 2 {
		if section.Content[k].Value == "servers" {
			if list := section.Content[k+1]; list.Kind == yaml.SequenceNode && i < len(list.Content) {
				return list.Content[i]
			}
		}
	}
	return nil
}
