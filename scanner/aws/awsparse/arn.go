package awsparse

import (
	"fmt"
	"strings"
)

// AccountFromARN returns the account id of an IAM ARN
// (arn:aws:iam::123456789012:user/x).
func AccountFromARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

// ValidAccountID: an AWS account id is twelve digits.
func ValidAccountID(id string) bool {
	if len(id) != 12 {
		return false
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// PrincipalAccount returns the account of an IAM principal's ARN, or an
// error saying what is wrong with it.
func PrincipalAccount(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || parts[2] != "iam" || !ValidAccountID(parts[4]) {
		return "", fmt.Errorf("%q is not an IAM ARN with a 12-digit account id (arn:aws:iam::123456789012:user/name)", arn)
	}
	return parts[4], nil
}
