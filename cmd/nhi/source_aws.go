package main

import (
	"os"

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
type awsFamily struct {
	live     bool
	profiles []string
	reports  []string
	details  []string
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
}

func (*awsFamily) name() string { return "aws" }

func (a *awsFamily) flags(fs *pflag.FlagSet) {
	fs.BoolVar(&a.live, "aws", false, "scan AWS IAM with the SDK's default credential chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL)")
	fs.StringArrayVar(&a.profiles, "aws-profile", nil, "scan AWS IAM with this shared config profile (repeatable; one account each)")
	fs.StringArrayVar(&a.reports, "aws-credential-report", nil, "IAM credential report CSV to import offline (repeatable)")
	fs.StringArrayVar(&a.details, "aws-authorization-details", nil, "JSON of aws iam get-account-authorization-details to import offline (repeatable)")
}

func (a *awsFamily) sources(section *yaml.Node, env *scanEnv) ([]scanner.Source, error) {
	var sec awsSection
	if err := decodeStrict(section, &sec); err != nil {
		return nil, usageError("nhi.yaml aws: %v (expected aws: {accounts: [{profile, region, endpoint}], credential_reports: [FILE], authorization_details: [FILE], concurrency: N})", err)
	}
	if sec.Concurrency < 0 {
		return nil, usageError("nhi.yaml aws.concurrency must be positive, not %d", sec.Concurrency)
	}
	var out []scanner.Source
	seen := map[string]bool{}
	addLive := func(o aws.LiveOptions) {
		o.Concurrency = sec.Concurrency
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
