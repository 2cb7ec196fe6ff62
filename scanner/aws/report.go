package aws

import (
	"strings"

	"github.com/nhi-inventory/nhi/scanner/aws/awsparse"
)

// addReport merges a credential report into the account: the root row,
// and for users ages, console password, MFA and key slots.
func (a *account) addReport(rows []*awsparse.ReportRow) {
	for _, r := range rows {
		if a.id == "" {
			a.id = awsparse.AccountFromARN(r.ARN)
		}
		if r.User == awsparse.RootUser || strings.HasSuffix(r.ARN, ":root") {
			a.root = r
			continue
		}
		u := a.users[r.ARN]
		if u == nil {
			u = &user{arn: r.ARN, name: r.User}
			a.users[r.ARN] = u
		}
		u.report = r
		if u.created == nil {
			u.created = r.Created
		}
		if u.consolePassword == nil && r.PasswordEnabled != nil {
			v := *r.PasswordEnabled
			u.consolePassword = &v
		}
		if u.passwordLastUsed == nil {
			u.passwordLastUsed = r.PasswordLastUsed
		}
		if u.passwordLastChanged == nil {
			u.passwordLastChanged = r.PasswordLastChanged
		}
		if u.mfaActive == nil {
			v := r.MFAActive
			u.mfaActive = &v
		}
	}
}
