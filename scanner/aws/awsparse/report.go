// Package awsparse reads what IAM writes: the credential report CSV, the
// authorization-details JSON and the policy documents of both and of the
// API's answers. It is a leaf (the standard library only), so that its
// fuzz targets build without the AWS SDK and the scanner, which
// instrumentation would make a hundred times slower; package aws turns
// what it reads into inventory records.
package awsparse

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

// RootUser is the credential report's name for the account root.
const RootUser = "<root_account>"

// ReportRow is one row of an IAM credential report.
type ReportRow struct {
	User, ARN           string
	Created             *time.Time
	PasswordEnabled     *bool // nil: not_supported (root)
	PasswordLastUsed    *time.Time
	PasswordLastChanged *time.Time
	MFAActive           bool
	Keys                [2]ReportKey
}

// ReportKey is one access key slot of a credential report row.
type ReportKey struct {
	Active      bool
	LastRotated *time.Time
	LastUsed    *time.Time
	Region      string
	Service     string
}

// Exists: a slot that never held a key reports last_rotated N/A.
func (k ReportKey) Exists() bool { return k.Active || k.LastRotated != nil }

// reportTime parses a credential report date; "N/A", "no_information",
// "not_supported" and empty mean no date.
func reportTime(s string) (*time.Time, error) {
	switch s = strings.TrimSpace(s); s {
	case "", "N/A", "no_information", "not_supported":
		return nil, nil
	}
	return ParseTime(s)
}

// ParseTime accepts the date shapes IAM exports carry: ISO 8601 with
// an offset or Z, with or without fractions, with a T or a space.
func ParseTime(s string) (*time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, fmt.Errorf("unrecognised date %q", s)
}

// Value is a credential report value, or "" for the words IAM writes for
// none.
func Value(s string) string {
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

// ParseCredentialReport reads the CSV of GetCredentialReport (or the file
// the IAM console downloads). It reads all of it or nothing: a bad header,
// a row with the wrong number of fields (a truncated or edited file), a
// value that is not what IAM writes in that column, or an ARN without an
// account is an error naming the line, never a row silently skipped.
func ParseCredentialReport(b []byte) ([]*ReportRow, error) {
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
	var rows []*ReportRow
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
		row := &ReportRow{User: get("user"), ARN: get("arn"), Created: tm("user_creation_time"),
			PasswordLastUsed: tm("password_last_used"), PasswordLastChanged: tm("password_last_changed"),
			MFAActive: flag("mfa_active", "true", "false") == "true"}
		switch flag("password_enabled", "true", "false", "not_supported") {
		case "true":
			v := true
			row.PasswordEnabled = &v
		case "false":
			v := false
			row.PasswordEnabled = &v
		}
		for i := range row.Keys {
			p := fmt.Sprintf("access_key_%d_", i+1)
			row.Keys[i] = ReportKey{Active: flag(p+"active", "true", "false") == "true", LastRotated: tm(p + "last_rotated"),
				LastUsed: tm(p + "last_used_date"), Region: Value(get(p + "last_used_region")),
				Service: Value(get(p + "last_used_service"))}
		}
		if perr != nil {
			return nil, perr
		}
		if _, err := PrincipalAccount(row.ARN); err != nil {
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

// ReportHeader is the credential report's header row, as IAM writes it.
const ReportHeader = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
