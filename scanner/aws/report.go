package aws

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// rootUser is the credential report's name for the account root.
const rootUser = "<root_account>"

// reportRow is one row of an IAM credential report.
type reportRow struct {
	user, arn           string
	created             *time.Time
	passwordEnabled     *bool // nil: not_supported (root)
	passwordLastUsed    *time.Time
	passwordLastChanged *time.Time
	mfaActive           bool
	keys                [2]reportKey
}

type reportKey struct {
	active      bool
	lastRotated *time.Time
	lastUsed    *time.Time
	region      string
	service     string
}

// exists: a slot that never held a key reports last_rotated N/A.
func (k reportKey) exists() bool { return k.active || k.lastRotated != nil }

// reportTime parses a credential report date; "N/A", "no_information",
// "not_supported" and empty mean no date.
func reportTime(s string) (*time.Time, error) {
	switch s = strings.TrimSpace(s); s {
	case "", "N/A", "no_information", "not_supported":
		return nil, nil
	}
	return parseAWSTime(s)
}

// parseAWSTime accepts the date shapes IAM exports carry: ISO 8601 with
// an offset or Z, with or without fractions, with a T or a space.
func parseAWSTime(s string) (*time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, fmt.Errorf("unrecognised date %q", s)
}

func reportValue(s string) string {
	switch s = strings.TrimSpace(s); s {
	case "N/A", "no_information", "not_supported":
		return ""
	}
	return s
}

// reportColumns are the credential report columns nhi reads. IAM has
// written all of them since 2015; a file without one of them is not a
// credential report, or was edited, and reading it anyway would lose keys
// or passwords without saying so.
var reportColumns = []string{"user", "arn", "user_creation_time", "password_enabled", "password_last_used",
	"password_last_changed", "mfa_active",
	"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date", "access_key_1_last_used_region", "access_key_1_last_used_service",
	"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date", "access_key_2_last_used_region", "access_key_2_last_used_service"}

// parseCredentialReport reads the CSV of GetCredentialReport (or the file
// the IAM console downloads). It reads all of it or nothing: a bad header,
// a row with the wrong number of fields (a truncated or edited file), a
// value that is not what IAM writes in that column, or an ARN without an
// account is an error naming the line, never a row silently skipped.
func parseCredentialReport(b []byte) ([]*reportRow, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(b))
	// Every row must have the header's number of fields.
	r.FieldsPerRecord = 0
	header, err := r.Read()
	if err == io.EOF {
		return nil, errors.New("the file is empty")
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", csvError(err, nil, 0))
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	var missing []string
	for _, need := range reportColumns {
		if _, ok := col[need]; !ok {
			missing = append(missing, need)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("line 1: the header lacks column(s) %s; is this the CSV of `aws iam get-credential-report` (base64-decoded)?", strings.Join(missing, ", "))
	}
	var rows []*reportRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err, rec, len(header))
		}
		line, _ := r.FieldPos(0)
		get := func(name string) string { return rec[col[name]] }
		var perr error
		tm := func(name string) *time.Time {
			t, err := reportTime(get(name))
			if err != nil && perr == nil {
				perr = fmt.Errorf("line %d, column %s: %w", line, name, err)
			}
			return t
		}
		flag := func(name string, allowed ...string) string {
			v := get(name)
			if !slices.Contains(allowed, v) && perr == nil {
				perr = fmt.Errorf("line %d, column %s: %q is not one of %s", line, name, v, strings.Join(allowed, ", "))
			}
			return v
		}
		row := &reportRow{user: get("user"), arn: get("arn"), created: tm("user_creation_time"),
			passwordLastUsed: tm("password_last_used"), passwordLastChanged: tm("password_last_changed"),
			mfaActive: flag("mfa_active", "true", "false") == "true"}
		switch flag("password_enabled", "true", "false", "not_supported") {
		case "true":
			v := true
			row.passwordEnabled = &v
		case "false":
			v := false
			row.passwordEnabled = &v
		}
		for i := range row.keys {
			p := fmt.Sprintf("access_key_%d_", i+1)
			row.keys[i] = reportKey{active: flag(p+"active", "true", "false") == "true", lastRotated: tm(p + "last_rotated"),
				lastUsed: tm(p + "last_used_date"), region: reportValue(get(p + "last_used_region")),
				service: reportValue(get(p + "last_used_service"))}
		}
		if perr != nil {
			return nil, perr
		}
		if _, err := principalAccount(row.arn); err != nil {
			return nil, fmt.Errorf("line %d, column arn: %w", line, err)
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, errors.New("no rows after the header; a credential report always has the <root_account> row")
	}
	return rows, nil
}

// csvError says where and how a CSV record is malformed.
func csvError(err error, rec []string, want int) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		return fmt.Errorf("line %d has %d fields, the header has %d (a truncated or hand-edited file?)", pe.StartLine, len(rec), want)
	}
	if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
		return fmt.Errorf("line %d, column %d: %v (a truncated or hand-edited file?)", pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
}

// addReport merges a credential report into the account: the root row,
// and for users ages, console password, MFA and key slots.
func (a *account) addReport(rows []*reportRow) {
	for _, r := range rows {
		if a.id == "" {
			a.id = accountFromARN(r.arn)
		}
		if r.user == rootUser || strings.HasSuffix(r.arn, ":root") {
			a.root = r
			continue
		}
		u := a.users[r.arn]
		if u == nil {
			u = &user{arn: r.arn, name: r.user}
			a.users[r.arn] = u
		}
		u.report = r
		if u.created == nil {
			u.created = r.created
		}
		if u.consolePassword == nil && r.passwordEnabled != nil {
			v := *r.passwordEnabled
			u.consolePassword = &v
		}
		if u.passwordLastUsed == nil {
			u.passwordLastUsed = r.passwordLastUsed
		}
		if u.passwordLastChanged == nil {
			u.passwordLastChanged = r.passwordLastChanged
		}
		if u.mfaActive == nil {
			v := r.mfaActive
			u.mfaActive = &v
		}
	}
}

// reportHeader is the credential report's header row, as IAM writes it.
const reportHeader = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
