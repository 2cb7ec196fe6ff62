package aws

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
)

// OfflineOptions lists IAM exports to read without AWS credentials.
type OfflineOptions struct {
	// CredentialReports are CSV files of the IAM credential report.
	CredentialReports []string
	// AuthorizationDetails are JSON files of
	// `aws iam get-account-authorization-details`.
	AuthorizationDetails []string
}

type offline struct {
	opts OfflineOptions
	name string
}

// NewOffline returns one source over IAM exports. Files of the same
// account (by the account id in their ARNs) are merged before anything is
// written, so a credential report and an authorization-details export of
// one account give one complete set of identities: tags, owners and
// privileges from the details, console passwords, MFA and key ages and
// last use from the report.
//
// What the source covers is the accounts in the files (aws:<account id>),
// not the files: today's export under a new name is the same target as
// yesterday's. Every file is read in full before anything is written, and
// a file that cannot be read or parsed fails the source, so a corrupt
// export never stands in for an account.
func NewOffline(opts OfflineOptions) scanner.Source {
	opts.CredentialReports = canonicalPaths(opts.CredentialReports)
	opts.AuthorizationDetails = canonicalPaths(opts.AuthorizationDetails)
	s := &offline{opts: opts}
	s.name = "aws:offline:" + s.Target()
	return s
}

// NewCredentialReport returns a source over one credential report CSV.
func NewCredentialReport(path string) scanner.Source {
	s := NewOffline(OfflineOptions{CredentialReports: []string{path}}).(*offline)
	s.name = "aws:credential-report:" + s.Target()
	return s
}

// NewAuthorizationDetails returns a source over one authorization-details
// JSON export.
func NewAuthorizationDetails(path string) scanner.Source {
	s := NewOffline(OfflineOptions{AuthorizationDetails: []string{path}}).(*offline)
	s.name = "aws:authorization-details:" + s.Target()
	return s
}

// canonicalPaths makes paths absolute and symlink-resolved, so a file
// named two ways is one source; a path that does not resolve is kept
// absolute and fails when read.
func canonicalPaths(ps []string) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		out = append(out, p)
	}
	return out
}

func (s *offline) Name() string { return s.name }
func (s *offline) Kind() string { return inventory.SourceAWS }

// Target is the export files, canonical, comma-separated: the source's own
// name. The scope targets its rows carry are the accounts in the files.
func (s *offline) Target() string {
	return strings.Join(append(append([]string{}, s.opts.CredentialReports...), s.opts.AuthorizationDetails...), ",")
}

func (s *offline) Scan(ctx context.Context, sink scanner.Sink) error {
	accounts := map[string]*account{}
	get := func(id string) *account {
		a := accounts[id]
		if a == nil {
			a = newAccount()
			a.id = id
			accounts[id] = a
		}
		return a
	}
	// Parse every file first, so that one broken file stops the source
	// before anything of any account is written, and every broken file is
	// named at once.
	var failed []error
	for _, p := range s.opts.AuthorizationDetails {
		d, err := awsparse.ReadAuthorizationDetails(p)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		// One export is one account; split anyway in case of a concatenation.
		byAcct := map[string]*awsparse.AuthorizationDetails{}
		split := func(arn string) *awsparse.AuthorizationDetails {
			id := awsparse.AccountFromARN(arn)
			if byAcct[id] == nil {
				byAcct[id] = &awsparse.AuthorizationDetails{}
			}
			return byAcct[id]
		}
		for _, u := range d.UserDetailList {
			x := split(u.Arn)
			x.UserDetailList = append(x.UserDetailList, u)
		}
		for _, g := range d.GroupDetailList {
			x := split(g.Arn)
			x.GroupDetailList = append(x.GroupDetailList, g)
		}
		for _, r := range d.RoleDetailList {
			x := split(r.Arn)
			x.RoleDetailList = append(x.RoleDetailList, r)
		}
		for id, x := range byAcct {
			// Managed policies (AWS's have account "aws") serve every account of the file.
			x.Policies = d.Policies
			get(id).addDetails(x)
		}
		sink.Add("files", 1)
	}
	for _, p := range s.opts.CredentialReports {
		rows, err := awsparse.ReadCredentialReport(p)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		byAcct := map[string][]*awsparse.ReportRow{}
		for _, r := range rows {
			byAcct[awsparse.AccountFromARN(r.ARN)] = append(byAcct[awsparse.AccountFromARN(r.ARN)], r)
		}
		for id, rs := range byAcct {
			get(id).addReport(rs)
		}
		sink.Add("files", 1)
	}
	if len(failed) > 0 {
		return errors.Join(failed...)
	}
	for _, id := range sortedKeys(accounts) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := accounts[id].emit(ctx, sink); err != nil {
			return err
		}
	}
	return nil
}
