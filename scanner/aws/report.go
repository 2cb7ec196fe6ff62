package aws

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
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

// parseCredentialReport reads the CSV of GetCredentialReport (or the file
// the IAM console downloads).
func parseCredentialReport(b []byte) ([]*reportRow, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("credential report: no header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"user", "arn", "user_creation_time"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("credential report: column %q missing; is this the CSV of `aws iam get-credential-report` (base64-decoded)?", need)
		}
	}
	var rows []*reportRow
	line := 1
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line++
		if err != nil {
			return nil, fmt.Errorf("credential report line %d: %w", line, err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		var perr error
		tm := func(name string) *time.Time {
			t, err := reportTime(get(name))
			if err != nil && perr == nil {
				perr = fmt.Errorf("credential report line %d, %s: %w", line, name, err)
			}
			return t
		}
		row := &reportRow{user: get("user"), arn: get("arn"), created: tm("user_creation_time"),
			passwordLastUsed: tm("password_last_used"), passwordLastChanged: tm("password_last_changed"),
			mfaActive: get("mfa_active") == "true"}
		switch get("password_enabled") {
		case "true":
			v := true
			row.passwordEnabled = &v
		case "false":
			v := false
			row.passwordEnabled = &v
		}
		for i := range row.keys {
			p := fmt.Sprintf("access_key_%d_", i+1)
			row.keys[i] = reportKey{active: get(p+"active") == "true", lastRotated: tm(p + "last_rotated"),
				lastUsed: tm(p + "last_used_date"), region: reportValue(get(p + "last_used_region")),
				service: reportValue(get(p + "last_used_service"))}
		}
		if perr != nil {
			return nil, perr
		}
		if row.arn == "" {
			return nil, fmt.Errorf("credential report line %d: no arn", line)
		}
		rows = append(rows, row)
	}
	return rows, nil
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
