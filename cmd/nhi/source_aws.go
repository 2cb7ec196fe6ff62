package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/aws"
)

// awsFamily scans AWS IAM: live through the SDK's default credential chain
// (--aws) or named profiles (--aws-profile, repeatable), or offline from
// exports (--aws-credential-report, --aws-authorization-details, each
// repeatable). nhi.yaml:
//
//	aws:
//	  accounts: [{profile: prod, region: us-east-1}]
//	  credential_reports: [exports/report.csv]
//	  authorization_details: [exports/details.json]
//	  concurrency: 8
//	  timeout: 10m          # per account, the whole scan
//	  attempt_timeout: 10s  # per HTTP attempt of one call
type awsFamily struct {
	live     bool
	profiles []string
	reports  []string
	details  []string
	timeout  time.Duration
}

// awsSection is the `aws:` section of nhi.yaml.
type awsSection struct {
	Accounts []struct {
		Profile  string `yaml:"profile"`
		Region   string `yaml:"region"`
		Endpoint string `yaml:"endpoint"`
	} `yaml:"accounts"`
	CredentialReports    []string `yaml:"credential_reports"`
	AuthorizationDetails []string `yaml:"authorization_details"`
	Concurrency          int      `yaml:"concurrency"`
	// Go durations, parsed by durationSetting so that a bad one is
	// reported with its line.
	Timeout        string `yaml:"timeout"`
	AttemptTimeout string `yaml:"attempt_timeout"`
}

func (*awsFamily) name() string { return "aws" }

func (a *awsFamily) flags(fs *pflag.FlagSet) {
	fs.BoolVar(&a.live, "aws", false, "scan AWS IAM with the SDK's default credential chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL)")
	fs.StringArrayVar(&a.profiles, "aws-profile", nil, "scan AWS IAM with this shared config profile (repeatable; one account each)")
	fs.StringArrayVar(&a.reports, "aws-credential-report", nil, "IAM credential report CSV to import offline (repeatable)")
	fs.StringArrayVar(&a.details, "aws-authorization-details", nil, "JSON of aws iam get-account-authorization-details to import offline (repeatable)")
	fs.DurationVar(&a.timeout, "aws-timeout", 0, "give up on an AWS account whose scan takes longer than this (default aws.timeout in nhi.yaml, else "+aws.DefaultTimeout.String()+")")
}

func (a *awsFamily) sources(section *yaml.Node, env *scanEnv) ([]scanner.Source, error) {
	var sec awsSection
	if err := decodeStrict(section, &sec); err != nil {
		return nil, usageError("nhi.yaml aws: %v (expected aws: {accounts: [{profile, region, endpoint}], credential_reports: [FILE], authorization_details: [FILE], concurrency: N, timeout: DURATION, attempt_timeout: DURATION})", err)
	}
	if sec.Concurrency < 0 {
		return nil, usageError("nhi.yaml aws.concurrency must be positive, not %d", sec.Concurrency)
	}
	timeout, err := durationSetting(env.config, section, "aws.timeout", sec.Timeout)
	if err != nil {
		return nil, err
	}
	attemptTimeout, err := durationSetting(env.config, section, "aws.attempt_timeout", sec.AttemptTimeout)
	if err != nil {
		return nil, err
	}
	if a.timeout < 0 {
		return nil, usageError("--aws-timeout must be positive, not %v", a.timeout)
	}
	if a.timeout > 0 {
		timeout = a.timeout
	}
	var out []scanner.Source
	seen := map[string]bool{}
	addLive := func(o aws.LiveOptions) {
		o.Concurrency = sec.Concurrency
		o.Timeout, o.AttemptTimeout = timeout, attemptTimeout
		s := aws.NewLive(o)
		// IAM is global: one source per profile whatever the region.
		if !seen[s.Name()] {
			seen[s.Name()] = true
			out = append(out, s)
		}
	}
	if a.live {
		addLive(aws.LiveOptions{})
	}
	for _, p := range a.profiles {
		if p == "" {
			return nil, usageError("--aws-profile needs a profile name")
		}
		addLive(aws.LiveOptions{Profile: p})
	}
	for _, acct := range sec.Accounts {
		addLive(aws.LiveOptions{Profile: acct.Profile, Region: acct.Region, Endpoint: acct.Endpoint})
	}

	cfg := env.config
	resolve := func(flag string, fromFlags, fromConfig []string) ([]string, error) {
		files := append([]string{}, fromFlags...)
		for _, f := range fromConfig {
			files = append(files, cfg.resolve(f))
		}
		for _, f := range files {
			if fi, err := os.Stat(f); err != nil || fi.IsDir() {
				return nil, usageError("%s %s: not a readable file; give the path of an existing export (relative paths in nhi.yaml are from its directory)", flag, f)
			}
		}
		return files, nil
	}
	reports, err := resolve("--aws-credential-report", a.reports, sec.CredentialReports)
	if err != nil {
		return nil, err
	}
	details, err := resolve("--aws-authorization-details", a.details, sec.AuthorizationDetails)
	if err != nil {
		return nil, err
	}
	if len(reports)+len(details) > 0 {
		// One source for every export, merged per account, so a report and
		// the details of the same account make one complete inventory.
		out = append(out, aws.NewOffline(aws.OfflineOptions{CredentialReports: reports, AuthorizationDetails: details}))
	}
	return out, nil
}

// durationSetting parses value, the Go duration (90s, 10m, 1h30m) set at
// path in nhi.yaml (e.g. "aws.timeout", "vault.servers[0].timeout"); node
// is the mapping holding it, for the line a bad value is reported at.
// Empty leaves the default (0).
func durationSetting(cfg *fileConfig, node *yaml.Node, path, value string) (time.Duration, error) {
	if value == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(value))
	if err == nil && d > 0 {
		return d, nil
	}
	file := "nhi.yaml"
	if cfg != nil && cfg.path != "" {
		file = cfg.path
	}
	key := path[strings.LastIndex(path, ".")+1:]
	where := ""
	if node != nil && node.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == key {
				where = fmt.Sprintf(" line %d:", node.Content[i+1].Line)
			}
		}
	}
	return 0, usageError("config %s:%s %s is %q, not a positive duration; write it as 90s, 10m or 1h30m", file, where, path, value)
}
