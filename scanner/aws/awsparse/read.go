package awsparse

import (
	"fmt"
	"os"
)

// ReadAuthorizationDetails reads and parses the authorization-details
// export at p; an error names the file and says what to do.
func ReadAuthorizationDetails(p string) (*AuthorizationDetails, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("authorization details %s: %w", p, err)
	}
	return AuthorizationDetailsFile(p, b)
}

// AuthorizationDetailsFile parses b, the content of the
// authorization-details export at p; an error names p and says what to
// do.
func AuthorizationDetailsFile(p string, b []byte) (*AuthorizationDetails, error) {
	d, err := ParseAuthorizationDetails(b)
	if err != nil {
		return nil, fmt.Errorf("authorization details %s: %w; nothing of this source was recorded, fix or re-export the file (`aws iam get-account-authorization-details > FILE`) and scan again", p, err)
	}
	return d, nil
}

// ReadCredentialReport reads and parses the credential report at p; an
// error names the file and says what to do.
func ReadCredentialReport(p string) ([]*ReportRow, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("credential report %s: %w", p, err)
	}
	return CredentialReportFile(p, b)
}

// CredentialReportFile parses b, the content of the credential report at
// p; an error names p and says what to do.
func CredentialReportFile(p string, b []byte) ([]*ReportRow, error) {
	rows, err := ParseCredentialReport(b)
	if err != nil {
		return nil, fmt.Errorf("credential report %s: %w; nothing of this source was recorded, fix or re-export the file (`aws iam get-credential-report --query Content --output text | base64 -d > FILE`) and scan again", p, err)
	}
	return rows, nil
}
