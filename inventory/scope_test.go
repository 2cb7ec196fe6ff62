package inventory

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// scopeRow is one row a fake source writes: an identity with a credential
// and an occurrence, all in target/unit.
type scopeRow struct{ key, target, unit string }

// scopeScan writes rows as the sources of results would (the runner
// stamps Target), applies the scope and finishes the scan.
func scopeScan(t *testing.T, s *Store, results []SourceResult, rows ...scopeRow) (int64, []TargetState) {
	t.Helper()
	ctx := context.Background()
	w, err := s.BeginScan(ctx, "test", "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		fam := TargetFamily(r.target)
		must(t, w.PutIdentity(ctx, &Identity{Key: "id:" + r.key, Kind: KindCodeUnattributed, Name: r.key, Source: fam, Target: r.target, Unit: r.unit}))
		must(t, w.PutCredential(ctx, &Credential{Key: "cred:" + r.key, Type: "t", IdentityKey: "id:" + r.key, Target: r.target, Unit: r.unit}))
		must(t, w.PutOccurrence(ctx, &Occurrence{CredentialKey: "cred:" + r.key, Source: fam, Repo: r.target, Path: r.unit, Target: r.target, Unit: r.unit}))
	}
	for _, r := range results {
		must(t, w.RecordSource(ctx, r))
	}
	scope, err := w.ApplyScope(ctx, results)
	if err != nil {
		t.Fatal(err)
	}
	must(t, w.Settle(ctx))
	sc, err := w.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sc.ID, scope
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// present lists the identity, credential and occurrence keys in scan.
func present(t *testing.T, s *Store, scan int64) string {
	t.Helper()
	ctx := context.Background()
	ids, err := s.Identities(ctx, scan)
	must(t, err)
	creds, err := s.Credentials(ctx, scan)
	must(t, err)
	var out []string
	for _, i := range ids {
		out = append(out, i.Identity.Key)
	}
	for _, c := range creds {
		out = append(out, c.Credential.Key)
		for _, o := range c.Occurrences {
			out = append(out, "occ:"+o.Repo+":"+o.Path)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func ok(name, kind string, targets ...string) SourceResult {
	return SourceResult{Name: name, Kind: kind, Status: SourceOK, Targets: targets}
}

func TestApplyScope(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	all := []scopeRow{{"a1", "git:/a", ""}, {"a2", "git:/a", ""}, {"b1", "aws:111111111111", "arn:u1"}, {"b2", "aws:111111111111", "arn:u2"},
		{"c1", "ci:/c", "x.yml"}, {"c2", "ci:/c", "y.yml"}}
	s1, _ := scopeScan(t, s, []SourceResult{ok("git:/a", "git", "git:/a"), ok("aws", "aws", "aws:111111111111"), ok("ci:/c", "ci", "ci:/c")}, all...)
	want := present(t, s, s1)

	cases := []struct {
		name    string
		results []SourceResult
		rows    []scopeRow
		gone    []string // keys that must no longer be present
		status  map[string]string
		carried []string // subjects carried ("identity\x00id:a1")
	}{
		{
			// Only git is scanned and a2 is gone from it: a2 goes, AWS and
			// CI are carried whole.
			name: "left out", results: []SourceResult{ok("git:/a", "git", "git:/a")}, rows: all[:1],
			gone:   []string{"id:a2", "cred:a2", "occ:git:/a:"},
			status: map[string]string{"git:/a": TargetOK, "aws:111111111111": TargetCarried, "ci:/c": TargetCarried},
			carried: []string{"identity\x00id:b1", "identity\x00id:b2", "identity\x00id:c1", "identity\x00id:c2",
				"credential\x00cred:b1", "credential\x00cred:b2", "credential\x00cred:c1", "credential\x00cred:c2"},
		},
		{
			// AWS fails after writing nothing: everything of it carried.
			name:    "failed",
			results: []SourceResult{{Name: "aws", Kind: "aws", Status: SourceFailed, Error: "endpoint down", Targets: []string{"aws:111111111111"}}, ok("git:/a", "git", "git:/a"), ok("ci:/c", "ci", "ci:/c")},
			rows:    []scopeRow{all[0], all[1], all[4], all[5]},
			status:  map[string]string{"aws:111111111111": TargetFailed, "git:/a": TargetOK},
			carried: []string{"identity\x00id:b1", "identity\x00id:b2", "credential\x00cred:b1", "credential\x00cred:b2"},
		},
		{
			// Vault-like: the source wrote b1, then failed. What it wrote is
			// kept, but it is no full reading: b1 and b2 are judged as before.
			name:    "failed after writing",
			results: []SourceResult{{Name: "aws", Kind: "aws", Status: SourceFailed, Error: "timeout", Targets: []string{"aws:111111111111"}}, ok("git:/a", "git", "git:/a"), ok("ci:/c", "ci", "ci:/c")},
			rows:    []scopeRow{all[0], all[1], all[2], all[4], all[5]},
			status:  map[string]string{"aws:111111111111": TargetFailed},
			carried: []string{"identity\x00id:b1", "identity\x00id:b2", "credential\x00cred:b1", "credential\x00cred:b2"},
		},
		{
			// The CI file y.yml fails to parse; x.yml is read again. y's
			// pipeline is carried; a CI item error without a unit makes the
			// target partial, which keeps what was not seen too.
			name: "failed unit",
			results: []SourceResult{ok("git:/a", "git", "git:/a"), ok("aws", "aws", "aws:111111111111"),
				{Name: "ci:/c", Kind: "ci", Status: SourceOK, Targets: []string{"ci:/c"},
					ItemErrors: []ItemError{{Item: "y.yml", Error: "line 3: bad", Target: "ci:/c", Unit: "y.yml"}}}},
			rows:    []scopeRow{all[0], all[1], all[2], all[3], all[4]},
			status:  map[string]string{"ci:/c": TargetPartial, "aws:111111111111": TargetOK},
			carried: []string{"identity\x00id:c2", "credential\x00cred:c2"},
		},
		{
			// A unit that failed but was written anyway (AWS wrote u2 with
			// what it could read) is observed, yet its judgement is carried.
			name: "failed unit written",
			results: []SourceResult{ok("git:/a", "git", "git:/a"), ok("ci:/c", "ci", "ci:/c"),
				{Name: "aws", Kind: "aws", Status: SourceOK, Targets: []string{"aws:111111111111"},
					ItemErrors: []ItemError{{Item: "arn:u2", Error: "AccessDenied", Target: "aws:111111111111", Unit: "arn:u2"}}}},
			rows:    all,
			status:  map[string]string{"aws:111111111111": TargetPartial},
			carried: []string{"identity\x00id:b2", "credential\x00cred:b2"},
		},
	}
	for _, c := range cases {
		// Each case starts from the full state: restore it with a full scan.
		scopeScan(t, s, []SourceResult{ok("git:/a", "git", "git:/a"), ok("aws", "aws", "aws:111111111111"), ok("ci:/c", "ci", "ci:/c")}, all...)
		id, scope := scopeScan(t, s, c.results, c.rows...)
		got := present(t, s, id)
		exp := want
		for _, g := range c.gone {
			exp = strings.Replace(exp, g+" ", "", 1)
		}
		if c.gone != nil && got == want {
			t.Errorf("%s: nothing removed; want %v gone", c.name, c.gone)
		} else if c.gone == nil && got != want {
			t.Errorf("%s: present\n %s\nwant\n %s", c.name, got, want)
		}
		states := map[string]string{}
		for _, st := range scope {
			states[st.Target] = st.Status
		}
		for tgt, w := range c.status {
			if states[tgt] != w {
				t.Errorf("%s: target %s is %s, want %s (scope %v)", c.name, tgt, states[tgt], w, states)
			}
		}
		carried, err := s.CarriedSubjects(ctx, id)
		must(t, err)
		var gotC []string
		for k := range carried {
			gotC = append(gotC, k)
		}
		sort.Strings(gotC)
		sort.Strings(c.carried)
		if strings.Join(gotC, ",") != strings.Join(c.carried, ",") {
			t.Errorf("%s: carried subjects\n %q\nwant\n %q", c.name, gotC, c.carried)
		}
	}
}

// Rows stored before targets existed belong to their source family.
func TestApplyScopeLegacyRows(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	s1, _ := scopeScan(t, s, []SourceResult{ok("git:/a", "git"), ok("aws", "aws")}, scopeRow{"a", "git:/a", ""}, scopeRow{"b", "aws:1", ""})
	// As migration 5 leaves them.
	for _, tbl := range []string{"identities", "credentials", "occurrences"} {
		if _, err := s.w.ExecContext(ctx, `UPDATE `+tbl+` SET target = ''`); err != nil {
			t.Fatal(err)
		}
	}
	s2, _ := scopeScan(t, s, []SourceResult{ok("aws", "aws", "aws:1")}, scopeRow{"b", "aws:1", ""})
	if got, want := present(t, s, s2), present(t, s, s1); got != want {
		t.Errorf("legacy git rows not carried by an aws-only scan:\n %s\nwant\n %s", got, want)
	}
	s3, _ := scopeScan(t, s, []SourceResult{ok("git:/a", "git", "git:/a")})
	if got := present(t, s, s3); strings.Contains(got, "id:a") {
		t.Errorf("a legacy git row was kept by a successful git scan that no longer sees it: %s", got)
	}
}

// Migration 5 takes credentials out of stored URLs, collisions included,
// and vacuums so the old values leave the file.
func TestMigrationRedactsStoredURLs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nhi.db")
	tok := "glpat-" + strings.Repeat("Q7", 10)
	dirty := "https://oauth2:" + tok + "@git.example.com/acme/app.git"
	clean := "https://git.example.com/acme/app.git"
	// An inventory at schema 4 holding the token, as nhi up to 4 wrote it.
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL")
	must(t, err)
	ms, err := migrations()
	must(t, err)
	for _, m := range ms[:4] {
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	for _, q := range []string{
		`PRAGMA user_version = 4`,
		`INSERT INTO meta VALUES('schema_version', '4')`,
		`INSERT INTO scans(id, started_at, status, tool_version, config_digest, prev_hash) VALUES(1, '2026-01-01T00:00:00Z', 'complete', 't', 'd', 'p')`,
		`INSERT INTO scan_sources(scan_id, name, kind, target, status, error, started_at, finished_at) VALUES(1, 'git:` + dirty + `', 'git', '` + dirty + `', 'failed', 'clone ` + dirty + `: refused', 'a', 'b')`,
		`INSERT INTO credentials(id, key, type, first_seen_scan, last_seen_scan) VALUES(1, 'fp:1', 't', 1, 1)`,
		`INSERT INTO identities(key, kind, name, source, account, first_seen_scan, last_seen_scan) VALUES('ci:workflow:` + dirty + `:.gitlab-ci.yml', 'ci:workflow', 'x', 'ci', '` + dirty + `', 1, 1)`,
		`INSERT INTO identities(key, kind, name, source, first_seen_scan, last_seen_scan) VALUES('ci:workflow:` + clean + `:.gitlab-ci.yml', 'ci:workflow', 'x', 'ci', 1, 1)`,
		`INSERT INTO occurrences(credential_id, okey, source, repo, path, first_seen_scan, last_seen_scan) VALUES(1, 'git' || char(0) || '` + dirty + `', 'git', '` + dirty + `', 'a.txt', 1, 1)`,
		`INSERT INTO gaps(control_id, subject_kind, subject_key, severity, title, detail, evidence, first_seen_scan, last_seen_scan)
			VALUES('C', 'credential', 'fp:1', 'high', 't', 'used in 2 places: ` + dirty + `, other', '{"repo":"` + dirty + `"}', 1, 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	must(t, db.Close())
	if _, err := LoadOrCreateKeyring(path+".key", true); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), path)
	must(t, err)
	var keys []string
	rows, err := s.r.Query(`SELECT key FROM identities ORDER BY key`)
	must(t, err)
	for rows.Next() {
		var k string
		must(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	rows.Close()
	must(t, s.Close())
	if len(keys) != 2 || keys[0] != "ci:workflow:"+clean+":.gitlab-ci.yml" || !strings.Contains(keys[1], "redacted@") {
		t.Errorf("identity keys after migration: %q", keys)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		must(t, err)
		if strings.Contains(string(b), tok) {
			i := strings.Index(string(b), tok)
			t.Errorf("%s still holds the token after migration: %q", filepath.Base(f), b[max(0, i-80):i+40])
		}
	}
}

// A target read only in part keeps the last scan that read it in full as
// its last good one, however many partial scans see its rows again.
func TestPartialTargetKeepsLastOKScan(t *testing.T) {
	s, _ := openTemp(t)
	rows := []scopeRow{{"c1", "ci:/c", "x.yml"}, {"c2", "ci:/c", "y.yml"}}
	good, _ := scopeScan(t, s, []SourceResult{ok("ci:/c", "ci", "ci:/c")}, rows...)
	partial := SourceResult{Name: "ci:/c", Kind: "ci", Status: SourceOK, Targets: []string{"ci:/c"},
		ItemErrors: []ItemError{{Item: "y.yml", Error: "line 3: bad", Target: "ci:/c", Unit: "y.yml"}}}
	for i := range 3 {
		id, scope := scopeScan(t, s, []SourceResult{partial}, rows[0])
		if len(scope) != 1 || scope[0].Status != TargetPartial || scope[0].LastOKScan != good {
			t.Fatalf("partial scan %d (id %d): scope %+v, want partial with last good scan %d", i+1, id, scope, good)
		}
	}
}
