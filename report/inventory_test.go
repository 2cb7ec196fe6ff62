package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// fixtureDoc is an inventory of one scan as the store returns it: an IAM
// user with an access key seen in IAM and committed to git twice, a Vault
// secret, a CI secret reference, and a credential with no occurrence.
func fixtureDoc() InventoryDoc {
	scan := &inventory.Scan{ID: 7, Status: inventory.ScanComplete, StartedAt: *at("2026-05-31T10:00:00Z")}
	ids := []inventory.IdentityRow{{ID: 1, FirstSeen: *at("2026-05-01T10:00:00Z"), CredentialIDs: []int64{10},
		Identity: inventory.Identity{Key: userARN, Kind: inventory.KindIAMUser, Name: "legacy-etl", Source: inventory.SourceAWS, Provider: "aws",
			Account: "123456789012", Owner: "team-data", OwnerSource: "tag:owner", Privileges: "administrator", AuthMode: "static-keys",
			CreatedAt: at("2022-03-01T00:00:00Z"), LastUsedAt: at("2026-05-30T08:00:00Z"), Tags: map[string]string{"owner": "team-data"},
			Attrs: map[string]any{"console_password": false}}},
		{ID: 2, FirstSeen: *at("2026-05-31T10:00:00Z"), // CredentialIDs nil: rendered as []
			Identity: inventory.Identity{Key: "ci:workflow:payments-api:.github/workflows/deploy.yml", Kind: inventory.KindCIWorkflow, Name: "deploy", Source: inventory.SourceCI}},
	}
	creds := []inventory.CredentialRow{
		{ID: 10, IdentityKey: userARN, FirstSeen: *at("2026-05-01T10:00:00Z"), Credential: inventory.Credential{
			Key: "aws-access-key:AKIAEXAMPLEEXAMPLE01", Type: "aws-access-key", Fingerprint: strings.Repeat("ab", 32), Redacted: "AKIAEXAMPLEEXAMPLE01",
			VaultStatus: inventory.VaultHardcoded, Status: "Active", Owner: "team-data", OwnerSource: "identity:tag:owner",
			CreatedAt: at("2025-09-01T00:00:00Z"), LastRotatedAt: at("2025-09-01T00:00:00Z"), LastUsedAt: at("2026-05-30T08:00:00Z"),
			Attrs: map[string]any{"access_key_id": "AKIAEXAMPLEEXAMPLE01"}},
			Occurrences: []inventory.Occurrence{
				{Source: inventory.SourceGit, Repo: "/srv/git/payments-api.git", Path: "deploy/provider.tf", Line: 3, Commit: "4f2c9a1b7d3e5f60",
					Author: "Dana Ops", Email: "dana@example.com", Date: at("2026-03-02T09:30:00Z")},
				{Source: inventory.SourceGit, Repo: "/srv/git/infra", Path: "main.tf", Line: 9, Commit: "0123456789ab"},
				{Source: inventory.SourceAWS, Detail: map[string]any{"arn": userARN}},
			}},
		{ID: 11, FirstSeen: *at("2026-05-31T10:00:00Z"), Credential: inventory.Credential{Key: "vault-kv:v:secret/payments/db", Type: "vault-kv-secret",
			VaultStatus: inventory.VaultVaulted, ExpiresAt: at("2027-01-01T00:00:00Z"), Attrs: map[string]any{"name": "secret/payments/db"}},
			Occurrences: []inventory.Occurrence{{Source: inventory.SourceVault, VaultPath: "secret/payments/db"}}},
		{ID: 12, IdentityKey: "ci:workflow:payments-api:.github/workflows/deploy.yml", FirstSeen: *at("2026-05-31T10:00:00Z"),
			Credential:  inventory.Credential{Key: "ci-secret:github-actions:payments-api:AWS_KEY", Type: "ci-secret-reference", VaultStatus: inventory.VaultCISecretStore},
			Occurrences: []inventory.Occurrence{{Source: inventory.SourceCI, Path: ".github/workflows/deploy.yml", Line: 31, CIJob: "deploy", CIStep: "configure"}}},
		{ID: 13, FirstSeen: *at("2026-05-31T10:00:00Z"), Credential: inventory.Credential{Key: "fp:77", Type: "generic-api-key", VaultStatus: inventory.VaultUnknown}},
	}
	return NewInventoryDoc(scan, ids, creds)
}

func TestInventoryTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteInventory(&b, fixtureDoc(), "table"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	want := [][]string{
		{"scan 7 (complete, 2026-05-31T10:00:00Z)"},
		{""},
		{"IDENTITIES (2)"},
		{"ID", "KIND", "NAME", "OWNER", "AUTH", "PRIVILEGES", "CREATED", "LAST USED", "CREDS"},
		{"1", "aws:iam-user", "legacy-etl", "team-data", "static-keys", "administrator", "2022-03-01", "2026-05-30", "1"},
		{"2", "ci:workflow", "deploy", "-", "-", "-", "-", "-", "0"},
		{""},
		{"CREDENTIALS (4)"},
		{"ID", "TYPE", "REDACTED", "VAULT STATUS", "CONF", "STATUS", "CREATED", "LAST USED", "SEEN", "WHERE"},
		{"10", "aws-access-key", "AKIAEXAMPLEEXAMPLE01", "hardcoded", "high", "Active", "2025-09-01", "2026-05-30", "3", "payments-api/deploy/provider.tf:3@4f2c9a1b (+2)"},
		{"11", "vault-kv-secret", "secret/payments/db", "vaulted", "-", "-", "-", "-", "1", "secret/payments/db"},
		{"12", "ci-secret-reference", "ci-secret:github-actions:payments-api:AWS_KEY", "ci-secret-store", "-", "-", "-", "-", "1", ".github/workflows/deploy.yml:31"},
		{"13", "generic-api-key", "fp:77", "unknown", "-", "-", "-", "-", "0", "-"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), b.String())
	}
	for i, w := range want {
		if got := columns.Split(strings.TrimRight(lines[i], " "), -1); !reflect.DeepEqual(got, w) {
			t.Errorf("line %d:\n got  %q\n want %q", i, got, w)
		}
	}
}

func TestInventoryJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteInventory(&b, fixtureDoc(), "json"); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	keysOf := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	check := func(what string, m map[string]any, want ...string) {
		t.Helper()
		sort.Strings(want)
		if got := keysOf(m); !reflect.DeepEqual(got, want) {
			t.Errorf("%s keys\n got  %v\n want %v", what, got, want)
		}
	}
	check("document", doc, "scan_id", "scan_status", "scanned_at", "identities", "credentials")
	if doc["scan_id"] != 7.0 || doc["scan_status"] != "complete" || doc["scanned_at"] != "2026-05-31T10:00:00Z" {
		t.Errorf("document header %v", doc)
	}
	ids := doc["identities"].([]any)
	check("identity", ids[0].(map[string]any), "id", "key", "kind", "name", "source", "provider", "account", "owner", "owner_source",
		"auth_mode", "privileges", "created_at", "last_used_at", "first_seen", "tags", "attrs", "credentials")
	if c := ids[1].(map[string]any)["credentials"]; !reflect.DeepEqual(c, []any{}) {
		t.Errorf("identity without credentials: %v, want []", c)
	}
	creds := doc["credentials"].([]any)
	key := creds[0].(map[string]any)
	check("credential", key, "id", "key", "type", "identity", "fingerprint", "redacted", "vault_status", "confidence", "status", "owner", "owner_source",
		"created_at", "last_rotated_at", "last_used_at", "first_seen", "attrs", "occurrences")
	if key["identity"] != userARN || key["fingerprint"] != strings.Repeat("ab", 32) || key["last_rotated_at"] != "2025-09-01T00:00:00Z" {
		t.Errorf("credential %v", key)
	}
	occ := key["occurrences"].([]any)
	check("git occurrence", occ[0].(map[string]any), "source", "repo", "path", "line", "commit", "author", "email", "date")
	check("aws occurrence", occ[2].(map[string]any), "source", "detail")
	check("vault credential", creds[1].(map[string]any), "id", "key", "type", "fingerprint", "redacted", "vault_status", "owner",
		"expires_at", "first_seen", "attrs", "occurrences")
	check("ci occurrence", creds[2].(map[string]any)["occurrences"].([]any)[0].(map[string]any), "source", "path", "line", "job", "step")
	if o := creds[3].(map[string]any)["occurrences"]; !reflect.DeepEqual(o, []any{}) {
		t.Errorf("credential without occurrences: %v, want []", o)
	}
}

func TestInventoryCSV(t *testing.T) {
	var b bytes.Buffer
	if err := WriteInventory(&b, fixtureDoc(), "csv"); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := []string{"credential_id", "key", "type", "fingerprint", "redacted", "vault_status", "status", "identity", "first_seen",
		"owner", "owner_source", "created_at", "last_used_at", "last_rotated_at", "expires_at", "source", "repo", "path", "line", "commit", "author", "email", "date", "job", "step", "vault_path", "confidence", "confidence_reason"}
	fp := strings.Repeat("ab", 32)
	key := []string{"10", "aws-access-key:AKIAEXAMPLEEXAMPLE01", "aws-access-key", fp, "AKIAEXAMPLEEXAMPLE01", "hardcoded", "Active", userARN, "2026-05-01T10:00:00Z",
		"team-data", "identity:tag:owner", "2025-09-01T00:00:00Z", "2026-05-30T08:00:00Z", "2025-09-01T00:00:00Z", ""}
	want := [][]string{
		header,
		append(key[:15:15], "git", "/srv/git/payments-api.git", "deploy/provider.tf", "3", "4f2c9a1b7d3e5f60", "Dana Ops", "dana@example.com", "2026-03-02T09:30:00Z", "", "", "", "high", ""),
		append(key[:15:15], "git", "/srv/git/infra", "main.tf", "9", "0123456789ab", "", "", "", "", "", "", "high", ""),
		append(key[:15:15], "aws", "", "", "", "", "", "", "", "", "", "", "high", ""),
		{"11", "vault-kv:v:secret/payments/db", "vault-kv-secret", "", "", "vaulted", "", "", "2026-05-31T10:00:00Z", "", "", "", "", "", "2027-01-01T00:00:00Z", "vault", "", "", "", "", "", "", "", "", "", "secret/payments/db", "", ""},
		{"12", "ci-secret:github-actions:payments-api:AWS_KEY", "ci-secret-reference", "", "", "ci-secret-store", "", "ci:workflow:payments-api:.github/workflows/deploy.yml", "2026-05-31T10:00:00Z",
			"", "", "", "", "", "", "ci", "", ".github/workflows/deploy.yml", "31", "", "", "", "", "deploy", "configure", "", "", ""},
		// A credential seen nowhere still has its row.
		{"13", "fp:77", "generic-api-key", "", "", "unknown", "", "", "2026-05-31T10:00:00Z", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(rows[i], want[i]) {
			t.Errorf("row %d:\n got  %q\n want %q", i, rows[i], want[i])
		}
	}
}

func TestReadiness(t *testing.T) {
	cat := catalogue(t)
	r := Readiness{
		Controls: []inventory.ControlResult{
			{ControlID: "NHI-SEC-01", Severity: "high", Evaluated: 4, Passing: 3},
			{ControlID: "NHI-IAM-02", Severity: "critical"},
			{ControlID: "NHI-SEC-02", Severity: "high", Evaluated: 9, Passing: 0},
		},
		Criteria: []inventory.CriterionResult{
			{Framework: "soc2", Criterion: "CC6.1", Evaluated: 2, Passing: 1},
			{Framework: "soc2", Criterion: "CC6.7", Evaluated: 4, Passing: 4},
			{Framework: "owasp_nhi", Criterion: "NHI2", Evaluated: 3, Passing: 0},
			{Framework: "nist_csf", Criterion: "PR.DS-01", Evaluated: 5, Passing: 2},
		},
		Open: map[string]int{"critical": 1, "high": 2, "low": 3},
	}
	var b bytes.Buffer
	WriteReadiness(&b, r, cat)
	want := []string{
		"",
		"readiness per control (subjects passing / evaluated):",
		"  NHI-SEC-01  high      ███████████████░░░░░  3/4  " + cat.Control("NHI-SEC-01").Title,
		"  NHI-IAM-02  critical  ····················  -    " + cat.Control("NHI-IAM-02").Title,
		"  NHI-SEC-02  high      ░░░░░░░░░░░░░░░░░░░░  0/9  " + cat.Control("NHI-SEC-02").Title,
		"",
		"readiness per framework criterion:",
		"  NIST CSF 2.0:     PR.DS-01 2/5",
		"  OWASP NHI Top 10: NHI2 0/3",
		"  SOC 2:            CC6.1 1/2  CC6.7 4/4",
		"",
		"open gaps: 1 critical, 2 high, 0 medium, 3 low (nhi gaps)",
	}
	if got := strings.Split(strings.TrimRight(b.String(), "\n"), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("readiness:\n got  %q\n want %q", got, want)
	}
	// No open gaps: no open line.
	r.Open = map[string]int{}
	b.Reset()
	WriteReadiness(&b, r, cat)
	if strings.Contains(b.String(), "open gaps") {
		t.Errorf("open line with no open gaps:\n%s", b.String())
	}
	// The JSON of nhi scan --format json.
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(js, &m)
	c0 := m["controls"].([]any)[0].(map[string]any)
	k0 := m["criteria"].([]any)[0].(map[string]any)
	if _, ok := m["open_gaps_by_severity"]; !ok || c0["control_id"] != "NHI-SEC-01" || c0["evaluated"] != 4.0 || c0["passing"] != 3.0 ||
		k0["framework"] != "soc2" || k0["criterion"] != "CC6.1" || k0["evaluated"] != 2.0 || k0["passing"] != 1.0 {
		t.Errorf("readiness JSON %s", js)
	}
}

func TestDecisions(t *testing.T) {
	future, past := at("2099-01-01T00:00:00Z"), at("2020-01-01T00:00:00Z")
	ds := []inventory.Decision{
		{ID: 3, SubjectKind: inventory.SubjectCredential, SubjectKey: "fp:1", ControlID: "NHI-SEC-01", Action: inventory.ActionAcceptRisk,
			Reason: "rotating in Q3", Actor: "alice", At: *at("2026-05-01T12:30:00Z"), ExpiresAt: future},
		{ID: 2, SubjectKind: inventory.SubjectIdentity, SubjectKey: userARN, Action: inventory.ActionOwner, Value: "team-data",
			Actor: "bob", At: *at("2026-04-01T08:00:00Z"), RevokedAt: at("2026-04-02T08:00:00Z"), RevokedBy: "carol"},
		{ID: 1, SubjectKind: inventory.SubjectCredential, SubjectKey: "fp:2", ControlID: "NHI-ROT-01", Action: inventory.ActionAcceptRisk,
			Reason: "old", Actor: "dave", At: *at("2019-06-01T00:00:00Z"), ExpiresAt: past},
	}
	var b bytes.Buffer
	if err := WriteDecisions(&b, ds, "table"); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"ID", "ACTION", "CONTROL", "SUBJECT", "VALUE", "ACTOR", "AT", "EXPIRES", "STATE", "REASON"},
		{"3", "accept-risk", "NHI-SEC-01", "fp:1", "-", "alice", "2026-05-01 12:30", "2099-01-01", "in force", "rotating in Q3"},
		{"2", "owner", "-", userARN, "team-data", "bob", "2026-04-01 08:00", "-", "revoked by carol"},
		{"1", "accept-risk", "NHI-ROT-01", "fp:2", "-", "dave", "2019-06-01 00:00", "2020-01-01", "expired", "old"},
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i, w := range want {
		if got := columns.Split(strings.TrimRight(lines[i], " "), -1); !reflect.DeepEqual(got, w) {
			t.Errorf("line %d:\n got  %q\n want %q", i, got, w)
		}
	}
	b.Reset()
	if err := WriteDecisions(&b, nil, "json"); err != nil || strings.TrimSpace(b.String()) != "{\n  \"decisions\": []\n}" {
		t.Errorf("no decisions: %q %v", b.String(), err)
	}
	b.Reset()
	if err := WriteDecisions(&b, ds[:1], "json"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Decisions []map[string]any `json:"decisions"`
	}
	json.Unmarshal(b.Bytes(), &doc)
	d := doc.Decisions[0]
	for k, v := range map[string]any{"id": 3.0, "subject_kind": "credential", "subject_id": "fp:1", "control_id": "NHI-SEC-01",
		"action": "accept-risk", "reason": "rotating in Q3", "actor": "alice", "at": "2026-05-01T12:30:00Z", "expires_at": "2099-01-01T00:00:00Z"} {
		if d[k] != v {
			t.Errorf("decision %s = %v, want %v", k, d[k], v)
		}
	}
}

// TestInventoryCSVCarriesJSONFields: every scalar field of a credential's
// and an occurrence's JSON is a CSV column of the same name (maps and
// lists, attrs and detail, stay JSON-only; "id" is credential_id).
func TestInventoryCSVCarriesJSONFields(t *testing.T) {
	var b bytes.Buffer
	if err := WriteInventory(&b, fixtureDoc(), "csv"); err != nil {
		t.Fatal(err)
	}
	header, err := csv.NewReader(&b).Read()
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string]bool{"id": true}
	for _, h := range header {
		cols[h] = true
	}
	cols["identity"] = true
	for _, typ := range []reflect.Type{reflect.TypeOf(CredentialJSON{}), reflect.TypeOf(OccurrenceJSON{})} {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			k := f.Type.Kind()
			if k == reflect.Map || k == reflect.Slice {
				continue
			}
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			if !cols[name] {
				t.Errorf("JSON field %s.%s has no CSV column", typ.Name(), name)
			}
		}
	}
}
