package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/demo"
)

func TestDisplayName(t *testing.T) {
	base := "/home/u/estate"
	for _, c := range []struct {
		name    string
		targets []string
		want    string
	}{
		{"aws:offline:/home/u/estate/aws/credential-report.csv,/home/u/estate/aws/authorization-details.json", []string{"aws:111122223333"},
			"aws:111122223333 (offline: aws/credential-report.csv, aws/authorization-details.json)"},
		{"aws:credential-report:/elsewhere/report.csv", nil, "aws:credential-report /elsewhere/report.csv"},
		{"git:/home/u/estate/repos/infra", nil, "git:./repos/infra"},
		{"ci:git:/home/u/estate/repos/infra", nil, "ci:git:./repos/infra"},
		{"ci:/home/u/estate", nil, "ci:."},
		{"git:/home/u/estate-other/x", nil, "git:/home/u/estate-other/x"},
		{"git:https://example.com/acme/app", nil, "git:https://example.com/acme/app"},
		{"aws:123456789012", nil, "aws:123456789012"},
	} {
		if got := displayName(c.name, c.targets, base); got != c.want {
			t.Errorf("displayName(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

// The scan output names offline IAM exports by account and by files
// relative to the configuration, but the stored name stays the stable
// one: the same exports spelled another way (a symlinked directory, a
// relative path in nhi.yaml) are the same source, so a failure in one
// scan and success in the next is the source recovering, not a new one.
func TestShortSourceNamesKeepIdentity(t *testing.T) {
	e, err := demo.Generate(filepath.Join(t.TempDir(), "estate"), time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "nhi.db")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(e.Dir, link); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(e.Dir, "aws", "credential-report.csv")
	good, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(report, []byte("not,a,credential report\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := nhi(t, "scan", "--db", db, "--config", empty, "--ci", e.CIDir, "--aws-credential-report", filepath.Join(link, "aws", "credential-report.csv"),
		"--aws-authorization-details", filepath.Join(link, "aws", "authorization-details.json"))
	if code != exitSourceFailed {
		t.Fatalf("scan of a corrupt export: exit %d, want 3\n%s\n%s", code, out, errs)
	}
	if err := os.WriteFile(report, good, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(e.Dir) // ./nhi.yaml names the exports relative to itself
	code, out, errs = nhi(t, "scan", "--db", db)
	if code != 0 {
		t.Fatalf("second scan: exit %d\n%s\n%s", code, out, errs)
	}
	want := "ok      aws:111122223333 (offline: aws/credential-report.csv, aws/authorization-details.json)"
	if !strings.Contains(out, want) {
		t.Errorf("scan output lacks %q:\n%s", want, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  ok ") && strings.Contains(l, e.Dir) {
			t.Errorf("a source is named by its absolute path: %q", l)
		}
	}

	code, out, _ = nhi(t, "scans", "--db", db, "--format", "json")
	doc := decode[struct {
		Scans []struct {
			ID      int64 `json:"scan_id"`
			Sources []struct{ Name, Kind, Status string }
		}
	}](t, out)
	names := map[int64]string{}
	for _, s := range doc.Scans {
		for _, src := range s.Sources {
			if src.Kind == "aws" {
				names[s.ID] = src.Name
			}
		}
	}
	if code != 0 || len(names) != 2 || names[1] != names[2] || !strings.Contains(names[1], report) {
		t.Fatalf("stored names of the AWS source in scans 1 and 2: %v (exit %d)", names, code)
	}
	code, out, errs = nhi(t, "diff", "--db", db, "--from", "1", "--to", "2", "--format", "json")
	if code != 0 {
		t.Fatalf("diff: exit %d\n%s\n%s", code, out, errs)
	}
	d := decode[struct {
		Sources []struct{ Name, Change string }
	}](t, out)
	if code != 0 || len(d.Sources) != 1 || d.Sources[0].Name != names[1] || d.Sources[0].Change != "recovered" {
		t.Fatalf("diff 1..2 sources: %+v (exit %d, %s), want the AWS source recovered", d.Sources, code, errs)
	}
}
