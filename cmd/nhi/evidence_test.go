package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/nhi-inventory/nhi/demo"
)

// TestEvidenceOnTheDemoEstate is the "done when": the demo estate
// after three scans exports a package that verify accepts, and that fails
// verification after any one byte changes, with the exact reason.
func TestEvidenceOnTheDemoEstate(t *testing.T) {
	e, err := demo.Generate(filepath.Join(t.TempDir(), "estate"), time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "nhi.db")
	for i := 0; i < 3; i++ {
		if code, out, errs := nhi(t, "scan", "--db", db, "--config", e.Config, "--progress", "none"); code != 0 {
			t.Fatalf("scan %d: exit %d\n%s\n%s", i+1, code, out, errs)
		}
	}
	key, pub := filepath.Join(dir, "ev.key"), filepath.Join(dir, "ev.pub")
	if code, out, errs := nhi(t, "evidence", "keygen", "--key", key); code != 0 || !strings.Contains(out, pub) {
		t.Fatalf("keygen: exit %d\n%s\n%s", code, out, errs)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key %v, mode %v: want 0600", err, st.Mode())
	}
	if code, _, errs := nhi(t, "evidence", "keygen", "--key", key); code != exitUsage || !strings.Contains(errs, "exists") {
		t.Errorf("keygen over an existing key: exit %d %s", code, errs)
	}
	pkg := filepath.Join(dir, "evidence.tar.gz")
	code, out, errs := nhi(t, "evidence", "export", "--db", db, "--config", e.Config, "--out", pkg, "--sign-key", key)
	if code != 0 {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "3 scans (3 complete") {
		t.Errorf("export says:\n%s", out)
	}
	code, out, errs = nhi(t, "evidence", "verify", pkg, "--key", pub)
	if code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("verify of a fresh package: exit %d\n%s\n%s", code, out, errs)
	}
	for _, check := range []string{"signature", "file digests", "ledger chain", "period"} {
		if !strings.Contains(out, "ok   "+check) {
			t.Errorf("verify did not report %q:\n%s", check, out)
		}
	}
	code, out, _ = nhi(t, "evidence", "verify", pkg, "--key", pub, "--format", "json")
	if v := decode[struct {
		OK     bool
		Checks []struct{ Check string }
	}](t, out); code != 0 || !v.OK || len(v.Checks) < 6 {
		t.Errorf("verify --format json: exit %d %+v", code, v)
	}

	testEvidenceScope(t, db, e, key, pub)

	raw, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	// Any one byte of the archive changed: verification fails.
	for _, at := range []int{0, 3, 4, 7, 8, 9, 10, len(raw) / 7, len(raw) / 3, len(raw) / 2, len(raw) - 9, len(raw) - 1} {
		bad := append([]byte(nil), raw...)
		bad[at] ^= 0x01
		p := filepath.Join(dir, "bad.tar.gz")
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out, errs := nhi(t, "evidence", "verify", p, "--key", pub); code != exitVerifyFailed || !strings.Contains(out, "FAIL") || !strings.Contains(errs, "bad.tar.gz: ") {
			t.Errorf("byte %d changed: exit %d\n%s\n%s", at, code, out, errs)
		}
	}
	// One byte of one CSV changed, archive rebuilt: the reason names it.
	p := filepath.Join(dir, "edited.tar.gz")
	if err := os.WriteFile(p, rewriteEntry(t, raw, "credentials.csv"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = nhi(t, "evidence", "verify", p, "--key", pub)
	if code != exitVerifyFailed || !strings.Contains(errs, "signed files: credentials.csv has SHA-256 ") || !strings.Contains(errs, "(the file was changed)") {
		t.Errorf("edited CSV: exit %d\n%s", code, errs)
	}
	// The package holds none of the demo's planted secrets (an access
	// key id is an identifier, kept in clear to correlate: DESIGN.md).
	checked := 0
	for _, pl := range e.Planted {
		if pl.Kind == "aws-access-key-id" {
			continue
		}
		checked++
		if bytes.Contains(raw, []byte(pl.Value.Reveal())) || bytes.Contains(unpackAll(t, raw), []byte(pl.Value.Reveal())) {
			t.Errorf("the package holds the planted %s of %s", pl.Kind, pl.Where)
		}
	}
	if checked < 5 {
		t.Errorf("only %d planted secrets checked", checked)
	}
}

// testEvidenceScope: --scope repo:PATH, spelled otherwise than the scan
// spelled it, restricts the package to that repository's targets (the
// manifest says which), and it verifies; a repository never scanned, or
// a value without a kind, is a usage error listing the known targets.
func testEvidenceScope(t *testing.T, db string, e *demo.Estate, key, pub string) {
	t.Helper()
	real, err := filepath.EvalSymlinks(e.Repos[0])
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(e.Repos[0], link); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(filepath.Dir(db), "scoped.tar.gz")
	code, out, errs := nhi(t, "evidence", "export", "--db", db, "--config", e.Config, "--out", pkg, "--sign-key", key,
		"--scope", "repo:"+link+"/", "--format", "json", "--sign", "keyless-off")
	if code != 0 {
		t.Fatalf("export --scope: exit %d\n%s\n%s", code, out, errs)
	}
	m := decode[struct {
		Manifest struct {
			RestrictedTo struct{ Targets []string } `json:"restricted_to"`
			Scope        []struct{ Target string }
		}
	}](t, out).Manifest
	if !slices.Contains(m.RestrictedTo.Targets, "git:"+real) || len(m.Scope) != len(m.RestrictedTo.Targets) {
		t.Errorf("--scope repo:%s/: restricted to %v, scope %v; want git:%s and its other targets", link, m.RestrictedTo.Targets, m.Scope, real)
	}
	for _, tg := range m.RestrictedTo.Targets {
		if !strings.HasSuffix(tg, ":"+real) {
			t.Errorf("restricted to %s, not a target of %s", tg, real)
		}
	}
	if code, out, errs := nhi(t, "evidence", "verify", pkg, "--key", pub); code != 0 {
		t.Errorf("verify of the restricted package: exit %d\n%s\n%s", code, out, errs)
	}
	for _, c := range []struct{ scope, want string }{
		{"repo:" + filepath.Join(filepath.Dir(real), "never-scanned"), "the targets scans covered are:\n  "},
		{"nocolon", "want KIND:ID"},
	} {
		code, _, errs := nhi(t, "evidence", "export", "--db", db, "--config", e.Config, "--out", pkg+".x", "--sign-key", key, "--scope", c.scope)
		if code != exitUsage || !strings.Contains(errs, c.want) || (c.scope != "nocolon" && !strings.Contains(errs, "git:"+real)) {
			t.Errorf("--scope %s: exit %d %q; want exit 2 with %q and the known targets", c.scope, code, errs, c.want)
		}
	}
}

func TestEvidenceUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"evidence", "export", "--db", filepath.Join(dir, "none.db"), "--sign-key", filepath.Join(dir, "k")}, "--out FILE is required"},
		{[]string{"evidence", "export", "--out", filepath.Join(dir, "p.tar.gz"), "--sign-key", filepath.Join(dir, "missing.key")}, "nhi evidence keygen"},
		{[]string{"evidence", "export", "--out", "x", "--since", "yesterday"}, "--since must be a date"},
		{[]string{"evidence", "verify", filepath.Join(dir, "p.tar.gz"), "--key", filepath.Join(dir, "missing.pub")}, "--key"},
		{[]string{"evidence", "verify"}, "accepts 1 arg"},
		{[]string{"evidence", "export", "--out", filepath.Join(dir, "p.tar.gz"), "--sign", "keyless"}, "keyless signing (a Fulcio certificate, a Rekor transparency log entry) needs network access and is not supported"},
		{[]string{"evidence", "export", "--out", filepath.Join(dir, "p.tar.gz"), "--sign", "fulcio"}, "--sign keyless-off"},
	} {
		code, _, errs := nhi(t, c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("nhi %v: exit %d, %q; want exit 2 mentioning %q", c.args, code, errs, c.want)
		}
	}
}

// rewriteEntry rebuilds the archive with one byte of name changed.
func rewriteEntry(t *testing.T, pkg []byte, name string) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(pkg))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var buf bytes.Buffer
	ogz, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // nhi's gzip header
	ogz.ModTime = time.Unix(0, 0)
	tw := tar.NewWriter(ogz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if h.Name == name {
			b[len(b)/2] ^= 0x01
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	ogz.Close()
	return buf.Bytes()
}

func unpackAll(t *testing.T, pkg []byte) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(pkg))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
